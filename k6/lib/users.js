/**
 * Synthetic buyers: a user id, a demo bearer token and a client address each. The demo gateway runs with
 * TRUST_PROXY=true (infra/local/services-up.sh), so X-Forwarded-For makes each buyer a distinct client to
 * the per-IP rate limit and the bot score, although every request comes from loopback.
 */
import http from 'k6/http'
import { GATEWAY_URL, fail } from './env.js'

/** A distinct 10.x.y.z address per index; `block` (0..15) keeps populations apart (users, bots, visitors). */
export function syntheticIp(index, block = 0) {
  const c = (index % 254) + 1 // never .0 or .255
  const b = Math.floor(index / 254) % 256
  const a = (block % 16) * 16 + (Math.floor(index / (254 * 256)) % 16) // 1,040,384 addresses per block
  return `10.${a}.${b}.${c}`
}

/** Headers of an ordinary browser-like client (the bot score adds a point for a missing Accept). */
export function clientHeaders(ip, token) {
  const h = { accept: 'application/json', 'x-forwarded-for': ip }
  if (token) h.authorization = `Bearer ${token}`
  return h
}

/**
 * Demo tokens for `count` users named `<prefix>-<i>`, fetched in batches from POST /auth/demo-token (in
 * setup(): a token costs the gateway an ES256 signature, not something to measure). Each request carries
 * its user's address, as the gateway's funnel sees clients by address.
 *
 * Returns a compact pool {prefix, count, ipBlock, ip?, tokens: "t0 t1 ..."}: k6 hands the setup data to
 * every VU, which parses it on its first iteration; thousands of small objects would cost each VU
 * milliseconds of CPU exactly when a spike starts (iterations dropped), one long string costs next to
 * nothing. `userAt(pool, i)` gives the i-th user. `ip` (optional) puts every user on one address (bots).
 */
export function demoUsers({ count, prefix, ipBlock = 0, ip, ttlSeconds = 3600, batchSize = 100 }) {
  const tokens = []
  const addressOf = (i) => ip ?? syntheticIp(i, ipBlock)
  for (let start = 0; start < count; start += batchSize) {
    const reqs = []
    for (let i = start; i < Math.min(count, start + batchSize); i++) {
      reqs.push({
        method: 'POST',
        url: `${GATEWAY_URL}/auth/demo-token`,
        body: JSON.stringify({ userId: `${prefix}-${i}`, ttlSeconds }),
        params: { headers: { 'content-type': 'application/json', ...clientHeaders(addressOf(i)) }, tags: { name: 'setup demo-token' }, timeout: '10s' },
      })
    }
    const answers = http.batch(reqs)
    answers.forEach((res, k) => {
      if (res.status !== 201) {
        fail(
          `POST ${GATEWAY_URL}/auth/demo-token for ${prefix}-${start + k} answered ${res.status} ${String(res.body).slice(0, 200)}: ` +
            'is the gateway up with DEMO_TOKENS_ENABLED=true? (make services-up starts it so)',
        )
      }
      tokens.push(res.json('token'))
    })
  }
  return { prefix, count, ipBlock, ...(ip ? { ip } : {}), tokens: tokens.join(' ') }
}

// Per VU: each pool's tokens, split once.
const split = new Map()

/** The i-th user (modulo the pool's size) of a pool from demoUsers: {userId, token, ip}. */
export function userAt(pool, i) {
  let tokens = split.get(pool.prefix)
  if (!tokens) {
    tokens = pool.tokens.split(' ')
    split.set(pool.prefix, tokens)
  }
  const k = i % pool.count
  return { userId: `${pool.prefix}-${k}`, token: tokens[k], ip: pool.ip ?? syntheticIp(k, pool.ipBlock) }
}

/** Stops the run early with a clear message when the gateway does not answer at all. */
export function requireGateway() {
  const res = http.get(`${GATEWAY_URL}/health/ready`, { tags: { name: 'setup health' }, timeout: '5s' })
  if (res.status !== 200) {
    fail(`the gateway at ${GATEWAY_URL} is not ready (GET /health/ready → ${res.status || res.error}): run make services-up (or make demo)`)
  }
}
