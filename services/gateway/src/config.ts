/**
 * The gateway's environment, in one schema with defaults and descriptions. server.ts reads process.env
 * once through readConfig; nothing else looks at the environment. The route table (which path goes to
 * which upstream, with what priority, budget and schema) is data: src/route-table.json, or the file named
 * by ROUTE_TABLE_FILE; the *_URLS variables override its instance lists.
 */
import { Type, authEnv, loadConfig, port, processEnv, type Static } from '@flashsale/config'

const positive = (defaultValue: number, description: string) => Type.Integer({ default: defaultValue, minimum: 1, description })
const ratio = (defaultValue: number, description: string) => Type.Number({ default: defaultValue, minimum: 0, maximum: 1, description })

export const ConfigSchema = Type.Object({
  ...processEnv,
  PORT: port(8080),
  TRUST_PROXY: Type.Boolean({ default: false, description: 'take the client address from X-Forwarded-For (only behind a trusted load balancer)' }),
  REDIS_URL: Type.String({
    pattern: '^(rediss?|redis\\+sentinel)://',
    description:
      'Redis: rate limits, the blocklist and the stock channel (shared by every gateway instance); redis://host:port, or redis+sentinel://h1:p1,h2:p2,h3:p3/<master> (@flashsale/redis)',
  }),
  REDIS_COMMAND_TIMEOUT_MS: positive(
    5_000,
    'a Redis command with no answer after this much wall time fails (a hung connection); the rate-limit budget is RATE_LIMIT_TIMEOUT_MS',
  ),
  RATE_LIMIT_TIMEOUT_MS: positive(
    250,
    "a rate-limit check Redis has not answered after this much of the gateway's responsive time (event-loop stalls not counted, ADR 0025) is answered by the local limiter (ADR 0013): a Redis that hangs, not one that is busy (50 ms failed 98% of a 5,000-buyer burst on 2 shared cores with Redis up)",
  ),
  STOCK_CHANNEL: Type.String({
    default: 'inv:stock',
    minLength: 1,
    description: 'Redis pub/sub channel on which the inventory announces sold out / units back (after the Redis key prefix, if any)',
  }),
  SOLD_OUT_EDGE_TTL_MS: Type.Integer({
    default: 2_000,
    minimum: 0,
    description:
      'longest the gateway answers sold out for a SKU without a fresh signal; bounds a missed units-back message (ADR 0027); 0 switches sold out at the edge off',
  }),

  ROUTE_TABLE_FILE: Type.String({ default: '', description: 'JSON route table to use instead of the bundled src/route-table.json' }),
  ORDER_URLS: Type.String({ default: '', description: 'comma-separated order service instances; overrides the route table' }),
  CATALOG_URLS: Type.String({ default: '', description: 'comma-separated catalog service instances; overrides the route table' }),
  INVENTORY_URLS: Type.String({ default: '', description: 'comma-separated inventory service instances; overrides the route table' }),
  REVIEW_URLS: Type.String({ default: '', description: 'comma-separated review service instances; overrides the route table' }),
  UPSTREAM_CONNECTIONS: positive(64, 'keep-alive connections per upstream instance (one undici Pool each)'),

  ...authEnv,
  AUTH_JWT_PRIVATE_JWK: Type.String({
    default: '',
    description: 'ES256 private key (JWK JSON) for the demo token endpoint; only read when DEMO_TOKENS_ENABLED',
  }),
  TOKEN_CACHE_ENTRIES: Type.Integer({
    default: 10_000,
    minimum: 0,
    description: 'verified bearer tokens remembered per process, each until its exp (ADR 0022); 0 verifies every request',
  }),
  TOKEN_CACHE_MAX_TTL_MS: positive(300_000, 'longest a verification is reused, whatever the token exp'),
  DEMO_TOKENS_ENABLED: Type.Boolean({ default: false, description: 'serve POST /auth/demo-token (demos and k6 only; never in production)' }),
  DEMO_ADMIN_SECRET: Type.String({
    default: '',
    description: 'x-demo-admin-secret value needed to get an admin demo token; empty = admin demo tokens refused',
  }),

  RATE_PER_IP_PER_SECOND: Type.Number({ default: 50, exclusiveMinimum: 0, description: 'sustained requests per second per client IP (GCRA)' }),
  RATE_PER_IP_BURST: Type.Integer({ default: 100, minimum: 0, description: 'extra requests per IP allowed at once' }),
  RATE_PER_USER_PER_SECOND: Type.Number({ default: 10, exclusiveMinimum: 0, description: 'sustained requests per second per authenticated user (GCRA)' }),
  RATE_PER_USER_BURST: Type.Integer({ default: 20, minimum: 0, description: 'extra requests per user allowed at once' }),
  GATEWAY_INSTANCES: positive(1, 'gateway instances; the local fallback limiter allows the fleet rate divided by this'),

  WAITING_ROOMS_ENABLED: Type.Boolean({
    default: true,
    description: 'serve the waiting rooms (ADR 0039): a sale gets one only when an admin opens it (PUT /admin/waiting-rooms/:saleId)',
  }),
  WAITING_ROOM_PASS_SECRET: Type.Optional(
    Type.String({
      minLength: 32,
      description:
        'HMAC key of waiting-room passes, the same on every gateway instance (a pass one instance gives, another checks); unset = a random key per process, fit for one instance only',
    }),
  ),
  WAITING_ROOM_PASS_TTL_SECONDS: Type.Integer({
    default: 120,
    minimum: 10,
    maximum: 3_600,
    description: 'how long a pass is good for after admission, unless the room says otherwise',
  }),
  WAITING_ROOM_CAPACITY_SHARE: Type.Number({
    default: 0.75,
    exclusiveMinimum: 0,
    maximum: 1,
    description: "share of the order path's measured capacity (its limit over its own service time) a room admits per second",
  }),
  WAITING_ROOM_START_RATE: Type.Number({
    default: 100,
    exclusiveMinimum: 0,
    description: 'places admitted per second per instance before the order path is measured',
  }),
  WAITING_ROOM_MAX_RATE: Type.Number({ default: 2_000, exclusiveMinimum: 0, description: 'most places admitted per second per instance' }),
  WAITING_ROOM_BURST_SECONDS: Type.Number({
    default: 0.25,
    minimum: 0,
    description: "seconds of admissions an empty room's newcomers are let in at once (more, and the opening's crowd reaches a cold order path all together)",
  }),
  WAITING_ROOM_TICK_MS: positive(100, 'how often each instance moves the watermark and wakes the polls it holds'),
  WAITING_ROOM_REFRESH_MS: positive(1_000, 'how often each instance re-reads which sales have a room: an admin change reaches every instance within this'),

  BOT_WINDOW_MS: positive(10_000, 'window of the bot score counters'),
  BOT_RATE_THRESHOLD: positive(200, 'requests per IP per window above which the IP scores +2'),
  BOT_USERS_THRESHOLD: positive(3, 'distinct user ids per IP per window above which the IP scores +3'),
  BOT_THROTTLE_SCORE: positive(2, 'score at which requests of the IP cost BOT_THROTTLE_COST on the per-IP limiter'),
  BOT_BLOCK_SCORE: positive(4, 'score at which requests of the IP are refused with 403'),
  BOT_THROTTLE_COST: positive(5, 'per-IP limiter cost of one request from a throttled IP'),

  INTAKE_LIMIT: Type.Integer({
    default: 64,
    minimum: 0,
    description:
      "requests at a time in the gateway's own work before an upstream (token, body, rate limits); the rest wait first come first served, order placement by deadline (ADR 0032); 0 = no limit",
  }),
  INTAKE_QUEUE: positive(20_000, 'most requests waiting at the gateway door (the memory bound of a burst)'),
  INTAKE_DEFAULT_BUDGET_MS: positive(2_000, 'latency budget, from arrival, of the routes outside the route table (admin, demo tokens)'),

  LIMIT_ALGORITHM: Type.Union([Type.Literal('gradient2'), Type.Literal('vegas'), Type.Literal('fixed')], {
    default: 'gradient2',
    description: 'adaptive concurrency algorithm per upstream (ADR 0012)',
  }),
  LIMIT_INITIAL: positive(20, 'initial concurrency limit per upstream (the limit with LIMIT_ALGORITHM=fixed)'),
  LIMIT_MIN: positive(1, 'lowest concurrency limit per upstream the algorithm may choose; the operating floor is measured (LIMIT_CAPACITY_FLOOR)'),
  LIMIT_CAPACITY_FLOOR: Type.Boolean({
    default: true,
    description:
      "hold each upstream's limit at or above twice its measured bandwidth-delay product (peak drain rate x lowest service time), and start from the floor the fleet measured last (kept in Redis) (ADR 0026)",
  }),
  LIMIT_CAPACITY_WINDOW_MS: positive(
    30_000,
    'how far back the capacity floor remembers its peak rate and lowest service time (it ages out within two windows)',
  ),
  LIMIT_MAX: positive(200, 'highest concurrency limit per upstream'),
  LIMIT_QUEUE: Type.Integer({
    default: 2_000,
    minimum: 0,
    description:
      'most requests waiting per upstream that may still need it (order placements beyond the units their SKU has left do not count; 10x this wait in all at most, the memory bound; core requests are admitted by deadline, ADR 0026); 0 = refuse at once when at the limit',
  }),
  LIMIT_NON_CORE_SHARE: Type.Number({ default: 0.8, exclusiveMinimum: 0, maximum: 1, description: 'share of the limit non-core routes may occupy' }),

  BREAKER_FAILURE_RATE: ratio(0.05, 'open the breaker above this failure rate'),
  BREAKER_SLOW_CALL_MS: positive(500, 'a call at least this slow is a slow call'),
  BREAKER_SLOW_CALL_RATE: ratio(0.5, 'open the breaker at this share of slow calls'),
  BREAKER_MINIMUM_CALLS: positive(20, 'calls in the window before the breaker may open'),
  BREAKER_WINDOW_MS: positive(10_000, 'breaker sliding window'),
  BREAKER_HALF_OPEN_AFTER_MS: positive(5_000, 'open time before half-open probes'),
  RETRY_BUDGET_RATIO: ratio(0.1, 'retries allowed per request, per upstream'),
  RETRY_BUDGET_MIN_PER_SECOND: Type.Number({ default: 10, minimum: 0, description: 'retries per second always allowed, per upstream' }),
  RETRY_MAX_ATTEMPTS: positive(3, 'attempts per request, the first included'),

  HEALTH_CHECK_INTERVAL_MS: Type.Integer({ default: 2_000, minimum: 0, description: 'active health check of every instance (GET /health/ready); 0 disables' }),
  HEALTH_CHECK_TIMEOUT_MS: positive(500, 'a health check slower than this fails'),
  HEALTH_UNHEALTHY_THRESHOLD: positive(2, 'failed checks in a row that eject an instance'),
  HEALTH_HEALTHY_THRESHOLD: positive(1, 'passed checks in a row that bring an ejected instance back'),
  OUTLIER_CONSECUTIVE_FAILURES: positive(5, 'failed calls in a row that eject an instance (passive)'),
  OUTLIER_BASE_EJECTION_MS: positive(30_000, 'first ejection time; grows with each ejection'),

  DEGRADE_TICK_MS: Type.Integer({ default: 1_000, minimum: 0, description: 'how often load signals are sampled; 0 disables automatic degradation' }),
  DEGRADE_ENTER_ELU: ratio(0.9, 'enter degradation when event-loop utilization is above this ...'),
  DEGRADE_ENTER_P99_MS: positive(500, '... or core p99 latency is above this ...'),
  DEGRADE_ENTER_ERROR_RATE: ratio(0.05, '... or the upstream error rate is above this ...'),
  DEGRADE_ENTER_AFTER_MS: Type.Integer({ default: 3_000, minimum: 0, description: '... for this long' }),
  DEGRADE_LEAVE_ELU: ratio(0.7, 'leave degradation when ELU is below this and ...'),
  DEGRADE_LEAVE_P99_MS: positive(250, '... core p99 below this and ...'),
  DEGRADE_LEAVE_ERROR_RATE: ratio(0.01, '... the error rate below this ...'),
  DEGRADE_LEAVE_AFTER_MS: Type.Integer({ default: 10_000, minimum: 0, description: '... for this long' }),
  STALE_CACHE_ENTRIES: positive(1_000, 'last good GET answers of non-core routes kept to serve while degraded'),
  STALE_CACHE_TTL_MS: positive(300_000, 'how old a stale answer may be'),
})

export type Config = Static<typeof ConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
