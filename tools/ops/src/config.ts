/**
 * The ops tool's environment, in one schema with defaults and descriptions; server.ts reads it once.
 * infra/local/up.sh starts the tool with .local/stack.env, which has every URL below.
 */
import { join } from 'node:path'
import { Type, loadConfig, port, processEnv, type Static } from '@flashsale/config'

const ROOT = join(import.meta.dirname, '..', '..', '..')

export const ConfigSchema = Type.Object({
  ...processEnv,
  HOST: Type.String({ default: '127.0.0.1', description: 'address to listen on; the page has no login, so keep it on loopback' }),
  // Nothing balances traffic to it: no drain before it stops.
  SHUTDOWN_DRAIN_MS: Type.Integer({ default: 0, minimum: 0, description: 'on SIGTERM, readiness answers 503 this long before the server stops' }),
  OPS_PORT: port(59091, 'port of the ops page'),
  PROMETHEUS_URL: Type.String({ pattern: '^https?://', description: 'the Prometheus that scrapes the stack (its HTTP API is where the charts come from)' }),
  PG_MONITOR_URL: Type.String({ default: '', description: "pg_auto_failover's monitor database; empty = PostgreSQL roles are not exported" }),
  REDIS_SENTINEL_URL: Type.String({ default: '', description: 'redis+sentinel://h1:p1,.../master; empty = Redis roles are not exported' }),
  FLASHSALE_STATE_DIR: Type.String({ minLength: 1, description: 'the stack state dir: chaos-events.jsonl there holds the marks drawn on the charts' }),
  OPS_DASHBOARD: Type.String({
    default: join(ROOT, 'infra', 'grafana', 'dashboards', 'flash-sale-live.json'),
    description: 'the Grafana dashboard file whose panels the page draws (one definition with the compose stack)',
  }),
  OPS_RATE_WINDOW: Type.String({
    default: '5s',
    pattern: '^[1-9][0-9]*(ms|s|m)$',
    description: "what Grafana's $__rate_interval becomes on the page: at least 4 of the native Prometheus' 1 s scrapes",
  }),
  PROMETHEUS_TIMEOUT_MS: Type.Integer({ default: 3_000, minimum: 100, description: 'budget of one Prometheus API call made for the page' }),
})

export type Config = Static<typeof ConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
