import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError, Type, loadConfig, logLevel, parseList, stackEnv } from '../src/index.ts'

const schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65_535, default: 3000, description: 'HTTP port' }),
  LOG_LEVEL: Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn')], { default: 'info' }),
  SALE_ENABLED: Type.Boolean({ default: false }),
  JWT_SECRET: Type.String({ minLength: 32 }),
  ...stackEnv,
})

const good = {
  JWT_SECRET: 'x'.repeat(32),
  PG_PRIMARY_URL: 'postgres://postgres@127.0.0.1:55432/flashsale',
  REDIS_URL: 'redis://127.0.0.1:56379',
  KAFKA_BROKERS: '127.0.0.1:59092',
}

describe('loadConfig', () => {
  it('coerces strings to the declared types and fills defaults', () => {
    const config = loadConfig(schema, { ...good, PORT: '8080', SALE_ENABLED: 'true' })
    assert.equal(config.PORT, 8080)
    assert.equal(config.SALE_ENABLED, true)
    assert.equal(config.LOG_LEVEL, 'info')
    assert.equal(config.PG_REPLICA_URLS, '')
  })

  it('returns only declared variables, never the rest of the environment', () => {
    const config = loadConfig(schema, { ...good, HOME: '/root' }) as Record<string, unknown>
    assert.equal(config['HOME'], undefined)
  })

  it('when a variable has a bad value, boot fails with a message naming it and its value', () => {
    assert.throws(
      () => loadConfig(schema, { ...good, PORT: 'eighty' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        assert.match(err.message, /PORT must be integer; it is "eighty" \(HTTP port\)/)
        return true
      },
    )
  })

  it('when a required variable is missing, the message names it', () => {
    const { REDIS_URL: _omitted, ...rest } = good
    assert.throws(() => loadConfig(schema, rest), /REDIS_URL is required but not set \(Redis: redis:\/\/host:port, or a Sentinel-managed master/)
  })

  it('reports every bad variable at once, and hides the values of secrets', () => {
    assert.throws(
      () => loadConfig(schema, { ...good, JWT_SECRET: 'short', LOG_LEVEL: 'loud', PG_PRIMARY_URL: 'mysql://x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError)
        const text = err.problems.join('\n')
        assert.match(text, /JWT_SECRET .*value hidden/)
        assert.doesNotMatch(text, /short/)
        assert.match(text, /LOG_LEVEL/)
        assert.match(text, /PG_PRIMARY_URL/)
        return true
      },
    )
  })

  it('treats an empty string as unset, so the default applies', () => {
    assert.equal(loadConfig(schema, { ...good, PORT: '' }).PORT, 3000)
  })
})

describe('logLevel', () => {
  const levels = Type.Object({ LOG_LEVEL: logLevel })
  it("accepts pino's levels and defaults to info", () => {
    assert.equal(loadConfig(levels, {}).LOG_LEVEL, 'info')
    assert.equal(loadConfig(levels, { LOG_LEVEL: 'silent' }).LOG_LEVEL, 'silent')
  })
  it('refuses anything else with one problem that names the variable and the allowed levels', () => {
    assert.throws(
      () => loadConfig(levels, { LOG_LEVEL: 'verbose' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        /LOG_LEVEL .*"verbose".*trace, debug, info, warn, error, fatal, silent/.test(err.problems[0] ?? ''),
    )
  })
})

describe('parseList', () => {
  it('splits on commas, trims, drops empties', () => {
    assert.deepEqual(parseList(' a, b ,,c '), ['a', 'b', 'c'])
    assert.deepEqual(parseList(''), [])
    assert.deepEqual(parseList(undefined), [])
  })
})
