/**
 * One start-up path per kind of process (eShop's ServiceDefaults, fastify/demo's server.ts):
 *   runHttpService: an API. Builds the logger and metrics, hands `start` a context that makes the clients the
 *     process needs (Redis, PostgreSQL, Kafka, the token verifier) and closes each at shutdown; then listens
 *     and shuts down on SIGTERM/SIGINT through startServer: readiness 503, drain, close, clients, logs.
 *   runConsumer: a Kafka consumer with a health and /metrics port. Same context; on SIGTERM its consumers
 *     finish the batch in flight and commit, then the rest closes.
 * Both stop within `graceMs` or exit 1 (close-with-grace), so a hung close never outlives the orchestrator's
 * kill timeout unannounced. A server.ts keeps only what is its own: its config, its clients' options, its app.
 */
import closeWithGrace from 'close-with-grace'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis, RedisOptions } from 'ioredis'
import { TOKEN_CACHE_DEFAULTS, createCachingVerifier, createTokenVerifier, type TokenVerifier } from '@flashsale/auth'
import { parseList, type LogLevel } from '@flashsale/config'
import { createDatabase, createRedisRecentWrites, requestBudget, type Database, type DatabaseOptions } from '@flashsale/db'
import { createKafka, type KafkaClient } from '@flashsale/kafka'
import { createLogger, type Logger } from '@flashsale/logging'
import { createProcessMetrics, type ProcessMetrics } from '@flashsale/metrics'
import { createRedis } from '@flashsale/redis'
import { serviceDefaults, serviceFastifyOptions, startServer, type ReadinessCheck, type RunningServer } from '@flashsale/service-defaults'

/** What every process reads (processEnv in @flashsale/config), and what the clients it asks for need. */
export interface ProcessConfig {
  readonly HOST: string
  readonly LOG_LEVEL: LogLevel
  readonly SHUTDOWN_DRAIN_MS: number
  readonly REDIS_URL?: string
  readonly PG_PRIMARY_URL?: string
  readonly PG_REPLICA_URLS?: string
  readonly PG_ACQUIRE_TIMEOUT_MS?: number
  readonly PG_QUERY_TIMEOUT_MS?: number
  readonly KAFKA_BROKERS?: string
  readonly AUTH_JWT_PUBLIC_JWK?: string
}

export interface DatabaseRequest {
  /** Read from the replicas (PG_REPLICA_URLS); default true. Workers write and read the primary only. */
  readonly replicas?: boolean
  /** Reads of a user who just wrote go to the primary for this long (read-your-own-writes, in Redis). */
  readonly recentWrites?: { readonly redis: Redis; readonly windowMs: number }
  /** Pool options beyond the request budget (PG_ACQUIRE_TIMEOUT_MS, PG_QUERY_TIMEOUT_MS), which APIs get by default. */
  readonly pool?: DatabaseOptions['poolOptions']
  /** The API's per-request budget at PostgreSQL; default true. Workers wait longer and say false. */
  readonly budget?: boolean
  /** Its migrations, applied before it serves. */
  readonly migrate?: (primary: Database['primary']) => Promise<readonly { file: string }[]>
}

/** What a process's `start` gets: its logger, metrics, and the clients, each closed at shutdown (last made, first closed). */
export interface ProcessContext<C extends ProcessConfig> {
  readonly service: string
  readonly config: C
  readonly logger: Logger
  readonly metrics: ProcessMetrics
  /** REDIS_URL (direct or Sentinel); connection errors are logged, not thrown. `connect` waits for the first connection. */
  redis(options?: RedisOptions & { readonly connect?: 'wait' | 'background' }): Promise<Redis>
  database(request?: DatabaseRequest): Promise<Database>
  kafka(clientId?: string): KafkaClient
  /** The bearer-token verifier for AUTH_JWT_PUBLIC_JWK; `cached`: each token verified once until its exp. */
  verifier(options?: { readonly cached?: boolean }): Promise<TokenVerifier>
  /** Something else to close at shutdown, after the server. */
  onClose(close: () => unknown): void
}

function required<C extends ProcessConfig>(config: C, name: keyof ProcessConfig): string {
  const value = config[name]
  if (typeof value !== 'string' || value === '') throw new Error(`${name} is required by this process`)
  return value
}

