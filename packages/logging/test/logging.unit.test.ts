import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, it } from 'node:test'
import { Writable } from 'node:stream'
import { DEFAULT_ACCESS_LOG_SAMPLING as S, createAccessLogSampler, createLogger, shouldLogAccess } from '../src/index.ts'

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

describe('createAccessLogSampler', () => {
  it('keeps the first 5xx and slow lines of each second, then 1 in `thereafter`; sampled kinds are not capped', () => {
    let t = 0
    const keep = createAccessLogSampler(
      S,
      { firstPerSecond: 3, thereafter: 10 },
      () => t,
      () => 0.999,
    )
    const kept = Array.from({ length: 33 }, () => keep(503, 1)).filter(Boolean).length
    assert.equal(kept, 3 + 3, 'the first 3, then the 10th, 20th and 30th beyond them')
    assert.equal(keep(200, S.slowMs), false, 'slow lines share the cap')
    t = 1_000
    assert.equal(keep(200, S.slowMs), true, 'a new second starts afresh')
    const sampled = createAccessLogSampler(
      S,
      { firstPerSecond: 0, thereafter: 1_000 },
      () => t,
      () => 0,
    )
    assert.equal(sampled(409, 1), true, 'a sampled 4xx that the dice keep is not capped')
    assert.equal(sampled(200, 1), true)
  })

  it('a quiet process writes its last lines within the flush interval, not only at exit', async () => {
    // A real process writing to its stdout (fd 1), killed with SIGKILL: only what was flushed before is seen.
    const entry = new URL('../src/index.ts', import.meta.url).href
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createLogger } from ${JSON.stringify(entry)}
         const { logger } = createLogger({ service: 'quiet', flushIntervalMs: 100 })
         logger.warn('circuit to inventory changed: closed')
         setTimeout(() => process.stderr.write('checkpoint\\n'), 600)
         setTimeout(() => {}, 60_000)`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => (c.toString().includes('checkpoint') ? resolve() : undefined))
      child.once('exit', (code) => reject(new Error(`the child exited early (${code}): ${out}`)))
    })
    child.kill('SIGKILL')
    assert.match(out, /"msg":"circuit to inventory changed: closed"/)
  })
})
