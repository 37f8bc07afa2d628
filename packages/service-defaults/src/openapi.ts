/**
 * The OpenAPI 3.1 document of a service, generated from its routes' schemas by @fastify/swagger and served
 * at GET /openapi.json. Registered by serviceDefaults before any route, so every route is seen.
 *
 * - A route that can answer 401 needs a bearer token: it gets `security: [{ bearerAuth: [] }]` (the tokens
 *   are ES256 JWTs, ADR 0019).
 * - Operational endpoints that are not JSON APIs (/metrics, the document itself, /docs) are left out.
 */
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

export interface OpenApiInfo {
  readonly title: string
  readonly description?: string
  readonly version?: string
  /** Extra top-level members (e.g. the gateway's servers); merged into the document. */
  readonly servers?: readonly { url: string; description?: string }[]
}

export const OPENAPI_PATH = '/openapi.json'
const HIDDEN = [/^\/metrics$/, /^\/openapi\.json$/, /^\/docs(\/|$)/]

/** A stable operationId from the method and path, for generated clients: GET /products/:id → getProductsById. */
export function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter(Boolean)
    .map((part) => (part.startsWith(':') ? `by-${part.slice(1)}` : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean)
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join('')
}

export async function registerOpenApi(app: FastifyInstance, info: OpenApiInfo): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: info.title,
        version: info.version ?? '0.1.0',
        ...(info.description ? { description: info.description } : {}),
        license: { name: 'MIT', identifier: 'MIT' },
      },
      ...(info.servers ? { servers: [...info.servers] } : {}),
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An ES256 JWT (POST /auth/demo-token on the demo gateway)' },
        },
      },
    },
    // Shared schemas (the problem+json body) become components named by their $id, not def-0, def-1.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      if (HIDDEN.some((re) => re.test(url))) return { schema: { ...schema, hide: true }, url }
      const given = (schema ?? {}) as { response?: Record<string, unknown>; security?: unknown; operationId?: string }
      // A route that states its security (the gateway's proxied routes) is taken at its word; otherwise one
      // that can answer 401 needs a token, and the others say that they need none.
      const security = given.security ?? (given.response && '401' in given.response ? [{ bearerAuth: [] }] : [])
      return { schema: { ...schema, security, operationId: given.operationId ?? operationId([route.method].flat()[0]!, url) }, url } as never
    },
  })
  app.get(OPENAPI_PATH, { logLevel: 'silent', schema: { hide: true } }, async () => app.swagger())
}
