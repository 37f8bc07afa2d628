import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { deadLetterHeaders, DeadLetterHeaderError, DLQ_ERROR_MESSAGE_MAX_LENGTH, DLQ_HEADERS, parseDeadLetter, type DeadLetterReason } from '../src/index.ts'

const reason: DeadLetterReason = {
  errorClass: 'DatabaseError',
  errorMessage: 'could not serialize access due to concurrent update',
  attempts: 5,
  firstFailureAt: new Date('2025-11-22T10:00:00.000Z'),
  lastFailureAt: new Date('2025-11-22T10:00:03.250Z'),
  origin: { topic: 'orders.requested', partition: 7, offset: '9007199254740993' },
}
const original = { 'event-type': 'order.requested', 'trace-id': 'abc' }

function letter(headers: Record<string, string>) {
  return { key: 'user-1', value: Buffer.from('{"orderId":"o-1"}'), headers }
}

function without(name: string): Record<string, string> {
  const h = deadLetterHeaders(original, reason)
  delete h[name]
  return h
}

describe('dead letter headers', () => {
  it('names every header in one place, all with the dlq- prefix', () => {
    assert.deepEqual(Object.values(DLQ_HEADERS).sort(), [
      'dlq-attempts',
      'dlq-error-class',
      'dlq-error-message',
      'dlq-first-failure-at',
      'dlq-last-failure-at',
      'dlq-origin-offset',
      'dlq-origin-partition',
      'dlq-origin-topic',
    ])
  })

  it('writes the reason as strings beside the original headers: ISO-8601 times, decimal numbers, the offset as given', () => {
    assert.deepEqual(deadLetterHeaders(original, reason), {
      'event-type': 'order.requested',
      'trace-id': 'abc',
      'dlq-error-class': 'DatabaseError',
      'dlq-error-message': 'could not serialize access due to concurrent update',
      'dlq-attempts': '5',
      'dlq-first-failure-at': '2025-11-22T10:00:00.000Z',
      'dlq-last-failure-at': '2025-11-22T10:00:03.250Z',
      'dlq-origin-topic': 'orders.requested',
      'dlq-origin-partition': '7',
      'dlq-origin-offset': '9007199254740993',
    })
  })

  it('reads back what it wrote, the original headers apart and a 64-bit offset exact', () => {
    const parsed = parseDeadLetter(letter(deadLetterHeaders(original, reason)))
    assert.deepEqual(parsed, { key: 'user-1', value: Buffer.from('{"orderId":"o-1"}'), originalHeaders: original, ...reason })
  })

  it('replaces dlq- headers left from an earlier dead-lettering instead of keeping two reasons', () => {
    const earlier = deadLetterHeaders(original, { ...reason, attempts: 1, errorClass: 'OldError' })
    const again = deadLetterHeaders(earlier, reason)
    assert.equal(again[DLQ_HEADERS.errorClass], 'DatabaseError')
    assert.deepEqual(parseDeadLetter(letter(again)).originalHeaders, original)
  })

  it(`cuts the error message to ${DLQ_ERROR_MESSAGE_MAX_LENGTH} characters`, () => {
    const h = deadLetterHeaders({}, { ...reason, errorMessage: 'e'.repeat(DLQ_ERROR_MESSAGE_MAX_LENGTH + 500) })
    assert.equal(h[DLQ_HEADERS.errorMessage]?.length, DLQ_ERROR_MESSAGE_MAX_LENGTH)
  })

  it('keeps a null key null', () => {
    assert.equal(parseDeadLetter({ key: null, value: Buffer.alloc(0), headers: deadLetterHeaders({}, reason) }).key, null)
  })

  for (const name of Object.values(DLQ_HEADERS)) {
    it(`rejects a message without ${name}, naming the header`, () => {
      assert.throws(
        () => parseDeadLetter(letter(without(name))),
        (err: unknown) => err instanceof DeadLetterHeaderError && err.header === name && err.message.includes('missing'),
      )
    })
  }

  const malformed: Array<[string, string]> = [
    [DLQ_HEADERS.attempts, '0'],
    [DLQ_HEADERS.attempts, '2.5'],
    [DLQ_HEADERS.attempts, 'five'],
    [DLQ_HEADERS.attempts, '-1'],
    [DLQ_HEADERS.originPartition, '-1'],
    [DLQ_HEADERS.originPartition, ''],
    [DLQ_HEADERS.originOffset, '-1'],
    [DLQ_HEADERS.originOffset, '12abc'],
    [DLQ_HEADERS.firstFailureAt, 'yesterday'],
    [DLQ_HEADERS.firstFailureAt, '2025-11-22 10:00:00'],
    [DLQ_HEADERS.lastFailureAt, '2025-02-30T10:00:00.000Z'],
    [DLQ_HEADERS.lastFailureAt, '1732269600000'],
  ]
  for (const [name, value] of malformed) {
    it(`rejects ${name}=${JSON.stringify(value)}, naming the header`, () => {
      assert.throws(
        () => parseDeadLetter(letter({ ...deadLetterHeaders(original, reason), [name]: value })),
        (err: unknown) => err instanceof DeadLetterHeaderError && err.header === name,
      )
    })
  }
})
