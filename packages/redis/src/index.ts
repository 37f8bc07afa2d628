/**
 * One way to open a Redis connection, so that every process of the stack follows a Redis failover the same
 * way. `REDIS_URL` is either a plain `redis://` / `rediss://` URL, or a Sentinel-managed master:
 *
 *   redis+sentinel://[user:password@]host1:port1,host2:port2,host3:port3/<master name>[?db=N][&natMap=A>B,...]
 *
 * `natMap` maps the address a Sentinel names (`host:port>host:port`, comma-separated) to the one to dial: for a
 * master reached through a proxy or a NAT (ioredis's `natMap`, https://github.com/redis/ioredis#nat-mapping);
 * the chaos drills route the services through Toxiproxy this way.
 * (the scheme some clients use for Sentinel, e.g. Spring Data Redis and Celery; ioredis has no URL form for
 * it, so it is parsed here). With Sentinel, ioredis asks the Sentinels for the master and re-asks after a
 * disconnect (https://github.com/redis/ioredis#sentinel). On top, the options its issues show a failover needs:
 * - `failoverDetector: true`: listen for the Sentinels' +switch-master and reconnect at once, also when the
 *   old master hangs instead of closing its sockets (https://github.com/redis/ioredis/issues/1314; opt-in since
 *   ioredis PR #1363);
 * - `reconnectOnError` on READONLY: a connection that still points at a demoted master reconnects (finding
 *   the new one) and resends the command, instead of failing every write (ioredis README, "Reconnect on
 *   error"; https://github.com/redis/ioredis/issues/305);
 * - `role: 'master'` (the default, stated): never read or write a replica.
 * Lua scripts defined with ioredis (`defineCommand`) re-send their body on NOSCRIPT, so a new master that
 * never saw them works (ioredis lib/Script.ts). Callers keep their own timeouts (`commandTimeout`,
 * `maxRetriesPerRequest`): a command that hangs through a failover fails by them, not forever.
 */
import { Redis, type RedisOptions } from 'ioredis'

export type RedisTarget =
  | { readonly kind: 'direct'; readonly url: string }
  | {
      readonly kind: 'sentinel'
      readonly masterName: string
      readonly sentinels: readonly { readonly host: string; readonly port: number }[]
      readonly username?: string
      readonly password?: string
      readonly db?: number
      /** "host:port" a Sentinel names -> where to connect instead. */
      readonly natMap?: Readonly<Record<string, { readonly host: string; readonly port: number }>>
    }

const SENTINEL_SCHEME = 'redis+sentinel:'

/** Parses REDIS_URL; throws a message naming what is wrong (boot fails on it). */
export function parseRedisUrl(url: string): RedisTarget {
  if (!url.startsWith(`${SENTINEL_SCHEME}//`)) {
    if (!/^rediss?:\/\//.test(url))
      throw new Error(`REDIS_URL must start with redis://, rediss:// or redis+sentinel://, got ${JSON.stringify(url.slice(0, 40))}`)
    return { kind: 'direct', url }
  }
  // URL cannot parse a host list; take the authority apart by hand.
  const rest = url.slice(SENTINEL_SCHEME.length + 2)
  const slash = rest.indexOf('/')
  if (slash < 0) throw new Error('REDIS_URL redis+sentinel:// needs the master name after the hosts: redis+sentinel://h1:p1,h2:p2/mymaster')
  let authority = rest.slice(0, slash)
  const [path = '', query = ''] = rest.slice(slash + 1).split('?')
  const masterName = decodeURIComponent(path)
  if (!/^[A-Za-z0-9_.-]+$/.test(masterName)) throw new Error(`REDIS_URL: the master name must be [A-Za-z0-9_.-]+, got ${JSON.stringify(masterName)}`)
  let username: string | undefined
  let password: string | undefined
  const at = authority.lastIndexOf('@')
  if (at >= 0) {
    const credentials = authority.slice(0, at)
    authority = authority.slice(at + 1)
    const colon = credentials.indexOf(':')
    username = decodeURIComponent(colon < 0 ? credentials : credentials.slice(0, colon)) || undefined
    password = colon < 0 ? undefined : decodeURIComponent(credentials.slice(colon + 1))
  }
  const hostPort = (text: string, what: string) => {
    const m = /^([A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(text)
    const port = m ? Number(m[2]) : NaN
    if (!m || !(port > 0 && port < 65_536)) throw new Error(`REDIS_URL: ${what} must be host:port, got ${JSON.stringify(text)}`)
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
  }
  const sentinels = authority.split(',').map((s) => hostPort(s, 'each Sentinel'))
  const params = new URLSearchParams(query)
  const db = params.get('db')
  if (db !== null && !/^\d+$/.test(db)) throw new Error(`REDIS_URL: db must be a number, got ${JSON.stringify(db)}`)
  const nat = params.get('natMap')
  let natMap: Record<string, { host: string; port: number }> | undefined
  if (nat !== null) {
    natMap = {}
    for (const pair of nat.split(',')) {
      const [from = '', to = '', extra] = pair.split('>')
      if (extra !== undefined || !to) throw new Error(`REDIS_URL: natMap must be host:port>host:port[,...], got ${JSON.stringify(pair)}`)
      const f = hostPort(from, 'a natMap address')
      natMap[`${f.host}:${f.port}`] = hostPort(to, 'a natMap address')
    }
  }
  return {
    kind: 'sentinel',
    masterName,
    sentinels,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(db === null ? {} : { db: Number(db) }),
    ...(natMap === undefined ? {} : { natMap }),
  }
}

/** A Redis client for `url` (see the top of this file), with the caller's options. */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const target = parseRedisUrl(url)
  if (target.kind === 'direct') return new Redis(target.url, options)
  return new Redis({
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.masterName,
    role: 'master',
    failoverDetector: true,
    // Same credentials for the master and the Sentinels (the stack's setup); say so when that changes.
    ...(target.username === undefined ? {} : { username: target.username, sentinelUsername: target.username }),
    ...(target.password === undefined ? {} : { password: target.password, sentinelPassword: target.password }),
    ...(target.db === undefined ? {} : { db: target.db }),
    ...(target.natMap === undefined ? {} : { natMap: { ...target.natMap } }),
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
    ...options,
  })
}

/** A description of where the client points, without credentials, for logs. */
export function describeRedisUrl(url: string): string {
  const t = parseRedisUrl(url)
  if (t.kind === 'sentinel') {
    const via = `sentinel master ${t.masterName} via ${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
    return t.natMap === undefined
      ? via
      : `${via}, dialled through ${Object.values(t.natMap)
          .map((a) => `${a.host}:${a.port}`)
          .join(',')}`
  }
  const u = new URL(t.url)
  return `${u.protocol}//${u.host}`
}
export { readLua, runScript, scriptCommand, type LuaScript, type ScriptArg, type ScriptCall } from './scripts.ts'
