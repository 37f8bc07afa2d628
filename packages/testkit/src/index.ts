export { getInfra, STACK_ENV_FILE, type Infra } from './infra.ts'
export {
  createTestDatabase,
  createTestRedis,
  createTestTopics,
  uniqueSuffix,
  withDatabase,
  type TestDatabase,
  type TestRedis,
  type TestTopics,
} from './isolation.ts'
export { createTestProxy, type TestProxy } from './proxy.ts'
export { assertProblem, metricValue, waitFor, type AnswerLike } from './wait.ts'
export { freePort } from './ports.ts'
