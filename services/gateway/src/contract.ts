/**
 * The gateway's contract: what its own routes take and answer, and the answers it gives on every proxied
 * route by itself (refusals, timeouts), added to what the service behind each route answers
 * (route-responses.json, generated from the services' contracts: scripts/check-route-table.ts --write). The
 * gateway's public OpenAPI document (GET /openapi.json, browsable at /docs) is generated from these.
 */
import Type from 'typebox'
import { problemResponse } from '@flashsale/service-defaults'
import type { RouteDefinition } from './route-table.ts'

/** The public API's OpenAPI document: its title and description (the routes come from the code). */
export const OPENAPI_INFO = {
  title: 'Flash sale: public API (gateway)',
  description:
    "Every route a buyer or an operator calls, as the gateway serves it: what the services behind them answer, and the gateway's own refusals (401, 403, 409 sold out at the edge, 429, 503 with Retry-After, 504). Errors are RFC 9457 problem+json with a stable `code`. Tokens: POST /auth/demo-token on the demo stack.",
}

/** Every problem code the gateway answers by itself. */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'AUTH_ERR_UNAUTHENTICATED',
  'AUTH_ERR_FORBIDDEN',
  'GATEWAY_ERR_INVALID_TOKEN',
  'GATEWAY_ERR_BLOCKED',
  'GATEWAY_ERR_BOT_BLOCKED',
  'GATEWAY_ERR_RATE_LIMITED',
  'GATEWAY_ERR_OVERLOADED',
  'GATEWAY_ERR_CIRCUIT_OPEN',
  'GATEWAY_ERR_NO_INSTANCE',
  'GATEWAY_ERR_DEGRADED',
  'GATEWAY_ERR_UPSTREAM_TIMEOUT',
  'GATEWAY_ERR_UPSTREAM_UNAVAILABLE',
  'GATEWAY_ERR_DEMO_ADMIN_FORBIDDEN',
  'GATEWAY_ERR_INVALID_CIDR',
  'GATEWAY_ERR_BLOCKLIST_UNAVAILABLE',
  'ORDER_ERR_SOLD_OUT',
  'GATEWAY_ERR_WAITING_ROOM_PASS_REQUIRED',
  'GATEWAY_ERR_WAITING_ROOM_PASS_INVALID',
  'GATEWAY_ERR_NO_WAITING_ROOM',
  'GATEWAY_ERR_NO_TICKET',
  'GATEWAY_ERR_WAITING_ROOM_UNAVAILABLE',
  'GATEWAY_ERR_WAITING_ROOM_MODE_LOCKED',
  'GATEWAY_ERR_SALE_NOT_FOUND',
  'GATEWAY_ERR_SALE_LOOKUP_FAILED',
] as const

const RATE_LIMIT_HEADERS = {
  'retry-after': { type: 'integer', minimum: 0, description: 'Seconds until a request would be allowed (RFC 9110 §10.2.3)' },
  ratelimit: { type: 'string', description: 'The limit that answered, e.g. "per-user";r=0;t=1 (IETF draft-ietf-httpapi-ratelimit-headers)' },
  'ratelimit-policy': { type: 'string', description: 'The policy, e.g. "per-user";q=5;w=1' },
}

type Responses = Record<string, { description: string; headers?: object; content?: object }>

