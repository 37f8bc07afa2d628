/**
 * Paying an order (simulated), as the story goes:
 *   in one transaction: confirmed and inside the reservation window → paid + a payments row
 *   → then confirm the reservation at the stock gate, refresh the status cache, publish `paid`.
 * Idempotent on the order id: paying a paid order answers the same payment again. The window is
 * Postgres' clock against reservation_expires_at, the same clock the sweeper cancels by, so a payment and
 * a cancellation can never both win (the row lock decides, see store/order-lifecycle-store.ts).
 */
import { applyStatusEffects } from './order-effects.ts'
import type { OrderContext, OrderStatusView } from './ports.ts'

export interface PaymentRecord {
  readonly orderId: string
  readonly status: 'paid'
  readonly paymentReference: string
  readonly paidAt: string
}

export type PaymentAttempt =
  | { readonly kind: 'paid'; readonly order: OrderStatusView; readonly payment: PaymentRecord; readonly replayed: boolean }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'window_closed'; readonly order: OrderStatusView }
  | { readonly kind: 'not_payable'; readonly order: OrderStatusView }

export type PayOrderDeps = Pick<OrderContext, 'payments' | 'statusCache' | 'effects' | 'newPaymentReference' | 'log'>

export type PayOrderResult =
  | { readonly kind: 'paid'; readonly payment: PaymentRecord; readonly replayed: boolean }
  | { readonly kind: 'not_found' }
  | { readonly kind: 'window_closed'; readonly expiresAt: string }
  | { readonly kind: 'not_payable'; readonly status: OrderStatusView['status'] }

export async function payOrder(ctx: PayOrderDeps, orderId: string, userId: string): Promise<PayOrderResult> {
  // 1. The payment itself, in one transaction with the status change.
  const attempt = await ctx.payments.pay(orderId, userId, ctx.newPaymentReference())
  switch (attempt.kind) {
    case 'not_found': {
      // Accepted but still in the queue: the buyer's order exists, it just is not payable yet.
      const cached = await ctx.statusCache.get(orderId).catch(() => undefined)
      return cached && cached.userId === userId ? { kind: 'not_payable', status: cached.status } : { kind: 'not_found' }
    }
    case 'window_closed':
      return { kind: 'window_closed', expiresAt: attempt.order.reservationExpiresAt }
    case 'not_payable':
      return { kind: 'not_payable', status: attempt.order.status }
    case 'paid':
      break
  }
  // 2. The follow-up. A failure here does not undo the payment: the sweeper's follow-up pass finishes it.
  if (!attempt.replayed) {
    await applyStatusEffects(ctx.effects, [attempt.order]).catch((err: unknown) =>
      ctx.log.warn({ err, orderId }, 'payment follow-up failed; the sweeper finishes it'),
    )
  }
  return { kind: 'paid', payment: attempt.payment, replayed: attempt.replayed }
}
