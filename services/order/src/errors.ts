/** The order service's errors: codes are API (docs/errors.md), never reused, matched by clients on `code`. */
import { defineError } from '@flashsale/service-defaults'

export const IdempotencyKeyMissing = defineError(
  'ORDER_ERR_IDEMPOTENCY_KEY_MISSING',
  400,
  'The Idempotency-Key header is required: 1-128 characters of [A-Za-z0-9_.:-]',
)
export const IdempotencyKeyReused = defineError('ORDER_ERR_IDEMPOTENCY_KEY_REUSED', 422, 'This Idempotency-Key was used for a different request')
export const RequestInProgress = defineError('ORDER_ERR_REQUEST_IN_PROGRESS', 409, 'A request with this Idempotency-Key is still being processed', {
  retryAfterSeconds: 1,
})
export const SoldOut = defineError('ORDER_ERR_SOLD_OUT', 409, 'Sale %s is sold out')
export const LimitReached = defineError('ORDER_ERR_LIMIT_REACHED', 409, 'The per-buyer limit of sale %s is reached')
export const SaleNotOpen = defineError('ORDER_ERR_SALE_NOT_OPEN', 409, 'Sale %s has not started')
export const SaleClosed = defineError('ORDER_ERR_SALE_CLOSED', 409, 'Sale %s has ended')
export const SalePaused = defineError('ORDER_ERR_SALE_PAUSED', 409, 'Sale %s is paused')
export const UnknownSale = defineError('ORDER_ERR_UNKNOWN_SALE', 404, 'No sale %s')
export const OrderNotFound = defineError('ORDER_ERR_NOT_FOUND', 404, 'No order %s')
export const StockGateUnavailable = defineError('ORDER_ERR_STOCK_GATE_UNAVAILABLE', 503, 'The stock gate cannot take orders right now; retry shortly', {
  retryAfterSeconds: 1,
})
export const IdempotencyUnavailable = defineError(
  'ORDER_ERR_IDEMPOTENCY_UNAVAILABLE',
  503,
  'Orders cannot be placed safely right now (the Idempotency-Key store is unreachable); nothing was reserved; retry shortly',
  { retryAfterSeconds: 2 },
)
export const QueueUnavailable = defineError('ORDER_ERR_QUEUE_UNAVAILABLE', 503, 'Orders cannot be queued right now; nothing was reserved; retry shortly', {
  retryAfterSeconds: 2,
})
export const NotPayable = defineError('ORDER_ERR_NOT_PAYABLE', 409, 'Order %s cannot be paid in its current state')
export const PaymentWindowClosed = defineError('ORDER_ERR_PAYMENT_WINDOW_CLOSED', 409, 'The payment window of order %s has closed')
export const BadCursor = defineError('ORDER_ERR_BAD_CURSOR', 400, 'The cursor is not one this service handed out')
export const DeadLetterNotFound = defineError('ORDER_ERR_DEAD_LETTER_NOT_FOUND', 404, 'No dead letter at %s')
export const DeadLetterTargetInvalid = defineError(
  'ORDER_ERR_DEAD_LETTER_TARGET',
  400,
  'Name one dead letter ({partition, offset}) or all of them ({all: true})',
)
