export {
  runConsumer,
  runHttpService,
  type ConsumerOptions,
  type DatabaseRequest,
  type HttpServiceOptions,
  type ProcessConfig,
  type ProcessContext,
  type RunningConsumer,
} from './run.ts'
export { createServiceApp, type ServiceAppOptions } from './service-app.ts'
