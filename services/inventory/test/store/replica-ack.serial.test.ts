/**
 * A reservation is confirmed only once a Redis replica has it (WAIT 1, store/gate-store.ts): otherwise a
 * failover could promote a replica that never saw it, and the rebuilt gate would hand its unit out again.
 * A master and a replica of this test's own, on free ports; the replica is frozen with SIGSTOP (connected,
 * silent: the case WAIT exists for), thawed, then killed (no replica at all: nothing to wait for).
 * Serial: it freezes processes and waits out timeouts.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from '@flashsale/testkit'
import { startHarness, uid, type Harness } from '../helpers.ts'

describe('reservations are confirmed only once a Redis replica has them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gate-replica-'))
  const processes: ChildProcess[] = []
  let masterPort = 0
  let replica: ChildProcess
  let h: Harness

  const direct = (port: number) => {
    const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on('error', () => {})
    return c
  }
  async function replicationOf(port: number): Promise<string> {
    const c = direct(port)
    try {
      return await c.info('replication')
    } finally {
      c.disconnect()
    }
  }
  async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(50)
    }
  }

  before(async () => {
    masterPort = await freePort()
    const replicaPort = await freePort()
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
    processes.push(spawn('redis-server', ['--port', String(masterPort), ...common], { stdio: 'ignore' }))
    replica = spawn('redis-server', ['--port', String(replicaPort), ...common, '--replicaof', '127.0.0.1', String(masterPort)], { stdio: 'ignore' })
    processes.push(replica)
    await until('the replica in sync', async () => /master_link_status:up/.test(await replicationOf(replicaPort)))
    h = await startHarness('replica_ack', {
      redis: (prefix) => {
        const client = new Redis(masterPort, '127.0.0.1', { keyPrefix: prefix, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 })
        client.on('error', () => {})
        return client
      },
    })
  })
  after(async () => {
    if (replica.exitCode === null) replica.kill('SIGCONT')
    await h?.close()
    for (const p of processes) p.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses (503 unreplicated) and gives the unit back while the replica is connected but silent; confirms again once it answers, or once there is no replica', async () => {
    const saleId = await h.createSale({ totalUnits: 1000, perUserLimit: 1000 })
    let last = ''
    const reserve = async () => {
      const res = await h.reserve('buyer', { saleId, orderId: uid('o'), qty: 1 })
      last = `${res.statusCode} ${res.body}`
      return res
    }
    await until('the gate to reserve', async () => (await reserve()).statusCode === 201).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${last}`)
    })
    const availableBefore = (await h.gate(saleId)).available!

    replica.kill('SIGSTOP')
    const refused = await reserve()
    assert.equal(refused.statusCode, 503, refused.body)
    assert.equal(refused.json().reason, 'unreplicated')
    assert.ok(Number(refused.headers['retry-after']) >= 1)
    assert.equal((await h.gate(saleId)).available, availableBefore, 'the unit reserved on the master was given back')
    // Within the next second it refuses without blocking the shared connection on WAIT again.
    const waits = async () => {
      const c = direct(masterPort)
      try {
        return Number(/cmdstat_wait:calls=(\d+)/.exec(await c.info('commandstats'))?.[1] ?? '0')
      } finally {
        c.disconnect()
      }
    }
    const waitsBefore = await waits()
    assert.equal((await reserve()).statusCode, 503)
    assert.equal(await waits(), waitsBefore, 'no second WAIT inside the refusal window')

    replica.kill('SIGCONT')
    await until('reservations confirmed again', async () => (await reserve()).statusCode === 201, 10_000).catch((err: Error) => {
      throw new Error(`${err.message}; last answer: ${last}`)
    })
    assert.equal((await h.gate(saleId)).available, availableBefore - 1)

    replica.kill('SIGKILL')
    await until('the master to see no replica', async () => /connected_slaves:0/.test(await replicationOf(masterPort)))
    assert.equal((await reserve()).statusCode, 201, 'with no replica there is nothing to lose in a failover, and nothing to wait for')
  })
})
