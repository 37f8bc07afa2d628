import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SCRIPT = join(import.meta.dirname, '..', '..', '..', 'infra', 'local', 'dataset.sh')
const dataset = async (command: string, state: string) => (await run(SCRIPT, [command, state])).stdout.trim()

// infra/local/dataset.sh: infra-up starts only a state dir whose PostgreSQL, Redis and Kafka data belong to one
// dataset. Seen in CI: a new PostgreSQL formation beside an old Kafka log made verify find 250 orders "lost".
describe('the stack dataset id (infra/local/dataset.sh)', () => {
  let state: string
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'flashsale-dataset-'))
  })
  afterEach(() => rmSync(state, { recursive: true, force: true }))

  const holdData = (part: string) => {
    mkdirSync(join(state, part), { recursive: true })
    writeFileSync(join(state, part, 'some-data'), 'x')
  }

  it('a state dir with no data is fresh; marked, every part holds the same id', async () => {
    assert.equal(await dataset('verdict', state), 'fresh')
    mkdirSync(join(state, 'kafka')) // an empty dir is no data
    assert.equal(await dataset('verdict', state), 'fresh')
    const id = await dataset('mark', state)
    assert.match(id, /^[0-9a-f-]{36}$/)
    assert.equal(await dataset('verdict', state), `same ${id}`)
    for (const part of ['pg', 'redis', 'kafka']) holdData(part)
    assert.equal(await dataset('verdict', state), `same ${id}`, 'data written after the mark keeps the verdict')
  })

  it('a part made afresh beside the others is mixed', async () => {
    const id = await dataset('mark', state)
    for (const part of ['pg', 'redis', 'kafka']) holdData(part)
    rmSync(join(state, 'pg'), { recursive: true })
    assert.equal(await dataset('verdict', state), `mixed pg=none redis=${id} kafka=${id}`)
    await dataset('mark', state) // a second mark is a different dataset...
    writeFileSync(join(state, 'kafka', 'dataset-id'), `${id}\n`) // ...unless a part still holds the old one
    assert.match(await dataset('verdict', state), new RegExp(`^mixed pg=\\S+ redis=\\S+ kafka=${id}$`))
  })

  it('data made before dataset ids is mixed, even when every part holds some', async () => {
    for (const part of ['pg', 'redis', 'kafka']) holdData(part)
    assert.equal(await dataset('verdict', state), 'mixed pg=unmarked redis=unmarked kafka=unmarked')
    rmSync(join(state, 'redis'), { recursive: true })
    assert.equal(await dataset('verdict', state), 'mixed pg=unmarked redis=none kafka=unmarked')
  })

  it('set-aside moves every part away, nothing deleted, and leaves a fresh state dir', async () => {
    holdData('pg')
    holdData('kafka')
    const aside = await dataset('set-aside', state)
    assert.ok(aside.startsWith(join(state, 'set-aside')))
    assert.deepEqual(readdirSync(aside).sort(), ['kafka', 'pg'])
    assert.ok(existsSync(join(aside, 'pg', 'some-data')))
    assert.equal(await dataset('verdict', state), 'fresh')
  })

  it('a wrong command is refused with its usage and exit code 2', async () => {
    await assert.rejects(run(SCRIPT, ['verdit', state]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2)
      assert.match(err.stderr, /usage: .*verdict\|mark\|set-aside STATE_DIR/)
      return true
    })
    await assert.rejects(run(SCRIPT, ['verdict']), { code: 2 })
  })
})
