import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { isDependencyUnavailable } from '@flashsale/resilience'
import { freePort } from '@flashsale/testkit'
import pg from 'pg'
import { Registry } from 'prom-client'
import { createPrimaryPool, nodeRoles, PrimaryUnavailableError, type PrimaryPool } from '../src/index.ts'
import { metricValue, waitFor } from './helpers.ts'

const run = promisify(execFile)
const FORMATION = join(import.meta.dirname, '..', '..', '..', 'infra', 'local', 'pg-formation.sh')

/**
 * A formation of its own (a pg_auto_failover monitor, a primary and a standby on free ports, built by the
 * same script as `make infra-up`), so its primary can be killed and switched over without touching the
 * servers other suites share. Serial: failure detection counts in seconds, and a machine busy with every
 * other suite would stretch them.
 */
describe('PrimaryPool across a real pg_auto_failover promotion', () => {
  const dir = `/var/tmp/flashsale-formation-test-${process.pid}`
  let ports: { monitor: number; a: number; b: number }
  let url: string
  let pool: PrimaryPool
  const registry = new Registry()
  const formation = (...args: string[]) => run('bash', [FORMATION, ...args], { timeout: 180_000 })
  const nodeUrl = (port: number) => `postgres://postgres@127.0.0.1:${port}/failover_test`
  const roleOf = async (port: number) => (await nodeRoles([nodeUrl(port)]))[0]
  /** The ids stored on one node, asked of that node directly. */
  async function idsOn(port: number): Promise<number[]> {
    const client = new pg.Client({ connectionString: nodeUrl(port) })
    try {
      await client.connect()
      return (await client.query<{ id: number }>('SELECT id FROM acks ORDER BY id')).rows.map((r) => r.id)
    } catch {
      return []
    } finally {
      await client.end().catch(() => {})
    }
  }

  /** Inserts one row per call; what the caller saw (ok, or the error) is recorded with it. */
  const acknowledged: number[] = []
  const refusals: unknown[] = []
  /**
   * Ids whose INSERT failed after it may have reached the server (the connection broke mid-statement): the
   * commit's outcome is unknown to the client, as with any database, so the row may or may not be there.
   * Refused before sending (no primary known, connection refused) is not in doubt: that row must not exist.
   */
  const inDoubt = new Set<number>()
  let next = 0
  async function write(): Promise<boolean> {
    const id = ++next
    try {
      await pool.query('INSERT INTO acks (id) VALUES ($1)', [id])
      acknowledged.push(id)
      return true
    } catch (err) {
      refusals.push(err)
      if (!(err instanceof PrimaryUnavailableError) && (err as { code?: unknown }).code !== 'ECONNREFUSED') inDoubt.add(id)
      return false
    }
  }
  /** Every acknowledged write is stored, and nothing else is but writes whose outcome the client could not know. */
  function assertStoredExactly(stored: readonly number[], where: string): void {
    const have = new Set(stored)
    assert.deepEqual(
      acknowledged.filter((id) => !have.has(id)),
      [],
      `acknowledged writes missing on ${where}`,
    )
    const acked = new Set(acknowledged)
    assert.deepEqual(
      stored.filter((id) => !acked.has(id) && !inDoubt.has(id)),
      [],
      `rows on ${where} that were refused before being sent`,
    )
  }

  async function writeUntilAccepted(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!(await write())) {
      if (Date.now() > deadline) throw new Error(`no write accepted within ${timeoutMs} ms; last error: ${String(refusals.at(-1))}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  before(async () => {
    ports = { monitor: await freePort(), a: await freePort(), b: await freePort() }
    await formation('up', dir, 'failover_test', String(ports.monitor), String(ports.a), String(ports.b))
    url = `postgres://postgres@127.0.0.1:${ports.a},127.0.0.1:${ports.b}/failover_test?target_session_attrs=read-write`
    pool = createPrimaryPool(url, { role: 'primary', name: 'failover-test', max: 4, checkIntervalMs: 200, registry })
    await pool.query('CREATE TABLE acks (id int PRIMARY KEY)')
  })
  after(async () => {
    await pool?.end()
    await formation('down', dir).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('writes to the first primary, fails fast while none is known, then writes to the promoted standby; nothing acknowledged is lost', async () => {
    // The first node created is the primary; which one it is now is the pool's to find out.
    const first = await pool.ready()
    assert.ok([`127.0.0.1:${ports.a}`, `127.0.0.1:${ports.b}`].includes(first), first)
    if (first !== `127.0.0.1:${ports.a}`) ports = { ...ports, a: ports.b, b: ports.a } // a: the primary, b: the standby
    for (let i = 0; i < 20; i++) assert.ok(await write())

    await formation('kill', dir, String(ports.a))
    await writeUntilAccepted(60_000)
    assert.equal(pool.current, `127.0.0.1:${ports.b}`)
    assert.equal(await roleOf(ports.b), 'primary')

    // Every refusal in between was an "unavailable, retry" (503 + Retry-After in a service), never a bug's error.
    assert.ok(refusals.length > 0, 'the old primary was dead for a while; some writes must have been refused')
    for (const err of refusals) assert.ok(isDependencyUnavailable(err), `not a dependency-unavailable error: ${String(err)}`)
    assert.ok(
      refusals.some((err) => err instanceof PrimaryUnavailableError),
      'while no node was the primary, calls failed fast with PrimaryUnavailableError',
    )
    assert.ok((await metricValue(registry, 'db_primary_lookups_total', { pool: 'failover-test', outcome: 'none' })) >= 1)

    // Synchronous replication (pg_auto_failover's default): every acknowledged write survived the failover.
    assertStoredExactly(await idsOn(ports.b), 'the promoted node')
  })

  it('failback: the old primary rejoins as a standby, and no write ever goes to it', async () => {
    await formation('start', dir, String(ports.a))
    await waitFor('the old primary back as a standby', async () => (await roleOf(ports.a)) === 'standby', 60_000, 200)
    for (let i = 0; i < 10; i++) assert.ok(await write())
    assert.equal(pool.current, `127.0.0.1:${ports.b}`)
    // The rewound standby holds exactly the primary's rows, those written while it was down included.
    const onPrimary = await idsOn(ports.b)
    assertStoredExactly(onPrimary, 'the primary')
    await waitFor('the rejoined standby to replay every row', async () => (await idsOn(ports.a)).join() === onPrimary.join(), 30_000, 100)
  })

  it('switchover: the primary is demoted while reachable; writes move with it and none lands on the demoted node', async () => {
    const before = pool.current
    let switched: 'no' | 'yes' | 'failed' = 'no'
    const writing = (async () => {
      // Writes all through the switchover, until the pool has moved to the promoted node.
      while (switched === 'no' || (switched === 'yes' && (pool.current === before || pool.current === undefined))) {
        await write()
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await formation('switchover', dir).then(
      () => (switched = 'yes'),
      (err: unknown) => {
        switched = 'failed'
        throw err
      },
    )
    await writing
    await writeUntilAccepted(30_000)
    assert.equal(pool.current, `127.0.0.1:${ports.a}`)
    assert.equal(await roleOf(ports.b), 'standby')
    for (const err of refusals) assert.ok(isDependencyUnavailable(err), `not a dependency-unavailable error: ${String(err)}`)
    const onPrimary = await idsOn(ports.a)
    // Should a write go missing, say where it is: on the demoted node (acknowledged there after the promotion),
    // and what the monitor said of each node.
    const missing = acknowledged.filter((id) => !onPrimary.includes(id))
    if (missing.length > 0) {
      const onDemoted = new Set(await idsOn(ports.b))
      const state = await formation('state', dir).then(
        (r) => r.stdout,
        (err: unknown) => String(err),
      )
      assert.fail(
        `acknowledged writes missing on the new primary: ${missing.length} (${missing[0]}..${missing.at(-1)}), ` +
          `${missing.filter((id) => onDemoted.has(id)).length} of them on the demoted node; ` +
          `${refusals.length} writes refused in all; formation state:\n${state}`,
      )
    }
    assertStoredExactly(onPrimary, 'the new primary')
    // The demoted node replays the new primary's WAL; had a write landed there before it turned standby, the
    // two would have diverged (pg_rewind would have had to throw that write away).
    await waitFor('the demoted node to replay every row', async () => (await idsOn(ports.b)).join() === onPrimary.join(), 30_000, 100)
  })

  it('a primary that is read-only by default (as pg_auto_failover leaves a node it is still promoting) gets no write; writes resume once it is not', async () => {
    const primary = pool.current!
    const port = Number(primary.split(':')[1])
    const admin = new pg.Client({ connectionString: nodeUrl(port) })
    await admin.connect()
    try {
      await admin.query('ALTER SYSTEM SET default_transaction_read_only = on')
      await admin.query('SELECT pg_reload_conf()')
      // The pool's own check (every 200 ms here) or the write's 25006 makes it look again, and no node qualifies.
      await waitFor('writes refused as unavailable', async () => !(await write()) && refusals.at(-1) instanceof PrimaryUnavailableError, 10_000, 50)
      for (const err of refusals) assert.ok(isDependencyUnavailable(err), `not a dependency-unavailable error: ${String(err)}`)
    } finally {
      await admin.query('ALTER SYSTEM RESET default_transaction_read_only')
      await admin.query('SELECT pg_reload_conf()')
      await admin.end()
    }
    await writeUntilAccepted(10_000)
    assert.equal(pool.current, primary)
    assertStoredExactly(await idsOn(port), 'the primary')
  })
})
