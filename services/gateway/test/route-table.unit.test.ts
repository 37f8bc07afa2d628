import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BUNDLED_ROUTE_TABLE, checkRouteTable, loadRouteTable, type RouteTable } from '../src/route-table.ts'

describe('the route table', () => {
  test('the bundled table loads and classes the routes as the design says', () => {
    const table = loadRouteTable(BUNDLED_ROUTE_TABLE)
    const route = (method: string, path: string) => table.routes.find((r) => r.method === method && r.path === path)!
    for (const [m, p] of [
      ['POST', '/orders'],
      ['GET', '/orders/:id'],
      ['POST', '/orders/:id/pay'],
      ['GET', '/products'],
      ['GET', '/products/:id'],
      ['GET', '/sales'],
      ['GET', '/sales/:id'],
    ]) {
      assert.equal(route(m!, p!).priority, 'core', `${m} ${p}`)
    }
    for (const [m, p] of [
      ['GET', '/users/me/orders'],
      ['GET', '/products/:id/reviews'],
      ['POST', '/products/:id/reviews'],
    ]) {
      assert.equal(route(m!, p!).priority, 'non-core', `${m} ${p}`)
    }
    assert.ok(
      table.routes.filter((r) => r.retryable).every((r) => r.method === 'GET'),
      'only GETs are retryable',
    )
  })

  test("instance lists from the environment replace the table's", () => {
    const table = loadRouteTable(BUNDLED_ROUTE_TABLE, { order: ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'] })
    assert.deepEqual(table.upstreams['order']!.instances, ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'])
  })

  test('a table with mistakes is refused, naming each one', () => {
    const bad: RouteTable = {
      upstreams: { order: { instances: [], balancing: 'fastest' as never } },
      routes: [
        { method: 'POST', path: '/orders', upstream: 'order', priority: 'core', timeoutMs: 1000, retryable: true, auth: 'user' },
        { method: 'GET', path: '/x', upstream: 'nope', priority: 'core', timeoutMs: 0, retryable: false, auth: 'none' },
        { method: 'GET', path: '/admin/x', upstream: 'order', priority: 'core', timeoutMs: 10, retryable: false, auth: 'none' },
      ],
    }
    assert.throws(
      () => checkRouteTable(bad),
      (err: Error) => {
        for (const part of [
          'needs at least one instance',
          'balancing must be',
          'only idempotent methods may be retryable',
          'unknown upstream "nope"',
          'timeoutMs',
          'belongs to the gateway',
        ]) {
          assert.ok(err.message.includes(part), `missing: ${part}\n${err.message}`)
        }
        return true
      },
    )
  })
})
