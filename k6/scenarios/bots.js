/**
 * bots: a few scalper boxes hammer the sale while ordinary buyers keep buying. Each bot is one address
 * using several accounts, firing order attempts (and scraping the product page) far faster than a person,
 * without the headers a browser sends. The gateway's bot score (rate, accounts per address, missing
 * Accept) throttles and then blocks them (403 GATEWAY_ERR_BOT_BLOCKED), the per-IP and per-user limits
 * (429) catch the rest, and the buyers — one address and one account each — are served as usual.
 * Every request is tagged group=bot or group=user, and the thresholds hold each group to its own goal.
 *
 * Expected outcomes (not failures): 2xx, 409 sold out / limit, 429, 503, and 403 (for bots).
 *
 * env: SKU (required) · DURATION (1m) · USER_RATE (20 buyers/s) · USERS (2000) · BOTS (4 addresses)
 *      BOT_ACCOUNTS (6 per bot) · BOT_RATE (30 requests/s per bot) · PER_USER_LIMIT (1: the sale's per-buyer
 *      limit, for the bots' purchase cap) · MAX_VUS (400) · GATEWAY_URL
 */
import exec from 'k6/execution'
import { durationEnv, intEnv, newRunId, requireSku, secs } from '../lib/env.js'
import { placeOrder } from '../lib/orders.js'
import { expectStatuses } from '../lib/outcomes.js'
import { popularProductId, readProduct } from '../lib/reads.js'
import { baseOptions, summaryHandler } from '../lib/summary.js'
import { demoUsers, requireGateway, syntheticIp, userAt } from '../lib/users.js'

const SKU = requireSku('bots')
const DURATION = durationEnv('DURATION', '1m')
const USER_RATE = intEnv('USER_RATE', 20, { min: 1 })
const USERS = intEnv('USERS', 2000, { min: 1 })
const BOTS = intEnv('BOTS', 4, { min: 1 })
const BOT_ACCOUNTS = intEnv('BOT_ACCOUNTS', 6, { min: 1 })
const BOT_RATE = intEnv('BOT_RATE', 30, { min: 1 })
const PER_USER_LIMIT = intEnv('PER_USER_LIMIT', 1, { min: 1 })
const MAX_VUS = intEnv('MAX_VUS', 400, { min: 2 })

expectStatuses(403)

const base = baseOptions({ groups: ['user', 'bot'] })
export const options = {
  ...base,
  scenarios: {
    buyers: {
      executor: 'constant-arrival-rate',
      exec: 'buyer',
      rate: USER_RATE,
      timeUnit: '1s',
      duration: secs(DURATION),
      preAllocatedVUs: Math.min(Math.floor(MAX_VUS / 2), Math.max(10, USER_RATE)),
      maxVUs: Math.floor(MAX_VUS / 2),
      tags: { group: 'user' },
      gracefulStop: '10s',
    },
    bots: {
      executor: 'constant-arrival-rate',
      exec: 'bot',
      rate: BOTS * BOT_RATE,
      timeUnit: '1s',
      duration: secs(DURATION),
      preAllocatedVUs: Math.min(Math.floor(MAX_VUS / 2), Math.max(10, BOTS * BOT_RATE)),
      maxVUs: Math.floor(MAX_VUS / 2),
      tags: { group: 'bot' },
      gracefulStop: '10s',
    },
  },
  thresholds: {
    ...base.thresholds,
    // Buyers are served: their product pages and order attempts get real answers (202, sold out, limit).
    'served{group:user}': ['rate>0.95'],
    'system_errors{group:user}': ['rate<0.01'],
    'order_placement_ms{group:user}': ['p(95)<1000'],
    // Bots are stopped: most of their requests are refused (403 bot score, 429 limits).
    'refused{group:bot}': ['rate>0.8'],
    // And whatever gets through, they never buy more than their accounts' per-buyer limit allows.
    'order_outcomes{group:bot,outcome:accepted}': [`count<=${BOTS * BOT_ACCOUNTS * PER_USER_LIMIT}`],
    system_errors: ['rate<0.01'],
    http_req_failed: ['rate<0.01'],
  },
}

export function setup() {
  requireGateway()
  const runId = newRunId()
  const ttlSeconds = Math.min(86_400, Math.ceil(DURATION) + 900)
  const users = demoUsers({ count: USERS, prefix: `bu-${runId}`, ipBlock: 6, ttlSeconds })
  // Bot b: one address (block 7), BOT_ACCOUNTS accounts.
  const bots = []
  for (let b = 0; b < BOTS; b++) bots.push(demoUsers({ count: BOT_ACCOUNTS, prefix: `bot${b}-${runId}`, ip: syntheticIp(b, 7), ttlSeconds }))
  return { runId, sku: SKU, startedAt: new Date().toISOString(), users, bots }
}

/** An ordinary buyer: looks at the product, then orders once (an address and an account of their own). */
export function buyer(data) {
  const i = exec.scenario.iterationInTest
  const user = userAt(data.users, i)
  readProduct({ ip: user.ip, token: user.token, group: 'user' })
  placeOrder({ user, sku: SKU, key: `bu-${data.runId}-${i}`, group: 'user' })
}

/** A bot: one of its accounts, from its one address, no Accept header; mostly order attempts, some scraping. */
export function bot(data) {
  const i = exec.scenario.iterationInTest
  const accounts = data.bots[i % data.bots.length]
  const account = userAt(accounts, Math.floor(Math.random() * accounts.count))
  const headers = { 'x-forwarded-for': account.ip, authorization: `Bearer ${account.token}` }
  if (Math.random() < 0.7) {
    placeOrder({ user: account, sku: SKU, key: `bot-${data.runId}-${i}`, group: 'bot', headers })
  } else {
    // A scraper polls the hot product page; it sends no Accept either, and uses its token.
    readProduct({ ip: account.ip, token: account.token, group: 'bot', bare: true }, popularProductId())
  }
}

export const handleSummary = summaryHandler('bots', {
  groups: ['user', 'bot'],
  describe: () => ({
    settings: {
      durationSeconds: DURATION,
      userRate: USER_RATE,
      users: USERS,
      bots: BOTS,
      botAccounts: BOT_ACCOUNTS,
      botRatePerBot: BOT_RATE,
      perUserLimit: PER_USER_LIMIT,
    },
  }),
})
