/**
 * A Toxiproxy proxy in front of one server, so a test can make that one path fail (connection refused,
 * latency) while every other suite keeps using the server directly. Uses Toxiproxy's HTTP API.
 */
import { getInfra } from './infra.ts'
import { uniqueSuffix } from './isolation.ts'

export interface TestProxy {
  /** host:port the proxy listens on; point the client here instead of at the upstream. */
  readonly listen: string
  /** Replace host:port in a URL with the proxy's. */
  rewrite(url: string): string
  /** Refuse and drop every connection, like a dead host. */
  disable(): Promise<void>
  enable(): Promise<void>
  /** Add latency (ms) to data flowing back to the client. */
  addLatency(ms: number): Promise<void>
  /** Removes every toxic (added latency) of this proxy. */
  removeToxics(): Promise<void>
  cleanup(): Promise<void>
}

export async function createTestProxy(label: string, upstreamUrl: string): Promise<TestProxy> {
  const infra = await getInfra()
  const api = infra.toxiproxyUrl
  if (!api) throw new Error('This test needs Toxiproxy: run `make infra-up` (it starts one) or set TOXIPROXY_URL.')
  const upstream = new URL(upstreamUrl)
  const name = `${label}_${uniqueSuffix()}`
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${api}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    if (!res.ok) throw new Error(`toxiproxy ${method} ${path} → ${res.status} ${await res.text()}`)
    return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>)
  }
  const created = await call('POST', '/proxies', { name, listen: '127.0.0.1:0', upstream: `${upstream.hostname}:${upstream.port}`, enabled: true })
  const listen = String(created['listen'])
  return {
    listen,
    rewrite(url) {
      const u = new URL(url)
      u.host = listen
      return u.toString()
    },
    disable: async () => void (await call('POST', `/proxies/${name}`, { enabled: false })),
    enable: async () => void (await call('POST', `/proxies/${name}`, { enabled: true })),
    addLatency: async (ms) => void (await call('POST', `/proxies/${name}/toxics`, { type: 'latency', stream: 'downstream', attributes: { latency: ms } })),
    removeToxics: async () => {
      const res = await fetch(`${api}/proxies/${name}/toxics`)
      if (!res.ok) throw new Error(`toxiproxy GET /proxies/${name}/toxics → ${res.status} ${await res.text()}`)
      for (const toxic of (await res.json()) as { name: string }[]) await call('DELETE', `/proxies/${name}/toxics/${toxic.name}`)
    },
    cleanup: async () => void (await call('DELETE', `/proxies/${name}`)),
  }
}
