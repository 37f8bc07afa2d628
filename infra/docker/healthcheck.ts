// Container healthcheck of a Node process of the stack: exit 0 when GET /health/ready answers 2xx.
// The slim Node image has no curl or wget; Node's fetch does the same job.
//   node infra/docker/healthcheck.ts <port> [path]
const [port, path = '/health/ready'] = process.argv.slice(2)
if (!port) {
  console.error('usage: healthcheck.ts <port> [path]')
  process.exit(2)
}
try {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) })
  if (!res.ok) console.error(`${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
  process.exit(res.ok ? 0 : 1)
} catch (err) {
  console.error(`${path} on :${port} did not answer: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
}
