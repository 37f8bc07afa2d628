/**
 * What matters in the rendered chart, for the defaults and both profiles: every Deployment has probes on the
 * services' real health endpoints, resources and a PodDisruptionBudget; only the gateway is reachable from
 * outside; topics are the one definition's; every image is pinned; the environment uses the services' real
 * variable names and the operators' real Service names. Run by make helm-check (deploy/helm/check.sh).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TOPICS } from '../../../packages/kafka/src/topics.ts'
import { ConfigSchema as catalogConfig } from '../../../services/catalog/src/config.ts'
import { ConfigSchema as gatewayConfig } from '../../../services/gateway/src/config.ts'
import { ConfigSchema as inventoryConfig } from '../../../services/inventory/src/config.ts'
import { ConfigSchema as orderConfig, WorkerConfigSchema as orderWorkerConfig } from '../../../services/order/src/config.ts'
import { ConfigSchema as reviewConfig, ProjectorConfigSchema as reviewProjectorConfig } from '../../../services/review/src/config.ts'
import { PROFILES, componentOf, containersOf, ofKind, render, selects, type K8sObject } from './render.ts'

const CONFIG: Record<string, { properties: Record<string, unknown>; required?: string[] }> = {
  gateway: gatewayConfig,
  catalog: catalogConfig,
  inventory: inventoryConfig,
  order: orderConfig,
  'order-worker': orderWorkerConfig,
  review: reviewConfig,
  'review-projector': reviewProjectorConfig,
}
// Set in the pod but read by Node or by the kubelet's $(VAR) expansion, not by config.ts.
const NOT_CONFIG = new Set(['NODE_OPTIONS', 'PG_USER', 'PG_PASSWORD'])
const HTTP_SERVICES = ['gateway', 'catalog', 'inventory', 'order', 'review']

for (const profile of PROFILES) {
  describe(`the chart rendered with the ${profile} values`, () => {
    const objects = render(profile)
    const deployments = ofKind(objects, 'Deployment')
    const pdbs = ofKind(objects, 'PodDisruptionBudget')

    test('renders a Deployment for each of the seven processes', () => {
      assert.deepEqual(deployments.map(componentOf).sort(), Object.keys(CONFIG).sort())
    })

    test('every Deployment has startup, liveness and readiness probes on /health/live and /health/ready of its port', () => {
      for (const d of deployments) {
        const [c] = containersOf(d)
        assert.ok(c, `${d.metadata.name} has a container`)
        assert.equal(c.ports?.[0]?.name, 'http', `${d.metadata.name} names its port`)
        assert.equal(c.livenessProbe?.httpGet?.path, '/health/live', `${d.metadata.name} liveness`)
        assert.equal(c.startupProbe?.httpGet?.path, '/health/live', `${d.metadata.name} startup`)
        // ADR 0028: readiness is the instance's own (never /health/deps, which reports the shared datastores).
        assert.equal(c.readinessProbe?.httpGet?.path, '/health/ready', `${d.metadata.name} readiness`)
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(probe.httpGet.port, 'http')
      }
    })

    test('every container has CPU and memory requests and limits', () => {
      for (const w of [...deployments, ...ofKind(objects, 'StatefulSet'), ...ofKind(objects, 'Job')]) {
        for (const c of containersOf(w)) {
          for (const kind of ['requests', 'limits'])
            for (const resource of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[resource], `${w.metadata.name}/${c.name}: resources.${kind}.${resource}`)
        }
      }
    })

    test('every Deployment has a PodDisruptionBudget that selects its pods', () => {
      for (const d of deployments) {
        const podLabels = d.spec.template.metadata.labels
        const budget = pdbs.filter((p) => selects(p.spec.selector.matchLabels, podLabels))
        assert.equal(budget.length, 1, `${d.metadata.name}: one PDB, found ${budget.length}`)
        assert.ok(budget[0]!.spec.maxUnavailable !== undefined || budget[0]!.spec.minAvailable !== undefined)
      }
    })

    test('only the gateway is reachable from outside the cluster', () => {
      const external = ofKind(objects, 'Service').filter((s) => ['LoadBalancer', 'NodePort'].includes(s.spec.type) || s.spec.externalIPs)
      assert.ok(
        external.every((s) => componentOf(s) === 'gateway'),
        `external Services: ${external.map((s) => s.metadata.name).join(', ')}`,
      )
      if (profile !== 'small') assert.equal(external.length, 1, 'the gateway is a LoadBalancer Service')
      assert.equal(ofKind(objects, 'Ingress').length, 0)
      // Only the gateway's NetworkPolicy has an ingress rule open to any peer.
      const open = ofKind(objects, 'NetworkPolicy').filter((p) => (p.spec.ingress ?? []).some((rule: { from?: unknown[] }) => !rule.from))
      assert.deepEqual(open.map(componentOf), ['gateway'])
    })

    test('each service admits only its real callers', () => {
      const policies = ofKind(objects, 'NetworkPolicy')
      const callers = (name: string) =>
        policies
          .find((p) => p.metadata.name.endsWith(`-${name}`))!
          .spec.ingress.flatMap((r: { from?: { podSelector?: { matchExpressions?: { key: string; values: string[] }[] } }[] }) => r.from ?? [])
          .flatMap((f: { podSelector?: { matchExpressions?: { key: string; values: string[] }[] } }) => f.podSelector?.matchExpressions ?? [])
          .filter((e: { key: string }) => e.key === 'app.kubernetes.io/name')
          .flatMap((e: { values: string[] }) => e.values)
          .sort()
      assert.deepEqual(callers('inventory'), ['catalog', 'gateway', 'order', 'order-worker'])
      assert.deepEqual(callers('order'), ['gateway'])
      assert.deepEqual(callers('catalog'), ['gateway', 'review'])
      assert.deepEqual(callers('review'), ['gateway'])
      assert.deepEqual(callers('order-worker'), [])
    })

    test('topics are the one definition of packages/kafka/src/topics.ts, replicated 3 times with min.insync.replicas 2', () => {
      const topics = ofKind(objects, 'KafkaTopic')
      assert.deepEqual(
        topics.map((t) => t.spec.topicName).sort(),
        Object.values(TOPICS)
          .map((t) => t.name)
          .sort(),
      )
      for (const def of Object.values(TOPICS)) {
        const t = topics.find((x) => x.spec.topicName === def.name)!
        // values-large raises orders.requested for more workers (a topic grows, never shrinks); the rest is the definition.
        const want = profile === 'large' && def.name === 'orders.requested' ? 24 : def.partitions
        assert.equal(t.spec.partitions, want, `${def.name} partitions`)
        assert.ok(t.spec.partitions >= def.partitions)
        assert.equal(t.spec.replicas, 3)
        assert.equal(t.spec.config['min.insync.replicas'], '2')
        for (const [k, v] of Object.entries(def.config)) if (k !== 'min.insync.replicas') assert.equal(t.spec.config[k], v, `${def.name} ${k}`)
      }
      const kafka = ofKind(objects, 'Kafka')[0]!
      assert.equal(kafka.spec.kafka.config['min.insync.replicas'], 2)
      assert.equal(kafka.spec.kafka.config['default.replication.factor'], 3)
    })

    test("a consumer's HPA never scales past its topic's partitions", () => {
      for (const [name, topic] of [
        ['order-worker', 'orders.requested'],
        ['review-projector', 'orders.events'],
      ] as const) {
        const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find((h) => componentOf(h) === name)
        const partitions = ofKind(objects, 'KafkaTopic').find((t) => t.spec.topicName === topic)!.spec.partitions
        if (hpa) assert.ok(hpa.spec.maxReplicas <= partitions, `${name}: maxReplicas ${hpa.spec.maxReplicas} > ${partitions} partitions`)
      }
    })

    test('every image is pinned to a version, never latest', () => {
      const images = [...deployments, ...ofKind(objects, 'StatefulSet'), ...ofKind(objects, 'Job')].flatMap((w) => containersOf(w).map((c) => c.image))
      images.push(...ofKind(objects, 'Cluster').map((c) => c.spec.imageName))
      assert.ok(images.length >= 8)
      for (const image of images) {
        const tag = /^[^@]+:([^:/@]+)$/.exec(image)?.[1]
        assert.ok(image.includes('@sha256:') || (tag && tag !== 'latest'), `image ${image} is not pinned`)
      }
      assert.match(String(ofKind(objects, 'Kafka')[0]!.spec.kafka.version), /^\d+\.\d+\.\d+$/)
    })

    test('processes run as non-root on a read-only root filesystem', () => {
      for (const w of [...deployments, ...ofKind(objects, 'StatefulSet'), ...ofKind(objects, 'Job')]) {
        assert.equal(w.spec.template.spec.securityContext.runAsNonRoot, true, w.metadata.name)
        for (const c of containersOf(w)) {
          assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${w.metadata.name}/${c.name}`)
          assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${w.metadata.name}/${c.name}`)
        }
      }
    })

    test("HTTP services drain: preStop, then SIGTERM within a grace period longer than close-with-grace's 10 s", () => {
      for (const d of deployments.filter((x) => HTTP_SERVICES.includes(componentOf(x)))) {
        const [c] = containersOf(d)
        const preStop = Number(c!.lifecycle?.preStop?.exec?.command?.[1])
        assert.ok(preStop > 0, `${d.metadata.name} preStop`)
        assert.ok(d.spec.template.spec.terminationGracePeriodSeconds > preStop + 10, `${d.metadata.name} terminationGracePeriodSeconds`)
      }
    })

    test("every variable is one of the service's config.ts; PostgreSQL is CloudNativePG's -rw and -ro, Redis its Sentinels", () => {
      const configMaps = ofKind(objects, 'ConfigMap')
      for (const d of deployments) {
        const name = componentOf(d)
        const [c] = containersOf(d)
        const fromMap = configMaps.find((m: K8sObject) => m.metadata.name === c!.envFrom[0].configMapRef.name)!.data ?? {}
        const env: Record<string, string> = { ...fromMap }
        for (const e of c!.env ?? []) env[e.name] = e.value ?? '(secret)'
        for (const key of Object.keys(env)) assert.ok(NOT_CONFIG.has(key) || key in CONFIG[name]!.properties, `${name}: ${key} is not in its config.ts`)
        if ('PG_PRIMARY_URL' in env) assert.match(env['PG_PRIMARY_URL']!, /^postgresql:\/\/\$\(PG_USER\):\$\(PG_PASSWORD\)@flashsale-pg-rw:5432\//)
        if ('PG_REPLICA_URLS' in env) assert.match(env['PG_REPLICA_URLS']!, /@flashsale-pg-ro:5432\//)
        // Every process reads Redis but the review projector, whose config has no REDIS_URL.
        if (name === 'review-projector') assert.equal(env['REDIS_URL'], undefined)
        else assert.match(env['REDIS_URL']!, /^redis\+sentinel:\/\/([a-z0-9.-]+:26379,){2}[a-z0-9.-]+:26379\/flashsale$/)
        // Each required variable of the process's schema is set (a default-less one would stop it at start).
        const schema = CONFIG[name]!
        const noDefault = (schema.required ?? []).filter((k) => (schema.properties[k] as { default?: unknown }).default === undefined)
        for (const key of noDefault) assert.ok(key in env, `${name}: ${key} is required by its config.ts (no default) and not set`)
        assert.equal(env['HOST'], '0.0.0.0')
      }
    })
  })
}
