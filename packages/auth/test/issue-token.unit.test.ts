import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { before, describe, it } from 'node:test'
import { createTokenVerifier, generateSigningKeys, type TokenVerifier } from '../src/index.ts'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../src/bin/issue-token.ts', import.meta.url))

let privateJwk: string
let verifier: TokenVerifier

before(async () => {
  const keys = await generateSigningKeys()
  privateJwk = JSON.stringify(keys.privateJwk)
  verifier = await createTokenVerifier(keys.publicJwk)
})

const issue = (args: string[], env: Record<string, string> = { AUTH_JWT_PRIVATE_JWK: privateJwk }) =>
  run(process.execPath, [BIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env } })

describe('issue-token (bin)', () => {
  it('prints an admin token for --user --role admin that the verifier accepts, with the buyer role too', async () => {
    const { stdout } = await issue(['--user', 'order-service', '--role', 'admin', '--ttl', '600'])
    assert.deepEqual(await verifier.verify(stdout.trim()), { userId: 'order-service', roles: ['admin', 'buyer'] })
  })

  it('prints a buyer token by default', async () => {
    const { stdout } = await issue(['--user', 'u1'])
    assert.deepEqual(await verifier.verify(stdout.trim()), { userId: 'u1', roles: ['buyer'] })
  })

  it('fails (exit 2) naming the problem when the key, the user or the role is missing or wrong', async () => {
    for (const [args, env, message] of [
      [['--user', 'u1'], {}, /AUTH_JWT_PRIVATE_JWK is not set/],
      [['--role', 'admin'], undefined, /--user is required/],
      [['--user', 'u1', '--role', 'root'], undefined, /--role must be admin or buyer/],
      [['--user', 'u1', '--ttl', '0'], undefined, /--ttl must be a positive whole number/],
      [['--user', 'not ok'], undefined, /is not 1-64 of/],
    ] as const) {
      await assert.rejects(issue([...args], env), (err: { code?: number; stderr?: string }) => err.code === 2 && message.test(err.stderr ?? ''))
    }
  })
})
