/**
 * The DLQ tooling as a CLI, with the order service's environment (.local/stack.env, or the deployment's):
 *   node services/order/src/bin/dlq.ts list [--all]
 *   node services/order/src/bin/dlq.ts show <partition:offset>
 *   node services/order/src/bin/dlq.ts replay <partition:offset> | --all
 *   node services/order/src/bin/dlq.ts discard <partition:offset> | --all
 * Prints JSON. Exit codes: 0 done, 1 failure, 2 usage, 3 no such dead letter.
 */
import { userInfo } from 'node:os'
import { parseList } from '@flashsale/config'
import { createDatabase } from '@flashsale/db'
import { createKafka } from '@flashsale/kafka'
import { createDeadLetterTooling } from '../clients/dead-letter-tooling.ts'
import { createInventoryClient } from '../clients/inventory-client.ts'
import { readConfig } from '../config.ts'
import { discardDeadLetters, listDeadLetters, parseEntryId, replayDeadLetters, showDeadLetter, type DeadLetterTarget } from '../domain/dead-letters.ts'
import { migrateOrders } from '../store/migrations.ts'

const USAGE = 'usage: dlq.ts list [--all] | show <partition:offset> | replay <partition:offset>|--all | discard <partition:offset>|--all'
const [command, arg] = process.argv.slice(2)

function targetOf(text: string | undefined): DeadLetterTarget | undefined {
  if (text === '--all') return 'all'
  return text === undefined ? undefined : parseEntryId(text)
}

if (!command || !['list', 'show', 'replay', 'discard'].includes(command) || (command !== 'list' && !targetOf(arg)) || (command === 'show' && arg === '--all')) {
  console.error(USAGE)
  process.exit(2)
}

const config = readConfig(process.env)
const db = createDatabase({ primaryUrl: config.PG_PRIMARY_URL, replicaUrls: [] })
const kafka = createKafka({ brokers: parseList(config.KAFKA_BROKERS), clientId: 'order-dlq-cli' })
const producer = command === 'replay' ? await kafka.createProducer() : undefined
// A discard releases the order's reservation (never persisted) when the service token is there.
const inventory =
  command === 'discard' && config.INVENTORY_SERVICE_TOKEN
    ? createInventoryClient({ urls: parseList(config.INVENTORY_URLS), timeoutMs: Math.max(config.INVENTORY_TIMEOUT_MS, 2_000) })
    : undefined
let code = 0
try {
  await migrateOrders(db.primary)
  const tooling = createDeadLetterTooling({
    kafka,
    producer: producer ?? { send: () => Promise.reject(new Error('no producer')), close: () => Promise.resolve() },
    db,
    dlqTopic: config.ORDERS_DLQ_TOPIC,
    requestedTopic: config.ORDERS_REQUESTED_TOPIC,
    ...(inventory ? { gate: inventory.reservationSteps(config.INVENTORY_SERVICE_TOKEN) } : {}),
  })
  const actor = `cli:${userInfo().username}`
  let out: unknown
  if (command === 'list') {
    out = { topic: tooling.topic, depth: await tooling.depth(), entries: await listDeadLetters(tooling, { includeHandled: arg === '--all' }) }
  } else if (command === 'show') {
    const t = parseEntryId(arg!)!
    out = await showDeadLetter(tooling, t.partition, t.offset)
  } else {
    const done = await (command === 'replay' ? replayDeadLetters : discardDeadLetters)(tooling, targetOf(arg)!, actor)
    out = done && { [command === 'replay' ? 'replayed' : 'discarded']: done.map((e) => e.id) }
  }
  if (out === undefined) {
    console.error(`no dead letter ${arg} in ${tooling.topic}`)
    code = 3
  } else {
    console.log(JSON.stringify(out, null, 2))
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err)
  code = 1
} finally {
  await producer?.close()
  await inventory?.close()
  await db.close()
}
process.exit(code)
