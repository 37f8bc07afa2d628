/**
 * The catalog service's contract: what every route takes (params, query, body) and answers (the success
 * bodies, sent through Fastify's serializer, so a field that is not listed here is not sent), and the
 * problem codes it answers with. The routes (src/routes/) build their `schema` from these, with the shared
 * pieces of @flashsale/service-defaults (problem+json errors, `jsonResponse`/`problemResponses`), and the
 * OpenAPI document is generated from the same schemas (@fastify/swagger).
 *
 * TypeBox → JSON Schema. Requests are validated by Fastify's Ajv; success answers are written by
 * fast-json-stringify, exactly as listed (`additionalProperties: false`). Ids and SKUs use the same
 * character set as the inventory's sale ids (they may end up in Redis hash tags and URLs).
 *
 * Routes:
 *   GET   /products              → 200 ProductPage                   (400, 503)
 *   GET   /products/:id          → 200 ProductAnswer                 (400, 404, 503)
 *   GET   /sales/active          → 200 ActiveSales                   (400, 503)
 *   POST  /admin/products        → 201 ProductAnswer + Location      (400, 401, 403, 409, 503)
 *   PATCH /admin/products/:id    → 200 ProductAnswer                 (400, 401, 403, 404, 503)
 *   POST  /admin/cache/warm      → 200 CacheWarmed                   (400, 401, 403, 503)
 */
import { AUTH_ERROR_CODES } from '@flashsale/auth'
import { FAULT_ERROR_CODES } from '@flashsale/faults'
import { SHARED_ERROR_CODES, errorCodesOf } from '@flashsale/service-defaults'
import * as errors from './errors.ts'
import Type, { type Static } from 'typebox'
import type { ActiveSale as ActiveSaleRecord } from './domain/active-sales.ts'
import { SORT_FIELDS, type Product as ProductRecord } from './domain/product.ts'

/** The service's OpenAPI document: its title and description (the routes come from the code). */
export const OPENAPI_INFO = {
  title: 'Flash sale: catalog service',
  description:
    'Products (cached reads, keyset-paged lists from the replicas, admin writes) and the active-sales view with approximate units left. Errors are RFC 9457 problem+json with a stable `code` (503 with Retry-After while a datastore or the inventory cannot answer).',
}

// ---------------------------------------------------------------------------------------------- requests

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

// --------------------------------------------------------------------------------------------- answers

const Timestamp = (description: string) => Type.String({ format: 'date-time', description })

/** A product as domain/product.ts has it (and the cache keeps it): every column of catalog.products. */
export const Product = Type.Object(
  {
    id: Type.String({ description: 'product id' }),
    sku: Type.String({ description: 'SKU: never changes (sales, orders and reviews refer to the product by it)' }),
    name: Type.String(),
    category: Type.String({ description: 'category slug' }),
    priceCents: Type.Integer({ minimum: 0, description: 'price in integer cents (catalog.products.price_cents is an int)' }),
    imageUrl: Type.String({ description: "http(s) URL, or '' when the product has none" }),
    description: Type.String({ description: "'' when the product has none" }),
    createdAt: Timestamp('ISO 8601, millisecond precision'),
    updatedAt: Timestamp('ISO 8601, millisecond precision; the last admin change'),
  },
  { additionalProperties: false, title: 'Product' },
)

/** GET /products/:id, POST /admin/products (201), PATCH /admin/products/:id. */
export const ProductAnswer = Type.Object({ product: Product }, { additionalProperties: false, title: 'ProductAnswer' })

/** GET /products: one keyset page. */
export const ProductPage = Type.Object(
  {
    products: Type.Array(Product),
    nextCursor: Type.Union([Type.String(), Type.Null()], {
      description: 'pass as ?cursor= (with the same category, sort and order) for the next page; null on the last page',
    }),
  },
  { additionalProperties: false, title: 'ProductPage' },
)

/** The catalog's product of a sale's SKU, as GET /sales/active joins it. */
const SaleProduct = Type.Object(
  {
    id: Type.String({ description: 'product id' }),
    name: Type.String(),
    priceCents: Type.Integer({ minimum: 0, description: 'the catalog price in integer cents' }),
    imageUrl: Type.String({ description: "http(s) URL, or ''" }),
  },
  { additionalProperties: false, title: 'SaleProduct' },
)

/** A sale as the inventory describes it (ports.ts SaleSummary), with the catalog's product of its SKU. */
export const ActiveSale = Type.Object(
  {
    id: Type.String({ description: 'sale id (inventory)' }),
    sku: Type.String(),
    title: Type.String(),
    startsAt: Timestamp('ISO 8601, as the inventory gives it'),
    endsAt: Timestamp('ISO 8601, as the inventory gives it'),
    state: Type.String({ description: "the sale's state at the inventory (e.g. scheduled, active); closed sales are not listed" }),
    status: Type.Union([Type.Literal('open'), Type.Literal('not_open')], {
      description: "the inventory stock gate's view at the time of the read: only open and not-yet-open sales are listed",
    }),
    approximateAvailable: Type.Union([Type.Integer(), Type.Null()], {
      description: 'units left per the stock gate a moment ago (display only; the gate decides at reservation); null when the gate could not be read',
    }),
    product: Type.Union([SaleProduct, Type.Null()], { description: 'null when the catalog has no product with this SKU' }),
  },
  { additionalProperties: false, title: 'ActiveSale' },
)

/** GET /sales/active. */
export const ActiveSales = Type.Object(
  {
    approximate: Type.Literal(true, { description: 'always true: units left are a moment old and cached for about a second' }),
    asOf: Timestamp('when this answer was made (ISO 8601)'),
    sales: Type.Array(ActiveSale),
  },
  { additionalProperties: false, title: 'ActiveSales' },
)

/** POST /admin/cache/warm. */
export const CacheWarmed = Type.Object(
  { warmed: Type.Integer({ minimum: 0, description: 'products loaded into the cache (SKUs without a product are not counted)' }) },
  { additionalProperties: false, title: 'CacheWarmed' },
)

// tsc fails here when an answer schema and the domain type a handler sends disagree: a field missing on
// either side (the serializer would drop it, or fail on it), or a different type or optionality.
type Agree<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
type Assert<T extends true> = T
type _ProductAgrees = Assert<Agree<Static<typeof Product>, ProductRecord>>
type _ActiveSaleAgrees = Assert<Agree<Static<typeof ActiveSale>, Omit<ActiveSaleRecord, 'status'> & { status: 'open' | 'not_open' }>>

// ----------------------------------------------------------------------------------------------- errors

/**
 * Every `code` of a problem this service answers: its own (every error src/errors.ts defines), those of the
 * shared layers (@flashsale/service-defaults: a request that fails its schema, text that cannot be stored, a
 * datastore outage; @flashsale/auth's 401/403; @flashsale/faults': a drill's injected error, /admin/faults
 * without Redis). HTTP-level answers that carry `type: about:blank` (NOT_FOUND for an unknown route, FST_*
 * such as 413 body too large, INTERNAL) are not service codes and are not listed.
 */
export const ERROR_CODES = [...errorCodesOf(errors), ...SHARED_ERROR_CODES, ...AUTH_ERROR_CODES, ...FAULT_ERROR_CODES] as const
