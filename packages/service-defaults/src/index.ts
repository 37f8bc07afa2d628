export {
  PROBLEM_CONTENT_TYPE,
  defineError,
  isServiceError,
  isServiceErrorConstructor,
  problemType,
  sendProblem,
  toProblem,
  type Problem,
  type ServiceError,
  type ServiceErrorConstructor,
} from './errors.ts'
export {
  REQUEST_ID_HEADER,
  SERVER_TIMING_HEADER,
  serverTimingDuration,
  serviceDefaults,
  serviceFastifyOptions,
  type ReadinessCheck,
  type ServiceDefaultsOptions,
} from './plugin.ts'
export { startServer, type RunningServer, type StartOptions } from './server.ts'
export { ProblemSchema, jsonResponse, problemResponse, problemResponses } from './contract.ts'
export { OPENAPI_PATH, registerOpenApi, type OpenApiInfo } from './openapi.ts'
export { UnstorableText, isUnstorableText } from './errors.ts'
export { PROBLEM_REF } from './contract.ts'
export { SHARED_ERROR_CODES, errorCodesOf } from './contract.ts'
