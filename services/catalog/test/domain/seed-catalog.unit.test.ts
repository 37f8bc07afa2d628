import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createPrng, generateCatalog, productId, productSku } from '../../src/domain/seed-catalog.ts'

describe('the deterministic seed generator', () => {
  it('the same seed gives the same catalog; another seed another one', () => {
    assert.deepEqual(generateCatalog(42, 500), generateCatalog(42, 500))
    const other = generateCatalog(43, 500)
    assert.notDeepEqual(
      other.map((p) => p.name),
      generateCatalog(42, 500).map((p) => p.name),
    )
    assert.deepEqual(
      other.map((p) => p.id),
      generateCatalog(42, 500).map((p) => p.id),
      'ids are positional whatever the seed',
    )
  })

  it('a larger count only appends: product i depends on (seed, i) alone', () => {
    assert.deepEqual(generateCatalog(9, 1_000).slice(0, 100), generateCatalog(9, 100))
  })

  it('10,000 products: unique ids and SKUs, valid fields, every category used', () => {
    const products = generateCatalog(42, 10_000)
    assert.equal(products.length, 10_000)
    assert.equal(new Set(products.map((p) => p.id)).size, 10_000)
    assert.equal(new Set(products.map((p) => p.sku)).size, 10_000)
    assert.equal(products[0]?.id, productId(1))
    assert.equal(products[9_999]?.sku, productSku(10_000))
    for (const p of products) {
      assert.match(p.category, /^[a-z0-9][a-z0-9-]{0,39}$/)
      assert.ok(Number.isInteger(p.priceCents) && p.priceCents > 0 && p.priceCents % 100 === 99, `price ${p.priceCents}`)
      assert.ok(p.name.length >= 1 && p.name.length <= 200)
      assert.match(p.imageUrl, /^https:\/\/\S+$/)
    }
    assert.equal(new Set(products.map((p) => p.category)).size, 12)
  })

  it('the PRNG is uniform enough and repeatable', () => {
    const a = createPrng(1)
    const b = createPrng(1)
    const buckets = new Array(10).fill(0)
    for (let i = 0; i < 10_000; i++) {
      const x = a()
      assert.equal(x, b())
      assert.ok(x >= 0 && x < 1)
      buckets[Math.floor(x * 10)]++
    }
    for (const n of buckets) assert.ok(n > 800 && n < 1200, `bucket ${n}`)
  })
})
