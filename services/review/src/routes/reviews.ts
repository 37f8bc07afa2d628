/**
 * Reviews of a product.
 *   GET  /products/:id/reviews   newest first, ?limit=1..50&cursor=<id of the last review seen>
 *   GET  /products/:id/rating    { count, average, histogram }
 *   POST /products/:id/reviews   a buyer's review: verified buyers only (403), once per product (409)
 */
import type { FastifyInstance } from 'fastify'
import { DirectoryUnavailable, type ReviewContext } from '../domain/ports.ts'
import { listReviews, productRating } from '../domain/read-reviews.ts'
import { writeReview } from '../domain/write-review.ts'
import { AlreadyReviewed, CatalogUnavailable, NotVerifiedBuyer, ProductNotFound } from '../errors.ts'
import { DEFAULT_PAGE_SIZE, ProductIdParams, ReviewBody, ReviewsQuery } from './schemas.ts'

export async function reviewRoutes(app: FastifyInstance, { ctx }: { ctx: ReviewContext }): Promise<void> {
  app.get<{ Params: ProductIdParams; Querystring: ReviewsQuery }>(
    '/products/:id/reviews',
    { schema: { params: ProductIdParams, querystring: ReviewsQuery } },
    async (request) =>
      listReviews(ctx, request.params.id, {
        limit: request.query.limit ?? DEFAULT_PAGE_SIZE,
        ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
        ...(request.user ? { reader: request.user.userId } : {}),
      }),
  )

  app.get<{ Params: ProductIdParams }>('/products/:id/rating', { schema: { params: ProductIdParams } }, async (request) => ({
    productId: request.params.id,
    ...(await productRating(ctx, request.params.id)),
  }))

  app.post<{ Params: ProductIdParams; Body: ReviewBody }>(
    '/products/:id/reviews',
    { onRequest: app.requireUser, schema: { params: ProductIdParams, body: ReviewBody } },
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
          throw Object.assign(new CatalogUnavailable(), { retryAfterSeconds: 1 })
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
