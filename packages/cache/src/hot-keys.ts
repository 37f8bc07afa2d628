/**
 * Hot-key detection in fixed memory: a count-min sketch (Cormode & Muthukrishnan, 2005) of reads per key
 * over a sliding window, estimated like a sliding-window rate limiter: previous window's count weighted
 * by the part of it still inside the window, plus the current window's count. A key is hot when its
 * estimate reaches `threshold`. A Map per key would grow with every id an attacker or a crawler asks
 * for; the sketch is `2 * depth * width` counters whatever the traffic. It can only overestimate
 * (collisions add, never subtract), by at most e/width of the window's reads with high probability —
 * a false "hot" costs one L1 slot, bounded by the L1 size. Written by hand: ~40 lines, no library fits
 * (the npm count-min packages are unmaintained or bring their own hashing per call).
 */
import { hashPair } from './hash.ts'

export interface HotKeyOptions {
  /** Reads counted over this window (ms). Default 1000. */
  readonly windowMs?: number
  /** Reads within the window that make a key hot. 1 makes every key hot. Default 10. */
  readonly threshold?: number
  /** Counters per row; overestimate ≤ e/width × reads in the window. Default 2048. */
  readonly width?: number
  /** Rows (independent hashes); failure probability e^-depth. Default 4. */
  readonly depth?: number
}

export interface HotKeyDetector {
  /** Counts one read of `key`; returns its estimated reads in the window, this one included. */
  record(key: string, now?: number): number
  /** Estimated reads of `key` in the window. */
  estimate(key: string, now?: number): number
  isHot(key: string, now?: number): boolean
  readonly threshold: number
}

export function createHotKeyDetector({ windowMs = 1_000, threshold = 10, width = 2_048, depth = 4 }: HotKeyOptions = {}): HotKeyDetector {
  if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`)
  if (!(threshold >= 1)) throw new RangeError(`threshold must be >= 1, got ${threshold}`)
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(depth) || depth < 1) throw new RangeError('width and depth must be positive integers')
  let current = new Uint32Array(width * depth)
  let previous = new Uint32Array(width * depth)
  // Windows are counted from the first read, not from multiples of windowMs since the epoch.
  let windowStart: number | undefined

  const rotate = (now: number): number => {
    windowStart ??= now
    const elapsed = Math.floor((now - windowStart) / windowMs)
    if (elapsed >= 1) {
      // More than one whole window went by without reads: the previous window is empty too.
      previous = elapsed === 1 ? current : new Uint32Array(width * depth)
      current = new Uint32Array(width * depth)
      windowStart += elapsed * windowMs
    }
    return windowStart
  }
  const cells = (key: string): number[] => {
    const [h1, h2] = hashPair(key)
    const out: number[] = []
    for (let row = 0; row < depth; row++) out.push(row * width + (((h1 + row * h2) >>> 0) % width))
    return out
  }
  const estimateCells = (at: number[], now: number, start: number): number => {
    const previousWeight = 1 - (now - start) / windowMs
    let min = Infinity
    for (const i of at) min = Math.min(min, (previous[i] ?? 0) * previousWeight + (current[i] ?? 0))
    return min
  }

  return {
    threshold,
    record(key, now = Date.now()) {
      const start = rotate(now)
      const at = cells(key)
      for (const i of at) current[i] = (current[i] ?? 0) + 1
      return estimateCells(at, now, start)
    },
    estimate(key, now = Date.now()) {
      const start = rotate(now)
      return estimateCells(cells(key), now, start)
    },
    isHot(key, now = Date.now()) {
      return this.estimate(key, now) >= threshold
    },
  }
}
