/**
 * Every error the review service answers with, once: code (API, never reused), HTTP status, message.
 * The shared handler of @flashsale/service-defaults turns them into RFC 9457 problem+json.
 */
import { defineError } from '@flashsale/service-defaults'

export const ProductNotFound = defineError('REVIEW_ERR_PRODUCT_NOT_FOUND', 404, 'There is no product %s')
export const NotVerifiedBuyer = defineError('REVIEW_ERR_NOT_VERIFIED_BUYER', 403, 'Only a verified buyer of product %s can review it')
export const AlreadyReviewed = defineError('REVIEW_ERR_ALREADY_REVIEWED', 409, 'You have already reviewed product %s')
export const CatalogUnavailable = defineError('REVIEW_ERR_CATALOG_UNAVAILABLE', 503, 'The catalog cannot answer right now; retry shortly', {
  retryAfterSeconds: 1,
})
