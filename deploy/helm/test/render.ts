/**
 * Renders deploy/helm/flashsale with the helm of make helm-check (.local/tools/bin, first on PATH there) and
 * parses every object. For the chart tests; run by deploy/helm/check.sh, not by the repository's test runner.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const CHART = `${ROOT}deploy/helm/flashsale`
export const PROFILES = ['default', 'small', 'large'] as const
export type Profile = (typeof PROFILES)[number]

/** A rendered Kubernetes object; only the parts the tests read are typed. */
export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  spec?: any // eslint-disable-line @typescript-eslint/no-explicit-any -- arbitrary manifests, read by path
  data?: Record<string, string>
}

export function render(profile: Profile, chart = CHART): K8sObject[] {
  const args = ['template', 'flashsale', chart, '--namespace', 'flashsale', ...(profile === 'default' ? [] : ['-f', `${chart}/values-${profile}.yaml`])]
  const run = spawnSync('helm', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (run.error) throw new Error(`helm not found (${run.error.message}): run make helm-check, which builds it into .local/tools/bin`)
  if (run.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${run.stderr}`)
  return parseAllDocuments(run.stdout)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null)
}

export const ofKind = (objects: readonly K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind)

/** The component a chart object belongs to (app.kubernetes.io/name). */
export const componentOf = (o: K8sObject): string => o.metadata.labels?.['app.kubernetes.io/name'] ?? ''

/** A container of a rendered pod template, read by path like the rest of a manifest. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary manifests
export type Container = { name: string; image: string; [k: string]: any }

/** Every container (and init container) of a workload's pod template. */
export function containersOf(o: K8sObject): Container[] {
  const pod = o.spec?.template?.spec ?? {}
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])]
}

/** true when every label of `selector` is on `labels`. */
export const selects = (selector: Record<string, string>, labels: Record<string, string> = {}): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v)
