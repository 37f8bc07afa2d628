/**
 * The gateway's public OpenAPI document and its reference page, on the real stack: GET /openapi.json
 * describes every route of the route table with what the service behind it answers and what the gateway
 * answers by itself; it is the document committed in docs/openapi/gateway.json (make openapi generates it
 * from the same code); /docs is served by the gateway itself, no CDN.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { BUNDLED_ROUTE_TABLE, loadRouteTable } from '../src/route-table.ts'
import { startGateway, type Gateway } from './helpers.ts'

type Doc = {
  openapi: string
  paths: Record<
    string,
    Record<string, { security?: unknown[]; responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }> }>
  >
}

describe('the public OpenAPI document and /docs', () => {
  let gw: Gateway
  let doc: Doc
  before(async () => {
    gw = await startGateway('openapi')
    const res = await gw.request({ method: 'GET', url: '/openapi.json' })
    assert.equal(res.statusCode, 200)
    doc = res.json() as Doc
  })
  after(() => gw.close())

  test('every route of the route table is there, with the service answers and the gateway answers', () => {
    assert.equal(doc.openapi, '3.1.0')
    for (const route of loadRouteTable(BUNDLED_ROUTE_TABLE).routes) {
      const path = route.path.replace(/:(\w+)/g, '{$1}')
      const op = doc.paths[path]?.[route.method.toLowerCase()]
      assert.ok(op, `${route.method} ${route.path} is in the document`)
      const statuses = Object.keys(op.responses)
      assert.ok(
        statuses.some((s) => s.startsWith('2')),
        `${route.method} ${route.path}: a success answer from the service's contract (${statuses})`,
      )
      for (const s of ['400', '401', '403', '429', '502', '503', '504']) assert.ok(statuses.includes(s), `${route.method} ${route.path} answers ${s}`)
      assert.ok(op.responses['503']!.headers?.['retry-after'], `${route.method} ${route.path}: 503 says Retry-After`)
      assert.ok(op.responses['429']!.headers?.['ratelimit'], `${route.method} ${route.path}: 429 says RateLimit`)
      assert.ok(op.responses['503']!.content?.['application/problem+json'], 'errors are problem+json')
      assert.deepEqual(op.security, route.auth === 'user' ? [{ bearerAuth: [] }] : [], `${route.method} ${route.path}: security as the route table says`)
      if (route.soldOutEdge) assert.ok(statuses.includes('409'), 'sold out at the edge is documented')
    }
  })

  test('the live document is the committed one (docs/openapi/gateway.json, make openapi)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../docs/openapi/gateway.json', import.meta.url), 'utf8')) as unknown
    assert.deepEqual(doc, committed)
  })

  test('/docs is served by the gateway, with its assets, and points at no other host', async () => {
    const page = await gw.request({ method: 'GET', url: '/docs/' })
    assert.equal(page.statusCode, 200, `GET /docs/ answered ${page.statusCode} ${String(page.headers['location'] ?? '')}`)
    assert.match(String(page.headers['content-type']), /text\/html/)
    assert.doesNotMatch(page.body, /(src|href)="https?:\/\//, 'no asset from a CDN')
    const css = await gw.request({ method: 'GET', url: '/docs/static/swagger-ui.css' })
    assert.equal(css.statusCode, 200)
    const init = await gw.request({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
    assert.equal(init.statusCode, 200)
  })

  test('HEAD answers carry no body, errors included', async () => {
    for (const url of ['/health/live', '/no/such/route', '/openapi.json']) {
      const res = await gw.request({ method: 'HEAD', url })
      assert.equal(res.body, '', `HEAD ${url} (${res.statusCode}) has no body`)
    }
  })
})
