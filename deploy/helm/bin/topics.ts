/**
 * The chart's copy of the one topic definition, packages/kafka/src/topics.ts, as JSON the chart's templates read
 * (files/topics.json → a Strimzi KafkaTopic per topic, and the consumers' HPA bounds). Helm cannot import
 * TypeScript, so the copy is generated and committed, and make helm-check fails when it is stale.
 *   node deploy/helm/bin/topics.ts            check: exit 1 when files/topics.json differs from the definition
 *   node deploy/helm/bin/topics.ts --write    regenerate it
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ALL_TOPICS } from '../../../packages/kafka/src/topics.ts'

const target = fileURLToPath(new URL('../flashsale/files/topics.json', import.meta.url))

/** What the chart needs of each topic: its name, partitions and topic-level config, in definition order. */
export function chartTopics(): string {
  const topics = ALL_TOPICS.map((t) => ({ name: t.name, partitions: t.partitions, config: t.config, description: t.description }))
  return `${JSON.stringify({ generatedFrom: 'packages/kafka/src/topics.ts', by: 'node deploy/helm/bin/topics.ts --write', topics }, null, 2)}\n`
}

if (import.meta.main) {
  const want = chartTopics()
  if (process.argv.includes('--write')) {
    writeFileSync(target, want)
    process.stdout.write(`wrote ${target}\n`)
  } else {
    let have = ''
    try {
      have = readFileSync(target, 'utf8')
    } catch {
      // missing: reported below like a stale copy
    }
    if (have !== want) {
      console.error(
        'deploy/helm/flashsale/files/topics.json is not the topic definition of packages/kafka/src/topics.ts; run: node deploy/helm/bin/topics.ts --write',
      )
      process.exit(1)
    }
    process.stdout.write('    topics.json matches packages/kafka/src/topics.ts\n')
  }
}
