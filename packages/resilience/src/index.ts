export { fullJitterDelay, sleep, type BackoffOptions } from './backoff.ts'
