/**
 * Listening and graceful shutdown, for a service's server.ts only (tests use app.inject()).
 * On SIGTERM/SIGINT or a fatal error: readiness turns 503 at once, then after `drainDelayMs` (time for a
 * load balancer or Kubernetes to stop routing here) the server stops accepting, waits for in-flight
 * requests, runs onClose hooks (pools, producers, consumers) and flushes the log. If that takes longer
 * than `graceMs`, close-with-grace exits the process anyway.
 */
import type { FastifyInstance } from 'fastify'
import closeWithGrace from 'close-with-grace'

export interface StartOptions {
  readonly host: string
  readonly port: number
  readonly drainDelayMs?: number
  readonly graceMs?: number
  /** Runs last, after the app closed: flush logs. */
  readonly afterClose?: () => void
}

export interface RunningServer {
  readonly url: string
  /** The same sequence a SIGTERM starts; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>
}

export async function startServer(app: FastifyInstance, { host, port, drainDelayMs = 0, graceMs = 10_000, afterClose }: StartOptions): Promise<RunningServer> {
  let closing: Promise<void> | undefined
  let uninstallSignalHandlers = () => {}
  app.addHook('onClose', async () => uninstallSignalHandlers())
  const url = await app.listen({ host, port })

  const shutdown = (reason: string, err?: Error): Promise<void> => {
    closing ??= (async () => {
      if (err) app.log.error({ err }, `shutting down: ${reason}`)
      else app.log.info({ reason, drainDelayMs }, 'shutting down: draining')
      app.startDraining()
      if (drainDelayMs > 0) await new Promise((r) => setTimeout(r, drainDelayMs))
      await app.close()
      app.log.info('closed')
      afterClose?.()
    })()
    return closing
  }

  const grace = closeWithGrace({ delay: graceMs }, async ({ signal, err }) => {
    await shutdown(signal ?? 'fatal error', err)
  })
  uninstallSignalHandlers = grace.uninstall

  app.log.info({ url }, 'listening')
  return { url, shutdown: (reason) => shutdown(reason) }
}
