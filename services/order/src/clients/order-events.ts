/** orders.events: one order.status-changed per order of a persisted batch, keyed by order id. */
import { TOPICS, eventHeaders, type OrderStatusChanged, type Producer } from '@flashsale/kafka'
import type { OrderStatusView } from '../domain/ports.ts'

export function createOrderEventsPublisher(producer: Producer, { topic = TOPICS.ordersEvents.name as string, now = (): Date => new Date() } = {}) {
  return async (orders: readonly OrderStatusView[]): Promise<void> => {
    const occurredAt = now().toISOString()
    const messages = orders
      .filter((o): o is OrderStatusView & { status: OrderStatusChanged['status'] } => o.status !== 'pending')
      .map((o) => {
        const event: OrderStatusChanged = {
          type: 'order.status-changed',
          v: 1,
          orderId: o.orderId,
          userId: o.userId,
          saleId: o.saleId,
          sku: o.sku,
          qty: o.qty,
          status: o.status,
          ...(o.reason ? { reason: o.reason } : {}),
          occurredAt,
        }
        return { key: o.orderId, value: JSON.stringify(event), headers: eventHeaders(event) }
      })
    if (messages.length > 0) await producer.send(topic, messages)
  }
}
