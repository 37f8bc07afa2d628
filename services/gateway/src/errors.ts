/**
 * Every error the gateway answers with, once: code (API, never reused), HTTP status, message. The shared
 * handler of @flashsale/service-defaults turns them into RFC 9457 problem+json; `details` become extra
 * members (`reason`, `degraded`), `retryAfterSeconds` a Retry-After header.
 */
import { jitteredRetryAfterSeconds, type RejectionReason } from '@flashsale/resilience'
import { defineError } from '@flashsale/service-defaults'

export const Blocked = defineError('GATEWAY_ERR_BLOCKED', 403, 'Requests from this address are blocked')
export const BotBlocked = defineError('GATEWAY_ERR_BOT_BLOCKED', 403, 'This client behaves like an automated buyer (%s)')
export const InvalidToken = defineError('GATEWAY_ERR_INVALID_TOKEN', 401, 'The bearer token is not valid: %s')
export const RateLimited = defineError('GATEWAY_ERR_RATE_LIMITED', 429, 'Too many requests (%s limit); retry later')
export const Overloaded = defineError('GATEWAY_ERR_OVERLOADED', 503, 'The %s service is at capacity (%s); retry shortly')
// nginx's 499: the client closed the connection before its answer (nobody reads this one; the access log does).
export const ClientClosed = defineError('GATEWAY_ERR_CLIENT_CLOSED', 499, 'The client closed the connection while its request waited at the gateway')
export const CircuitOpen = defineError('GATEWAY_ERR_CIRCUIT_OPEN', 503, 'The %s service is failing; the gateway is not calling it for now')
export const NoInstance = defineError('GATEWAY_ERR_NO_INSTANCE', 503, 'No healthy instance of the %s service')
export const UpstreamTimeout = defineError('GATEWAY_ERR_UPSTREAM_TIMEOUT', 504, 'The %s service did not answer within the latency budget')
export const UpstreamUnavailable = defineError('GATEWAY_ERR_UPSTREAM_UNAVAILABLE', 502, 'The %s service could not be reached')
export const Degraded = defineError('GATEWAY_ERR_DEGRADED', 503, 'This feature is switched off while the sale is under load; retry later')
export const DemoTokensForbidden = defineError('GATEWAY_ERR_DEMO_ADMIN_FORBIDDEN', 403, 'An admin demo token needs the x-demo-admin-secret header')
export const InvalidCidr = defineError('GATEWAY_ERR_INVALID_CIDR', 400, '%s is not an IP address or CIDR range')
export const BlocklistUnavailable = defineError('GATEWAY_ERR_BLOCKLIST_UNAVAILABLE', 503, 'The blocklist store cannot be changed right now')
// The order service's own code and message, on purpose: a buyer gets the same answer whether the gateway
// (sold out at the edge, ADR 0027) or the order service said it. One meaning, one code.
export const SoldOutAtEdge = defineError('ORDER_ERR_SOLD_OUT', 409, 'Sale %s is sold out')
// The waiting rooms (waiting-room/, ADR 0039).
export const WaitingRoomPassRequired = defineError(
  'GATEWAY_ERR_WAITING_ROOM_PASS_REQUIRED',
  403,
  'Sale %s has a waiting room: join it (POST %s), and order with the pass it gives once admitted',
)
export const WaitingRoomPassInvalid = defineError('GATEWAY_ERR_WAITING_ROOM_PASS_INVALID', 403, 'The waiting-room pass does not admit this order (%s)')
export const NoWaitingRoom = defineError('GATEWAY_ERR_NO_WAITING_ROOM', 404, 'Sale %s has no waiting room: order directly')
export const NoTicket = defineError('GATEWAY_ERR_NO_TICKET', 404, 'You hold no ticket in the waiting room of sale %s: join it first')
export const WaitingRoomUnavailable = defineError(
  'GATEWAY_ERR_WAITING_ROOM_UNAVAILABLE',
  503,
  'The waiting room cannot be reached right now; your place is kept',
)
export const WaitingRoomModeLocked = defineError(
  'GATEWAY_ERR_WAITING_ROOM_MODE_LOCKED',
  409,
  'The waiting room of sale %s has handed out tickets: its mode cannot change',
)
export const SaleNotFound = defineError('GATEWAY_ERR_SALE_NOT_FOUND', 404, 'No sale %s')
export const SaleLookupFailed = defineError('GATEWAY_ERR_SALE_LOOKUP_FAILED', 503, 'The inventory service did not say what sale %s is; retry shortly')

/**
 * A limiter's refusal as the 503 the buyer gets: Retry-After from how long the queue needs to drain,
 * jittered, so refused buyers do not come back as one wave. `upstream` names the queue that refused (an
 * upstream, or the gateway's door).
 */
export function overloaded(service: string, upstream: string, refusal: { reason: RejectionReason; expectedWaitMs?: number }) {
  const err = new Overloaded(service, refusal.reason)
  err.retryAfterSeconds = jitteredRetryAfterSeconds(refusal.expectedWaitMs)
  err.details = { reason: refusal.reason, upstream }
  return err
}
