{{/*
Names and labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
*/}}
{{- define "flashsale.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "flashsale.labels" -}}
app.kubernetes.io/part-of: flashsale
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* Selector of one component: stable across upgrades (selectors are immutable). */}}
{{- define "flashsale.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end -}}

{{- define "flashsale.pgCluster" -}}{{ include "flashsale.fullname" . }}-pg{{- end -}}
{{- define "flashsale.kafkaCluster" -}}{{ include "flashsale.fullname" . }}-kafka{{- end -}}
{{- define "flashsale.redis" -}}{{ include "flashsale.fullname" . }}-redis{{- end -}}

{{/*
What each process IS, from the code, not from values: entry point, port and the variable that sets it
(services/<name>/src/config.ts), who calls it (the NetworkPolicy's peers), which datastores it uses, and whether it
answers HTTP traffic (a Service) or only health and /metrics (the two Kafka consumers).
*/}}
{{- define "flashsale.components" -}}
gateway:
  entry: services/gateway/src/server.ts
  port: 8080
  portVar: PORT
  serves: true
  callers: []
  postgres: false
  kafka: false
catalog:
  entry: services/catalog/src/server.ts
  port: 3001
  portVar: PORT
  serves: true
  callers: [gateway, review]
  postgres: true
  kafka: false
inventory:
  entry: services/inventory/src/server.ts
  port: 3002
  portVar: PORT
  serves: true
  callers: [gateway, catalog, order, order-worker]
  postgres: true
  kafka: false
order:
  entry: services/order/src/server.ts
  port: 3003
  portVar: PORT
  serves: true
  callers: [gateway]
  postgres: true
  kafka: true
  serviceToken: true
order-worker:
  entry: services/order/src/worker.ts
  port: 3013
  portVar: WORKER_PORT
  serves: false
  callers: []
  postgres: true
  kafka: true
  serviceToken: true
  consumer: true
review:
  entry: services/review/src/server.ts
  port: 3004
  portVar: PORT
  serves: true
  callers: [gateway]
  postgres: true
  kafka: false
review-projector:
  entry: services/review/src/projector.ts
  port: 3014
  portVar: PROJECTOR_PORT
  serves: false
  callers: []
  postgres: true
  kafka: true
  consumer: true
{{- end -}}

{{/* In-cluster URL of a component's Service, as the *_URLS variables take it. */}}
{{- define "flashsale.url" -}}
{{- $c := index (include "flashsale.components" .root | fromYaml) .name -}}
http://{{ include "flashsale.fullname" .root }}-{{ .name }}:{{ $c.port }}
{{- end -}}

{{/*
Sentinel URL of @flashsale/redis (packages/redis/src/index.ts): redis+sentinel://h1:p1,h2:p2,h3:p3/<master>,
one entry per Sentinel pod, by its stable StatefulSet DNS name.
*/}}
{{- define "flashsale.redisUrl" -}}
{{- $r := include "flashsale.redis" . -}}
{{- $hosts := list -}}
{{- range $i := until (int .Values.redis.replicas) -}}
{{- $hosts = append $hosts (printf "%s-%d.%s-headless:26379" $r $i $r) -}}
{{- end -}}
redis+sentinel://{{ join "," $hosts }}/{{ .Values.redis.masterName }}
{{- end -}}

{{- define "flashsale.kafkaBootstrap" -}}{{ include "flashsale.kafkaCluster" . }}-kafka-bootstrap:9092{{- end -}}

{{/* Pod security for the app processes: the image's `node` user (uid 1000), nothing else. */}}
{{- define "flashsale.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "flashsale.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/*
The non-secret environment of one component, by the variable names of its services/<name>/src/config.ts. The
PostgreSQL URLs carry the CloudNativePG app user's password, so they are built in the pod spec instead
(flashsale.pgEnv). components.<name>.env is merged last: any variable of config.ts can be set there.
*/}}
{{- define "flashsale.env" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := index (include "flashsale.components" $root | fromYaml) $name -}}
{{- $v := index $root.Values.components $name -}}
{{- $env := dict "LOG_LEVEL" $root.Values.logLevel "HOST" "0.0.0.0" $c.portVar (toString $c.port) -}}
{{- /* Every process but the review projector uses Redis (its config has no REDIS_URL). */ -}}
{{- if ne $name "review-projector" -}}{{- $_ := set $env "REDIS_URL" (include "flashsale.redisUrl" $root) -}}{{- end -}}
{{- $mem := $v.resources.limits.memory | toString -}}
{{- if hasSuffix "Mi" $mem -}}
{{- /* V8's old space at 3/4 of the container's memory limit: the rest is buffers, code and the young generation. */ -}}
{{- $_ := set $env "NODE_OPTIONS" (printf "--disable-warning=TimeoutNegativeWarning --max-old-space-size=%d" (div (mul (trimSuffix "Mi" $mem | int) 3) 4)) -}}
{{- end -}}
{{- if $c.serves -}}
{{- $_ := set $env "SHUTDOWN_DRAIN_MS" (toString $root.Values.shutdown.drainMs) -}}
{{- end -}}
{{- if $c.kafka -}}{{- $_ := set $env "KAFKA_BROKERS" (include "flashsale.kafkaBootstrap" $root) -}}{{- end -}}
{{- if has $name (list "catalog" "order" "order-worker") -}}
{{- $_ := set $env "INVENTORY_URLS" (include "flashsale.url" (dict "root" $root "name" "inventory")) -}}
{{- end -}}
{{- if eq $name "review" -}}
{{- $_ := set $env "CATALOG_URLS" (include "flashsale.url" (dict "root" $root "name" "catalog")) -}}
{{- end -}}
{{- if eq $name "gateway" -}}
{{- range $up := list "order" "catalog" "inventory" "review" -}}
{{- $_ := set $env (printf "%s_URLS" (upper $up)) (include "flashsale.url" (dict "root" $root "name" $up)) -}}
{{- end -}}
{{- $_ := set $env "TRUST_PROXY" (toString $root.Values.gateway.trustProxy) -}}
{{- $_ := set $env "DEMO_TOKENS_ENABLED" (toString $root.Values.demoTokens.enabled) -}}
{{- /* The local fallback limiter (ADR 0013) allows the fleet's rate divided by this: the fewest gateways there will be. */ -}}
{{- $_ := set $env "GATEWAY_INSTANCES" (toString (ternary $v.autoscaling.minReplicas $v.replicas $v.autoscaling.enabled)) -}}
{{- end -}}
{{- range $k, $val := $v.env -}}{{- $_ := set $env $k (toString $val) -}}{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/*
PG_PRIMARY_URL → the CloudNativePG <cluster>-rw Service (always the primary; a switchover moves it),
PG_REPLICA_URLS → <cluster>-ro (the hot standbys only), with the app user's credentials from the Secret the
operator makes, <cluster>-app (keys username, password: https://cloudnative-pg.io/documentation/current/applications/).
Its passwords are letters and digits (internal/controller/cluster_create.go: password.Generate(64, 10, 0, ...)),
so they go into a URL unescaped. $(VAR) is expanded by the kubelet from variables defined before it
(https://kubernetes.io/docs/tasks/inject-data-application/define-interdependent-environment-variables/).
*/}}
{{- define "flashsale.pgEnv" -}}
{{- $pg := include "flashsale.pgCluster" .root -}}
{{- $db := .root.Values.postgres.database -}}
- name: PG_USER
  valueFrom: { secretKeyRef: { name: {{ $pg }}-app, key: username } }
- name: PG_PASSWORD
  valueFrom: { secretKeyRef: { name: {{ $pg }}-app, key: password } }
- name: PG_PRIMARY_URL
  value: postgresql://$(PG_USER):$(PG_PASSWORD)@{{ $pg }}-rw:5432/{{ $db }}
{{- if .replicas }}
- name: PG_REPLICA_URLS
  value: postgresql://$(PG_USER):$(PG_PASSWORD)@{{ $pg }}-ro:5432/{{ $db }}
{{- end }}
{{- end -}}
