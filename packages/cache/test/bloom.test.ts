import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createTestRedis, uniqueSuffix, type TestRedis } from '@flashsale/testkit'
import { bloomPositions, bloomSize, createLocalBloomFilter, createRedisBloomFilter } from '../src/index.ts'

describe('Bloom filter sizing and accuracy', () => {
  it('sizes m = -n ln p / (ln 2)^2 bits and k = m/n ln 2 hashes', () => {
    assert.deepEqual(bloomSize(1_000, 0.01), { bits: 9_586, hashes: 7 })
    assert.deepEqual(bloomSize(1_000_000, 0.001), { bits: 14_377_588, hashes: 10 })
    assert.throws(() => bloomSize(0, 0.01), RangeError)
    assert.throws(() => bloomSize(10, 1), RangeError)
  })

  it('gives k positions within [0, m)', () => {
    const size = bloomSize(1_000, 0.01)
    for (let i = 0; i < 1_000; i++) {
      const positions = bloomPositions(`id-${i}`, size)
      assert.equal(positions.length, 7)
      assert.ok(
        positions.every((p) => Number.isInteger(p) && p >= 0 && p < size.bits),
        `id-${i}: ${positions.join(',')}`,
      )
    }
  })

  for (const p of [0.01, 0.001]) {
    it(`has no false negatives and a false-positive rate near p = ${p} when holding n ids`, () => {
      const n = 20_000
      const filter = createLocalBloomFilter(bloomSize(n, p))
      for (let i = 1; i <= n; i++) filter.add(String(i)) // sequential ids, like a bigserial
      for (let i = 1; i <= n; i++) assert.ok(filter.mightContain(String(i)), `id ${i} must be found`)
      const probes = 200_000
      let falsePositives = 0
      for (let i = 0; i < probes; i++) if (filter.mightContain(String(1_000_000 + i * 7))) falsePositives++
      const rate = falsePositives / probes
      assert.ok(rate > p * 0.7 && rate < p * 1.3, `false-positive rate ${rate} should be near ${p}`)
    })
  }
})

describe('Bloom filter in Redis', () => {
  let redis: TestRedis
  before(async () => {
    redis = await createTestRedis('cache_bloom')
  })
  after(async () => {
    await redis?.cleanup()
  })

  it('answers like the same filter in memory once rebuilt, and keeps ids added during a rebuild', async () => {
    const options = { redis: redis.redis, name: `b_${uniqueSuffix()}`, expectedItems: 2_000, falsePositiveRate: 0.01 }
    const shared = createRedisBloomFilter(options)
    const local = createLocalBloomFilter(shared.size)
    const ids = Array.from({ length: 2_000 }, (_, i) => `sku-${i}`)
    for (const id of ids) local.add(id)

    await shared.add('added-meanwhile') // e.g. a product created while another instance rebuilds
    await shared.rebuild(ids)
    const probes = [...ids.slice(0, 200), ...Array.from({ length: 300 }, (_, i) => `absent-${i}`)]
    for (const id of probes) assert.equal(await shared.mightContain(id), local.mightContain(id), id)
    assert.equal(await shared.mightContain('added-meanwhile'), true)

    const again = createRedisBloomFilter(options) // another instance: same name and size, same filter
    assert.equal(await again.isReady(), true)
    assert.equal(await again.mightContain('sku-7'), true)
  })
})
