/**
 * A deterministic, realistic catalog: the same (seed, count) gives the same products on every machine,
 * byte for byte, so the demo, k6 scenarios and tests can name products without asking. Ids and SKUs are
 * positional (`prod-000001`, `SKU-000001`) whatever the seed; the seed chooses names, categories, prices
 * and descriptions. Pure: no I/O.
 */
import type { NewProduct } from './product.ts'

/** mulberry32: a tiny 32-bit PRNG with a full 2^32 period; plenty for made-up catalogs, not for secrets. */
export function createPrng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

interface CategorySpec {
  readonly slug: string
  readonly nouns: readonly string[]
  /** Price range in cents; prices are log-uniform inside it, ending in 99. */
  readonly min: number
  readonly max: number
}

const CATEGORIES: readonly CategorySpec[] = [
  { slug: 'phones', nouns: ['Smartphone', 'Phone Case', 'Charger', 'Screen Protector', 'Power Bank'], min: 999, max: 149_999 },
  { slug: 'laptops', nouns: ['Laptop', 'Ultrabook', 'Laptop Stand', 'Docking Station', 'Laptop Sleeve'], min: 1_999, max: 349_999 },
  { slug: 'audio', nouns: ['Headphones', 'Earbuds', 'Speaker', 'Soundbar', 'Turntable'], min: 1_499, max: 79_999 },
  { slug: 'gaming', nouns: ['Console', 'Controller', 'Gaming Mouse', 'Keyboard', 'Headset'], min: 1_999, max: 69_999 },
  { slug: 'home', nouns: ['Lamp', 'Blender', 'Coffee Maker', 'Air Purifier', 'Vacuum'], min: 1_499, max: 89_999 },
  { slug: 'kitchen', nouns: ['Knife Set', 'Frying Pan', 'Cutting Board', 'Kettle', 'Mixing Bowl'], min: 799, max: 29_999 },
  { slug: 'fashion', nouns: ['Sneakers', 'Jacket', 'Backpack', 'Watch', 'Sunglasses'], min: 1_499, max: 59_999 },
  { slug: 'sports', nouns: ['Yoga Mat', 'Dumbbell Set', 'Running Shoes', 'Water Bottle', 'Bike Helmet'], min: 999, max: 39_999 },
  { slug: 'books', nouns: ['Novel', 'Cookbook', 'Travel Guide', 'Comic', 'Notebook'], min: 499, max: 4_999 },
  { slug: 'toys', nouns: ['Building Set', 'Puzzle', 'Board Game', 'Plush Toy', 'RC Car'], min: 699, max: 19_999 },
  { slug: 'beauty', nouns: ['Hair Dryer', 'Face Cream', 'Perfume', 'Shaver', 'Makeup Kit'], min: 699, max: 24_999 },
  { slug: 'garden', nouns: ['Hose', 'Planter', 'Lawn Mower', 'Garden Chair', 'Grill'], min: 999, max: 99_999 },
]
const BRANDS = ['Acme', 'Nordlys', 'Vertex', 'Kumo', 'Brightline', 'Pebble', 'Solace', 'Tandem', 'Orbit', 'Maple', 'Quanta', 'Riviera']
const ADJECTIVES = ['Classic', 'Pro', 'Lite', 'Ultra', 'Compact', 'Wireless', 'Smart', 'Eco', 'Deluxe', 'Mini', 'Max', 'Essential']
const COLORS = ['Black', 'White', 'Silver', 'Navy', 'Red', 'Forest Green', 'Sand', 'Graphite', 'Sky Blue', 'Coral']
const PHRASES = [
  'Built to last and easy to love.',
  'Our best seller, now even better.',
  'Designed for everyday use.',
  'A favourite of reviewers this season.',
  'Lightweight, durable and ready to go.',
  'Ships in recyclable packaging.',
]

const pick = <T>(rand: () => number, list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T

export function productId(index: number): string {
  return `prod-${String(index).padStart(6, '0')}`
}

export function productSku(index: number): string {
  return `SKU-${String(index).padStart(6, '0')}`
}

/** Products 1..count for `seed`. The i-th product depends only on (seed, i): a larger count extends the catalog. */
export function generateCatalog(seed: number, count: number): NewProduct[] {
  const products: NewProduct[] = []
  for (let i = 1; i <= count; i++) {
    // One PRNG per product, seeded from (seed, i): a product never changes when `count` changes.
    const rand = createPrng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i, 0x85ebca77)) >>> 0)
    const category = pick(rand, CATEGORIES)
    const noun = pick(rand, category.nouns)
    const brand = pick(rand, BRANDS)
    const name = `${brand} ${pick(rand, ADJECTIVES)} ${noun} (${pick(rand, COLORS)})`
    const price = Math.exp(Math.log(category.min) + rand() * (Math.log(category.max) - Math.log(category.min)))
    const priceCents = Math.max(99, Math.floor(price / 100) * 100 + 99)
    const sku = productSku(i)
    products.push({
      id: productId(i),
      sku,
      name,
      category: category.slug,
      priceCents,
      imageUrl: `https://picsum.photos/seed/${sku}/600/600`,
      description: `${name} by ${brand}. ${pick(rand, PHRASES)} ${pick(rand, PHRASES)}`,
    })
  }
  return products
}
