import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { describe, test } from 'node:test'
import { createPassSigner, type PassClaims } from '../../src/waiting-room/pass.ts'

const SECRET = 'a-secret-of-the-gateway-fleet-32-bytes-long'
const claims: PassClaims = { userId: 'u-1', saleId: 'sale-1', sku: 'SKU-1', place: 7, expiresAt: 1_000_000 }

describe('waiting-room pass', () => {
  const signer = createPassSigner(SECRET)

  test('a pass verifies before its expiry, with its claims and the id of its admission', () => {
    const { pass, id } = signer.issue(claims)
    const v = signer.verify(pass, 999_999)
    assert.deepEqual(v, { ok: true, claims, id })
  })

  test('every pass of one admission has the same id (it is the order key: one admission, one order)', () => {
    const a = signer.issue(claims)
    const b = signer.issue({ ...claims, expiresAt: claims.expiresAt + 60_000 })
    assert.notEqual(a.pass, b.pass)
    assert.equal(a.id, b.id)
    assert.notEqual(signer.issue({ ...claims, place: 8 }).id, a.id, 'another place, another admission')
    assert.notEqual(signer.issue({ ...claims, userId: 'u-2' }).id, a.id)
    assert.match(a.id, /^[A-Za-z0-9_-]{22}$/, 'fits the Idempotency-Key pattern')
  })

  test('expired at its expiry', () => {
    assert.deepEqual(signer.verify(signer.issue(claims).pass, claims.expiresAt), { ok: false, reason: 'expired' })
  })

  test('forgeries are refused: changed claims, another key, a cut signature', () => {
    const { pass } = signer.issue(claims)
    const [v, , sig] = pass.split('.')
    const forgedBody = Buffer.from(JSON.stringify({ u: 'u-1', s: 'sale-1', k: 'SKU-1', p: 1, e: 9e15 })).toString('base64url')
    assert.deepEqual(signer.verify(`${v}.${forgedBody}.${sig}`, 0), { ok: false, reason: 'signature' })
    const other = createPassSigner('another-fleet-with-another-secret-0123456789')
    assert.deepEqual(signer.verify(other.issue(claims).pass, 0), { ok: false, reason: 'signature' })
    assert.deepEqual(signer.verify(pass.slice(0, -4), 0), { ok: false, reason: 'signature' })
  })

  test('not a pass at all', () => {
    for (const bad of ['', 'x', 'wrp1.a', 'wrp2.a.b', 'wrp1.a.b.c', `wrp1.${Buffer.from('not json').toString('base64url')}.x`]) {
      const v = signer.verify(bad, 0)
      assert.equal(v.ok, false, bad)
    }
    // Well signed, but not the claims a pass has (the signer never makes these; a leaked key could).
    const body = Buffer.from(JSON.stringify({ u: 1 })).toString('base64url')
    const sig = createHmac('sha256', SECRET).update(`wrp1.${body}`).digest('base64url')
    assert.deepEqual(signer.verify(`wrp1.${body}.${sig}`, 0), { ok: false, reason: 'malformed' })
  })

  test('a short key is refused at start', () => {
    assert.throws(() => createPassSigner('short'), /at least 32 bytes/)
  })
})
