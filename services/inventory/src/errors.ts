/**
 * Every error the inventory service answers with, once: code (API, never reused), HTTP status, message.
 * The shared handler of @flashsale/service-defaults turns them into RFC 9457 problem+json; `details`
 * become extra members (the gate's `outcome`, the limit that was hit), `retryAfterSeconds` a Retry-After.
 */
import { defineError } from '@flashsale/service-defaults'

// The gate's refusals (POST /reservations). Each problem also carries `outcome`, the gate's word for it.
export const SoldOut = defineError('INVENTORY_ERR_SOLD_OUT', 409, 'Sale %s is sold out')
export const LimitReached = defineError('INVENTORY_ERR_LIMIT_REACHED', 409, 'The per-user limit of sale %s is reached')
export const NotOpen = defineError('INVENTORY_ERR_NOT_OPEN', 409, 'Sale %s has not started')
export const Closed = defineError('INVENTORY_ERR_CLOSED', 409, 'Sale %s is closed')
export const Paused = defineError('INVENTORY_ERR_PAUSED', 409, 'Sale %s is paused')
export const UnknownSale = defineError('INVENTORY_ERR_UNKNOWN_SALE', 404, 'There is no sale %s')
export const OrderIdConflict = defineError('INVENTORY_ERR_ORDER_ID_CONFLICT', 409, 'Order id %s already belongs to another reservation')
export const HotSaleThrottled = defineError('INVENTORY_ERR_HOT_SALE_THROTTLED', 429, 'Too many reservations for sale %s right now; retry shortly')
export const GateUnavailable = defineError(
  'INVENTORY_ERR_GATE_UNAVAILABLE',
  503,
  'The stock gate cannot answer right now (%s); nothing was changed',
  // About one reconciler pass rebuilds a gate.
  { retryAfterSeconds: 1 },
)

// Reservations by order id.
export const UnknownReservation = defineError('INVENTORY_ERR_UNKNOWN_RESERVATION', 404, 'There is no reservation for order %s')
export const NotReservationOwner = defineError('INVENTORY_ERR_NOT_RESERVATION_OWNER', 403, 'The reservation of order %s belongs to another user')
export const ReservationPersisted = defineError(
  'INVENTORY_ERR_RESERVATION_PERSISTED',
  409,
  'The reservation of order %s belongs to an order being persisted or already persisted; cancel the order instead',
)

// Sale administration.
export const SaleExists = defineError('INVENTORY_ERR_SALE_EXISTS', 409, 'A sale with id %s already exists')
export const InvalidWindow = defineError('INVENTORY_ERR_INVALID_WINDOW', 400, 'The sale must end after it starts (%s)')
export const SaleClosed = defineError('INVENTORY_ERR_SALE_CLOSED', 409, 'Sale %s is closed and can no longer be changed')
export const TotalBelowTaken = defineError('INVENTORY_ERR_TOTAL_BELOW_TAKEN', 409, 'Sale %s cannot have fewer units than are already sold or reserved (%s)')
export const RebuildInProgress = defineError('INVENTORY_ERR_REBUILD_IN_PROGRESS', 409, 'A rebuild of sale %s is already running')