/** What the gateway itself may answer on a proxied route, by status. */
function gatewayAnswers(route: RouteDefinition): Record<number, { description: string; headers?: object }> {
  const core = route.priority === 'core'
  const answers: Record<number, { description: string; headers?: object }> = {
    400: { description: 'The request is not valid (VALIDATION_FAILED), refused before any service is called' },
    401:
      route.auth === 'user'
        ? { description: 'No bearer token (AUTH_ERR_UNAUTHENTICATED) or one that did not verify (GATEWAY_ERR_INVALID_TOKEN)' }
        : { description: 'A bearer token was sent and did not verify (GATEWAY_ERR_INVALID_TOKEN); none is needed' },
    403: { description: 'This address is blocked (GATEWAY_ERR_BLOCKED) or behaves like a bot (GATEWAY_ERR_BOT_BLOCKED)' },
    429: { description: 'Too many requests from this address or user (GATEWAY_ERR_RATE_LIMITED)', headers: RATE_LIMIT_HEADERS },
    502: { description: 'The service could not be reached (GATEWAY_ERR_UPSTREAM_UNAVAILABLE)' },
    503: {
      description: `Refused for now, with Retry-After: at capacity (GATEWAY_ERR_OVERLOADED), the service is failing (GATEWAY_ERR_CIRCUIT_OPEN), no healthy instance (GATEWAY_ERR_NO_INSTANCE)${core ? '' : ', or switched off under load (GATEWAY_ERR_DEGRADED)'}`,
    },
    504: { description: "The service did not answer within the route's budget (GATEWAY_ERR_UPSTREAM_TIMEOUT)" },
  }
  if (route.soldOutEdge) {
    answers[409] = { description: 'Sold out (ORDER_ERR_SOLD_OUT), answered at the edge while the SKU has nothing left (ADR 0027)' }
    answers[403] = {
      description: `${answers[403]!.description}; or the sale has a waiting room and the Waiting-Room-Pass header is missing (GATEWAY_ERR_WAITING_ROOM_PASS_REQUIRED) or does not admit this order (GATEWAY_ERR_WAITING_ROOM_PASS_INVALID)`,
    }
  }
  return answers
}

/**
 * A proxied route's responses: the service's (as its contract declares them) and the gateway's own. Where
 * both answer a status, both are described; the body is problem+json either way.
 */
export function proxiedResponses(route: RouteDefinition, service: Responses | undefined): Responses {
  const out: Responses = { ...(service ?? {}) }
  for (const [status, answer] of Object.entries(gatewayAnswers(route))) {
    const theirs = out[status]
    const ours = problemResponse(answer.description, Number(status)) as Responses[string]
    out[status] = theirs
      ? {
          ...theirs,
          description: `${theirs.description}; or from the gateway: ${answer.description}`,
          ...(answer.headers ? { headers: { ...(theirs.headers ?? {}), ...answer.headers } } : {}),
        }
      : { ...ours, ...(answer.headers ? { headers: { ...(ours.headers ?? {}), ...answer.headers } } : {}) }
  }
  return out
}

// ---------------------------------------------------------------- the gateway's own routes

export const DemoTokenBody = Type.Object(
  {
    userId: Type.String({ pattern: '^[\\w.:@-]{1,64}$' }),
    role: Type.Optional(Type.Union([Type.Literal('buyer'), Type.Literal('admin')])),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
  },
  { additionalProperties: false },
)
export const DemoToken = Type.Object(
  {
    token: Type.String(),
    tokenType: Type.Literal('Bearer'),
    expiresIn: Type.Integer(),
    userId: Type.String(),
    role: Type.Union([Type.Literal('buyer'), Type.Literal('admin')]),
  },
  { additionalProperties: false, title: 'DemoToken' },
)

export const CidrBody = Type.Object({ cidr: Type.String({ minLength: 2, maxLength: 64 }) }, { additionalProperties: false })
export const ModeBody = Type.Object({ mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]) }, { additionalProperties: false })
export const BlocklistAnswer = Type.Object({ cidrs: Type.Array(Type.String()) }, { additionalProperties: false, title: 'Blocklist' })
export const BlocklistChange = Type.Object({ cidr: Type.String(), cidrs: Type.Array(Type.String()) }, { additionalProperties: false, title: 'BlocklistChange' })
// The degradation state and the upstream snapshots are diagnostics whose members follow the code: described,
// not pinned (additionalProperties stays open so the serializer keeps every member).
export const DegradationState = Type.Object(
  {
    mode: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    degraded: Type.Boolean(),
    reason: Type.String({ description: 'The signal that tripped it (elu, p99, error_rate), manual, or normal' }),
  },
  { additionalProperties: false, title: 'DegradationState' },
)
export const Upstreams = Type.Record(Type.String(), Type.Object({}, { additionalProperties: true }), { title: 'Upstreams' })

// ---------------------------------------------------------------- waiting rooms (waiting-room/, ADR 0039)

