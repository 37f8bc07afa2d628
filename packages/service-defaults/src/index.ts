export { PROBLEM_CONTENT_TYPE, defineError, isServiceError, problemType, sendProblem, toProblem, type Problem, type ServiceError, type ServiceErrorConstructor } from './errors.ts'
export { REQUEST_ID_HEADER, serviceDefaults, serviceFastifyOptions, type ReadinessCheck, type ServiceDefaultsOptions } from './plugin.ts'
export { startServer, type RunningServer, type StartOptions } from './server.ts'
