import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { admissionRate } from '../../src/waiting-room/rooms.ts'

describe('admission rate', () => {
  const o = { share: 0.75, startRate: 100, maxRate: 2_000 }
  test('a share of the measured capacity', () => {
    assert.equal(admissionRate(400, o), 300)
  })
  test('the start rate until the order path is measured', () => {
    assert.equal(admissionRate(undefined, o), 100)
    assert.equal(admissionRate(0, o), 100)
  })
  test('never above the ceiling', () => {
    assert.equal(admissionRate(1e6, o), 2_000)
  })
})
