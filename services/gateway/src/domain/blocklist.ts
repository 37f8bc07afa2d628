/**
 * The IP/CIDR blocklist: kept in a Redis set so every gateway instance blocks the same addresses, and
 * mirrored in memory so the hot path never waits for Redis. The mirror is refreshed on a timer and at
 * once after an admin change on this instance; when Redis is down the last list stays in force.
 */
import ipaddr from 'ipaddr.js'

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** The canonical form of an address or range ("10.0.0.1" → "10.0.0.1/32"), or undefined when invalid. */
export function normalizeCidr(value: string): string | undefined {
  try {
    if (value.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(value)
      return `${addr.toString()}/${bits}`
    }
    const addr = ipaddr.process(value)
    return `${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`
  } catch {
    return undefined
  }
}

/** Matcher over a list of ranges; IPv4-mapped IPv6 clients (::ffff:1.2.3.4) match IPv4 ranges. */
export function createCidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const ranges: Range[] = []
  for (const c of cidrs) {
    try {
      ranges.push(ipaddr.parseCIDR(c))
    } catch {
      // A hand-edited bad member of the Redis set is skipped, not fatal.
    }
  }
  return (ip) => {
    if (ranges.length === 0) return false
    let addr: ipaddr.IPv4 | ipaddr.IPv6
    try {
      addr = ipaddr.process(ip)
    } catch {
      return false
    }
    return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits))
  }
}

/** The store the blocklist lives in (Redis in production and tests). */
export interface BlocklistStore {
  members(): Promise<string[]>
  add(cidr: string): Promise<void>
  remove(cidr: string): Promise<void>
}

export interface Blocklist {
  isBlocked(ip: string): boolean
  list(): readonly string[]
  add(cidr: string): Promise<string>
  remove(cidr: string): Promise<string>
  refresh(): Promise<void>
}

export function createBlocklist(store: BlocklistStore, onRefreshError: (err: unknown) => void): Blocklist {
  let cidrs: string[] = []
  let matcher = createCidrMatcher(cidrs)
  const set = (next: string[]) => {
    cidrs = next.sort()
    matcher = createCidrMatcher(cidrs)
  }
  const refresh = async () => {
    try {
      set(await store.members())
    } catch (err) {
      onRefreshError(err)
    }
  }
  const canonical = (value: string) => {
    const c = normalizeCidr(value)
    if (!c) throw new RangeError(value)
    return c
  }
  return {
    isBlocked: (ip) => matcher(ip),
    list: () => cidrs,
    async add(value) {
      const c = canonical(value)
      await store.add(c)
      await refresh()
      return c
    },
    async remove(value) {
      const c = canonical(value)
      await store.remove(c)
      await refresh()
      return c
    },
    refresh,
  }
}
