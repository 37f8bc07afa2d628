/**
 * Identity is a signed bearer token (JWT, ES256). The gateway's token endpoint holds the private key and
 * issues tokens; every service holds only the public key and verifies each request itself, so a service
 * never trusts a user id it cannot verify — whether the request came through the gateway or not.
 * Asymmetric keys: a leaked service config cannot mint tokens.
 */
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose'

export const ALGORITHM = 'ES256'
export const DEFAULT_ISSUER = 'flashsale-gateway'
export const DEFAULT_AUDIENCE = 'flashsale'

export type Role = 'buyer' | 'admin'

export interface Principal {
  readonly userId: string
  readonly roles: readonly Role[]
}

export interface TokenSettings {
  readonly issuer?: string
  readonly audience?: string
}

export interface TokenIssuer {
  issue(principal: Principal, ttlSeconds?: number): Promise<string>
}

export interface TokenVerifier {
  /** The principal, or throws `InvalidTokenError` with the reason (expired, bad signature, ...). */
  verify(token: string): Promise<Principal>
}

export class InvalidTokenError extends Error {
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options)
    this.name = 'InvalidTokenError'
  }
}

const USER_ID = /^[\w.:@-]{1,64}$/

export async function createTokenIssuer(privateJwk: JWK, { issuer = DEFAULT_ISSUER, audience = DEFAULT_AUDIENCE }: TokenSettings = {}): Promise<TokenIssuer> {
  const key = await importJWK(privateJwk, ALGORITHM)
  return {
    async issue({ userId, roles }, ttlSeconds = 3600) {
      if (!USER_ID.test(userId)) throw new InvalidTokenError(`user id ${JSON.stringify(userId)} is not 1-64 of [A-Za-z0-9_.:@-]`)
      return new SignJWT({ roles: [...roles] })
        .setProtectedHeader({ alg: ALGORITHM })
        .setSubject(userId)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key)
    },
  }
}

export async function createTokenVerifier(
  publicJwk: JWK,
  { issuer = DEFAULT_ISSUER, audience = DEFAULT_AUDIENCE }: TokenSettings = {},
): Promise<TokenVerifier> {
  const key = await importJWK(publicJwk, ALGORITHM)
  return {
    async verify(token) {
      let payload
      try {
        // Pinning the algorithm list rules out alg=none and HS256-with-the-public-key confusion.
        ;({ payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer, audience, clockTolerance: 5 }))
      } catch (err) {
        throw new InvalidTokenError(err instanceof Error ? err.message : 'invalid token', { cause: err })
      }
      const roles = Array.isArray(payload['roles']) ? payload['roles'].filter((r): r is Role => r === 'buyer' || r === 'admin') : []
      if (typeof payload.sub !== 'string' || !USER_ID.test(payload.sub)) throw new InvalidTokenError('token has no valid subject')
      return { userId: payload.sub, roles }
    },
  }
}

/** A fresh ES256 key pair as JWKs (single-line JSON fits an env var). */
export async function generateSigningKeys(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true })
  return { privateJwk: await exportJWK(privateKey), publicJwk: await exportJWK(publicKey) }
}
