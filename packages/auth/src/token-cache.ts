/**
 * A bounded cache of verified bearer tokens, keyed by the token string (docs/adr/0022). An ES256 verify
 * (jose: base64url, JSON, an ECDSA P-256 signature check) is the most expensive step of an authenticated
 * request, at the gateway and again at each service (ADR 0019: the order API verifies the buyer's token
 * and the inventory verifies it once more for the reservation), and a buyer sends the same token with
 * every request until it expires. Every service wraps its verifier in one.
 *
 * - Only successful verifications are kept; an invalid token is verified (and refused) every time.
 * - An entry is good until the token's own `exp` (read from the token that was just verified) or
 *   `maxTtlMs` after it was verified, whichever comes first; after that the next request goes to the
 *   verifier again, which applies its own clock tolerance. So an expired token is never served from the
 *   cache: expiry is the revocation of a bearer token here (no revocation list exists), and it holds.
 * - Bounded in entries (least recently used forgotten first), per process; nothing is shared.
 * - The key is the whole token, so a token differing in any byte (another signature) is a miss.
 */
import { LRUCache } from 'lru-cache'
import type { Principal, TokenVerifier } from './tokens.ts'

export interface TokenCacheOptions {
  /** Verified tokens remembered; 0 turns the cache off (every request is verified). */
  readonly maxEntries: number
  /** Upper bound on how long a verification is reused, whatever the token's `exp`. */
  readonly maxTtlMs: number
  /** Milliseconds since the epoch (the clock `exp` is measured on). Default Date.now. */
  readonly now?: () => number
  /** Called once per verify with where the answer came from. */
  readonly onResult?: (result: 'hit' | 'verified' | 'rejected') => void
}

/** What the services use (the gateway's are configurable: TOKEN_CACHE_*). */
export const TOKEN_CACHE_DEFAULTS: TokenCacheOptions = { maxEntries: 10_000, maxTtlMs: 300_000 }

export interface CachingTokenVerifier extends TokenVerifier {
  readonly size: number
}

/** `exp` of a JWT in milliseconds, or undefined when it has none (the caller only asks after a verify passed). */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split('.')[1]
  if (!payload) return undefined
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

interface Entry {
  readonly principal: Principal
  readonly goodUntil: number
}

export function createCachingVerifier(verifier: TokenVerifier, options: TokenCacheOptions): CachingTokenVerifier {
  const { maxEntries, maxTtlMs, now = Date.now, onResult } = options
  if (maxEntries <= 0) {
    return {
      size: 0,
      async verify(token) {
        try {
          const principal = await verifier.verify(token)
          onResult?.('verified')
          return principal
        } catch (err) {
          onResult?.('rejected')
          throw err
        }
      },
    }
  }
  const cache = new LRUCache<string, Entry>({ max: maxEntries })
  return {
    get size() {
      return cache.size
    },
    async verify(token) {
      const cached = cache.get(token)
      if (cached) {
        if (now() < cached.goodUntil) {
          onResult?.('hit')
          return cached.principal
        }
        cache.delete(token)
      }
      let principal: Principal
      try {
        principal = await verifier.verify(token)
      } catch (err) {
        onResult?.('rejected')
        throw err
      }
      onResult?.('verified')
      const t = now()
      const exp = tokenExpiryMs(token)
      // A token without exp is not cached: nothing would ever end its reuse but maxTtlMs.
      if (exp !== undefined && exp > t) cache.set(token, { principal, goodUntil: Math.min(exp, t + maxTtlMs) })
      return principal
    },
  }
}
