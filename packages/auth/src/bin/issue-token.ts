/**
 * Prints one signed bearer token, for processes that call other services as themselves (the order worker's
 * INVENTORY_SERVICE_TOKEN) and for scripts on the dev stack. The private key comes from the environment
 * (AUTH_JWT_PRIVATE_JWK, as in .local/auth.env), never from an argument, so it stays out of `ps`.
 *
 *   node --env-file=.local/auth.env packages/auth/src/bin/issue-token.ts --user order-worker --role admin --ttl 2592000
 *
 * --user  subject (1-64 of [A-Za-z0-9_.:@-]); --role admin|buyer (admin also carries buyer, as the
 * gateway's demo tokens do); --ttl seconds (default 3600).
 */
import { parseArgs } from 'node:util'
import { createTokenIssuer, type Role } from '../tokens.ts'

function fail(message: string): never {
  console.error(`issue-token: ${message}`)
  console.error('usage: issue-token.ts --user <id> [--role admin|buyer] [--ttl <seconds>]   (env: AUTH_JWT_PRIVATE_JWK)')
  process.exit(2)
}

let values
try {
  ;({ values } = parseArgs({
    options: { user: { type: 'string' }, role: { type: 'string', default: 'buyer' }, ttl: { type: 'string', default: '3600' } },
    strict: true,
  }))
} catch (err) {
  fail(err instanceof Error ? err.message : String(err))
}
const { user, role, ttl } = values
if (!user) fail('--user is required')
if (role !== 'admin' && role !== 'buyer') fail(`--role must be admin or buyer, not ${JSON.stringify(role)}`)
const ttlSeconds = Number(ttl)
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) fail(`--ttl must be a positive whole number of seconds, not ${JSON.stringify(ttl)}`)

const privateJwk = process.env['AUTH_JWT_PRIVATE_JWK']
if (!privateJwk) fail('AUTH_JWT_PRIVATE_JWK is not set (the dev stack keeps it in .local/auth.env: node --env-file=.local/auth.env ...)')
let jwk
try {
  jwk = JSON.parse(privateJwk)
} catch {
  fail('AUTH_JWT_PRIVATE_JWK is not JSON (a JWK)')
}

const roles: Role[] = role === 'admin' ? ['admin', 'buyer'] : ['buyer']
try {
  const issuer = await createTokenIssuer(jwk)
  console.log(await issuer.issue({ userId: user, roles }, ttlSeconds))
} catch (err) {
  fail(err instanceof Error ? err.message : String(err))
}
