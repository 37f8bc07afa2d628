/**
 * Small deterministic helpers: a 32-bit string hash for the consistent-hash ring and a seedable PRNG so
 * distribution tests (and anyone replaying a decision) get the same picks every run.
 */

/**
 * FNV-1a over UTF-16 code units, then MurmurHash3's fmix32 finalizer. FNV-1a alone clusters inputs that
 * differ only in their last characters ("order-1#0", "order-1#1", …: exactly the ring's virtual nodes);
 * the finalizer spreads them across all 32 bits. Not for anything adversarial.
 */
export function hash32(input: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** mulberry32: a tiny 32-bit PRNG with good statistical quality for simulations; returns [0, 1). */
export function createSeededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}
