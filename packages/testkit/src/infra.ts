/**
 * Where a test suite's real servers come from, in order:
 *   1. URLs in the environment (PG_PRIMARY_URL, PG_REPLICA_URLS, REDIS_URL, KAFKA_BROKERS), which is how
 *      the native stack (make infra-up → .local/stack.env) and CI provide them;
 *   2. .local/stack.env of this checkout, when a test file is run by hand without the env;
 *   3. testcontainers, when a Docker engine answers (one set per test process);
 *   4. otherwise a clear error saying how to get servers. Never an in-memory stand-in.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseEnv } from 'node:util'
import { parseList } from '@flashsale/config'
import { nodeRoles, parseHosts, redact } from '@flashsale/db'

export interface Infra {
  readonly pgPrimaryUrl: string
  /** Streaming replicas of the primary, in a stable order. */
  readonly pgReplicaUrls: readonly string[]
  readonly redisUrl: string
  readonly kafkaBrokers: readonly string[]
  /** Toxiproxy's HTTP API, for cutting or slowing one connection path; absent under testcontainers. */
  readonly toxiproxyUrl?: string
  readonly source: 'environment' | 'stack.env' | 'testcontainers'
}

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..')
export const STACK_ENV_FILE = join(REPO_ROOT, '.local', 'stack.env')

let cached: Promise<Infra> | undefined

export function getInfra(): Promise<Infra> {
  if (process.env['FLASHSALE_UNIT_TESTS'] === '1') {
    return Promise.reject(
      new Error('a unit test (*.unit.test.ts, npm run test:unit) asked for servers: use in-memory fakes of the ports, or make it an integration test'),
    )
  }
  cached ??= resolveInfra()
  return cached
}

async function resolveInfra(): Promise<Infra> {
  const fromEnv = infraFrom(process.env, 'environment')
  if (fromEnv) return withRoles(fromEnv)
  if (existsSync(STACK_ENV_FILE)) {
    const fromFile = infraFrom(parseEnv(readFileSync(STACK_ENV_FILE, 'utf8')), 'stack.env')
    if (fromFile) return withRoles(fromFile)
  }
  const docker = await dockerAvailable()
  if (docker) {
    const { startContainers } = await import('./containers.ts')
    return startContainers()
  }
  throw new Error(
    [
      'No test servers. Integration tests need real PostgreSQL (primary + replicas), Redis and Kafka. Either:',
      '  - run `make infra-up` (installs and starts the native stack, writes .local/stack.env), or',
      '  - set PG_PRIMARY_URL, PG_REPLICA_URLS, REDIS_URL and KAFKA_BROKERS, or',
      '  - start a Docker engine so testcontainers can run them.',
      '`make test` does the first for you.',
    ].join('\n'),
  )
}

function infraFrom(env: Record<string, string | undefined>, source: Infra['source']): Infra | undefined {
  const pg = env['PG_PRIMARY_URL']
  const redis = env['REDIS_URL']
  const kafka = env['KAFKA_BROKERS']
  if (!pg || !redis || !kafka) return undefined
  return {
    pgPrimaryUrl: pg,
    pgReplicaUrls: parseList(env['PG_REPLICA_URLS']),
    redisUrl: redis,
    kafkaBrokers: parseList(kafka),
    ...(env['TOXIPROXY_URL'] ? { toxiproxyUrl: env['TOXIPROXY_URL'] } : {}),
    source,
  }
}

/**
 * The stack names every PostgreSQL node for writes (a multi-host URL) and for reads; which is the primary
 * depends on the last failover. Suites get the primary's own URL and the standbys as replicas, so a test
 * database is created where writes go and waited for where reads go.
 */
async function withRoles(infra: Infra): Promise<Infra> {
  const candidates = parseHosts(infra.pgPrimaryUrl)
  const roles = await nodeRoles(candidates.map((h) => h.url))
  const primaries = candidates.filter((_, i) => roles[i] === 'primary')
  if (primaries.length !== 1) {
    const seen = candidates.map((h, i) => `${h.name}: ${roles[i] instanceof Error ? (roles[i] as Error).message : roles[i]}`).join('; ')
    throw new Error(`No single PostgreSQL primary among ${redact(infra.pgPrimaryUrl)} (${seen}). Run \`make infra-up\` (make infra-status shows the nodes).`)
  }
  const replicaRoles = await nodeRoles(infra.pgReplicaUrls)
  return { ...infra, pgPrimaryUrl: primaries[0]!.url, pgReplicaUrls: infra.pgReplicaUrls.filter((_, i) => replicaRoles[i] === 'standby') }
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}
