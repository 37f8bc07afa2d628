/**
 * Environment knobs shared by every scenario (k6 -e NAME=value or the process environment). Each scenario
 * documents its own in its header and in k6/README.md; a bad value fails before any request is sent.
 */
import exec from 'k6/execution'

/** The gateway every request goes to (loopback only: the demo stack). */
export const GATEWAY_URL = (__ENV.GATEWAY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '')

/** Results land here (make load-* runs k6 from the repository root and creates it). */
export const RESULTS_DIR = (__ENV.RESULTS_DIR || 'k6/results').replace(/\/+$/, '')

export function fail(message) {
  // Thrown in the init context this stops k6 before the test starts, with the message on stderr.
  throw new Error(message)
}

export function intEnv(name, fallback, { min = 0 } = {}) {
  const raw = __ENV[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < min) fail(`${name}=${raw} is not a whole number >= ${min}`)
  return n
}

export function numberEnv(name, fallback, { min = 0, max = Infinity } = {}) {
  const raw = __ENV[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min || n > max) fail(`${name}=${raw} is not a number in [${min}, ${max}]`)
  return n
}

/** "90s", "1m30s", "2h", "45" (seconds) → seconds. */
export function parseDuration(text) {
  const s = String(text).trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s)
  const re = /(\d+(?:\.\d+)?)(h|m|s)/g
  let total = 0
  let consumed = ''
  let m
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2]]
    consumed += m[0]
  }
  if (consumed !== s || total <= 0) fail(`"${text}" is not a duration (examples: 20s, 1m, 1m30s, 2h)`)
  return total
}

export function durationEnv(name, fallback) {
  return parseDuration(__ENV[name] || fallback)
}

/** Whole seconds as a k6 duration string. */
export const secs = (n) => `${Math.max(1, Math.round(n))}s`

/**
 * The SKU that orders go to: env SKU (make load-* fills it from .local/demo.env HOT_SKU). A scenario that
 * places orders cannot run without one, so it stops at once saying how to get one.
 */
export function requireSku(scenario) {
  const sku = __ENV.SKU || __ENV.HOT_SKU || ''
  if (!sku) {
    fail(
      `${scenario}: SKU is required (the SKU of an open sale). ` +
        'make demo writes it to .local/demo.env (HOT_SKU=...), which make load-* reads; or run with SKU=<sku>, ' +
        'after creating a sale with POST /admin/sales on the inventory service (k6/README.md shows how).',
    )
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(sku)) fail(`SKU=${sku} is not a valid SKU`)
  return sku
}

/**
 * A short id for this run, so user ids and idempotency keys of two runs never collide. Call it in setup()
 * and pass it on in the setup data: the init code runs once per VU, so a value made there differs per VU.
 */
export const newRunId = () => __ENV.RUN_ID || Date.now().toString(36)

/** The number of this iteration across all VUs of the scenario (0, 1, 2, ...). */
export const iterationInTest = () => exec.scenario.iterationInTest
