/**
 * The gateway's first guard, as a Fastify plugin: addresses on the blocklist (CIDRs in a Redis set every
 * instance shares, re-read every second) are refused with 403 before anything else is spent on the request.
 * The list is `app.blocklist`, for the admin routes that change it. If Redis cannot be read, the last list stays.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { createBlocklist, type Blocklist } from '../domain/blocklist.ts'
import { Blocked } from '../errors.ts'
import type { GatewayMetrics } from '../metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    blocklist: Blocklist
  }
}

export interface BlocklistGuardOptions {
  readonly redis: Redis
  readonly metrics: GatewayMetrics
  /** Routes never refused (health and metrics). */
  readonly exempt: ReadonlySet<string>
  readonly refreshMs?: number
}

const BLOCKLIST_KEY = 'gateway:blocklist'

export const blocklistGuard = fp(
  async (app: FastifyInstance, { redis, metrics, exempt, refreshMs = 1_000 }: BlocklistGuardOptions) => {
    const blocklist = createBlocklist(
      {
        members: () => redis.smembers(BLOCKLIST_KEY),
        add: async (cidr) => void (await redis.sadd(BLOCKLIST_KEY, cidr)),
        remove: async (cidr) => void (await redis.srem(BLOCKLIST_KEY, cidr)),
      },
      (err) => app.log.warn({ err }, 'blocklist refresh failed; the last list stays in force'),
    )
    await blocklist.refresh()
    app.decorate('blocklist', blocklist)
    // A callback-style hook (no promise per request): it runs on every request and never waits.
    app.addHook('onRequest', (request, _reply, done) => {
      if (!exempt.has(request.routeOptions.url ?? '') && blocklist.isBlocked(request.ip)) {
        metrics.blocked.inc({ reason: 'blocklist' })
        return done(new Blocked())
      }
      done()
    })
    let timer: NodeJS.Timeout | undefined
    app.addHook('onReady', async () => {
      timer = setInterval(() => void blocklist.refresh(), refreshMs)
      timer.unref()
    })
    app.addHook('onClose', async () => clearInterval(timer))
  },
  { name: 'gateway-blocklist', fastify: '5.x' },
)
