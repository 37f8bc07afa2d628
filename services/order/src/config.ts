/**
 * The environment of the order service's two processes, one schema each: the API (ConfigSchema, server.ts
 * and the DLQ tool) and the worker (WorkerConfigSchema, worker.ts). Read once at start, failing on a bad or
 * missing variable, named.
 */
import { Type, authEnv, loadConfig, port, processEnv, stackEnv, type Static } from '@flashsale/config'

/** Shared by both processes: the stack, the inventory and its budgets, the topics and the TTLs. */
const shared = {
  ...processEnv,
  ...stackEnv,
  INVENTORY_URLS: Type.String({ default: 'http://127.0.0.1:3002', description: 'comma-separated inventory instances (the stock gate)' }),
  INVENTORY_TIMEOUT_MS: Type.Integer({ default: 500, minimum: 10, description: 'latency budget of one reservation call' }),
  INVENTORY_BREAKER_FAILURE_RATE: Type.Number({
    default: 0.05,
    minimum: 0,
    maximum: 1,
    description: 'open the circuit to inventory above this error rate (5%: ADR 0014)',
  }),
  INVENTORY_BREAKER_SLOW_CALL_MS: Type.Integer({
    default: 500,
    minimum: 1,
    description: 'a reservation call slower than this is a slow call (500 ms: ADR 0014)',
  }),
  INVENTORY_BREAKER_MIN_CALLS: Type.Integer({ default: 20, minimum: 1, description: 'calls in the window before the circuit may open' }),
  // Nested inside the gateway's budget for POST /orders (2 s, route-table.json): reservation (500 ms) + this
  // + margin. A larger value let the gateway answer 504 first, so the buyer saw an error, not a 503 with
  // Retry-After, while the order could still be accepted behind it (the chaos drill of Kafka found it).
  KAFKA_SEND_TIMEOUT_MS: Type.Integer({
    default: 1_000,
    minimum: 100,
    description:
      'latency budget for enqueueing an order; past it the order is aborted and 503 answered; keep INVENTORY_TIMEOUT_MS + this below the gateway budget of POST /orders (2 s)',
  }),
  IDEMPOTENCY_TTL_SECONDS: Type.Integer({ default: 86_400, minimum: 60, description: 'how long a response is replayed for a repeated Idempotency-Key' }),
  ORDER_STATUS_TTL_SECONDS: Type.Integer({ default: 3_600, minimum: 10, description: 'TTL of the order status cache in Redis' }),
  READ_YOUR_WRITES_MS: Type.Integer({ default: 5_000, minimum: 0, description: 'after a write, the user reads from the primary this long' }),
  INVENTORY_SERVICE_TOKEN: Type.String({
    default: '',
    description: "bearer token (admin role) for the gate steps the API takes: confirm (payment), and the DLQ tool's replays; the worker requires it",
  }),
  ORDERS_REQUESTED_TOPIC: Type.String({ default: 'orders.requested', description: 'topic of accepted orders (tests use their own)' }),
  ORDERS_EVENTS_TOPIC: Type.String({ default: 'orders.events', description: 'topic of order status changes' }),
  ORDERS_DLQ_TOPIC: Type.String({ default: 'orders.dlq', description: 'dead-letter topic of orders.requested' }),
}

export const ConfigSchema = Type.Object({
  ...shared,
  PORT: port(3003, 'API port'),
  ...authEnv,
})

export const WorkerConfigSchema = Type.Object({
  ...shared,
  INVENTORY_SERVICE_TOKEN: Type.String({
    minLength: 1,
    description: 'bearer token (admin role) for the gate steps the worker and its sweeper take: claim, commit, release',
  }),
  WORKER_PORT: port(3013, "the worker's health and /metrics port"),
  WORKER_GROUP_ID: Type.String({ default: 'order-worker', description: 'Kafka consumer group of the worker' }),
  WORKER_MAX_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'tries of a batch (transient errors) before its messages go one by one, then to the DLQ',
  }),
  SWEEPER_INTERVAL_MS: Type.Integer({ default: 5_000, minimum: 0, description: "the worker's payment-timeout sweeper runs this often; 0 disables it" }),
  SWEEPER_BATCH_SIZE: Type.Integer({ default: 200, minimum: 1, description: 'orders cancelled per sweeper transaction' }),
  SWEEPER_FOLLOW_UP_AFTER_MS: Type.Integer({
    default: 30_000,
    minimum: 1_000,
    description: 'a status change whose follow-up (gate, cache, event) is unfinished this long is finished by the sweeper',
  }),
})

export type Config = Static<typeof ConfigSchema>
export type WorkerConfig = Static<typeof WorkerConfigSchema>

export const readConfig = (env: Record<string, string | undefined>): Config => loadConfig(ConfigSchema, env)
export const readWorkerConfig = (env: Record<string, string | undefined>): WorkerConfig => loadConfig(WorkerConfigSchema, env)
