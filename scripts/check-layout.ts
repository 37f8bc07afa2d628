/**
 * `make layout-check` (part of `make check`): the layout a reader of this template relies on.
 * - An entry point (services/<name>/src/{server,worker,projector}.ts, tools/<name>/src/server.ts) is at most
 *   25 lines: it composes, and @flashsale/runtime starts and stops it.
 * - A source file under packages/<name>/src or services/<name>/src is at most 300 lines, unless its header
 *   says why it is one file (a comment line starting "Why one file:").
 * - test/ mirrors src/: every folder under a workspace's test/ (fixtures aside) is a folder of its src/.
 * Prints each breach with how to fix it; exits 1 if there is one.
 *   node scripts/check-layout.ts [--root DIR]
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'

export const ENTRY_POINT_MAX_LINES = 25
export const SOURCE_MAX_LINES = 300
const ENTRY_POINTS = ['server.ts', 'worker.ts', 'projector.ts']
const WHY = /^\s*(\*|\/\/)\s*Why one file:/m

const lineCount = (file: string) => readFileSync(file, 'utf8').replace(/\n$/, '').split('\n').length

function walk(dir: string, keep: (path: string, isDir: boolean) => boolean): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    const isDir = statSync(path).isDirectory()
    if (!keep(path, isDir)) return []
    return isDir ? [path, ...walk(path, keep)] : [path]
  })
}

export function checkLayout(root: string): string[] {
  const breaches: string[] = []
  const workspaces = ['packages', 'services', 'tools'].flatMap((top) =>
    existsSync(join(root, top)) ? readdirSync(join(root, top)).map((name) => ({ top, dir: join(root, top, name) })) : [],
  )
  for (const { top, dir } of workspaces) {
    const src = join(dir, 'src')
    if (!existsSync(src)) continue
    const where = (path: string) => relative(root, path)
    for (const entry of ENTRY_POINTS) {
      const file = join(src, entry)
      if ((top === 'services' || (top === 'tools' && entry === 'server.ts')) && existsSync(file) && lineCount(file) > ENTRY_POINT_MAX_LINES) {
        breaches.push(
          `${where(file)}: ${lineCount(file)} lines, an entry point has at most ${ENTRY_POINT_MAX_LINES}: move the wiring into a module and start it with @flashsale/runtime`,
        )
      }
    }
    if (top !== 'tools') {
      for (const file of walk(src, (p, isDir) => isDir || p.endsWith('.ts'))) {
        if (statSync(file).isDirectory()) continue
        const n = lineCount(file)
        if (n > SOURCE_MAX_LINES && !WHY.test(readFileSync(file, 'utf8').slice(0, 4_000))) {
          breaches.push(
            `${where(file)}: ${n} lines (at most ${SOURCE_MAX_LINES}): split it by job, or say in its header why it is one file ("Why one file: ...")`,
          )
        }
      }
    }
    const test = join(dir, 'test')
    if (!existsSync(test)) continue
    for (const folder of walk(test, (p, isDir) => isDir && !p.split('/').includes('fixtures'))) {
      const mirror = join(src, relative(test, folder))
      if (!existsSync(mirror)) breaches.push(`${where(folder)}: no ${where(mirror)}; test/ mirrors src/: put these tests in the folder of the code they test`)
    }
  }
  return breaches
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { root: { type: 'string', default: join(import.meta.dirname, '..') } } })
  const breaches = checkLayout(values.root)
  for (const b of breaches) console.error(`  layout: ${b}`)
  if (breaches.length > 0) {
    console.error(`layout-check: ${breaches.length} breach(es)`)
    process.exit(1)
  }
  console.log('layout-check: entry points <= 25 lines, sources <= 300 lines or saying why, test/ mirrors src/')
}
