/**
 * What a fault flag is, and what it does to one request. Pure: no Redis, no clock of its own.
 *
 * A flag makes this service fail on purpose, partially and for a while, so a drill can watch the rest of
 * the system cope (breakers, retries, shedding, degradation):
 * - `error`: answer `status` (default 500) to `rate` of the matching requests;
 * - `latency`: add `ms` before handling `rate` of the matching requests;
 * - `hang`: `rate` of the matching requests get no answer while the flag is in force: to the service's callers it
 *   is a hung dependency (a process stuck on a lock, a peer that accepted the connection and went silent), the
 *   failure only their own timeouts end. A request still waiting when the flag ends is then handled;
 * - `unready`: `/health/ready` answers 503 (load balancers take the instance out).
 * `route` scopes error, latency and hang flags to one route, as "METHOD /path/pattern" (Fastify's pattern, e.g.
 * "POST /reservations"); without it every route but the service's own health, metrics and fault routes
 * (which must keep working to turn a fault off). Every flag ends at `until` by itself.
 */

export type FaultKind = 'error' | 'latency' | 'hang' | 'unready'
export const FAULT_KINDS: readonly FaultKind[] = ['error', 'latency', 'hang', 'unready']

export interface FaultFlag {
  readonly kind: FaultKind
  /** Share of matching requests affected, 0..1 (error, latency and hang). */
  readonly rate: number
  /** The status of an `error` flag's answers, 500..599. */
  readonly status?: number
  /** Added milliseconds of a `latency` flag. */
  readonly ms?: number
  /** "METHOD /pattern"; undefined = every route. */
  readonly route?: string
  /** When it switches itself off, ms since the epoch. */
  readonly until: number
  /** The admin who set it (token subject), for the record. */
  readonly setBy: string
}

/** What the request gets: no answer until a time, added latency, and an error status to answer instead of handling it. */
export interface FaultDecision {
  /** Hold the request, unanswered, until this time (ms since the epoch): the last `until` of the hang flags that fired. */
  readonly hangUntil?: number
  readonly latencyMs: number
  readonly errorStatus?: number
  /** Names of the flags that fired, for metrics. */
  readonly fired: readonly { readonly name: string; readonly kind: FaultKind }[]
}

/** Routes no flag touches: health, metrics and the fault flags' own routes. */
export function exempt(url: string): boolean {
  return url.startsWith('/health/') || url === '/metrics' || url.startsWith('/admin/faults')
}

export function decide(
  flags: ReadonlyMap<string, FaultFlag>,
  method: string,
  routeUrl: string,
  now: number,
  random: () => number = Math.random,
): FaultDecision {
  let latencyMs = 0
  let errorStatus: number | undefined
  let hangUntil: number | undefined
  const fired: { name: string; kind: FaultKind }[] = []
  const route = `${method} ${routeUrl}`
  for (const [name, flag] of flags) {
    if (flag.kind === 'unready' || now >= flag.until || (flag.route !== undefined && flag.route !== route)) continue
    if (random() >= flag.rate) continue
    fired.push({ name, kind: flag.kind })
    if (flag.kind === 'latency') latencyMs += flag.ms ?? 0
    else if (flag.kind === 'hang') hangUntil = Math.max(hangUntil ?? 0, flag.until)
    else errorStatus ??= flag.status ?? 500
  }
  return { latencyMs, fired, ...(errorStatus === undefined ? {} : { errorStatus }), ...(hangUntil === undefined ? {} : { hangUntil }) }
}

/** An `unready` flag is in force. */
export function unready(flags: ReadonlyMap<string, FaultFlag>, now: number): boolean {
  for (const flag of flags.values()) if (flag.kind === 'unready' && now < flag.until) return true
  return false
}

/** The stored form of a flag, or undefined when it is not one (never trust a store blindly). */
export function parseFlag(raw: string): FaultFlag | undefined {
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return undefined
  }
  const f = (v ?? {}) as Record<string, unknown>
  if (!FAULT_KINDS.includes(f['kind'] as FaultKind)) return undefined
  if (typeof f['rate'] !== 'number' || !(f['rate'] >= 0 && f['rate'] <= 1)) return undefined
  if (typeof f['until'] !== 'number' || typeof f['setBy'] !== 'string') return undefined
  return {
    kind: f['kind'] as FaultKind,
    rate: f['rate'],
    until: f['until'],
    setBy: f['setBy'],
    ...(typeof f['status'] === 'number' ? { status: f['status'] } : {}),
    ...(typeof f['ms'] === 'number' ? { ms: f['ms'] } : {}),
    ...(typeof f['route'] === 'string' ? { route: f['route'] } : {}),
  }
}
