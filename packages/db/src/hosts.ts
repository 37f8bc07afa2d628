/**
 * libpq's multi-host connection URIs, `postgres://user@host1:5432,host2:5433/db?target_session_attrs=read-write`
 * (PostgreSQL manual, 34.1.1.3 "Specifying Multiple Hosts"). node-postgres connects to one host only and
 * does not know `target_session_attrs`, so packages/db splits such a URI into one URI per host and picks
 * the primary itself (primary.ts).
 */

export interface PostgresHost {
  /** host:port, as in pg_stat_activity and the metrics' labels. */
  readonly name: string
  /** The URI with this host only, and without the libpq-only parameters node-postgres does not know. */
  readonly url: string
}

const DEFAULT_PORT = '5432'
/** libpq parameters that choose among hosts; meaningless, and passed on as junk, once there is one host. */
const HOST_CHOICE_PARAMS = ['target_session_attrs', 'load_balance_hosts']
const URI = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/i

export class PostgresUrlError extends Error {
  override readonly name = 'PostgresUrlError'
}

/** The hosts of a postgres:// URI, one or several, in the order written. */
export function parseHosts(url: string): PostgresHost[] {
  const match = URI.exec(url)
  if (!match) throw new PostgresUrlError(`not a postgres:// or postgresql:// URI: ${redact(url)}`)
  const [, scheme = '', userinfo = '', hostList = '', rest = ''] = match
  if (hostList === '') throw new PostgresUrlError(`no host in ${redact(url)} (unix sockets are not supported here)`)
  const suffix = withoutParams(rest, HOST_CHOICE_PARAMS)
  return hostList.split(',').map((entry) => {
    const { host, port } = splitHostPort(entry, url)
    const hostPort = `${host}:${port}`
    return { name: hostPort, url: `${scheme}${userinfo}${hostPort}${suffix}` }
  })
}

function splitHostPort(entry: string, url: string): { host: string; port: string } {
  // [v6]:port, [v6], name:port, name
  const v6 = /^(\[[0-9a-f:.]+\])(?::(\d+))?$/i.exec(entry)
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(entry)
  const parts = v6 ?? plain
  if (!parts?.[1]) throw new PostgresUrlError(`bad host '${entry}' in ${redact(url)}: expected host or host:port`)
  const port = parts[2] ?? DEFAULT_PORT
  const n = Number(port)
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new PostgresUrlError(`bad port '${port}' in ${redact(url)}`)
  return { host: parts[1], port }
}

function withoutParams(rest: string, names: readonly string[]): string {
  const q = rest.indexOf('?')
  if (q === -1) return rest
  const hash = rest.indexOf('#', q)
  const query = rest.slice(q + 1, hash === -1 ? undefined : hash)
  const kept = query.split('&').filter((pair) => pair !== '' && !names.includes(decodeURIComponent(pair.split('=')[0] ?? '')))
  return rest.slice(0, q) + (kept.length ? `?${kept.join('&')}` : '') + (hash === -1 ? '' : rest.slice(hash))
}

/** The URI without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
}
