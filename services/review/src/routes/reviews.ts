/**
 * Reviews of a product.
 *   GET  /products/:id/reviews   newest first, ?limit=1..50&cursor=<id of the last review seen>
 *   GET  /products/:id/rating    { count, average, histogram }
 *   POST /products/:id/reviews   a buyer's review: verified buyers only (403), once per product (409)
 */
import type { FastifyInstance } from 'fastify'
import { jsonResponse, problemResponses } from '@flashsale/service-defaults'
import { DEFAULT_PAGE_SIZE, ProductIdParams, Rating, ReviewAnswer, ReviewBody, ReviewPage, ReviewsQuery } from '../contract.ts'
import { DirectoryUnavailable, type ReviewContext } from '../domain/ports.ts'
import { listReviews, productRating } from '../domain/read-reviews.ts'
import { writeReview } from '../domain/write-review.ts'
import { AlreadyReviewed, CatalogUnavailable, NotVerifiedBuyer, ProductNotFound } from '../errors.ts'

const UNAVAILABLE = 'PostgreSQL cannot answer (SERVICE_ERR_DEPENDENCY_UNAVAILABLE); retry after Retry-After'

export async function reviewRoutes(app: FastifyInstance, { ctx }: { ctx: ReviewContext }): Promise<void> {
  app.get<{ Params: ProductIdParams; Querystring: ReviewsQuery }>(
    '/products/:id/reviews',
    {
      schema: {
        summary: "A product's reviews, newest first, one page at a time",
        tags: ['review'],
        params: ProductIdParams,
        querystring: ReviewsQuery,
        response: {
          200: jsonResponse('A page of reviews (none for a product the catalog does not know), and the cursor of the next page', ReviewPage),
          ...problemResponses({ 503: UNAVAILABLE }),
        },
      },
    },
    async (request) =>
      listReviews(ctx, request.params.id, {
        limit: request.query.limit ?? DEFAULT_PAGE_SIZE,
        ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
        ...(request.user ? { reader: request.user.userId } : {}),
      }),
  )

  app.get<{ Params: ProductIdParams }>(
    '/products/:id/rating',
    {
      schema: {
        summary: "A product's rating: count, average and histogram",
        tags: ['review'],
        params: ProductIdParams,
        response: {
          200: jsonResponse('The rating (empty for a product without reviews, or one the catalog does not know)', Rating),
          ...problemResponses({ 503: UNAVAILABLE }),
        },
      },
    },
    async (request) => ({
      productId: request.params.id,
      ...(await productRating(ctx, request.params.id)),
    }),
  )

  app.post<{ Params: ProductIdParams; Body: ReviewBody }>(
    '/products/:id/reviews',
    {
      onRequest: app.requireUser,
      schema: {
        summary: "Writes the caller's review of a product: verified buyers only, once per product",
        tags: ['review'],
        params: ProductIdParams,
        body: ReviewBody,
        response: {
          201: jsonResponse('The review as stored', ReviewAnswer),
          ...problemResponses({
            401: 'No valid bearer token (AUTH_ERR_UNAUTHENTICATED)',
            403: 'The caller has no confirmed or paid order of this product (REVIEW_ERR_NOT_VERIFIED_BUYER)',
            404: 'The catalog has no such product (REVIEW_ERR_PRODUCT_NOT_FOUND)',
            409: 'The caller has already reviewed this product (REVIEW_ERR_ALREADY_REVIEWED); nothing was changed',
            503: 'The catalog cannot answer (REVIEW_ERR_CATALOG_UNAVAILABLE; nothing was stored), or PostgreSQL cannot (SERVICE_ERR_DEPENDENCY_UNAVAILABLE); retry after Retry-After',
          }),
        },
      },
    },
    async (request, reply) => {
      const productId = request.params.id
      const result = await writeReview(ctx, {
        productId,
        userId: request.user?.userId as string,
        rating: request.body.rating,
        title: request.body.title ?? '',
        body: request.body.body,
      }).catch((err: unknown) => {
        if (err instanceof DirectoryUnavailable) {
          request.log.warn({ err }, 'catalog unavailable for a review write')
          throw new CatalogUnavailable()
        }
        throw err
      })
      switch (result.outcome) {
        case 'product_not_found':
          throw new ProductNotFound(productId)
        case 'not_verified_buyer':
          throw new NotVerifiedBuyer(productId)
        case 'already_reviewed':
          throw new AlreadyReviewed(productId)
        case 'created':
          return reply.code(201).send({ review: result.review })
      }
    },
  )
}
