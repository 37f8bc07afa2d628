export {
  bloomPositions,
  bloomSize,
  createLocalBloomFilter,
  createRedisBloomFilter,
  type BloomFilter,
  type BloomSize,
  type LocalBloomFilter,
  type RedisBloomFilterOptions,
} from './bloom.ts'
export { createCache, type Cache, type CacheOptions, type Loader, type ReadOptions } from './cache.ts'
export { CacheError, type CacheErrorCode } from './errors.ts'
export { jitterTtl, shouldRefreshEarly, type XFetchEntry } from './expiry.ts'
export { createHotKeyDetector, type HotKeyDetector, type HotKeyOptions } from './hot-keys.ts'
export { createSingleflight, type Flight, type Singleflight } from './singleflight.ts'
