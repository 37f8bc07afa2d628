/**
 * Creates the topics of src/topics.ts on the brokers in KAFKA_BROKERS (grows partition counts that are
 * short), waiting up to KAFKA_WAIT_SECONDS (default 60) for the broker to answer metadata requests.
 * Run by infra/local/up.sh; safe to run again. Exit 1 with the reason when the broker never answers.
 */
import { parseList } from '@flashsale/config'
import { ALL_TOPICS } from '../topics.ts'
import { createKafka } from '../client.ts'

const brokers = parseList(process.env['KAFKA_BROKERS'])
const replicationFactor = Number(process.env['KAFKA_REPLICATION_FACTOR'] ?? '1')
const waitSeconds = Number(process.env['KAFKA_WAIT_SECONDS'] ?? '60')
if (brokers.length === 0) {
  console.error('KAFKA_BROKERS is not set (e.g. KAFKA_BROKERS=127.0.0.1:59092); run make infra-up for the native stack')
  process.exit(1)
}

const kafka = createKafka({ brokers, clientId: 'ensure-topics', logger: { debug() {}, info() {}, warn() {}, error() {} } })
const deadline = Date.now() + waitSeconds * 1000
let lastError: unknown
while (Date.now() < deadline) {
  try {
    const changed = await kafka.ensureTopics(ALL_TOPICS, replicationFactor)
    for (const line of changed) console.log(`    ${line}`)
    console.log(`    topics ready: ${ALL_TOPICS.map((t) => `${t.name}(${t.partitions})`).join(', ')}`)
    process.exit(0)
  } catch (err) {
    lastError = err
    await new Promise((r) => setTimeout(r, 1000))
  }
}
console.error(`Kafka at ${brokers.join(',')} did not answer within ${waitSeconds}s: ${String((lastError as Error)?.message ?? lastError)}`)
process.exit(1)
