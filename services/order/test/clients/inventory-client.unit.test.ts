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
