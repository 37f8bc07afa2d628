import { createServer } from 'node:net'

/**
 * A loopback port nobody listens on right now: for a server a test starts itself, or for a connection that
 * must be refused (a datastore that is down). Another process may take it between this answer and its use;
 * tests bind it at once.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
