import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError } from '@flashsale/config'
import { readConfig } from '../src/config.ts'

const required = { AUTH_JWT_PUBLIC_JWK: '{"kty":"EC"}', PG_PRIMARY_URL: 'postgres://u@h:5432/db', REDIS_URL: 'redis://h:6379' }

describe('config', () => {
  it('fills the defaults: port 3002, reconciler every 5 s, sold-out memory 1 s', () => {
    const c = readConfig(required)
    assert.equal(c.PORT, 3002)
    assert.equal(c.RECONCILE_INTERVAL_MS, 5_000)
    assert.equal(c.SOLD_OUT_CACHE_MS, 1_000)
    assert.equal(c.PG_REPLICA_URLS, '')
  })

  it('fails boot naming every bad variable, and needs no Kafka', () => {
    assert.throws(
      () => readConfig({ ...required, REDIS_URL: 'http://nope', HOT_SALE_RATE_PER_SECOND: '0', AUTH_JWT_PUBLIC_JWK: undefined }),
      (err: unknown) =>
        err instanceof ConfigError &&
        ['REDIS_URL', 'HOT_SALE_RATE_PER_SECOND', 'AUTH_JWT_PUBLIC_JWK'].every((name) => err.problems.some((p) => p.startsWith(name))),
    )
  })
})
