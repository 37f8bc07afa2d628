import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSingleflight } from '../src/index.ts'

describe('singleflight', () => {
  it('runs one call per key for concurrent callers, who share its result', async () => {
    const flights = createSingleflight<number>()
    let calls = 0
    const { promise, resolve } = Promise.withResolvers<number>()
    const results = Array.from({ length: 100 }, () => flights.run('k', () => (calls++, promise)))
    assert.deepEqual(
      results.map((f) => f.shared),
      [false, ...Array<boolean>(99).fill(true)],
    )
    resolve(42)
    assert.deepEqual(new Set(await Promise.all(results.map((f) => f.result))), new Set([42]))
    assert.equal(calls, 1)
  })

  it('shares the error too', async () => {
    const flights = createSingleflight<number>()
    const boom = new Error('boom')
    const results = Array.from({ length: 10 }, () => flights.run('k', async () => Promise.reject(boom)).result)
    const settled = await Promise.allSettled(results)
    assert.ok(settled.every((s) => s.status === 'rejected' && s.reason === boom))
  })

  it('keeps nothing after the call settles: the next caller runs again', async () => {
    const flights = createSingleflight<number>()
    let calls = 0
    await flights.run('k', async () => ++calls).result
    await flights.run('k', async () => ++calls).result
    assert.equal(calls, 2)
    assert.equal(flights.size, 0)
  })

  it('keeps keys apart', async () => {
    const flights = createSingleflight<string>()
    const a = flights.run('a', async () => 'A')
    const b = flights.run('b', async () => 'B')
    assert.equal(b.shared, false)
    assert.deepEqual([await a.result, await b.result], ['A', 'B'])
  })

  it('after forget(), a new caller starts a new call, and the old one finishing does not remove it', async () => {
    const flights = createSingleflight<string>()
    const first = Promise.withResolvers<string>()
    const second = Promise.withResolvers<string>()
    const old = flights.run('k', () => first.promise)
    flights.forget('k')
    const fresh = flights.run('k', () => second.promise)
    assert.equal(fresh.shared, false)
    first.resolve('old')
    assert.equal(await old.result, 'old')
    assert.equal(flights.run('k', async () => 'third').shared, true, 'the newer call is still the one in flight')
    second.resolve('new')
    assert.equal(await fresh.result, 'new')
  })
})
