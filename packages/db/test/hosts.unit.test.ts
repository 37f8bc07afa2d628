import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseHosts, PostgresUrlError, redact } from '../src/hosts.ts'

describe('parseHosts (libpq multi-host URIs)', () => {
  it('splits several hosts into one URI each, keeping user, password, database and other parameters', () => {
    const hosts = parseHosts('postgres://app:s3cret@10.0.0.1:5433,db-2,[::1]:6000/shop?sslmode=disable&target_session_attrs=read-write&application_name=x')
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['10.0.0.1:5433', 'db-2:5432', '[::1]:6000'],
    )
    assert.deepEqual(
      hosts.map((h) => h.url),
      [
        'postgres://app:s3cret@10.0.0.1:5433/shop?sslmode=disable&application_name=x',
        'postgres://app:s3cret@db-2:5432/shop?sslmode=disable&application_name=x',
        'postgres://app:s3cret@[::1]:6000/shop?sslmode=disable&application_name=x',
      ],
    )
  })

  it('takes a single host as a list of one, and drops a query string left empty', () => {
    assert.deepEqual(parseHosts('postgresql://u@h:1/d?target_session_attrs=read-write'), [{ name: 'h:1', url: 'postgresql://u@h:1/d' }])
    assert.deepEqual(parseHosts('postgres://h'), [{ name: 'h:5432', url: 'postgres://h:5432' }])
  })

  it('refuses what is not a postgres URI, an empty host, a bad port; the message never shows the password', () => {
    for (const bad of ['mysql://u@h/d', 'postgres:///d', 'postgres://u:pw@h:99999/d', 'postgres://u:pw@h:1,,h2/d', 'postgres://u:pw@h:x/d']) {
      assert.throws(
        () => parseHosts(bad),
        (err: unknown) => err instanceof PostgresUrlError && !err.message.includes('pw@'),
        bad,
      )
    }
  })

  it('redact hides the password only', () => {
    assert.equal(redact('postgres://u:pw@h1:1,h2:2/d'), 'postgres://u:***@h1:1,h2:2/d')
    assert.equal(redact('postgres://u@h/d'), 'postgres://u@h/d')
  })
})
