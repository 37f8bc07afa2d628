/**
 * The inventory service's environment, in one schema with defaults and descriptions. server.ts reads
 * process.env once through readConfig; nothing else looks at the environment.
 */
import { Type, authEnv, loadConfig, port, postgresEnv, processEnv, stackEnv, type Static } from '@flashsale/config'

export const ConfigSchema = Type.Object({
  ...processEnv,
  PORT: port(3002),
  ...authEnv,
  ...postgresEnv,
  REDIS_URL: stackEnv.REDIS_URL,
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'a Redis command slower than this fails; the gate then answers 503 (fail-closed, ADR 0009)',
  }),
  HOT_SALE_RATE_PER_SECOND: Type.Number({
    default: 5_000,
    exclusiveMinimum: 0,
    description: 'reserve attempts per second per sale that this instance lets through to the Redis gate (token bucket)',
  }),
  HOT_SALE_BURST: Type.Integer({ default: 5_000, minimum: 1, description: 'token bucket capacity per sale' }),
  SOLD_OUT_CACHE_MS: Type.Integer({
    default: 1_000,
    minimum: 0,
    description: 'after the gate answers sold_out, answer 409 from memory for this long without touching Redis; 0 disables',
  }),
  RECONCILE_INTERVAL_MS: Type.Integer({
    default: 5_000,
    minimum: 0,
    description: 'how often the reconciler runs; 0 disables the loop (the admin endpoint still works)',
  }),
  RECONCILE_QUIET_MS: Type.Integer({
    default: 5_000,
    minimum: 0,
    description: 'the reconciler repairs drift only when a sale is paused or has had no gate activity for this long',
  }),
  REBUILD_STALE_MS: Type.Integer({ default: 15_000, minimum: 1_000, description: 'a rebuild that has held the gate closed longer than this is taken over' }),
  RESERVATION_INDEX_TTL_SECONDS: Type.Integer({
    default: 30 * 24 * 3600,
    minimum: 60,
    description: 'how long order id → sale lookups are kept (release, confirm by order id)',
  }),
  GATE_REPLICA_ACK_TIMEOUT_MS: Type.Integer({
    default: 200,
    minimum: 0,
    description: 'a reservation is confirmed only once a Redis replica has it (WAIT 1), waiting at most this long; 0 turns it off (ADR 0029)',
  }),
})

export type Config = Static<typeof ConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
