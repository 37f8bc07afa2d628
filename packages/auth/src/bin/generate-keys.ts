/**
 * Prints a fresh ES256 key pair as env lines (AUTH_JWT_PRIVATE_JWK, AUTH_JWT_PUBLIC_JWK).
 * `make infra-up` runs it once per checkout for the dev stack's .local/auth.env.
 */
import { generateSigningKeys } from '../tokens.ts'

const { privateJwk, publicJwk } = await generateSigningKeys()
console.log(`AUTH_JWT_PRIVATE_JWK=${JSON.stringify(privateJwk)}`)
console.log(`AUTH_JWT_PUBLIC_JWK=${JSON.stringify(publicJwk)}`)
