/**
 * The pass an admitted buyer shows with POST /orders while a sale's waiting room is on: signed by the gateway
 * fleet's shared secret (HMAC-SHA256, RFC 2104) and checked by any instance locally, with no Redis call, the
 * way the CloudFront waiting-room sample and the AWS Virtual Waiting Room hand out signed tokens once a
 * position is served. It is bound to the user, the sale and the SKU, and short-lived.
 *
 * Used once: every pass of one admission (the buyer may poll again and get it re-issued) carries the same
 * id, and the gateway sends that id to the order service as the order's Idempotency-Key. Showing the pass
 * again is therefore a repeat of the same order request (the same answer, never a second order), whatever
 * the client's own key says.
 *
 * Format: `wrp1.<base64url(JSON claims)>.<base64url(HMAC(secret, "wrp1." + claims))>`. Pure: no clock of
 * its own, no I/O.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export interface PassClaims {
  readonly userId: string
  readonly saleId: string
  readonly sku: string
  /** The place in line that was admitted: one admission, one place. */
  readonly place: number
  /** Wall-clock ms after which the pass is refused. */
  readonly expiresAt: number
}

export type PassVerdict =
  { readonly ok: true; readonly claims: PassClaims; readonly id: string } | { readonly ok: false; readonly reason: 'malformed' | 'signature' | 'expired' }

export interface PassSigner {
  /** The pass, and its id (the same for every pass of this admission). */
  issue(claims: PassClaims): { readonly pass: string; readonly id: string }
  verify(pass: string, now: number): PassVerdict
}

const VERSION = 'wrp1'
const b64 = (buf: Buffer | string) => Buffer.from(buf).toString('base64url')

export function createPassSigner(secret: string): PassSigner {
  if (Buffer.byteLength(secret) < 32) throw new RangeError('a waiting-room pass secret needs at least 32 bytes')
  const mac = (data: string) => createHmac('sha256', secret).update(data).digest()
  // 128 bits of a MAC over the admission: unguessable without the secret, the same for every re-issue.
  const idOf = (c: Pick<PassClaims, 'saleId' | 'userId' | 'place'>) => b64(mac(`id|${c.saleId}|${c.userId}|${c.place}`).subarray(0, 16))
  return {
    issue(claims) {
      const body = b64(JSON.stringify({ u: claims.userId, s: claims.saleId, k: claims.sku, p: claims.place, e: claims.expiresAt }))
      return { pass: `${VERSION}.${body}.${b64(mac(`${VERSION}.${body}`))}`, id: idOf(claims) }
    },
    verify(pass, now) {
      const parts = pass.split('.')
      if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' }
      const [, body, sig] = parts as [string, string, string]
      const expected = mac(`${VERSION}.${body}`)
      const given = Buffer.from(sig, 'base64url')
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature' }
      let c: Record<string, unknown>
      try {
        c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>
      } catch {
        return { ok: false, reason: 'malformed' }
      }
      const { u, s, k, p, e } = c
      if (typeof u !== 'string' || typeof s !== 'string' || typeof k !== 'string' || !Number.isSafeInteger(p) || typeof e !== 'number') {
        return { ok: false, reason: 'malformed' }
      }
      if (now >= e) return { ok: false, reason: 'expired' }
      const claims: PassClaims = { userId: u, saleId: s, sku: k, place: p as number, expiresAt: e }
      return { ok: true, claims, id: idOf(claims) }
    },
  }
}
