/**
 * Applies the migrations of a directory to the primary and prints what it applied.
 * Usage: PG_PRIMARY_URL=postgres://... node packages/db/src/bin/migrate.ts --dir services/order/migrations --schema orders
 */
import { parseArgs } from 'node:util'
import { createPool } from '../pool.ts'
import { migrate } from '../migrate.ts'

const { values } = parseArgs({ options: { dir: { type: 'string' }, schema: { type: 'string' } } })
const url = process.env['PG_PRIMARY_URL']
if (!values.dir || !values.schema || !url) {
  console.error('usage: PG_PRIMARY_URL=postgres://... node packages/db/src/bin/migrate.ts --dir <migrations dir> --schema <schema>')
  process.exit(2)
}

const pool = createPool(url, { role: 'primary', name: 'migrate', max: 1 })
try {
  const applied = await migrate(pool, { dir: values.dir, schema: values.schema })
  if (applied.length === 0) console.log(`${values.schema}: up to date, nothing to apply`)
  for (const m of applied) console.log(`${values.schema}: applied ${m.file}`)
} catch (err) {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err)
  process.exitCode = 1
} finally {
  await pool.end()
}
