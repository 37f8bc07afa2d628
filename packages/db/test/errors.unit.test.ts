import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { isConnectionError } from '../src/errors.ts'

const dbError = (code: string) => Object.assign(new pg.DatabaseError('x', 1, 'error'), { code })

describe('isConnectionError', () => {
  it('another server may succeed: connection class 08, shutdowns, too many connections, and 25006 (the node is read-only now)', () => {
    for (const code of ['08006', '57P01', '57P03', '53300', '25006']) assert.equal(isConnectionError(dbError(code)), true, code)
    assert.equal(isConnectionError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), true)
  })
  it('the statement is at fault wherever it runs: constraint, syntax, serialization, statement timeout; and our own TypeErrors', () => {
    for (const code of ['23505', '42601', '40001', '57014']) assert.equal(isConnectionError(dbError(code)), false, code)
    assert.equal(isConnectionError(new TypeError('bad argument')), false)
  })
})
