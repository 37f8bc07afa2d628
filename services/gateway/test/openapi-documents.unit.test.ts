/**
 * The committed API documents are what the code says (CI runs `make test`, not `make check`): the gateway's
 * copy of the services' responses (route-responses.json) and every OpenAPI document in docs/openapi/. Both
 * are generated from the same route plugins the services register (scripts/check-route-table.ts,
 * scripts/openapi.ts); a contract changed without `make route-table openapi` fails here.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { gatewayRoutes, routeResponses, serviceRoutes } from '../../../scripts/check-route-table.ts'
import { documents } from '../../../scripts/openapi.ts'
import { BUNDLED_ROUTE_RESPONSES } from '../src/route-table.ts'

describe('the generated API documents', () => {
  it("route-responses.json is what the services' contracts declare for each public route", async () => {
    const services = await serviceRoutes()
    const gateway = gatewayRoutes()
    for (const g of gateway) {
      assert.ok(
        services.find((s) => s.upstream === g.upstream && s.method === g.method && s.path === g.path)?.response,
        `${g.method} ${g.path}: the ${g.upstream} service declares its responses`,
      )
    }
    assert.deepEqual(JSON.parse(readFileSync(BUNDLED_ROUTE_RESPONSES, 'utf8')), routeResponses(gateway, services), 'stale: run make route-table')
  })

  it('docs/openapi/*.json are the documents the code generates', async () => {
    const docs = await documents()
    assert.deepEqual(Object.keys(docs).sort(), ['catalog', 'gateway', 'inventory', 'order', 'review'])
    for (const [name, doc] of Object.entries(docs)) {
      const committed = readFileSync(new URL(`../../../docs/openapi/${name}.json`, import.meta.url), 'utf8')
      assert.equal(committed, doc, `docs/openapi/${name}.json is stale: run make openapi`)
      const parsed = JSON.parse(doc) as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }
      assert.equal(parsed.openapi, '3.1.0')
      for (const [path, ops] of Object.entries(parsed.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          assert.ok(
            Object.keys(op.responses).some((s) => s.startsWith('2')),
            `${name}: ${method.toUpperCase()} ${path} declares its success answer`,
          )
        }
      }
    }
  })
})
