/**
 * The ops page in a real browser: headless Chromium (Debian's `chromium`, installed by make deps) driven by
 * playwright-core. Opens the page, waits until every panel has drawn data and a refresh has answered every
 * query, and fails on any console error, uncaught page error or failed request. Saves a screenshot either
 * way. The end-to-end phase of `make test` runs it after its flash sale; `make ops-screenshot` too.
 *
 *   node tools/ops/src/bin/check-page.ts [--url http://127.0.0.1:59091/] [--screenshot .local/demo/ops-page.png]
 *     [--timeout 90] [--wait-for-data true] [--width 1600]
 * Env: CHROMIUM_PATH (default: chromium on the PATH).
 * Exit: 0 the page is live with data everywhere · 1 it is not (each problem listed) · 2 bad arguments, no browser.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

function usage(message: string, fix: string): never {
  console.error(`check-page: ${message}\n  how to fix: ${fix}`)
  process.exit(2)
}

let values
try {
  values = parseArgs({
    options: {
      url: { type: 'string', default: `http://127.0.0.1:${process.env.OPS_PORT ?? 59091}/` },
      screenshot: { type: 'string', default: '.local/demo/ops-page.png' },
      timeout: { type: 'string', default: '90' },
      'wait-for-data': { type: 'string', default: 'true' },
      width: { type: 'string', default: '1600' },
    },
  }).values
} catch (err) {
  usage((err as Error).message, 'usage: check-page.ts [--url U] [--screenshot FILE.png] [--timeout SECONDS] [--wait-for-data true|false] [--width PX]')
}
const timeoutMs = Number(values.timeout) * 1000
const width = Number(values.width)
if (!(timeoutMs >= 1000 && timeoutMs <= 600_000)) usage(`--timeout must be 1-600 seconds, got ${values.timeout}`, 'e.g. --timeout 90')
if (!(Number.isInteger(width) && width >= 400 && width <= 4000)) usage(`--width must be 400-4000 pixels, got ${values.width}`, 'e.g. --width 1600')
if (!/^https?:\/\//.test(values.url)) usage(`--url must be http(s)://..., got ${values.url}`, 'e.g. --url http://127.0.0.1:59091/')

const executablePath =
  process.env.CHROMIUM_PATH ||
  (() => {
    try {
      return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim()
    } catch {
      return ''
    }
  })()
if (!executablePath)
  usage('no Chromium found (chromium is not on the PATH and CHROMIUM_PATH is unset)', "run make deps (it installs Debian's chromium package)")

const problems: string[] = []
// Once the screenshot is taken, the page is closed under its next refresh: what that aborts is not a problem.
let closing = false
const problem = (p: string) => {
  if (!closing) problems.push(p)
}
// Root has no user namespaces for Chromium's sandbox here; the page is our own, served from loopback.
const browser = await chromium
  .launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
  .catch((err: unknown) =>
    usage(`Chromium (${executablePath}) did not start: ${(err as Error).message.split('\n')[0]}`, "run make deps (Debian's chromium), or set CHROMIUM_PATH"),
  )
try {
  const page = await browser.newPage({ viewport: { width, height: 900 } })
  page.on('console', (m) => {
    if (m.type() === 'error') problem(`console error: ${m.text()}`)
  })
  page.on('pageerror', (err) => problem(`page error: ${err.message}`))
  page.on('requestfailed', (r) => problem(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`))
  page.on('response', (r) => {
    if (r.status() >= 400) problem(`HTTP ${r.status()}: ${r.url()}`)
  })

  const loaded = await page.goto(values.url, { waitUntil: 'load', timeout: timeoutMs }).then(
    () => true,
    (err: unknown) => (problem(`the page did not load: ${(err as Error).message.split('\n')[0]}`), false),
  )
  const ready =
    values['wait-for-data'] === 'true'
      ? `document.body.dataset.state === 'live' && document.querySelectorAll('.panel').length > 0 && document.querySelectorAll('.panel[data-has-data="false"]').length === 0`
      : `document.body.dataset.state === 'live'`
  const settled =
    loaded &&
    (await page.waitForFunction(ready, undefined, { timeout: timeoutMs, polling: 500 }).then(
      () => true,
      () => false,
    ))
  // A string, evaluated in the page: this file is checked without the DOM's types.
  const state = await page.evaluate<{ state: string; status: string; panels: number; empty: string[]; errors: string[] }>(`({
    state: document.body.dataset.state,
    status: document.getElementById('status')?.textContent ?? '',
    panels: document.querySelectorAll('.panel').length,
    empty: [...document.querySelectorAll('.panel[data-has-data="false"]')].map((p) => p.querySelector('h3')?.textContent ?? p.dataset.panel),
    errors: [...document.querySelectorAll('.panel .error')].map((e) => e.textContent).filter((t) => t && t !== 'no data yet'),
  })`)
  if (!settled) {
    problems.push(`the page did not settle within ${values.timeout} s: state '${state.state}', status '${state.status}'`)
    for (const title of state.empty) problems.push(`no data in panel '${title}'`)
  }
  for (const e of state.errors) problems.push(`a panel says: ${e}`)

  mkdirSync(dirname(values.screenshot), { recursive: true })
  await page.screenshot({ path: values.screenshot, fullPage: true })
  closing = true
  console.log(`    ops page: ${state.panels} panels, state '${state.state}'; screenshot ${relative(process.cwd(), values.screenshot)}`)
} finally {
  await browser.close()
}

if (problems.length > 0) {
  console.error(`check-page: the ops page is not right (${values.url}):\n${[...new Set(problems)].map((p) => `  - ${p}`).join('\n')}`)
  process.exit(1)
}
console.log('    ops page: every panel has data, no console error, no failed request')
