/** The route table check of `make check` (scripts/check-route-table.ts): it agrees today, and it can fail. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { compareRoutes, gatewayRoutes, serviceRoutes, type RouteSchemas } from '../../../scripts/check-route-table.ts'

describe("the gateway's route table against the services' route schemas", () => {
  it('agrees on every public route', async () => {
    assert.deepEqual(compareRoutes(gatewayRoutes(), await serviceRoutes()), [])
  })

  it('names a field only one side knows, a looser bound, a missing required field and a different set of values', async () => {
    const services = await serviceRoutes()
    const table = gatewayRoutes().map((r): RouteSchemas => {
      if (r.method === 'POST' && r.path === '/products/:id/reviews') {
        return {
          ...r,
          schema: {
            ...r.schema,
            body: { type: 'object', required: ['rating'], properties: { rating: { type: 'integer', minimum: 1, maximum: 5 }, text: { type: 'string' } } },
          },
        }
      }
      if (r.method === 'GET' && r.path === '/products/:id/reviews') {
        return {
          ...r,
          schema: {
            ...r.schema,
            querystring: {
              type: 'object',
              properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, cursor: { type: 'string', pattern: '^[1-9][0-9]{0,17}$' } },
            },
          },
        }
      }
      if (r.method === 'GET' && r.path === '/products') {
        const q = r.schema.querystring as { properties: Record<string, unknown> }
        return { ...r, schema: { ...r.schema, querystring: { ...q, properties: { ...q.properties, sort: { type: 'string', enum: ['name', 'price'] } } } } }
      }
      return r
    })
    const problems = compareRoutes(table, services)
    for (const expected of [
      /POST \/products\/:id\/reviews body: the service accepts 'body', the gateway refuses it/,
      /POST \/products\/:id\/reviews body: the gateway accepts 'text', the service does not know it/,
      /POST \/products\/:id\/reviews body: 'body' is required by the service, optional at the gateway/,
      /GET \/products\/:id\/reviews querystring 'limit': maximum 100 at the gateway, 50 at the service/,
      /GET \/products querystring 'sort': values \["name","price"\] at the gateway, \["name","price","created"\] at the service/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${String(expected)} in:\n${problems.join('\n')}`,
      )
    }
  })
})
