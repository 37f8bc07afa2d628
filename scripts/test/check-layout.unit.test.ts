/** The layout check finds each kind of breach, and accepts what the layout allows (a temporary tree, no servers). */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, describe, it } from 'node:test'
import { checkLayout } from '../check-layout.ts'

const lines = (n: number, header = '') => header + Array.from({ length: n - header.split('\n').length + 1 }, (_, i) => `const x${i} = ${i}`).join('\n') + '\n'

describe('make layout-check', () => {
  const root = mkdtempSync(join(tmpdir(), 'layout-'))
  after(() => rmSync(root, { recursive: true, force: true }))
  const put = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }

  it('names a long entry point, a long source without a reason, and a test folder src/ does not have', () => {
    put('services/shop/src/server.ts', lines(26))
    put('services/shop/src/worker.ts', lines(25))
    put('services/shop/src/big.ts', lines(301))
    put('services/shop/src/domain/ok.ts', lines(300))
    put('services/shop/test/domain/ok.test.ts', '')
    put('services/shop/test/routes/a.test.ts', '')
    put('services/shop/test/fixtures/x/f.ts', '')
    put('packages/lib/src/why.ts', lines(400, '/**\n * A thing.\n *\n * Why one file: one state machine.\n */\n'))
    put('tools/tool/src/server.ts', lines(30))
    put('tools/tool/src/long.ts', lines(400))
    const breaches = checkLayout(root).sort()
    assert.equal(breaches.length, 4, breaches.join('\n'))
    assert.match(breaches[0]!, /^services\/shop\/src\/big\.ts: 301 lines \(at most 300\)/)
    assert.match(breaches[1]!, /^services\/shop\/src\/server\.ts: 26 lines, an entry point has at most 25/)
    assert.match(breaches[2]!, /^services\/shop\/test\/routes: no services\/shop\/src\/routes; test\/ mirrors src\//)
    assert.match(breaches[3]!, /^tools\/tool\/src\/server\.ts: 30 lines/)
  })

  it('passes the repository itself', () => {
    assert.deepEqual(checkLayout(join(import.meta.dirname, '..', '..')), [])
  })
})
