import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { createTestDatabase, type TestDatabase } from '@flashsale/testkit'
import type pg from 'pg'
import { createPool, migrate, MigrationError } from '../src/index.ts'

const CLI = join(import.meta.dirname, '..', 'src', 'bin', 'migrate.ts')

describe('migrate on the real primary', () => {
  let db: TestDatabase
  let pool: pg.Pool
  const dirs: string[] = []

  /** A fresh migrations directory with the given files. */
  async function migrations(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'migrations-'))
    dirs.push(dir)
    for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql)
    return dir
  }
  const recorded = async (schema: string) =>
    (await pool.query<{ version: number; name: string }>(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY applied_at, version`)).rows

  before(async () => {
    db = await createTestDatabase('db_migrate')
    pool = createPool(db.primaryUrl, { role: 'primary', name: 'migrate-test', max: 4 })
  })
  after(async () => {
    await pool?.end()
    await db?.cleanup()
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  })

  it('applies the files in version order, each recorded with its name', async () => {
    // 0002 needs the table of 0001 and 0010 the column of 0002: any other order fails.
    const dir = await migrations({
      '0010_index_name.sql': 'CREATE INDEX items_name ON s1.items (name);',
      '0002_add_name.sql': 'ALTER TABLE s1.items ADD COLUMN name text;',
      '0001_create_items.sql': 'CREATE TABLE s1.items (id int PRIMARY KEY);',
      'README.md': 'not a migration',
    })
    const applied = await migrate(pool, { dir, schema: 's1' })
    assert.deepEqual(
      applied.map((m) => m.file),
      ['0001_create_items.sql', '0002_add_name.sql', '0010_index_name.sql'],
    )
    assert.deepEqual(await recorded('s1'), [
      { version: 1, name: 'create_items' },
      { version: 2, name: 'add_name' },
      { version: 10, name: 'index_name' },
    ])
  })

  it('applies nothing when re-run, and only the new file when one is added', async () => {
    const files = { '0001_create.sql': 'CREATE TABLE s2.t (id int);', '0002_seed.sql': 'INSERT INTO s2.t VALUES (1);' }
    const dir = await migrations(files)
    assert.equal((await migrate(pool, { dir, schema: 's2' })).length, 2)
    assert.deepEqual(await migrate(pool, { dir, schema: 's2' }), [])
    await writeFile(join(dir, '0003_more.sql'), 'INSERT INTO s2.t VALUES (2);')
    assert.deepEqual(
      (await migrate(pool, { dir, schema: 's2' })).map((m) => m.version),
      [3],
    )
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM s2.t')).rows[0]?.n, 2, 'the seed ran once')
  })

  it('refuses to run when an applied file was edited, naming the file', async () => {
    const dir = await migrations({ '0001_create.sql': 'CREATE TABLE s3.t (id int);', '0002_other.sql': 'SELECT 1;' })
    await migrate(pool, { dir, schema: 's3' })
    await writeFile(join(dir, '0001_create.sql'), 'CREATE TABLE s3.t (id bigint);')
    await writeFile(join(dir, '0003_new.sql'), 'CREATE TABLE s3.never (id int);')
    await assert.rejects(migrate(pool, { dir, schema: 's3' }), (err: unknown) => {
      assert.ok(err instanceof MigrationError)
      assert.equal(err.code, 'DB_ERR_MIGRATION_CHECKSUM')
      assert.deepEqual(err.files, ['0001_create.sql'])
      assert.match(err.message, /0001_create\.sql/)
      return true
    })
    assert.equal((await pool.query(`SELECT to_regclass('s3.never') AS t`)).rows[0]?.t, null, 'nothing after the refusal ran')
  })

  it('rejects badly named files, naming each, before touching the database', async () => {
    const dir = await migrations({ '1_short.sql': 'SELECT 1;', '0002-dash.sql': 'SELECT 1;', '0003_ok.sql': 'CREATE SCHEMA never_made;' })
    await assert.rejects(migrate(pool, { dir, schema: 's4' }), (err: unknown) => {
      assert.ok(err instanceof MigrationError)
      assert.equal(err.code, 'DB_ERR_MIGRATION_FILE_NAME')
      assert.deepEqual([...err.files].sort(), ['0002-dash.sql', '1_short.sql'])
      return true
    })
    assert.equal((await pool.query(`SELECT to_regnamespace('s4') AS s`)).rows[0]?.s, null)
  })

  it('rejects two files with the same version', async () => {
    const dir = await migrations({ '0001_a.sql': 'SELECT 1;', '0001_b.sql': 'SELECT 1;' })
    await assert.rejects(migrate(pool, { dir, schema: 's5' }), { code: 'DB_ERR_MIGRATION_DUPLICATE_VERSION' })
  })

  it('rolls back a failing file whole and records only the files before it', async () => {
    const dir = await migrations({
      '0001_ok.sql': 'CREATE TABLE s6.a (id int);',
      '0002_broken.sql': 'CREATE TABLE s6.b (id int); SELEC oops;',
      '0003_after.sql': 'CREATE TABLE s6.c (id int);',
    })
    await assert.rejects(
      migrate(pool, { dir, schema: 's6' }),
      (err: unknown) => err instanceof MigrationError && err.code === 'DB_ERR_MIGRATION_FAILED' && err.files[0] === '0002_broken.sql',
    )
    assert.deepEqual(
      (await recorded('s6')).map((r) => r.version),
      [1],
    )
    const { rows } = await pool.query(`SELECT to_regclass('s6.a') IS NOT NULL AS a, to_regclass('s6.b') IS NOT NULL AS b, to_regclass('s6.c') IS NOT NULL AS c`)
    assert.deepEqual(rows[0], { a: true, b: false, c: false })
    // The lock went with the failed session: a fixed run goes through.
    await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE s6.b (id int);')
    assert.deepEqual(
      (await migrate(pool, { dir, schema: 's6' })).map((m) => m.version),
      [2, 3],
    )
  })

  it('applies each file exactly once when two processes migrate at the same time', async () => {
    const dir = await migrations({
      // The sleep keeps the first caller inside its run while the second arrives.
      '0001_create.sql': "CREATE TABLE s7.runs (file text); SELECT pg_sleep(0.3); INSERT INTO s7.runs VALUES ('0001');",
      '0002_seed.sql': "INSERT INTO s7.runs VALUES ('0002');",
    })
    // Two pools: two sessions, as two service instances booting together would have.
    const other = createPool(db.primaryUrl, { role: 'primary', name: 'migrate-test-2', max: 1 })
    try {
      const [a, b] = await Promise.all([migrate(pool, { dir, schema: 's7' }), migrate(other, { dir, schema: 's7' })])
      assert.deepEqual([...a, ...b].map((m) => m.file).sort(), ['0001_create.sql', '0002_seed.sql'])
      const { rows } = await pool.query('SELECT file, count(*)::int AS n FROM s7.runs GROUP BY file ORDER BY file')
      assert.deepEqual(rows, [
        { file: '0001', n: 1 },
        { file: '0002', n: 1 },
      ])
    } finally {
      await other.end()
    }
  })

  it('has a CLI that applies a directory and prints what it applied', async () => {
    const dir = await migrations({ '0001_create.sql': 'CREATE TABLE s8.t (id int);' })
    const run = () => promisify(execFile)(process.execPath, [CLI, '--dir', dir, '--schema', 's8'], { env: { ...process.env, PG_PRIMARY_URL: db.primaryUrl } })
    assert.match((await run()).stdout, /s8: applied 0001_create\.sql/)
    assert.match((await run()).stdout, /s8: up to date, nothing to apply/)
  })
})
