import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { DEFAULT_ACCESS_LOG_SAMPLING as S, createLogger, shouldLogAccess } from '../src/index.ts'

describe('shouldLogAccess', () => {
  it('always logs a 5xx, whatever the sample says', () => {
    assert.equal(
      shouldLogAccess(503, 1, S, () => 0.999),
      true,
    )
  })
  it('always logs a slow request, even a 200', () => {
    assert.equal(
      shouldLogAccess(200, S.slowMs, S, () => 0.999),
      true,
    )
  })
  it('samples fast successes at successRate and 4xx at clientErrorRate', () => {
    assert.equal(
      shouldLogAccess(200, 5, S, () => S.successRate - 1e-9),
      true,
    )
    assert.equal(
      shouldLogAccess(200, 5, S, () => S.successRate),
      false,
    )
    assert.equal(
      shouldLogAccess(409, 5, S, () => S.clientErrorRate - 1e-9),
      true,
    )
    assert.equal(
      shouldLogAccess(409, 5, S, () => S.clientErrorRate),
      false,
    )
  })
  it('keeps roughly the configured share of 10,000 ordinary requests', () => {
    let kept = 0
    for (let i = 0; i < 10_000; i++) if (shouldLogAccess(200, 3, { ...S, successRate: 0.05 })) kept++
    // Binomial(10000, 0.05): mean 500, sd ~22; 6 sd either side.
    assert.ok(kept > 370 && kept < 630, `kept ${kept}`)
  })
})

describe('createLogger', () => {
  it('writes JSON lines naming the service and redacts the Authorization header', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).trim().split('\n'))
        done()
      },
    })
    const { logger } = createLogger({ service: 'order', destination: sink })
    logger.info({ req: { headers: { authorization: 'Bearer secret-token' } } }, 'hello')
    await new Promise((r) => setImmediate(r))
    const line = JSON.parse(lines[0] ?? '{}')
    assert.equal(line.service, 'order')
    assert.equal(line.msg, 'hello')
    assert.equal(line.req.headers.authorization, '[redacted]')
  })
})
