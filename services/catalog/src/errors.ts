/**
 * Every error the catalog service answers with, once: code (API, never reused), HTTP status, message.
 * The shared handler of @flashsale/service-defaults turns them into RFC 9457 problem+json.
 */
import { defineError } from '@flashsale/service-defaults'

export const ProductNotFound = defineError('CATALOG_ERR_PRODUCT_NOT_FOUND', 404, 'There is no product %s')
export const ProductExists = defineError('CATALOG_ERR_PRODUCT_EXISTS', 409, 'A product with id %s already exists')
export const SkuExists = defineError('CATALOG_ERR_SKU_EXISTS', 409, 'Another product already has SKU %s')
export const InvalidCursor = defineError('CATALOG_ERR_INVALID_CURSOR', 400, 'The cursor is not one this listing gave out (%s)')
export const InventoryUnavailable = defineError('CATALOG_ERR_INVENTORY_UNAVAILABLE', 503, 'The inventory service cannot answer right now; retry shortly', {
  retryAfterSeconds: 1,
})
