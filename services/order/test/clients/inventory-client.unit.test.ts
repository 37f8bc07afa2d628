/**
 * The order API's client of the inventory, against a plain local HTTP server that answers as the inventory
 * does while a datastore behind it fails over: 503 + Retry-After (ADR 0028).
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createInventoryClient } from '../../src/clients/inventory-client.ts'

describe('inventory client breaker', () => {
  let server: Server
  let url: string
  let calls = 0
  let retryAfter: string | undefined = '1'
  before(async () => {
    server = createServer((_req, res) => {
      calls++
      res.writeHead(503, { 'content-type': 'application/problem+json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) })
      res.end(JSON.stringify({ code: 'SERVICE_ERR_DEPENDENCY_UNAVAILABLE', status: 503 }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('does not open on 503 + Retry-After (the inventory is up and says its datastore is not); a bare 503 still opens it', async () => {
    const client = createInventoryClient({
      urls: [url],
      timeoutMs: 1_000,
      saleCacheMs: 0,
      breaker: { minimumCalls: 5, failureRateThreshold: 0.5, halfOpenAfterMs: 60_000 },
    })
    try {
      for (let i = 0; i < 20; i++) {
        const reserved = await client.reserve({ saleId: 's', orderId: `o-${i}`, qty: 1, bearerToken: 't' })
        assert.equal(reserved.kind, 'unavailable')
      }
      assert.equal(calls, 20, 'every call reached the inventory')
      assert.equal(client.breaker.state, 'closed')

      retryAfter = undefined
      for (let i = 0; i < 20 && client.breaker.state === 'closed'; i++) await client.reserve({ saleId: 's', orderId: `p-${i}`, qty: 1, bearerToken: 't' })
      assert.equal(client.breaker.state, 'open', 'a 503 without Retry-After is a failure of the inventory')
    } finally {
      await client.close()
    }
  })
})

describe('inventory client: the SKU -> current sale lookup', () => {
  let server: Server
  let url: string
  const hits: string[] = []
  let answer: 'sale' | 'fail' = 'sale'
  let reservations = 0
  before(async () => {
    server = createServer((req, res) => {
      if (req.method === 'POST') {
        reservations++
        res.writeHead(201, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ reservation: { expiresAt: new Date(Date.now() + 60_000).toISOString() } }))
        return
      }
      const sku = new URL(req.url ?? '/', 'http://x').searchParams.get('sku') ?? ''
      hits.push(sku)
      if (answer === 'fail') {
        res.writeHead(500, { 'content-type': 'application/problem+json' })
        res.end(JSON.stringify({ code: 'BOOM', status: 500 }))
        return
      }
      const t = Date.now()
      const sale = { id: `sale-of-${sku}`, sku, state: 'open', startsAt: new Date(t - 60_000).toISOString(), endsAt: new Date(t + 60_000).toISOString() }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sales: [sale] }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it("a failed lookup fails: never answered with the SKU's previous sale, which may be over while the next one sells", async () => {
    const client = createInventoryClient({ urls: [url], timeoutMs: 1_000, saleCacheMs: 0, breaker: { minimumCalls: 1_000 } })
    try {
      answer = 'sale'
      assert.deepEqual(await client.currentSaleOf('HOT', new Date()), { saleId: 'sale-of-HOT' })
      answer = 'fail'
      await assert.rejects(client.currentSaleOf('HOT', new Date()), /answered 500/)
    } finally {
      await client.close()
    }
  })

  it('keeps the answers of at most saleCacheSkus SKUs: the oldest is asked again', async () => {
    const client = createInventoryClient({ urls: [url], timeoutMs: 1_000, saleCacheMs: 60_000, saleCacheSkus: 2, breaker: { minimumCalls: 1_000 } })
    try {
      answer = 'sale'
      hits.length = 0
      for (const sku of ['A', 'B', 'A', 'C', 'C', 'A']) await client.currentSaleOf(sku, new Date())
      // A and B asked; A from the cache; C asked, and A, the least recently set, dropped; C from the cache; A asked again.
      assert.deepEqual(hits, ['A', 'B', 'C', 'A'])
    } finally {
      await client.close()
    }
  })

  it("failing sale lookups open their own circuit, never the gate's: reservations still go through", async () => {
    const client = createInventoryClient({
      urls: [url],
      timeoutMs: 1_000,
      saleCacheMs: 0,
      breaker: { minimumCalls: 5, failureRateThreshold: 0.5, halfOpenAfterMs: 60_000 },
    })
    try {
      answer = 'fail'
      for (let i = 0; i < 10; i++) await client.currentSaleOf(`GONE-${i}`, new Date()).catch(() => {})
      const before = reservations
      const reserved = await client.reserve({ saleId: 's', orderId: 'o-1', qty: 1, bearerToken: 't' })
      assert.equal(reserved.kind, 'reserved')
      assert.equal(reservations, before + 1)
      assert.equal(client.breaker.state, 'closed', "the gate's circuit")
    } finally {
      await client.close()
    }
  })
})
