/**
 * The order worker process (the order service's second entry point): consumes orders.requested and persists
 * each batch, with the payment-timeout sweeper beside it (src/worker/start.ts). Serves only /health/* and
 * /metrics. `node services/order/src/worker.ts`
 */
import { runConsumer } from '@flashsale/runtime'
import { readWorkerConfig } from './config.ts'
import { startWorker } from './worker/start.ts'

const config = readWorkerConfig(process.env)
await runConsumer({ service: 'order-worker', config, port: config.WORKER_PORT, start: startWorker })
