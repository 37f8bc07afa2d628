/**
 * Checks that an app image's file tree can run its processes, without Docker: run it on a copy of the
 * build context with `npm ci --omit=dev` done in it (infra/compose/check.sh makes one in a temp dir).
 * 1. Entry points (server.ts, worker.ts, projector.ts, bin/*.ts have side effects: they listen, connect):
 *    their static import graph is walked and every bare specifier must resolve to an installed package.
 * 2. Every other module of services/* and packages/* (except testkit) is really imported, so a missing
 *    runtime dependency anywhere in the image fails here, as it would at boot.
 *   node infra/compose/image-imports.ts <image root> <entry.ts>...
 */
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const [root, ...entries] = process.argv.slice(2)
if (!root || entries.length === 0) {
  console.error('usage: image-imports.ts <image root> <entry.ts>...')
  process.exit(2)
}
const problems: string[] = []

// Static imports and re-exports, and import('literal'); `import type` is erased by type stripping.
const IMPORT = /^\s*(?:import|export)\s+(?!type\s)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm

function packageDir(spec: string, fromDir: string): string | undefined {
  const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(candidate)) return realpathSync(candidate)
    if (dir === root || dir === dirname(dir)) return undefined
  }
}

const seen = new Set<string>()
function walk(file: string): void {
  if (seen.has(file)) return
  seen.add(file)
  const text = readFileSync(file, 'utf8')
  for (const m of text.matchAll(IMPORT)) {
    const spec = (m[1] ?? m[2])!
    if (spec.startsWith('node:')) continue
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec)
      if (!existsSync(target)) problems.push(`${relative(root!, file)}: ${spec} does not exist in the image`)
      else if (/\.[cm]?[jt]s$/.test(target)) walk(target)
      continue
    }
    const dir = packageDir(spec, dirname(file))
    if (!dir) {
      problems.push(`${relative(root!, file)}: package ${spec} is not installed in the image`)
      continue
    }
    // Our workspaces: follow their "." export into the sources, to check their imports too.
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; exports?: Record<string, string> }
    if (pkg.name?.startsWith('@flashsale/') && typeof pkg.exports?.['.'] === 'string') walk(join(dir, pkg.exports['.']))
  }
}
for (const entry of entries) {
  const file = join(root, entry)
  if (!existsSync(file)) problems.push(`entry ${entry} is not in the image`)
  else walk(file)
}
const staticProblems = problems.length
process.stdout.write(`    ${staticProblems ? 'FAIL' : 'ok  '}  ${seen.size} modules reachable from ${entries.length} entry points: imports resolved\n`)

// Real imports of every side-effect-free module.
const SIDE_EFFECTS = /(^|\/)(server|worker|projector)\.ts$|\/bin\//
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (name === 'node_modules' || name === 'test') return []
    if (statSync(path).isDirectory()) return sources(path)
    return path.endsWith('.ts') ? [path] : []
  })
}
const modules = ['services', 'packages']
  .flatMap((top) => readdirSync(join(root, top)).map((name) => join(root, top, name, 'src')))
  .filter((src) => existsSync(src) && !src.includes('/packages/testkit/'))
  .flatMap(sources)
  .filter((file) => !SIDE_EFFECTS.test(relative(root, file)))
let imported = 0
for (const file of modules) {
  try {
    await import(pathToFileURL(file).href)
    imported++
  } catch (err) {
    problems.push(`${relative(root, file)}: import failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
  }
}
process.stdout.write(
  `    ${imported === modules.length ? 'ok  ' : 'FAIL'}  ${imported}/${modules.length} modules of services/*/src and packages/*/src imported for real\n`,
)

for (const p of problems) process.stdout.write(`    FAIL  ${p}\n`)
process.exit(problems.length ? 1 : 0)
