/**
 * A client from createRedis survives a real Sentinel failover: a master, a replica and three Sentinels
 * (redis-server in Sentinel mode), all processes of this test on free ports. The master is killed with
 * SIGKILL; the Sentinels promote the replica; the same client object keeps writing and running a Lua
 * script (re-sent on NOSCRIPT: the new master never loaded it), and reads what it wrote before.
 * Serial: Sentinel's timers (down-after 1 s) should not wait on a CPU shared with other suites.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { createTestProxy, freePort } from '@flashsale/testkit'
import { createRedis } from '../src/index.ts'

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

describe('createRedis through Sentinel: a real failover', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-test-'))
  const processes: ChildProcess[] = []
  let masterPort = 0
  let replicaPort = 0
  const sentinelPorts: number[] = []
  const start = (args: string[]) => {
    const p = spawn('redis-server', args, { stdio: 'ignore' })
    processes.push(p)
    return p
  }
  /** A throwaway direct connection to one server. */
  const direct = (port: number) => {
    const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    c.on('error', () => {})
    return c
  }
  const ping = (port: number) => async () => {
    const c = direct(port)
    try {
      await c.connect()
      return (await c.ping()) === 'PONG'
    } finally {
      c.disconnect()
    }
  }
  let master: ChildProcess

  before(async () => {
    masterPort = await freePort()
    replicaPort = await freePort()
    const common = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
    master = start(['--port', String(masterPort), ...common])
    start(['--port', String(replicaPort), ...common, '--replicaof', '127.0.0.1', String(masterPort)])
    await until('the master', ping(masterPort))
    await until('the replica in sync', async () => {
      const c = direct(replicaPort)
      try {
        await c.connect()
        return /master_link_status:up/.test(await c.info('replication'))
      } finally {
        c.disconnect()
      }
    })
    for (let i = 0; i < 3; i++) {
      const port = await freePort()
      sentinelPorts.push(port)
      const conf = join(dir, `sentinel-${i}.conf`)
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor testmaster 127.0.0.1 ${masterPort} 2`,
          'sentinel down-after-milliseconds testmaster 1000',
          'sentinel failover-timeout testmaster 10000',
          'sentinel parallel-syncs testmaster 1',
          '',
        ].join('\n'),
      )
      start([conf, '--sentinel'])
    }
    for (const port of sentinelPorts) await until(`sentinel :${port}`, ping(port))
    // A Sentinel learns of the others and of the replica from hello messages (every 2 s); until each knows
    // both others it cannot gather a quorum, and a failover it starts waits twice the failover timeout
    // before its next try. A clean clone once ran past the test's 30 s that way: wait for the discovery.
    for (const port of sentinelPorts) {
      await until(`sentinel :${port} knowing the other two and the replica`, async () => {
        const c = direct(port)
        try {
          await c.connect()
          const others = (await c.call('SENTINEL', 'SENTINELS', 'testmaster')) as unknown[]
          const replicas = (await c.call('SENTINEL', 'REPLICAS', 'testmaster')) as unknown[]
          return others.length === 2 && replicas.length === 1
        } finally {
          c.disconnect()
        }
      })
    }
  })

  after(() => {
    for (const p of processes) p.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  it('natMap: the master the Sentinels name is dialled through a proxy (the chaos drills route it through Toxiproxy)', async () => {
    const proxy = await createTestProxy('redis_master', `redis://127.0.0.1:${masterPort}`)
    const client = createRedis(
      `redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/testmaster?natMap=127.0.0.1:${masterPort}>${proxy.listen}`,
      { maxRetriesPerRequest: 0, commandTimeout: 500, enableOfflineQueue: false },
    )
    client.on('error', () => {})
    try {
      await until('the client through the proxy', async () => (await client.set('nat', 'through-the-proxy')) === 'OK', 10_000)
      assert.equal(await client.get('nat'), 'through-the-proxy')
      const via = (await client.client('LIST')) as string
      assert.match(via, new RegExp(`laddr=127\\.0\\.0\\.1:${masterPort}`), 'it reached the master')
      await proxy.disable()
      await assert.rejects(client.get('nat'), 'with the proxy down, the master is out of reach: the traffic went through it')
    } finally {
      client.disconnect()
      await proxy.cleanup()
    }
  })

  it('keeps writing, reading and running a Lua script across the failover', async () => {
    const client = createRedis(`redis+sentinel://${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/testmaster`, {
      maxRetriesPerRequest: 3,
      commandTimeout: 2_000,
    })
    client.on('error', () => {})
    client.defineCommand('bump', { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" })
    const bump = (key: string, by: number) => (client as unknown as { bump(k: string, n: number): Promise<number> }).bump(key, by)
    // The port of the server the client talks to, as that server says.
    const serverPort = async () => Number(/tcp_port:(\d+)/.exec(await client.info('server'))?.[1])
    try {
      await client.set('before', 'v1')
      assert.equal(await bump('counter', 1), 1)
      assert.equal(await serverPort(), masterPort, 'connected to the master the Sentinels named')
      // Let the write reach the replica, as it would in the steady state (replication is asynchronous).
      await until('the replica has the writes', async () => {
        const c = direct(replicaPort)
        try {
          await c.connect()
          return (await c.get('before')) === 'v1'
        } finally {
          c.disconnect()
        }
      })

      master.kill('SIGKILL')
      const killedAt = Date.now()
      let written = false
      await until('a write to the new master', async () => {
        await client.set('after', 'v2')
        written = true
        return true
      })
      assert.ok(written)
      const failoverMs = Date.now() - killedAt
      assert.equal(await client.get('before'), 'v1', 'what was written before is there')
      assert.equal(await client.get('after'), 'v2')
      assert.equal(await bump('counter', 1), 2, 'the script runs on the new master (NOSCRIPT re-sent)')
      const role = (await client.call('ROLE')) as unknown[]
      assert.equal(role[0], 'master')
      assert.equal(await serverPort(), replicaPort, `now on the promoted replica (after ${failoverMs} ms)`)
    } finally {
      client.disconnect()
    }
  })
})
