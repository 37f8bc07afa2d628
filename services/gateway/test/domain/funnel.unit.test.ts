import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createCidrMatcher, normalizeCidr } from '../../src/domain/blocklist.ts'
import { createBotScorer } from '../../src/domain/bot-score.ts'

describe('CIDR blocklist matching', () => {
  test('normalizes addresses and ranges, refuses garbage', () => {
    assert.equal(normalizeCidr('10.0.0.1'), '10.0.0.1/32')
    assert.equal(normalizeCidr('10.0.0.0/8'), '10.0.0.0/8')
    assert.equal(normalizeCidr('2001:db8::/32'), '2001:db8::/32')
    assert.equal(normalizeCidr('::ffff:10.0.0.1'), '10.0.0.1/32')
    assert.equal(normalizeCidr('10.0.0.0/33'), undefined)
    assert.equal(normalizeCidr('hello'), undefined)
  })

  test('matches IPv4, IPv6 and IPv4-mapped IPv6 clients against the right family only', () => {
    const blocked = createCidrMatcher(['203.0.113.0/24', '2001:db8::/32', 'junk'])
    assert.equal(blocked('203.0.113.9'), true)
    assert.equal(blocked('::ffff:203.0.113.9'), true)
    assert.equal(blocked('203.0.114.1'), false)
    assert.equal(blocked('2001:db8::1'), true)
    assert.equal(blocked('2001:db9::1'), false)
    assert.equal(blocked('not-an-ip'), false)
  })
})

describe('bot score', () => {
  let t = 0
  const scorer = () => createBotScorer({ windowMs: 10_000, rateThreshold: 5, usersThreshold: 2, throttleScore: 2, blockScore: 4, now: () => t })
  const browser = { hasUserAgent: true, hasAccept: true }

  test('an ordinary client scores 0', () => {
    const s = scorer()
    assert.deepEqual(s.observe({ ip: '1.1.1.1', userId: 'u', ...browser }), { score: 0, action: 'allow', reasons: [] })
  })

  test('too many requests in the window throttle; the window resets', () => {
    t = 0
    const s = scorer()
    for (let i = 0; i < 5; i++) assert.equal(s.observe({ ip: '1.1.1.2', ...browser }).action, 'allow')
    assert.deepEqual(s.observe({ ip: '1.1.1.2', ...browser }), { score: 2, action: 'throttle', reasons: ['rate'] })
    t = 10_000
    assert.equal(s.observe({ ip: '1.1.1.2', ...browser }).action, 'allow')
  })

  test('many accounts from one address plus a missing header block', () => {
    t = 0
    const s = scorer()
    for (const u of ['a', 'b']) s.observe({ ip: '1.1.1.3', userId: u, ...browser })
    assert.equal(s.observe({ ip: '1.1.1.3', userId: 'c', ...browser }).action, 'throttle')
    assert.deepEqual(s.observe({ ip: '1.1.1.3', userId: 'd', hasUserAgent: false, hasAccept: true }), {
      score: 4,
      action: 'block',
      reasons: ['many_users', 'no_user_agent'],
    })
  })

  test('missing User-Agent and Accept alone throttle but do not block', () => {
    const s = scorer()
    assert.deepEqual(s.observe({ ip: '1.1.1.4', hasUserAgent: false, hasAccept: false }), {
      score: 2,
      action: 'throttle',
      reasons: ['no_user_agent', 'no_accept'],
    })
  })
})
