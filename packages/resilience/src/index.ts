export { fullJitterDelay, jitteredRetryAfterSeconds, sleep, type BackoffOptions } from './backoff.ts'
export { startLoop, type Loop, type LoopOptions } from './loop.ts'
export {
  createAimdLimit,
  createFixedLimit,
  createGradient2Limit,
  createSampleWindow,
  createVegasLimit,
  type AimdOptions,
  type Gradient2Options,
  type LimitAlgorithm,
  type LimitSample,
  type SampleWindowOptions,
  type VegasOptions,
} from './limit-algorithms.ts'
export {
  createAdaptiveLimit,
  type AdaptiveLimiter,
  type AcquireOptions,
  type AdaptiveLimitOptions,
  type Admission,
  type LimitDecision,
  type LimiterSnapshot,
  type Permit,
  type Priority,
  type RejectionReason,
} from './adaptive-limit.ts'
export {
  BREAKER_STATE_VALUE,
  BrokenCircuitError,
  IsolatedCircuitError,
  circuitBreaker,
  createCallWindow,
  isBrokenCircuitError,
  type BreakerState,
  type CallWindow,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type WindowStats,
} from './circuit-breaker.ts'
export { DeadlineExceededError, isDeadlineExceeded, withLoopAwareDeadline, withTimeout } from './timeout.ts'
export { createLoopStallClock, processLoopStall, type LoopStallClock, type LoopStallClockOptions } from './loop-stall.ts'
export {
  createRetryBudget,
  isClientError,
  retryWithBudget,
  type RetryBudget,
  type RetryBudgetOptions,
  type RetryGiveUp,
  type RetryInfo,
  type RetryOptions,
} from './retry-budget.ts'
export {
  chainOf,
  createGcraChain,
  createGcraLimiter,
  type GcraChainOptions,
  type GcraOptions,
  type RateLimitChain,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitResult,
  type RateLimitSubject,
  type RateLimitVerdict,
} from './gcra.ts'
export { formatRateLimit, formatRateLimitPolicy, formatRetryAfter, rateLimitHeaders } from './rate-limit-headers.ts'
export { createFallbackChain, createFallbackLimiter, createLocalLimiter, type FallbackLimiterOptions, type LocalLimiterOptions } from './local-limiter.ts'
export { isDependencyUnavailable, isRefusalAnswer } from './dependency-errors.ts'
