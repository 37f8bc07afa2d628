/** Names the service and the seed command must agree on, or the seed's ids and invalidations miss the running cache. */
export const PRODUCT_BLOOM_NAME = 'catalog-products'
export const PRODUCT_CACHE = { name: 'products', prefix: 'catalog:product:' } as const
export const SALES_CACHE = { name: 'sales', prefix: 'catalog:sales:' } as const
