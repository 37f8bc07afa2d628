/**
 * A Bloom filter of the ids that exist, kept in Redis so every instance shares one (cache penetration:
 * a read of an id the filter says cannot exist never reaches the database).
 *
 * Sizing (Bloom 1970; the usual optimum): m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 hashes for
 * n items at false-positive rate p. Positions by double hashing (see hash.ts).
 *
 * Why hand-written: the well-used JS filters (bloom-filters, bloomfilter) keep their bits in process
 * memory; sharing them needs the bit positions, which they do not expose as an API. RedisBloom's BF.*
 * commands need a Redis module our Redis does not load. The part written here is the sizing, the
 * positions, and three small Redis scripts.
 *
 * Layout in Redis (one hash slot thanks to the `{…}` tag, so the scripts also work on Redis Cluster):
 *   bloom:{<name>:<m>:<k>}        the bitmap (SETBIT/GETBIT; bit i is byte i>>3, mask 0x80>>(i&7))
 *   bloom:{<name>:<m>:<k>}:ready  set once a rebuild from the database has completed
 * m and k are in the key, so instances configured with a different size use a different filter instead
 * of reading each other's bits wrongly. Until `:ready` exists (first boot, or Redis lost its data) the
 * filter answers "maybe" for everything: it degrades to no protection, never to hiding rows that exist.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { hashPair } from './hash.ts'
import { runScript, type LuaScript } from '@flashsale/redis'

export interface BloomSize {
  /** m */
  readonly bits: number
  /** k */
  readonly hashes: number
}

/** m = ceil(-n ln p / (ln 2)^2), k = max(1, round(m/n · ln 2)). */
export function bloomSize(expectedItems: number, falsePositiveRate: number): BloomSize {
  if (!(expectedItems >= 1)) throw new RangeError(`expectedItems must be >= 1, got ${expectedItems}`)
  if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) throw new RangeError(`falsePositiveRate must be in (0, 1), got ${falsePositiveRate}`)
  const bits = Math.ceil((-expectedItems * Math.log(falsePositiveRate)) / Math.LN2 ** 2)
  if (bits > 2 ** 32) throw new RangeError(`${bits} bits is more than a Redis string holds (2^32)`)
  return { bits, hashes: Math.max(1, Math.round((bits / expectedItems) * Math.LN2)) }
}

/** The k bit positions of `id` in an m-bit filter. */
export function bloomPositions(id: string, { bits, hashes }: BloomSize): number[] {
  const [h1, h2] = hashPair(id)
  const out: number[] = []
  // h1 + i*h2 < 2^32 + 64 * 2^32, exact in a double; % m is the reduction.
  for (let i = 0; i < hashes; i++) out.push((h1 + i * h2) % bits)
  return out
}

/** The bitmap of a filter in process memory, in Redis's bit order; for rebuilds and unit tests. */
export interface LocalBloomFilter {
  readonly size: BloomSize
  readonly bytes: Uint8Array
  add(id: string): void
  mightContain(id: string): boolean
}

export function createLocalBloomFilter(size: BloomSize): LocalBloomFilter {
  const bytes = new Uint8Array(Math.ceil(size.bits / 8))
  return {
    size,
    bytes,
    add(id) {
      for (const p of bloomPositions(id, size)) bytes[p >>> 3]! |= 0x80 >>> (p & 7)
    },
    mightContain(id) {
      return bloomPositions(id, size).every((p) => ((bytes[p >>> 3] ?? 0) & (0x80 >>> (p & 7))) !== 0)
    },
  }
}

export interface BloomFilter {
  readonly size: BloomSize
  /** The bitmap's key, without the client's own keyPrefix. */
  readonly key: string
  /** false: `id` was never added. true: it may have been (or the filter is not ready yet). */
  mightContain(id: string): Promise<boolean>
  /**
   * Adds ids. Call it before the row's transaction commits (or right after, if the database makes the
   * id): until it lands, reads of the new id are answered "not found" without a database query.
   */
  add(ids: string | readonly string[]): Promise<void>
  /**
   * ORs the bits of every id given (all rows, streamed from the database) into the shared filter and
   * marks it ready. Safe to run from several instances at once and alongside add(): bits are only ever
   * set. Deleted ids stay "maybe" until the filter is replaced (new name or size); their reads cost one
   * negative-cached query each. Returns how many ids were read.
   */
  rebuild(ids: Iterable<string> | AsyncIterable<string>): Promise<number>
  /** Whether a rebuild has completed since Redis last lost the filter. */
  isReady(): Promise<boolean>
}

export interface RedisBloomFilterOptions {
  readonly redis: Redis
  readonly name: string
  /** n: ids the filter is sized for. Past it the false-positive rate climbs above p. */
  readonly expectedItems: number
  /** p, e.g. 0.01. */
  readonly falsePositiveRate: number
}

// KEYS: bitmap, ready marker. ARGV: positions. -1: not ready (answer "maybe"), 0: absent, 1: maybe present.
const CHECK: LuaScript = {
  name: 'flashsaleCacheBloomCheck',
  keys: 2,
  lua: `
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
for i = 1, #ARGV do
  if redis.call('GETBIT', KEYS[1], ARGV[i]) == 0 then return 0 end
end
return 1`,
}
const ADD: LuaScript = {
  name: 'flashsaleCacheBloomAdd',
  keys: 1,
  lua: `
for i = 1, #ARGV do redis.call('SETBIT', KEYS[1], ARGV[i], 1) end
return #ARGV`,
}
// KEYS: bitmap, staging copy, ready marker. OR, never replace: bits that add() set while the rebuild was
// reading the database are kept.
const MERGE: LuaScript = {
  name: 'flashsaleCacheBloomMerge',
  keys: 3,
  lua: `
redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], '1')
return 1`,
}

export function createRedisBloomFilter({ redis, name, expectedItems, falsePositiveRate }: RedisBloomFilterOptions): BloomFilter {
  const size = bloomSize(expectedItems, falsePositiveRate)
  const key = `bloom:{${name}:${size.bits}:${size.hashes}}`
  const readyKey = `${key}:ready`
  return {
    size,
    key,
    async mightContain(id) {
      const answer = (await runScript(redis, CHECK, key, readyKey, ...bloomPositions(id, size))) as number
      return answer !== 0
    },
    async add(ids) {
      const list = typeof ids === 'string' ? [ids] : ids
      if (list.length === 0) return
      await runScript(redis, ADD, key, ...new Set(list.flatMap((id) => bloomPositions(id, size))))
    },
    async rebuild(ids) {
      const local = createLocalBloomFilter(size)
      let count = 0
      for await (const id of ids) {
        local.add(id)
        count++
      }
      const staging = `${key}:rebuild:${randomBytes(6).toString('hex')}`
      // An hour's expiry only matters if this process dies between the two commands.
      await redis.set(staging, Buffer.from(local.bytes.buffer, local.bytes.byteOffset, local.bytes.byteLength), 'EX', 3_600)
      await runScript(redis, MERGE, key, staging, readyKey)
      return count
    },
    async isReady() {
      return (await redis.exists(readyKey)) === 1
    },
  }
}
