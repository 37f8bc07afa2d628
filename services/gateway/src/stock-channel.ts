/**
 * Sold out at the edge learns from the inventory's stock channel (ADR 0027): a Redis subscriber connection of
 * its own, whose messages mark and unmark SKUs. While the subscription is down a "units back" message may be
 * missed, so every mark is dropped until it is back; meanwhile the edge learns from proxied answers only.
 */
import type { Redis } from 'ioredis'
import type { Log } from '@flashsale/logging'
import { parseStockMessage, type SoldOutEdge } from './domain/sold-out-edge.ts'

/** Subscribes (never throws: an unreachable Redis is logged and retried on reconnect); disconnect it at close. */
export async function subscribeStockChannel(redis: Redis, soldOut: SoldOutEdge, channelName: string, log: Pick<Log, 'warn'>): Promise<Redis> {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, lazyConnect: true, connectionName: `gateway-stock-${process.pid}` })
  // The inventory's scripts publish on the channel under the same key prefix as their keys.
  const channel = `${redis.options.keyPrefix ?? ''}${channelName}`
  subscriber.on('message', (_channel: string, payload: string) => {
    const message = parseStockMessage(payload)
    if (message) soldOut.apply(message)
    else log.warn({ payload: payload.slice(0, 200) }, 'stock channel: not a stock message; ignored')
  })
  subscriber.on('close', () => soldOut.clear())
  subscriber.on('error', (err) => log.warn({ err }, 'stock channel: subscriber connection error; sold out at the edge waits for it'))
  await subscriber
    .connect()
    .catch((err: unknown) => log.warn({ err }, 'stock channel unreachable at boot; sold out at the edge learns from proxied answers until it is back'))
  await subscriber.subscribe(channel).catch((err: unknown) => log.warn({ err }, 'stock channel: subscribe failed; retried on reconnect'))
  return subscriber
}
