import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decide, exempt, parseFlag, unready, type FaultFlag } from '../src/index.ts'

const flag = (f: Partial<FaultFlag> & Pick<FaultFlag, 'kind'>): FaultFlag => ({ rate: 1, until: 10_000, setBy: 'ops', ...f })

describe('fault flags (pure)', () => {
  it('an error flag answers its status to its share of requests on its route only, until it ends', () => {
    const flags = new Map([['inv-500', flag({ kind: 'error', rate: 0.5, status: 503, route: 'POST /reservations' })]])
    assert.equal(decide(flags, 'POST', '/reservations', 0, () => 0.4).errorStatus, 503)
    assert.equal(decide(flags, 'POST', '/reservations', 0, () => 0.6).errorStatus, undefined, 'outside the rate')
    assert.equal(decide(flags, 'GET', '/reservations', 0, () => 0).errorStatus, undefined, 'another route')
    assert.equal(decide(flags, 'POST', '/reservations', 10_000, () => 0).errorStatus, undefined, 'ended')
  })

  it('latency flags add up; an error flag without a status answers 500; every flag that fired is named', () => {
    const flags = new Map([
      ['slow-a', flag({ kind: 'latency', ms: 100 })],
      ['slow-b', flag({ kind: 'latency', ms: 50 })],
      ['boom', flag({ kind: 'error' })],
    ])
    const d = decide(flags, 'GET', '/products', 0, () => 0)
    assert.equal(d.latencyMs, 150)
    assert.equal(d.errorStatus, 500)
    assert.deepEqual(
      d.fired.map((f) => f.name),
      ['slow-a', 'slow-b', 'boom'],
    )
  })

  it('a hang holds its share of requests on its route until the last hang flag that fired ends', () => {
    const flags = new Map([
      ['stuck', flag({ kind: 'hang', rate: 0.5, route: 'POST /reservations', until: 3_000 })],
      ['stuck-longer', flag({ kind: 'hang', rate: 0.5, until: 5_000 })],
      ['slow', flag({ kind: 'latency', ms: 20 })],
    ])
    const d = decide(flags, 'POST', '/reservations', 0, () => 0.4)
    assert.equal(d.hangUntil, 5_000)
    assert.equal(d.latencyMs, 20, 'latency still adds up after the hang')
    assert.equal(d.errorStatus, undefined)
    assert.equal(decide(flags, 'POST', '/reservations', 0, () => 0.6).hangUntil, undefined, 'outside every rate')
    assert.equal(decide(flags, 'GET', '/products', 4_000, () => 0).hangUntil, 5_000, 'the unscoped one only, until it ends')
    assert.equal(decide(flags, 'GET', '/products', 5_000, () => 0).hangUntil, undefined)
    assert.equal(decide(new Map([['x', flag({ kind: 'error' })]]), 'GET', '/', 0).hangUntil, undefined)
  })

  it('unready is in force until it ends; health, metrics and the fault routes are exempt', () => {
    const flags = new Map([['out', flag({ kind: 'unready', until: 5 })]])
    assert.equal(unready(flags, 4), true)
    assert.equal(unready(flags, 5), false)
    for (const url of ['/health/ready', '/health/live', '/metrics', '/admin/faults', '/admin/faults/:name']) assert.equal(exempt(url), true, url)
    assert.equal(exempt('/reservations'), false)
  })

  it('a stored value that is not a flag is ignored', () => {
    assert.equal(parseFlag('nope'), undefined)
    assert.equal(parseFlag(JSON.stringify({ kind: 'explode', rate: 1, until: 1, setBy: 'x' })), undefined)
    assert.equal(parseFlag(JSON.stringify({ kind: 'error', rate: 2, until: 1, setBy: 'x' })), undefined)
    assert.deepEqual(parseFlag(JSON.stringify({ kind: 'latency', rate: 1, ms: 5, until: 1, setBy: 'x' })), {
      kind: 'latency',
      rate: 1,
      ms: 5,
      until: 1,
      setBy: 'x',
    })
  })
})
