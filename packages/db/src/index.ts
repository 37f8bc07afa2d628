export { isConnectionError, PoolSaturatedError } from './errors.ts'
export { migrate, MigrationError, type AppliedMigration, type MigrateOptions, type MigrationErrorCode } from './migrate.ts'
export { parseHosts, PostgresUrlError, redact, type PostgresHost } from './hosts.ts'
export { createPool, poolSize, requestBudget, type PoolOptions, type PoolRole } from './pool.ts'
export {
  createPrimaryPool,
  nodeRoles,
  PrimaryUnavailableError,
  type ConnectionSource,
  type PrimaryPool,
  type PrimaryPoolOptions,
  type Queryable,
} from './primary.ts'
export { createRedisRecentWrites, type RecentWrites, type RecentWritesRedis, type RedisRecentWritesOptions } from './recent-writes.ts'
export {
  createDatabase,
  type Database,
  type DatabaseOptions,
  type ReadChoice,
  type ReadOptions,
  type ReadPool,
  type ReadReason,
  type ReadTarget,
  type ReplicaState,
} from './router.ts'
export { withTransaction, type IsolationLevel, type TransactionOptions } from './transaction.ts'
