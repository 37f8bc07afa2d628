/**
 * A small, explainable bot/scalper score per client IP over a fixed window (BOT_WINDOW_MS):
 *   +2  more than `rateThreshold` requests in the window      (reason "rate")
 *   +3  more than `usersThreshold` distinct user ids           (reason "many_users": one box, many accounts)
 *   +1  no User-Agent header                                    (reason "no_user_agent")
 *   +1  no Accept header                                        (reason "no_accept")
 * At `throttleScore` the IP's requests cost more on the per-IP rate limiter; at `blockScore` they get 403.
 * Kept per gateway instance (a bounded LRU): a heuristic, not an account of record; a bot spread over
 * gateway instances scores lower on each, which the per-IP limit in Redis still catches.
 */
import { LRUCache } from 'lru-cache'

export interface BotScoreOptions {
  readonly windowMs: number
  readonly rateThreshold: number
  readonly usersThreshold: number
  readonly throttleScore: number
  readonly blockScore: number
  readonly maxClients?: number
  readonly now?: () => number
}

export interface BotSignals {
  readonly ip: string
  readonly userId?: string | undefined
  readonly hasUserAgent: boolean
  readonly hasAccept: boolean
}

export interface BotVerdict {
  readonly score: number
  readonly action: 'allow' | 'throttle' | 'block'
  readonly reasons: readonly string[]
}

interface ClientWindow {
  startedAt: number
  requests: number
  users: Set<string>
}

export function createBotScorer(options: BotScoreOptions) {
  const { windowMs, rateThreshold, usersThreshold, throttleScore, blockScore, maxClients = 50_000, now = () => performance.now() } = options
  const clients = new LRUCache<string, ClientWindow>({ max: maxClients })
  const MAX_USERS_TRACKED = usersThreshold + 1

  return {
    /** Counts this request and scores its client. */
    observe(signals: BotSignals): BotVerdict {
      const t = now()
      let w = clients.get(signals.ip)
      if (!w || t - w.startedAt >= windowMs) {
        w = { startedAt: t, requests: 0, users: new Set() }
        clients.set(signals.ip, w)
      }
      w.requests++
      if (signals.userId && w.users.size < MAX_USERS_TRACKED) w.users.add(signals.userId)

      const reasons: string[] = []
      let score = 0
      if (w.requests > rateThreshold) {
        score += 2
        reasons.push('rate')
      }
      if (w.users.size > usersThreshold) {
        score += 3
        reasons.push('many_users')
      }
      if (!signals.hasUserAgent) {
        score += 1
        reasons.push('no_user_agent')
      }
      if (!signals.hasAccept) {
        score += 1
        reasons.push('no_accept')
      }
      const action = score >= blockScore ? 'block' : score >= throttleScore ? 'throttle' : 'allow'
      return { score, action, reasons }
    },
  }
}
export type BotScorer = ReturnType<typeof createBotScorer>
