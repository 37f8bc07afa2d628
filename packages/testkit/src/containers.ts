/**
 * The same parts as the native stack, from testcontainers, for machines with a Docker engine:
 * a PostgreSQL primary + 2 streaming replicas (pg_basebackup -R, as in docker-compose.yml), Redis, and
 * Kafka in KRaft mode. Started once per test process and stopped when it exits.
 * Not exercised on the project's own CI machines, which have no Docker engine (see README).
 */
import { KafkaContainer } from '@testcontainers/kafka'
import { PostgreSqlContainer } from '@testcontainers/postgresql'
import { RedisContainer } from '@testcontainers/redis'
import { GenericContainer, Network, Wait, type StartedTestContainer } from 'testcontainers'
import type { Infra } from './infra.ts'

const PG_IMAGE = 'postgres:15'
const REDIS_IMAGE = 'redis:7.0'
const KAFKA_IMAGE = 'confluentinc/cp-kafka:7.9.1'

export async function startContainers(): Promise<Infra> {
  const network = await new Network().start()
  const started: StartedTestContainer[] = []
  process.once('exit', () => {
    // Ryuk reaps the containers if this does not finish; this is the polite path.
    for (const c of started) void c.stop({ timeout: 1_000 })
  })

  const primary = await new PostgreSqlContainer(PG_IMAGE)
    .withNetwork(network)
    .withNetworkAliases('pg-primary')
    .withUsername('postgres')
    .withPassword('postgres')
    .withDatabase('flashsale')
    .withCommand([
      'postgres',
      '-c',
      'wal_level=replica',
      '-c',
      'max_wal_senders=10',
      '-c',
      'hot_standby=on',
      '-c',
      'shared_preload_libraries=pg_stat_statements',
    ])
    .withCopyContentToContainer([
      { content: 'echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"\n', target: '/docker-entrypoint-initdb.d/10-replication.sh' },
    ])
    .start()
  started.push(primary)

  const replicaUrls: string[] = []
  for (const n of [1, 2]) {
    const replica = await new GenericContainer(PG_IMAGE)
      .withNetwork(network)
      .withUser('postgres')
      .withExposedPorts(5432)
      .withEntrypoint(['bash', '-c'])
      .withCommand([
        `until pg_basebackup -h pg-primary -U postgres -D /tmp/replica -R -X stream -c fast -C -S replica${n}; do sleep 1; done; ` +
          'chmod 700 /tmp/replica; exec postgres -D /tmp/replica -c listen_addresses=*',
      ])
      .withWaitStrategy(Wait.forLogMessage(/ready to accept read-only connections/))
      .start()
    started.push(replica)
    replicaUrls.push(`postgres://postgres:postgres@${replica.getHost()}:${replica.getMappedPort(5432)}/flashsale`)
  }

  const redis = await new RedisContainer(REDIS_IMAGE).start()
  started.push(redis)
  const kafka = await new KafkaContainer(KAFKA_IMAGE).withKraft().start()
  started.push(kafka)

  return {
    pgPrimaryUrl: primary.getConnectionUri(),
    pgReplicaUrls: replicaUrls,
    redisUrl: redis.getConnectionUrl(),
    kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
    source: 'testcontainers',
  }
}
