/**
 * A shopper's reads through the gateway, with a realistic mix: product pages (popular products much more
 * often: a skewed pick over the seeded catalog), category lists with paging, the reviews of a product,
 * the sale page, and now and then a product that does not exist (the Bloom filter answers 404 without a query).
 *
 * Ids come from the deterministic catalog seed (services/catalog/src/domain/seed-catalog.ts: prod-000001
 * ... prod-<CATALOG_COUNT>, SKU-000001 ..., 12 category slugs): `node services/catalog/src/bin/seed.ts`.
 */
import http from 'k6/http'
import { GATEWAY_URL, intEnv, numberEnv } from './env.js'
import { recordRead } from './outcomes.js'
import { clientHeaders } from './users.js'

export const CATEGORIES = ['phones', 'laptops', 'audio', 'gaming', 'home', 'kitchen', 'fashion', 'sports', 'books', 'toys', 'beauty', 'garden']
/** Products in the seeded catalog (the seed's --count, 10,000 by default). */
export const CATALOG_COUNT = intEnv('CATALOG_COUNT', 10_000, { min: 1 })
/** Popularity skew: product i is picked with a density ~ i^(1/s - 1); 3 puts ~46% of reads on the top 10%. */
const SKEW = numberEnv('PRODUCT_SKEW', 3, { min: 1, max: 10 })

export const productId = (i) => `prod-${String(i).padStart(6, '0')}`
export const popularProductId = () => productId(Math.floor(CATALOG_COUNT * Math.random() ** SKEW) + 1)
/** An id that the seed never makes (the catalog answers 404 from its Bloom filter). */
export const missingProductId = () => `prod-9${String(Math.floor(Math.random() * 99_999)).padStart(5, '0')}x`
const pick = (list) => list[Math.floor(Math.random() * list.length)]

/** `who`: {ip, token?, group, bare?}; bare = a scripted client's headers (no Accept), as bots send. */
function get(path, name, endpoint, { ip, token, group = 'user', bare = false }) {
  const headers = bare ? { 'x-forwarded-for': ip, ...(token ? { authorization: `Bearer ${token}` } : {}) } : clientHeaders(ip, token)
  const res = http.get(`${GATEWAY_URL}${path}`, { headers, tags: { name, group }, timeout: '10s' })
  recordRead(res, { endpoint, group })
  return res
}

export const readProduct = (who, id = popularProductId()) => get(`/products/${id}`, 'GET /products/:id', 'product', who)
export const readReviews = (who, id = popularProductId()) => get(`/products/${id}/reviews?limit=10`, 'GET /products/:id/reviews', 'reviews', who)
export const readSale = (who, saleId) => get(`/sales/${encodeURIComponent(saleId)}`, 'GET /sales/:id', 'sale', who)
export const readMyOrders = (who) => get('/users/me/orders?limit=10', 'GET /users/me/orders', 'my_orders', who)

export function readList(who) {
  const category = pick(CATEGORIES)
  const res = get(`/products?category=${category}&limit=20`, 'GET /products', 'list', who)
  // A third of shoppers look at the next page too.
  if (res.status === 200 && Math.random() < 0.33) {
    let cursor
    try {
      cursor = res.json('nextCursor')
    } catch {
      cursor = undefined
    }
    if (cursor) get(`/products?category=${category}&limit=20&cursor=${encodeURIComponent(cursor)}`, 'GET /products (next page)', 'list', who)
  }
  return res
}

/**
 * One shopper's visit: a weighted pick of what people do on a shop during a sale. The product page is
 * followed by its reviews half of the time (the page loads them), as a browser would.
 *   50% product page (+ reviews half of the time) · 20% category list (+ next page a third of the time)
 *   15% reviews alone · 10% the sale page (when SALE_ID is known; else a product page) · 5% a missing product
 */
export function browseOnce(who, { saleId } = {}) {
  const r = Math.random()
  if (r < 0.5) {
    const id = popularProductId()
    readProduct(who, id)
    if (Math.random() < 0.5) readReviews(who, id)
  } else if (r < 0.7) readList(who)
  else if (r < 0.85) readReviews(who)
  else if (r < 0.95) {
    if (saleId) readSale(who, saleId)
    else readProduct(who)
  } else readProduct(who, missingProductId())
}
