/**
 * What the burst benchmarks need of the running stack (make services-up): the pid of every process an arm's
 * CPU is charged to, the checkout and commit the services run from, and make verify after an arm.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A pid from a pid file, if that process is alive and is what the file says (not a recycled pid). */
function pidFrom(file: string, cmdline: RegExp): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0]!.trim())
    return cmdline.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')) ? pid : undefined
  } catch {
    return undefined
  }
}

/** The stack's processes by name (gateway, order-1, ..., redis, kafka, postgres), from the state dir's pid files. */
export function stackProcesses(stateDir: string): Record<string, number> {
  const runDir = join(stateDir, 'run')
  const processes: Record<string, number> = {}
  for (const file of existsSync(runDir) ? readdirSync(runDir).sort() : []) {
    const name = /^svc-(.+)\.pid$/.exec(file)?.[1]
    const pid = name ? pidFrom(join(runDir, file), /services\/.*\/src\//) : undefined
    if (name && pid) processes[name] = pid
  }
  for (const [name, file, cmdline] of [
    ['redis', join(runDir, 'redis.pid'), /redis-server/],
    ['kafka', join(runDir, 'kafka.pid'), /kafka\.Kafka/],
    ['postgres', join(stateDir, 'pg', 'primary', 'postmaster.pid'), /postgres/],
  ] as const) {
    const pid = pidFrom(file, cmdline)
    if (pid) processes[name] = pid
  }
  return processes
}

/** Which checkout the gateway runs from, its commit, and whether services/ or packages/ differ from it. */
export function servicesCheckout(processes: Readonly<Record<string, number>>): { dir: string; commit: string; modified: boolean } | undefined {
  if (!processes['gateway']) return undefined
  try {
    const dir = execFileSync('readlink', [`/proc/${processes['gateway']}/cwd`])
      .toString()
      .trim()
    const commit = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD']).toString().trim()
    const modified = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', 'services', 'packages']).toString().trim() !== ''
    return { dir, commit, modified }
  } catch {
    return undefined
  }
}

/** tools/verify, as make verify runs it; its report is printed when something is wrong. */
export async function runVerify(root: string, after: string): Promise<'pass' | 'fail'> {
  const report = join(tmpdir(), `bench-verify-${process.pid}.json`)
  const child = spawn(
    process.execPath,
    ['--disable-warning=TimeoutNegativeWarning', join(root, 'tools/verify/src/bin/verify.ts'), '--wait', '60', '--json', report],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  rmSync(report, { force: true })
  if (code === 0) return 'pass'
  console.error(`\n  make verify FAILED after ${after} (exit ${code}):\n${output.replace(/^/gm, '    ')}`)
  return 'fail'
}