const SaleIdParam = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' })
export const SaleParams = Type.Object({ id: SaleIdParam })
export const RoomParams = Type.Object({ saleId: SaleIdParam })
const RoomMode = Type.Union([Type.Literal('fifo'), Type.Literal('lottery')], {
  description:
    'fifo: admitted in the order of joining; lottery: whoever joined before the opening is admitted in a random order drawn then, later arrivals behind them in order of joining',
})
const Iso = (description: string) => Type.String({ format: 'date-time', description })

export const PollQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 25,
        default: 0,
        description: 'long poll: hold the answer up to this many seconds until you are admitted or the sale sells out',
      }),
    ),
  },
  { additionalProperties: false },
)

export const Ticket = Type.Object(
  {
    saleId: Type.String(),
    sku: Type.String(),
    ticket: Type.Integer({ minimum: 1, description: 'you were the n-th to join' }),
    state: Type.Union([Type.Literal('waiting'), Type.Literal('drawing'), Type.Literal('admitted'), Type.Literal('expired')], {
      description:
        'waiting: in line; drawing: a lottery room before its draw (your place is not known yet); admitted: order with `pass`; expired: the pass ran out unused (leave, then join again at the back)',
    }),
    position: Type.Optional(Type.Integer({ minimum: 1, description: 'while waiting: 1 = next to be admitted' })),
    estimatedWaitSeconds: Type.Optional(
      Type.Number({ minimum: 0, description: 'while waiting: position / the rate the room admits now; absent while admissions are paused' }),
    ),
    opensAt: Iso('nobody is admitted before; a lottery room draws then'),
    pollAfterSeconds: Type.Integer({ minimum: 0, description: 'poll again after this long (jittered), or long-poll with ?wait= at once' }),
    pass: Type.Optional(Type.String({ description: 'once admitted: send it as the Waiting-Room-Pass header of POST /orders; it buys one order' })),
    passExpiresAt: Type.Optional(Iso('once admitted: the pass is refused after')),
  },
  { additionalProperties: false, title: 'WaitingRoomTicket' },
)

export const LeaveAnswer = Type.Object(
  {
    saleId: Type.String(),
    outcome: Type.Union([Type.Literal('left'), Type.Literal('admitted'), Type.Literal('expired')], {
      description:
        'left: your place is given up; admitted: too late, your place was admitted and its pass is still good; expired: your unused pass ran out and your place is released',
    }),
  },
  { additionalProperties: false, title: 'WaitingRoomLeave' },
)

export const RoomView = Type.Object(
  {
    saleId: Type.String(),
    sku: Type.String(),
    mode: RoomMode,
    opensAt: Iso('nobody is admitted before; a lottery room draws then'),
    waiting: Type.Integer({ minimum: 0, description: 'buyers holding a place not admitted yet' }),
    admitted: Type.Integer({ minimum: 0, description: 'places admitted so far' }),
    admissionRatePerSecond: Type.Number({ minimum: 0, description: 'places the fleet admits per second now (0 while paused)' }),
    fixedRatePerSecond: Type.Number({ minimum: 0, description: 'the admin-set rate; 0 = measured by the gateways' }),
    passTtlSeconds: Type.Integer({ minimum: 1 }),
  },
  { additionalProperties: false, title: 'WaitingRoom' },
)
export const RoomList = Type.Object({ rooms: Type.Array(RoomView) }, { additionalProperties: false, title: 'WaitingRooms' })

export const RoomSettingsBody = Type.Object(
  {
    mode: Type.Optional(RoomMode),
    opensAt: Type.Optional(Iso("default: the sale's start")),
    ratePerSecond: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000, description: 'a fixed admission rate for the fleet; 0 (default) = measured' })),
    passTtlSeconds: Type.Optional(
      Type.Integer({ minimum: 10, maximum: 3_600, description: 'how long a pass is good for after admission (default WAITING_ROOM_PASS_TTL_SECONDS)' }),
    ),
  },
  { additionalProperties: false },
)
export const RoomRemoved = Type.Object({ saleId: Type.String(), removed: Type.Boolean() }, { additionalProperties: false, title: 'WaitingRoomRemoved' })
