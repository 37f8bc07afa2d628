/**
 * Per-suite isolation on shared real servers, so suites run in parallel and re-run without cleanup:
 * a database of its own (replicated to every replica), a Redis key prefix, unique Kafka topic names.
 * Each helper returns a `cleanup` that removes what it made; a crashed run leaves only uniquely named
 * leftovers, which nothing else reads.
 */
import { randomBytes } from 'node:crypto'
import { createKafka, type TopicDefinition } from '@flashsale/kafka'
import { Redis } from 'ioredis'
import pg from 'pg'
import { getInfra } from './infra.ts'

/** A short unique suffix: process id + random, readable in `\l` and topic listings. */
export function uniqueSuffix(): string {
  return `${process.pid}_${randomBytes(4).toString('hex')}`
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export interface TestDatabase {
  readonly name: string
  readonly primaryUrl: string
  readonly replicaUrls: readonly string[]
  /**
   * Resolves once every replica has replayed everything the primary has written so far: call it after
   * test setup writes, before reading through the read router (which picks any replica within its lag bound).
   */
  replicated(timeoutMs?: number): Promise<void>
  cleanup(): Promise<void>
}

/**
 * Creates a fresh database on the primary and waits until every replica has replayed it, so a test
 * can connect to the replicas right away.
 */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const infra = await getInfra()
  const name = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${uniqueSuffix()}`
  await adminQuery(infra.pgPrimaryUrl, `CREATE DATABASE "${name}"`)
  const primaryUrl = withDatabase(infra.pgPrimaryUrl, name)
  const replicaUrls = infra.pgReplicaUrls.map((u) => withDatabase(u, name))
  await Promise.all(replicaUrls.map((u) => waitUntilConnectable(u, 30_000)))
  return {
    name,
    primaryUrl,
    replicaUrls,
    replicated: (timeoutMs = 30_000) => waitUntilReplayed(primaryUrl, replicaUrls, timeoutMs),
    cleanup: () => adminQuery(infra.pgPrimaryUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  }
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

async function waitUntilReplayed(primaryUrl: string, replicaUrls: readonly string[], timeoutMs: number): Promise<void> {
  const primary = new pg.Client({ connectionString: primaryUrl })
  await primary.connect()
  let lsn: string
  try {
    lsn = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn
  } finally {
    await primary.end()
  }
  await Promise.all(
    replicaUrls.map(async (url) => {
      const replica = new pg.Client({ connectionString: url })
      await replica.connect()
      try {
        const deadline = Date.now() + timeoutMs
        while (!(await replica.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [lsn])).rows[0]?.ok) {
          if (Date.now() > deadline) throw new Error(`replica :${new URL(url).port} did not replay up to ${lsn} within ${timeoutMs} ms`)
          await new Promise((r) => setTimeout(r, 20))
        }
      } finally {
        await replica.end()
      }
    }),
  )
}

async function waitUntilConnectable(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const client = new pg.Client({ connectionString: url })
    try {
      await client.connect()
      await client.end()
      return
    } catch (err) {
      await client.end().catch(() => {})
      if (Date.now() > deadline) throw new Error(`replica :${new URL(url).port} never showed database ${new URL(url).pathname}`, { cause: err })
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

export interface TestRedis {
  /** A client whose every key (including Lua KEYS) is prefixed with `prefix`. */
  readonly redis: Redis
  readonly prefix: string
  readonly url: string
  cleanup(): Promise<void>
}

export async function createTestRedis(label: string): Promise<TestRedis> {
  const infra = await getInfra()
  const prefix = `t:${label}:${uniqueSuffix()}:`
  const redis = new Redis(infra.redisUrl, { keyPrefix: prefix, maxRetriesPerRequest: 2, lazyConnect: true })
  await redis.connect()
  return {
    redis,
    prefix,
    url: infra.redisUrl,
    async cleanup() {
      // SCAN patterns are not prefixed by ioredis; use a plain connection to delete the suite's keys.
      const plain = new Redis(infra.redisUrl, { maxRetriesPerRequest: 2 })
      try {
        let cursor = '0'
        do {
          const [next, keys] = await plain.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
          if (keys.length > 0) await plain.unlink(...keys)
          cursor = next
        } while (cursor !== '0')
      } finally {
        plain.disconnect()
        redis.disconnect()
      }
    },
  }
}

export interface TestTopics<K extends string> {
  /** The unique topic names, by the keys given. */
  readonly names: Readonly<Record<K, string>>
  readonly brokers: readonly string[]
  cleanup(): Promise<void>
}

/** Creates uniquely named copies of the given topic definitions (same partitions and configs). */
export async function createTestTopics<K extends string>(label: string, defs: Readonly<Record<K, TopicDefinition>>): Promise<TestTopics<K>> {
  const infra = await getInfra()
  const suffix = uniqueSuffix()
  // Fresh topics answer "leader not available" for a moment; the client retries that, so only errors are shown.
  const quiet = () => {}
  const logger = { debug: quiet, info: quiet, warn: quiet, error: (obj: object, msg: string) => console.error(`[kafka] ${msg}`, obj) }
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: `test-${label}`, logger })
  const names = {} as Record<K, string>
  const unique: TopicDefinition[] = []
  for (const key of Object.keys(defs) as K[]) {
    const def = defs[key]
    names[key] = `${def.name}.t${suffix}`
    unique.push({ ...def, name: names[key] })
  }
  await kafka.ensureTopics(unique)
  return { names, brokers: infra.kafkaBrokers, cleanup: () => kafka.deleteTopics(Object.values(names)) }
}
