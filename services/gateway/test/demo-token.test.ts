import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startGateway, startUpstream, type Gateway, type TestUpstream } from './helpers.ts'

describe('POST /auth/demo-token (demos and k6 only)', () => {
  let gw: Gateway
  let off: Gateway
  let order: TestUpstream
  before(async () => {
    order = await startUpstream('order-1')
    gw = await startGateway('demotoken', { upstreams: { order: [order.url] }, env: { DEMO_ADMIN_SECRET: 's3cret-for-tests' } })
    off = await startGateway('demotoken_off', { upstreams: { order: [order.url] }, demoTokens: false })
  })
  after(async () => {
    await gw.close()
    await off.close()
    await order.kill()
  })

  test('issues a buyer token the gateway accepts on a user route', async () => {
    const res = await gw.request({ method: 'POST', url: '/auth/demo-token', payload: { userId: 'k6-user-17' } })
    assert.equal(res.statusCode, 201)
    const { token, role } = res.json()
    assert.equal(role, 'buyer')
    const history = await gw.request({ method: 'GET', url: '/users/me/orders', token })
    assert.equal(history.statusCode, 200)
    assert.equal(order.last()!.headers.authorization, `Bearer ${token}`)
  })

  test('an admin token needs the admin secret header', async () => {
    const refused = await gw.request({ method: 'POST', url: '/auth/demo-token', payload: { userId: 'ops', role: 'admin' } })
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.json().code, 'GATEWAY_ERR_DEMO_ADMIN_FORBIDDEN')
    const wrong = await gw.request({
      method: 'POST',
      url: '/auth/demo-token',
      headers: { 'x-demo-admin-secret': 'guess' },
      payload: { userId: 'ops', role: 'admin' },
    })
    assert.equal(wrong.statusCode, 403)
    const ok = await gw.request({
      method: 'POST',
      url: '/auth/demo-token',
      headers: { 'x-demo-admin-secret': 's3cret-for-tests' },
      payload: { userId: 'ops', role: 'admin' },
    })
    assert.equal(ok.statusCode, 201)
    const admin = await gw.request({ method: 'GET', url: '/admin/degradation', token: ok.json().token })
    assert.equal(admin.statusCode, 200)
  })

  test('a bad user id is a 400', async () => {
    assert.equal((await gw.request({ method: 'POST', url: '/auth/demo-token', payload: { userId: 'has spaces' } })).statusCode, 400)
  })

  test('without an issuer (DEMO_TOKENS_ENABLED unset) the route does not exist', async () => {
    assert.equal((await off.request({ method: 'POST', url: '/auth/demo-token', payload: { userId: 'x' } })).statusCode, 404)
  })
})
