/**
 * What the benchmark scripts share: child processes that stop with the script, waiting for a readiness
 * URL, CPU time per process from /proc, the median, and autocannon arms measured side by side.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'

const children = new Set<ChildProcess>()
process.on('exit', () => children.forEach((c) => c.kill('SIGTERM')))

/** Starts a process that inherits the environment plus `extraEnv`, and is stopped when the script exits. */
export function startProcess(command: string, args: readonly string[], extraEnv: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, { env: { ...process.env, ...extraEnv }, stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

/** A Node process running `script` (a .ts file run directly), without kafkajs's TimeoutNegativeWarning. */
export function startNode(script: string, args: readonly string[] = [], extraEnv: Record<string, string> = {}): ChildProcess {
  return startProcess(process.execPath, ['--disable-warning=TimeoutNegativeWarning', script, ...args], extraEnv)
}

/** SIGTERM, then SIGKILL after 5 s. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await Promise.race([exited, sleep(5_000).then(() => child.kill('SIGKILL'))])
}

export function stopAll(): void {
  for (const c of children) c.kill('SIGTERM')
}

/** Resolves once `url` answers 2xx; throws after 30 s. */
export async function waitUp(url: string): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`)
    await sleep(100)
  }
}

/** CPU seconds used so far by a process and its children still running (nginx's worker), or undefined off Linux. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    let ticks = Number(fields[11]) + Number(fields[12])
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean))
      ticks += (cpuSeconds(Number(child)) ?? 0) * 100
    return ticks / 100 // USER_HZ is 100 on Linux
  } catch {
    return undefined
  }
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

/** Processes whose CPU time an arm is charged with, by the name the results use. */
export type Watched = Readonly<Record<string, { readonly pid?: number | undefined } | undefined>>

export interface Sample {
  /** 2xx answers per second: a 429 or a 503 is cheap to make and is not the work being measured. */
  readonly perSecond: number
  readonly non2xx: number
  readonly errors: number
  /** CPU microseconds per 2xx answer, by process. */
  readonly cpuUsPerRequest: Record<string, number>
}

/** One autocannon run against an arm, with the CPU its processes spent per 2xx answer. */
export async function measureArm(processes: Watched, options: autocannon.Options): Promise<Sample> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, p]) => [name, cpuSeconds(p?.pid)]))
  const result = await autocannon(options)
  const ok = result['2xx']
  const cpuUsPerRequest: Record<string, number> = {}
  for (const [name, p] of Object.entries(processes)) {
    const [a, b] = [before[name], cpuSeconds(p?.pid)]
    if (a !== undefined && b !== undefined && ok > 0) cpuUsPerRequest[name] = Math.round(((b - a) * 1e6) / ok)
  }
  if (result.non2xx > 0 || result.errors > 0) console.warn(`${String(options.url)} answered ${result.non2xx} non-2xx and ${result.errors} errors (not counted)`)
  return { perSecond: ok / result.duration, non2xx: result.non2xx, errors: result.errors, cpuUsPerRequest }
}

/**
 * Runs every arm once to warm up (JIT, pools, scripts, caches), then `rounds` times, arms alternating, and
 * gives the medians: throughput per arm, CPU per answer per arm and process, and the raw samples.
 */
export async function runArms(arms: readonly (readonly [name: string, processes: Watched, options: autocannon.Options])[], rounds: number) {
  const samples: Record<string, Sample[]> = Object.fromEntries(arms.map(([name]) => [name, []]))
  for (const [, processes, options] of arms) await measureArm(processes, options)
  for (let r = 0; r < rounds; r++) for (const [name, processes, options] of arms) samples[name]!.push(await measureArm(processes, options))
  const throughput = Object.fromEntries(arms.map(([name]) => [name, Math.round(median(samples[name]!.map((x) => x.perSecond)))]))
  const cpuUsPerRequest = Object.fromEntries(
    arms.map(([name, processes]) => [
      name,
      Object.fromEntries(
        Object.keys(processes).map((p) => [p, median(samples[name]!.flatMap((x) => (x.cpuUsPerRequest[p] === undefined ? [] : [x.cpuUsPerRequest[p]!])))]),
      ),
    ]),
  )
  return {
    throughput,
    samples: Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, xs.map((x) => Math.round(x.perSecond))])),
    non2xx: Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, xs.reduce((n, x) => n + x.non2xx + x.errors, 0)])),
    cpuUsPerRequest,
    /** "arm p1 12 µs + p2 34 µs; ..." for the results' `machine` line. */
    cpuText: Object.entries(cpuUsPerRequest)
      .map(
        ([arm, byProcess]) =>
          `${arm} ${Object.entries(byProcess)
            .map(([p, us]) => `${p} ${us} µs`)
            .join(' + ')}`,
      )
      .join('; '),
  }
}

export const ratioOf = (a: number | undefined, b: number | undefined): number => Math.round(((a ?? 0) / (b || 1)) * 100) / 100

/** Stops with how to run the benchmark when a variable the stack's env files give is missing. */
export function requireEnv(names: readonly string[], how: string): void {
  for (const name of names) if (!process.env[name]) throw new Error(`${name} is not set: ${how}`)
}
