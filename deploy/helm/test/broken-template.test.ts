/**
 * make helm-check fails on a broken manifest: a copy of the chart with one deliberately broken template must
 * fail the check's validation step (deploy/helm/check.sh validate), for a built-in kind and for each operator's
 * custom resource, while the unmodified copy passes (so the failure is the break's, not the setup's).
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { CHART, ROOT } from './render.ts'

const work = mkdtempSync(join(tmpdir(), 'flashsale-chart-'))
after(() => rmSync(work, { recursive: true, force: true }))

/** A copy of the chart with `template` added as templates/broken.yaml (none: an unmodified copy). */
function chartWith(name: string, template?: string): string {
  const dir = join(work, name, 'flashsale')
  cpSync(CHART, dir, { recursive: true })
  if (template) writeFileSync(join(dir, 'templates', 'broken.yaml'), template)
  return dir
}

function validate(chart: string): { status: number | null; output: string } {
  const run = spawnSync(join(ROOT, 'deploy/helm/check.sh'), ['validate', chart, mkdtempSync(join(work, 'out-'))], { encoding: 'utf8' })
  return { status: run.status, output: `${run.stdout}\n${run.stderr}` }
}

test('an unmodified copy of the chart passes the validation step', () => {
  const { status, output } = validate(chartWith('intact'))
  assert.equal(status, 0, output)
})

test('a Deployment with a misspelled field fails kubectl-validate', () => {
  const { status, output } = validate(
    chartWith(
      'deployment',
      `apiVersion: apps/v1
kind: Deployment
metadata: { name: broken }
spec:
  replica: 2
  selector: { matchLabels: { app: broken } }
  template:
    metadata: { labels: { app: broken } }
    spec: { containers: [{ name: broken, image: "broken:1.0.0" }] }
`,
    ),
  )
  assert.notEqual(status, 0, output)
  assert.match(output, /replica/)
})

// kubectl-validate checks schemas, not the API server's Go validation of built-in kinds: an empty containers list
// passes it (found here; check.sh says so). A wrong type is a schema error.
test('a container port that is not a number fails kubectl-validate', () => {
  const { status, output } = validate(
    chartWith(
      'port',
      `apiVersion: v1
kind: Pod
metadata: { name: broken }
spec:
  containers: [{ name: broken, image: "broken:1.0.0", ports: [{ containerPort: eighty }] }]
`,
    ),
  )
  assert.notEqual(status, 0, output)
  assert.match(output, /containerPort/)
})

test("a CloudNativePG Cluster of the wrong type fails against CloudNativePG's CRD", () => {
  const { status, output } = validate(
    chartWith(
      'cnpg',
      `apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: { name: broken }
spec:
  instances: three
  storage: { size: 1Gi }
`,
    ),
  )
  assert.notEqual(status, 0, output)
  assert.match(output, /instances/)
})

test("a Strimzi KafkaTopic with a misspelled field fails against the CRD derived from Strimzi's API", () => {
  const { status, output } = validate(
    chartWith(
      'strimzi',
      `apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: { name: broken, labels: { strimzi.io/cluster: flashsale-kafka } }
spec:
  partitions: 12
  replicationFactor: 3
`,
    ),
  )
  assert.notEqual(status, 0, output)
  assert.match(output, /replicationFactor/)
})

test('a template that does not render fails helm', () => {
  const { status, output } = validate(chartWith('syntax', `{{ .Values.nothing.here }}\n`))
  assert.notEqual(status, 0, output)
})
