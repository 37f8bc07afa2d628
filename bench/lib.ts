/**
 * What the benchmark scripts share: child processes that stop with the script, waiting for a readiness
 * URL, CPU time per process from /proc, and the median.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'

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
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) ticks += (cpuSeconds(Number(child)) ?? 0) * 100
    return ticks / 100 // USER_HZ is 100 on Linux
  } catch {
    return undefined
  }
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
