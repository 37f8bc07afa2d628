import { logLevel, type LogEntry } from 'kafkajs'
import type { KafkaLogger } from './types.ts'

/**
 * kafkajs warns on every idempotent producer with bounded retries that this "may invalidate EoS
 * guarantees". wrapProducer replaces the producer after a failed send, which removes the hazard the
 * warning is about, so it is logged at debug level instead of on every start.
 */
const HANDLED_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees'])

export function forwardLog(logger: KafkaLogger | undefined, entry: LogEntry): void {
  const { message, ...rest } = entry.log
  const obj = { kafka: entry.namespace, ...rest }
  const level = HANDLED_WARNINGS.has(message) ? logLevel.DEBUG : entry.level
  if (!logger) {
    if (level <= logLevel.WARN) console.warn(`[kafkajs] ${entry.namespace}: ${message}`)
    return
  }
  if (level === logLevel.ERROR) logger.error(obj, message)
  else if (level === logLevel.WARN) logger.warn(obj, message)
  else if (level === logLevel.INFO) logger.info(obj, message)
  else logger.debug(obj, message)
}
