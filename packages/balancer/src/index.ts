export {
  createBalancer,
  ipHash,
  leastConnections,
  p2cPeakEwma,
  random,
  roundRobin,
  smoothWeightedRoundRobin,
  weightedRandom,
  type BalancerOptions,
  type PeakEwmaOptions,
  type RandomOptions,
  type RingHashOptions,
} from './algorithms.ts'
export { createSeededRandom, hash32 } from './hash.ts'
export { createOutlierDetector, type OutlierDetector, type OutlierDetectorOptions } from './outlier-detector.ts'
export { createPool, type AlgorithmName, type Balancer, type CallResult, type Instance, type PickContext, type PoolView, type Strategy } from './pool.ts'
