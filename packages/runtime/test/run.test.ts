/**
 * The start-up paths, as real processes on the real stack: a service started by runHttpService reaches Redis
 * and PostgreSQL through the clients its context made, drains and closes them on SIGTERM, and exits 0; a
 * consumer started by runConsumer finishes its batch in flight on SIGTERM, then closes; one whose batch does
 * not finish within the grace time is ended with exit 1, said in its log.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { freePort, getInfra, waitFor } from '@flashsale/testkit'

const FIXTURES = join(import.meta.dirname, 'fixtures')

interface Child {
  readonly url: string
  log(): string
  /** Sends the signal; resolves with the exit code and how long the exit took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>
}

async function start(fixture: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort()
  let output = ''
  const child: ChildProcess = spawn(process.execPath, [join(FIXTURES, fixture)], {
    env: { PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const url = `http://127.0.0.1:${port}`
  await waitFor(
    `${fixture} ready`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${fixture} exited ${child.exitCode}:\n${output}`)
      return (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200
    },
    20_000,
  )
  return {
    url,
    log: () => output,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        const t0 = Date.now()
        child.once('exit', (code) => resolve({ code, ms: Date.now() - t0 }))
        child.kill(signal)
      }),
  }
}

/** Each line is in the log, in this order. */
function assertSaidInOrder(log: string, lines: readonly string[]): void {
  const at = lines.map((l) => log.indexOf(l))
  assert.ok(
    at.every((i) => i >= 0),
    `missing ${lines.filter((_, i) => at[i]! < 0).join(' | ')}:\n${log}`,
  )
  assert.deepEqual(
    [...at].sort((a, b) => a - b),
    at,
    `not in the order ${lines.join(' → ')}:\n${log}`,
  )
}

describe('one start-up path per kind of process (@flashsale/runtime)', async () => {
  const infra = await getInfra()

  it('runHttpService: clients from config, served; SIGTERM drains, then closes every client it made, after the server; exit 0', async () => {
    const svc = await start('http-service.ts', { REDIS_URL: infra.redisUrl, PG_PRIMARY_URL: infra.pgPrimaryUrl, SHUTDOWN_DRAIN_MS: '300' })
    const res = await fetch(`${svc.url}/both`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { redis: 'PONG', pg: { one: 1 } })
    const { code, ms } = await svc.stop()
    assert.equal(code, 0, svc.log())
    assert.ok(ms >= 300, `readiness 503 for the drain time first (${ms} ms)`)
    const log = svc.log()
    for (const line of ['shutting down: draining', 'extra closer ran', '"msg":"closed"']) assert.ok(log.includes(line), `log says ${line}:\n${log}`)
    assert.ok(log.indexOf('extra closer ran') < log.indexOf('"msg":"closed"'), 'clients close before "closed"')
    // Every client the context made was closed: Redis disconnected, the PostgreSQL pool refuses queries.
    assert.match(log, /"redis":"(end|close)","pgClosed":true,"msg":"after the clients closed"/)
  })

  it('runHttpService: a variable the process needs is missing: it does not start, and says which', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [join(FIXTURES, 'http-service.ts')], {
      env: { PATH: process.env['PATH'] ?? '', PORT: String(port), PG_PRIMARY_URL: infra.pgPrimaryUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
    const code = await new Promise((resolve) => child.once('exit', resolve))
    assert.notEqual(code, 0)
    assert.match(output, /REDIS_URL/)
  })

  it('runConsumer: SIGTERM lets the batch in flight finish before anything closes, then exit 0', async () => {
    const c = await start('consumer.ts', { STOP_MS: '400', GRACE_MS: '5000' })
    assert.equal((await fetch(`${c.url}/metrics`)).status, 200, 'metrics on its health port')
    const { code, ms } = await c.stop()
    assert.equal(code, 0, c.log())
    assert.ok(ms >= 400, `waited for the batch (${ms} ms)`)
    const log = c.log()
    assertSaidInOrder(log, ['stopping: finishing the batch in flight', 'batch committed', 'signal aborted', '"msg":"closed"'])
  })

  it('runConsumer: a batch retrying through an outage is told to give up halfway through the grace time, and the process exits 0', async () => {
    const c = await start('consumer.ts', { STOP_MS: '-1', GRACE_MS: '2000' })
    const { code } = await c.stop()
    assert.equal(code, 0, c.log())
    const log = c.log()
    assertSaidInOrder(log, ['batch in flight: finishing', 'signal aborted', 'batch gave up: left uncommitted', '"msg":"closed"'])
    assert.doesNotMatch(log, /killed by timeout/)
  })

  it('runConsumer: a batch that does not finish within the grace time ends the process with exit 1, said in the log', async () => {
    const c = await start('consumer.ts', { STOP_MS: '60000', GRACE_MS: '500' })
    const { code } = await c.stop()
    assert.equal(code, 1, c.log())
    assert.match(c.log(), /killed by timeout \(500ms\)/)
  })
})
