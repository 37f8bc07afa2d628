/**
 * Environment → typed, validated config. Each service declares one TypeBox schema of its env vars
 * (with defaults and descriptions) and calls loadConfig once at boot; nothing else reads process.env.
 * A bad or missing variable fails boot with a message that names it.
 */
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Type, { type Static, type TObject, type TProperties } from 'typebox'

export { Type, type Static }

export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee .env.example for every variable and its meaning.`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

// Env values are strings: coerce "5432" → 5432 and "true" → true, fill defaults, report every problem at once.
const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false })
addFormats.default(ajv)

const SECRET = /SECRET|PASSWORD|TOKEN|KEY/i

/** Validates `env` against `schema`; returns only the declared variables, typed. */
export function loadConfig<P extends TProperties>(schema: TObject<P>, env: Record<string, string | undefined>): Static<TObject<P>> {
  const declared = Object.keys(schema.properties)
  // Copy only declared keys (ajv coerces in place); treat empty strings as unset so defaults apply.
  const data: Record<string, unknown> = {}
  for (const key of declared) {
    const value = env[key]
    if (value !== undefined && value !== '') data[key] = value
  }
  const validate = ajv.compile(schema)
  if (validate(data)) return data as Static<TObject<P>>

  const problems = (validate.errors ?? []).map((e) => {
    const name = e.instancePath.split('/')[1] ?? (e.params as { missingProperty?: string }).missingProperty ?? '(config)'
    const given = env[name]
    const shown = given === undefined ? 'is not set' : SECRET.test(name) ? 'is set (value hidden)' : `is ${JSON.stringify(given)}`
    const description = (schema.properties[name] as { description?: string } | undefined)?.description
    const about = description ? ` (${description})` : ''
    if (e.keyword === 'required') return `${name} is required but not set${about}`
    return `${name} ${e.message ?? 'is invalid'}; it ${shown}${about}`
  })
  throw new ConfigError(problems)
}

/** A comma-separated list variable, e.g. PG_REPLICA_URLS="url1,url2" → ["url1","url2"]. */
export function parseList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/** LOG_LEVEL of every process: one of pino's levels, so a typo fails at boot naming the variable. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
// An enum rather than a union of literals: ajv then reports one problem, not one per level.
export const logLevel = Type.Unsafe<(typeof LOG_LEVELS)[number]>({
  type: 'string',
  enum: [...LOG_LEVELS],
  default: 'info',
  description: `pino level: ${LOG_LEVELS.join(', ')}`,
})

export type LogLevel = (typeof LOG_LEVELS)[number]

/**
 * What every process reads, declared once: where it listens, how it logs, how long it drains. Spread into a
 * process's schema with its port: `{ ...processEnv, PORT: port(3001) }` (@flashsale/runtime reads these).
 */
export const processEnv = {
  HOST: Type.String({ default: '127.0.0.1', description: 'address to listen on' }),
  LOG_LEVEL: logLevel,
  SHUTDOWN_DRAIN_MS: Type.Integer({
    default: 5_000,
    minimum: 0,
    description: 'on SIGTERM, readiness answers 503 this long before the server stops accepting (load balancers move away first)',
  }),
}

/** A port variable with its default. */
export const port = (defaultPort: number, description = 'port to listen on') => Type.Integer({ default: defaultPort, minimum: 0, maximum: 65_535, description })

/** The key that verifies bearer tokens, for every process that checks them. */
export const authEnv = {
  AUTH_JWT_PUBLIC_JWK: Type.String({ minLength: 2, description: 'ES256 public key (JWK JSON) that verifies bearer tokens' }),
}

const PG_PRIMARY_URL = Type.String({
  format: 'uri',
  pattern: '^postgres(ql)?://',
  description: 'PostgreSQL for writes: one host, or several (libpq multi-host form) of which @flashsale/db uses the primary',
})
const PG_REPLICA_URLS = Type.String({
  default: '',
  description: 'comma-separated PostgreSQL nodes for reads (those that are streaming standbys serve them); empty reads from the primary',
})
/** A request's budget at PostgreSQL, for the services that answer requests (@flashsale/db requestBudget, ADR 0034). */
const PG_ACQUIRE_TIMEOUT_MS = Type.Integer({
  default: 250,
  minimum: 10,
  description:
    'a request waits at most this long for a connection of a PostgreSQL pool; past it the request is answered 503 + Retry-After (shed), inside the gateway budget',
})
const PG_QUERY_TIMEOUT_MS = Type.Integer({
  default: 500,
  minimum: 10,
  description:
    "a request's statement runs at most this long (statement_timeout on the server, query_timeout in the client for a slow network); past it 503 + Retry-After. With PG_ACQUIRE_TIMEOUT_MS it stays under the gateway's 800 ms for reads",
})

/** Env vars shared by every service that talks to the stack; spread into a service's schema. */
export const stackEnv = {
  PG_PRIMARY_URL,
  PG_REPLICA_URLS,
  REDIS_URL: Type.String({
    pattern: '^(rediss?|redis\\+sentinel)://',
    description: 'Redis: redis://host:port, or a Sentinel-managed master redis+sentinel://h1:p1,h2:p2,h3:p3/<master> (@flashsale/redis)',
  }),
  KAFKA_BROKERS: Type.String({ minLength: 1, description: 'comma-separated Kafka bootstrap brokers, host:port' }),
  PG_ACQUIRE_TIMEOUT_MS,
  PG_QUERY_TIMEOUT_MS,
} as const

/**
 * The PostgreSQL part of stackEnv, for an API that talks to PostgreSQL and Redis but not Kafka (catalog,
 * inventory, review): `{ ...postgresEnv, REDIS_URL: stackEnv.REDIS_URL }`.
 */
export const postgresEnv = { PG_PRIMARY_URL, PG_REPLICA_URLS, PG_ACQUIRE_TIMEOUT_MS, PG_QUERY_TIMEOUT_MS } as const
