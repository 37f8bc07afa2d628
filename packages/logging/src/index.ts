/**
 * Logging for every process, after the log optimization of "Achieving High Concurrency, High Performance,
 * and High Availability in Backend Systems" (Full-Stack Internet Architecture): no synchronous disk or pipe
 * writes on the hot path, batched output, and access logs sampled instead of one line per request.
 */
import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * What a module that only reports needs of a logger, one line per call: pino's Logger is one, and a test
 * passes a plain object. A module takes the levels it uses, e.g. `Pick<Log, 'warn'>`.
 */
export interface Log {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface LoggerOptions {
  readonly service: string
  readonly level?: string
  /**
   * Bytes buffered before a write(2). SonicBoom writes asynchronously and batches up to this much;
   * 4 KiB turns thousands of small log lines into a few syscalls. 0 writes each line as it comes.
   */
  readonly bufferBytes?: number
  /**
   * What is buffered is written at least this often, so a quiet process does not hold its last lines: the
   * order API's "circuit to inventory changed: closed" after a 5-minute drill sat in the buffer until the next
   * 4 KiB of log came. Default 1,000 ms; 0 only at the buffer's size (and at flush()).
   */
  readonly flushIntervalMs?: number
  /** Where lines go; stdout (fd 1) by default. Tests pass a stream to read what was logged. */
  readonly destination?: DestinationStream
}

export interface ServiceLogger {
  readonly logger: Logger
  /** Writes out what is buffered; call during graceful shutdown, before exit. */
  flush(): void
}

export function createLogger({ service, level = 'info', bufferBytes = 4096, flushIntervalMs = 1_000, destination }: LoggerOptions): ServiceLogger {
  const sonic = destination ? undefined : pino.destination({ dest: 1, sync: false, minLength: bufferBytes })
  const tick =
    sonic && bufferBytes > 0 && flushIntervalMs > 0
      ? setInterval(() => {
          // An asynchronous write of what is buffered, none if a write is in progress (SonicBoom's flush).
          try {
            sonic.flush()
          } catch {
            /* not open yet: the next tick */
          }
        }, flushIntervalMs).unref()
      : undefined
  const logger = pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Never log credentials that ride on requests.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization'], censor: '[redacted]' },
    },
    destination ?? sonic,
  )
  return {
    logger,
    flush() {
      // flushSync is the one synchronous write we allow: at shutdown, so nothing buffered is lost.
      clearInterval(tick)
      if (sonic) sonic.flushSync()
    },
  }
}

export interface AccessLogSampling {
  /** Fraction of ordinary (2xx/3xx, fast) requests logged, 0..1. */
  readonly successRate: number
  /** Fraction of 4xx logged: under a flash sale most are 409 sold-out and 429s, thousands a second. */
  readonly clientErrorRate: number
  /** Requests slower than this are always logged. */
  readonly slowMs: number
}

export const DEFAULT_ACCESS_LOG_SAMPLING: AccessLogSampling = { successRate: 0.01, clientErrorRate: 0.1, slowMs: 500 }

/**
 * Lines a second of the always-kept kind (5xx, slow) beyond which they are sampled too, 1 in `thereafter`:
 * under a burst every answer is slow and every refusal a 503, and one line each (10,000 in a 5,000-buyer
 * burst) made logging a tenth of the gateway's CPU when it could least spare it. zap's sampler
 * (go.uber.org/zap/zapcore NewSamplerWithOptions: "first N per tick, thereafter every Mth").
 */
export interface AccessLogCap {
  readonly firstPerSecond: number
  readonly thereafter: number
}

export const DEFAULT_ACCESS_LOG_CAP: AccessLogCap = { firstPerSecond: 100, thereafter: 100 }

/** shouldLogAccess with the always-kept lines capped per second (AccessLogCap). */
export function createAccessLogSampler(
  sampling: AccessLogSampling = DEFAULT_ACCESS_LOG_SAMPLING,
  cap: AccessLogCap = DEFAULT_ACCESS_LOG_CAP,
  now: () => number = () => performance.now(),
  random: () => number = Math.random,
): (statusCode: number, durationMs: number) => boolean {
  let second = -Infinity
  let seen = 0
  return (statusCode, durationMs) => {
    if (!shouldLogAccess(statusCode, durationMs, sampling, random)) return false
    if (statusCode < 500 && durationMs < sampling.slowMs) return true // sampled already
    const t = Math.floor(now() / 1000)
    if (t !== second) {
      second = t
      seen = 0
    }
    seen++
    return seen <= cap.firstPerSecond || (seen - cap.firstPerSecond) % cap.thereafter === 0
  }
}

/**
 * Whether to write an access-log line for a finished request. Every 5xx and every slow request is
 * kept (they are what an operator looks for); the rest is sampled. Metrics, not logs, count requests.
 */
export function shouldLogAccess(statusCode: number, durationMs: number, sampling: AccessLogSampling, random: () => number = Math.random): boolean {
  if (statusCode >= 500 || durationMs >= sampling.slowMs) return true
  const rate = statusCode >= 400 ? sampling.clientErrorRate : sampling.successRate
  return random() < rate
}