function context<C extends ProcessConfig>(service: string, config: C, logger: Logger, metrics: ProcessMetrics) {
  const closers: (() => unknown)[] = []
  const ctx: ProcessContext<C> = {
    service,
    config,
    logger,
    metrics,
    async redis({ connect, ...options } = {}) {
      const redis = createRedis(required(config, 'REDIS_URL'), { connectionName: service, ...options })
      redis.on('error', (err) => logger.warn({ err }, 'redis connection error'))
      // Closed when its connection has ended (at most a second), so nothing after it finds it half open.
      closers.push(
        () =>
          new Promise<void>((resolve) => {
            if (redis.status === 'end' || redis.status === 'wait') return resolve(redis.disconnect())
            const timer = setTimeout(resolve, 1_000)
            timer.unref()
            redis.once('end', () => {
              clearTimeout(timer)
              resolve()
            })
            redis.disconnect()
          }),
      )
      if (options.lazyConnect) {
        const connecting = redis.connect().catch((err: unknown) => logger.error({ err }, 'redis unreachable at start; serving without it until it is back'))
        if (connect !== 'background') await connecting
      }
      return redis
    },
    async database({ replicas = true, recentWrites, pool, budget = true, migrate } = {}) {
      const db = createDatabase({
        primaryUrl: required(config, 'PG_PRIMARY_URL'),
        replicaUrls: replicas ? parseList(config.PG_REPLICA_URLS) : [],
        registry: metrics.registry,
        ...(recentWrites ? { recentWrites: createRedisRecentWrites(recentWrites.redis, { windowMs: recentWrites.windowMs }) } : {}),
        poolOptions: {
          name: service,
          ...(budget
            ? requestBudget({ PG_ACQUIRE_TIMEOUT_MS: config.PG_ACQUIRE_TIMEOUT_MS ?? 250, PG_QUERY_TIMEOUT_MS: config.PG_QUERY_TIMEOUT_MS ?? 500 })
            : {}),
          ...pool,
        },
      })
      closers.push(() => db.close())
      for (const m of (await migrate?.(db.primary)) ?? []) logger.info({ migration: m.file }, 'migration applied')
      return db
    },
    kafka(clientId = service) {
      const brokers = parseList(config.KAFKA_BROKERS)
      if (brokers.length === 0) throw new Error('KAFKA_BROKERS is required by this process: the Kafka bootstrap brokers, host:port, comma-separated')
      return createKafka({ brokers, clientId, logger })
    },
    async verifier({ cached = true } = {}) {
      const verifier = await createTokenVerifier(JSON.parse(required(config, 'AUTH_JWT_PUBLIC_JWK')))
      return cached ? createCachingVerifier(verifier, TOKEN_CACHE_DEFAULTS) : verifier
    },
    onClose: (close) => void closers.push(close),
  }
  const closeAll = async () => {
    for (const close of closers.reverse())
      await Promise.resolve()
        .then(close)
        .catch((err: unknown) => logger.warn({ err }, 'a client did not close cleanly'))
    metrics.stop()
  }
  return { ctx, closeAll }
}

export interface HttpServiceOptions<C extends ProcessConfig> {
  readonly service: string
  readonly config: C
  readonly port: number
  /** Builds the app (it must not listen). Whatever `start` makes through the context is closed after it. */
  start(ctx: ProcessContext<C>): Promise<FastifyInstance>
  readonly graceMs?: number
}

export async function runHttpService<C extends ProcessConfig>({ service, config, port, start, graceMs }: HttpServiceOptions<C>): Promise<RunningServer> {
  const { logger, flush } = createLogger({ service, level: config.LOG_LEVEL })
  const metrics = createProcessMetrics({ service })
  const { ctx, closeAll } = context(service, config, logger, metrics)
  const app = await start(ctx)
  app.addHook('onClose', closeAll)
  return startServer(app, { host: config.HOST, port, drainDelayMs: config.SHUTDOWN_DRAIN_MS, afterClose: flush, ...(graceMs ? { graceMs } : {}) })
}

/** A consumer process's running parts: stopped first on SIGTERM, each finishing and committing its batch in flight. */
export interface RunningConsumer {
  stop(): Promise<unknown>
  /** What this instance needs to consume, for /health/ready. */
  readonly readiness?: Readonly<Record<string, ReadinessCheck>>
}

export interface ConsumerOptions<C extends ProcessConfig> {
  readonly service: string
  readonly config: C
  /** Its health and /metrics port. */
  readonly port: number
  /**
   * Starts consuming. `signal` aborts once the consumers have stopped, or halfway through the grace time if they
   * have not: a batch retrying through an outage gives up then (uncommitted, it is redelivered later).
   */
  start(ctx: ProcessContext<C>, signal: AbortSignal): Promise<RunningConsumer>
  readonly graceMs?: number
}

export async function runConsumer<C extends ProcessConfig>({
  service,
  config,
  port,
  start,
  graceMs = 30_000,
}: ConsumerOptions<C>): Promise<{ readonly url: string }> {
  const { logger, flush } = createLogger({ service, level: config.LOG_LEVEL })
  const metrics = createProcessMetrics({ service })
  const { ctx, closeAll } = context(service, config, logger, metrics)
  const shutdown = new AbortController()
  const running = await start(ctx, shutdown.signal)
  const ops: FastifyInstance = Fastify(serviceFastifyOptions(logger))
  await ops.register(serviceDefaults, { metrics, readiness: running.readiness ?? {} })
  const url = await ops.listen({ host: config.HOST, port })
  logger.info({ url }, 'consuming; health and /metrics listening')

  closeWithGrace({ delay: graceMs, logger: { error: (m: unknown) => logger.error(m) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'stopping on a fatal error')
    else logger.info({ signal }, 'stopping: finishing the batch in flight')
    ops.startDraining()
    // A batch held up by an outage retries until the signal aborts: halfway through the grace time it is told
    // to give up, so the consumer can stop, leaving that batch uncommitted to be redelivered (the steps are
    // idempotent), rather than being killed at the end of the grace time.
    const giveUp = setTimeout(() => shutdown.abort(new Error('shutting down: the batch in flight gave up')), graceMs / 2)
    try {
      await running.stop()
    } catch (stopErr) {
      logger.error({ err: stopErr }, 'the consumer did not stop cleanly; closing the rest anyway')
    } finally {
      clearTimeout(giveUp)
      shutdown.abort(new Error('shutting down'))
      await ops.close().catch(() => {})
      await closeAll()
      logger.info('closed')
      flush()
    }
  })
  return { url }
}
