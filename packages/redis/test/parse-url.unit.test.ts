import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeRedisUrl, parseRedisUrl } from '../src/index.ts'

describe('REDIS_URL', () => {
  it('a plain URL is used as it is', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:56379'), { kind: 'direct', url: 'redis://127.0.0.1:56379' })
    assert.deepEqual(parseRedisUrl('rediss://u:p@cache.example:6380/2'), { kind: 'direct', url: 'rediss://u:p@cache.example:6380/2' })
  })

  it('a Sentinel URL names the Sentinels, the master, and optionally credentials and a db', () => {
    assert.deepEqual(parseRedisUrl('redis+sentinel://127.0.0.1:26379,127.0.0.1:26380,[::1]:26381/flashsale'), {
      kind: 'sentinel',
      masterName: 'flashsale',
      sentinels: [
        { host: '127.0.0.1', port: 26379 },
        { host: '127.0.0.1', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    })
    assert.deepEqual(parseRedisUrl('redis+sentinel://app:s%40cret@s1:26379/m-1?db=3'), {
      kind: 'sentinel',
      masterName: 'm-1',
      sentinels: [{ host: 's1', port: 26379 }],
      username: 'app',
      password: 's@cret',
      db: 3,
    })
  })

  it('natMap: the addresses the Sentinels name are dialled through others (a proxy)', () => {
    const t = parseRedisUrl('redis+sentinel://127.0.0.1:26379/m?natMap=127.0.0.1:56379>127.0.0.1:58490,127.0.0.1:56380>127.0.0.1:58491&db=1')
    assert.deepEqual(t, {
      kind: 'sentinel',
      masterName: 'm',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      db: 1,
      natMap: { '127.0.0.1:56379': { host: '127.0.0.1', port: 58490 }, '127.0.0.1:56380': { host: '127.0.0.1', port: 58491 } },
    })
    assert.equal(describeRedisUrl('redis+sentinel://a:1/m?natMap=a:5>b:6'), 'sentinel master m via a:1, dialled through b:6')
    assert.throws(() => parseRedisUrl('redis+sentinel://a:1/m?natMap=a:5'), /natMap must be host:port>host:port/)
    assert.throws(() => parseRedisUrl('redis+sentinel://a:1/m?natMap=a:5>b'), /a natMap address must be host:port, got "b"/)
    assert.throws(() => parseRedisUrl('redis+sentinel://a:1/m?natMap=a:5>b:6>c:7'), /natMap must be/)
  })

  it('refuses what it cannot use, naming the problem', () => {
    assert.throws(() => parseRedisUrl('http://x'), /must start with redis:\/\/, rediss:\/\/ or redis\+sentinel:\/\//)
    assert.throws(() => parseRedisUrl('redis+sentinel://h:1'), /needs the master name/)
    assert.throws(() => parseRedisUrl('redis+sentinel://h:1/'), /master name must be/)
    assert.throws(() => parseRedisUrl('redis+sentinel://h/m'), /each Sentinel must be host:port, got "h"/)
    assert.throws(() => parseRedisUrl('redis+sentinel://h:70000/m'), /host:port/)
    assert.throws(() => parseRedisUrl('redis+sentinel://h:1/m?db=x'), /db must be a number/)
  })

  it('describes a target for logs without its credentials', () => {
    assert.equal(describeRedisUrl('redis://u:secret@h:1/0'), 'redis://h:1')
    assert.equal(describeRedisUrl('redis+sentinel://u:secret@a:1,b:2/m'), 'sentinel master m via a:1,b:2')
  })
})
