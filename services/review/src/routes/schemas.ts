/** Request schemas (TypeBox → JSON Schema, validated by Fastify's Ajv). */
import Type, { type Static } from 'typebox'

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
