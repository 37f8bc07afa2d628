/**
 * Request schemas (TypeBox → JSON Schema, validated by Fastify's Ajv). Ids and SKUs use the same
 * character set as the inventory's sale ids (they may end up in Redis hash tags and URLs).
 */
import Type, { type Static } from 'typebox'
import { SORT_FIELDS } from '../domain/product.ts'

export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'
export const CATEGORY_PATTERN = '^[a-z0-9][a-z0-9-]{0,39}$'
export const MAX_PAGE = 100

const ProductId = Type.String({ pattern: ID_PATTERN, description: 'product id: letters, digits, _ . -; at most 64' })
const Sku = Type.String({ pattern: ID_PATTERN, description: 'SKU: letters, digits, _ . -; at most 64' })
const Category = Type.String({ pattern: CATEGORY_PATTERN, description: 'category slug: a-z 0-9 -; at most 40' })

export const ProductIdParams = Type.Object({ id: ProductId }, { additionalProperties: false })
export type ProductIdParams = Static<typeof ProductIdParams>

export const ListQuery = Type.Object(
  {
    category: Type.Optional(Category),
    sort: Type.Optional(
      Type.Union(
        SORT_FIELDS.map((s) => Type.Literal(s)),
        { default: 'name' },
      ),
    ),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^[A-Za-z0-9_-]+$' })),
  },
  { additionalProperties: false },
)
export type ListQuery = Static<typeof ListQuery>

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  category: Category,
  priceCents: Type.Integer({ minimum: 0, maximum: 100_000_000 }),
  imageUrl: Type.String({ maxLength: 500, pattern: '^(https?://\\S+)?$' }),
  description: Type.String({ maxLength: 4000 }),
}

export const CreateProductBody = Type.Object(
  {
    id: Type.Optional(ProductId),
    sku: Sku,
    name: fields.name,
    category: fields.category,
    priceCents: fields.priceCents,
    imageUrl: Type.Optional(fields.imageUrl),
    description: Type.Optional(fields.description),
  },
  { additionalProperties: false },
)
export type CreateProductBody = Static<typeof CreateProductBody>

export const ChangeProductBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    category: Type.Optional(fields.category),
    priceCents: Type.Optional(fields.priceCents),
    imageUrl: Type.Optional(fields.imageUrl),
    description: Type.Optional(fields.description),
  },
  // No sku: it is the product's identity for sales, orders and reviews.
  { additionalProperties: false, minProperties: 1 },
)
export type ChangeProductBody = Static<typeof ChangeProductBody>

export const ActiveSalesQuery = Type.Object(
  {
    sku: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(,[A-Za-z0-9][A-Za-z0-9_.-]{0,63}){0,19}$', description: 'up to 20 comma-separated SKUs' }),
    ),
  },
  { additionalProperties: false },
)
export type ActiveSalesQuery = Static<typeof ActiveSalesQuery>

export const WarmBody = Type.Object({ skus: Type.Array(Sku, { minItems: 1, maxItems: 1000, uniqueItems: true }) }, { additionalProperties: false })
export type WarmBody = Static<typeof WarmBody>
