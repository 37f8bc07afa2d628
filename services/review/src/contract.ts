/**
 * The review service's contract: what every route takes (params, query, body) and answers (the success
 * bodies, sent through Fastify's serializer, so a field that is not listed here is not sent), and the
 * problem codes it answers with. The routes (src/routes/reviews.ts) build their `schema` from these, with
 * the shared pieces of @flashsale/service-defaults (problem+json errors, `jsonResponse`/`problemResponses`),
 * and the OpenAPI document is generated from the same schemas (@fastify/swagger).
 *
 * TypeBox → JSON Schema. Requests are validated by Fastify's Ajv; success answers are written by
 * fast-json-stringify, exactly as listed (`additionalProperties: false`).
 *
 * Routes:
 *   GET  /products/:id/reviews   → 200 ReviewPage     (400, 503)
 *   GET  /products/:id/rating    → 200 Rating         (400, 503)
 *   POST /products/:id/reviews   → 201 ReviewAnswer   (400, 401, 403, 404, 409, 503)
 */
import { AUTH_ERROR_CODES } from '@flashsale/auth'
import { FAULT_ERROR_CODES } from '@flashsale/faults'
import { SHARED_ERROR_CODES, errorCodesOf } from '@flashsale/service-defaults'
import * as errors from './errors.ts'
import Type, { type Static } from 'typebox'
import type { Rating as RatingRecord, Review as ReviewRecord } from './domain/review.ts'

/** The service's OpenAPI document: its title and description (the routes come from the code). */
export const OPENAPI_INFO = {
  title: 'Flash sale: review service',
  description:
    "Reviews and ratings of products: public reads, and a verified buyer's one review per product. Errors are RFC 9457 problem+json with a stable `code` (503 with Retry-After while a datastore or the catalog cannot answer).",
}

// ---------------------------------------------------------------------------------------------- requests

export const PRODUCT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 50
export const BODY_MIN = 10
export const BODY_MAX = 2000
export const TITLE_MAX = 120

export const ProductIdParams = Type.Object({ id: Type.String({ pattern: PRODUCT_ID_PATTERN }) }, { additionalProperties: false })
export type ProductIdParams = Static<typeof ProductIdParams>

export const ReviewsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
    // The id of the last review of the previous page (reviews are newest first).
    cursor: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,17}$' })),
  },
  { additionalProperties: false },
)
export type ReviewsQuery = Static<typeof ReviewsQuery>

export const ReviewBody = Type.Object(
  {
    rating: Type.Integer({ minimum: 1, maximum: 5 }),
    title: Type.Optional(Type.String({ maxLength: TITLE_MAX })),
    // At least 10 visible characters: whitespace padding does not count.
    body: Type.String({ minLength: BODY_MIN, maxLength: BODY_MAX, pattern: '\\S(.|\\s){8,}\\S' }),
  },
  // No userId, ever: the author is the authenticated caller.
  { additionalProperties: false },
)
export type ReviewBody = Static<typeof ReviewBody>

// --------------------------------------------------------------------------------------------- answers

/** A review as domain/review.ts has it: every column of review.reviews but the SKU. */
export const Review = Type.Object(
  {
    id: Type.String({ pattern: '^[1-9][0-9]*$', description: 'a bigint, as a decimal string; the ?cursor= of the next page' }),
    productId: Type.String(),
    userId: Type.String({ description: 'the author' }),
    rating: Type.Integer({ minimum: 1, maximum: 5 }),
    title: Type.String({ description: "'' when the author gave none" }),
    body: Type.String(),
    createdAt: Type.String({ format: 'date-time', description: 'ISO 8601' }),
  },
  { additionalProperties: false, title: 'Review' },
)

/** GET /products/:id/reviews: newest first. */
export const ReviewPage = Type.Object(
  {
    reviews: Type.Array(Review),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'pass as ?cursor= for the next (older) page; null on the last page' }),
  },
  { additionalProperties: false, title: 'ReviewPage' },
)

const Stars = Type.Integer({ minimum: 0, description: 'reviews with this many stars' })

/** GET /products/:id/rating: a product the catalog does not know has an empty rating. */
export const Rating = Type.Object(
  {
    productId: Type.String(),
    count: Type.Integer({ minimum: 0, description: 'reviews of the product' }),
    average: Type.Union([Type.Number({ minimum: 1, maximum: 5 }), Type.Null()], {
      description: 'mean of the ratings, rounded to 2 decimals; null without reviews',
    }),
    histogram: Type.Object({ '1': Stars, '2': Stars, '3': Stars, '4': Stars, '5': Stars }, { additionalProperties: false, description: 'reviews per star' }),
  },
  { additionalProperties: false, title: 'Rating' },
)

/** POST /products/:id/reviews (201). */
export const ReviewAnswer = Type.Object({ review: Review }, { additionalProperties: false, title: 'ReviewAnswer' })

// tsc fails here when an answer schema and the domain type a handler sends disagree: a field missing on
// either side (the serializer would drop it, or fail on it), or a different type or optionality.
type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Assert<T extends true> = T
type _ReviewAgrees = Assert<Agree<Static<typeof Review>, ReviewRecord>>
type _RatingAgrees = Assert<Agree<Static<typeof Rating>, RatingRecord & { productId: string }>>

// ----------------------------------------------------------------------------------------------- errors

/**
 * Every `code` of a problem this service answers: its own (every error src/errors.ts defines), those of the
 * shared layers (@flashsale/service-defaults: a request that fails its schema, text that cannot be stored, a
 * datastore outage; @flashsale/auth's 401/403; @flashsale/faults': a drill's injected error, /admin/faults
 * without Redis). HTTP-level answers that carry `type: about:blank` (NOT_FOUND for an unknown route, FST_*
 * such as 413 body too large, INTERNAL) are not service codes and are not listed.
 */
export const ERROR_CODES = [...errorCodesOf(errors), ...SHARED_ERROR_CODES, ...AUTH_ERROR_CODES, ...FAULT_ERROR_CODES] as const
