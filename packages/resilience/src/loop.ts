/**
 * A periodic task, the one way the project runs one (the inventory's reconciler, the order worker's
 * payment-timeout sweeper): a first pass at once, then one `intervalMs` after each pass ends, never two at
 * once; a pass that throws is reported and the next one tries again. `stop()` resolves after the pass in
 * flight, so a process shuts down without cutting one in half. Its timer never keeps the process alive.
 */

export interface Loop {
  /** Resolves once the pass in flight (if any) has finished; no pass starts after it is called. */
  stop(): Promise<void>
}

export interface LoopOptions<T> {
  readonly intervalMs: number
  /** Each pass's result. */
  readonly onPass?: (result: T) => void
  readonly onError: (err: unknown) => void
}

export function startLoop<T>(pass: () => Promise<T>, { intervalMs, onPass, onError }: LoopOptions<T>): Loop {
  if (!(intervalMs > 0)) throw new Error(`a loop's interval must be > 0 ms, got ${intervalMs}`)
  const stopping = new AbortController()
  // Unref'd: a loop never keeps the process alive by itself (its owner stops it at shutdown).
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        stopping.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      stopping.signal.addEventListener('abort', done, { once: true })
    })
  const done = (async () => {
    // Yield first: the caller finishes starting before the first pass runs.
    await wait(0)
    while (!stopping.signal.aborted) {
      try {
        const result = await pass()
        onPass?.(result)
      } catch (err) {
        onError(err)
      }
      if (!stopping.signal.aborted) await wait(intervalMs)
    }
  })()
  return {
    async stop() {
      stopping.abort(new Error('loop stopping'))
      await done
    },
  }
}
