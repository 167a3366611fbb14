{{/* Chart name, truncated to 63 characters (a label value). */}}
{{- define "ho11y-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name of the release's objects: fullnameOverride, else the release name, plus the chart name
when the release name does not already contain it.
*/}}
{{- define "ho11y-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ho11y-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (never the version). */}}
{{- define "ho11y-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ho11y-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ho11y-operator.labels" -}}
helm.sh/chart: {{ include "ho11y-operator.chart" . }}
{{ include "ho11y-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ho11y
{{- end -}}

{{- define "ho11y-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ho11y-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "ho11y-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{/* The generator image: generator.image, else the operator's own image (it carries ho11y). */}}
{{- define "ho11y-operator.generatorImage" -}}
{{- default (include "ho11y-operator.image" .) .Values.generator.image -}}
{{- end -}}

{{/*
The rules the operator needs on Topologies, their children and events, wherever it watches:
exactly the requests it makes (the end-to-end test runs the operator with these rules and RBAC
enforced, and checks that it uses every one of them). Topologies are read through the informer
(list, watch), and read directly (get) before a child that disappeared is created again, in case
the Topology itself is being deleted; status is written with a merge patch on the status
subresource. Children are
listed and watched by label, created, read when a create finds the name taken, updated with the
live resourceVersion and deleted when no longer desired. Events are created, and patched when
the same event repeats. Update on topologies/finalizers is never requested: the API server checks
it when a child's ownerReference sets blockOwnerDeletion (every child's does), on clusters that
enforce owner-reference permissions (admission plugin OwnerReferencesPermissionEnforcement, as
on OpenShift), and refuses the child's create without it.
*/}}
{{- define "ho11y-operator.rules" -}}
- apiGroups: ["ho11y.dev"]
  resources: ["topologies"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["ho11y.dev"]
  resources: ["topologies/status"]
  verbs: ["patch"]
- apiGroups: ["ho11y.dev"]
  resources: ["topologies/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps", "serviceaccounts"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{/*
The rules the leader election needs on its Lease, in the operator's own namespace: create it
once, then read and renew (or release) that one Lease by name.
*/}}
{{- define "ho11y-operator.leaseRules" -}}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  resourceNames: [{{ include "ho11y-operator.leaseName" . | quote }}]
  verbs: ["get", "update"]
{{- end -}}

{{/* Name of the leader-election Lease (--leader-elect-id). */}}
{{- define "ho11y-operator.leaseName" -}}
{{- printf "%s-leader" (include "ho11y-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The operator's command-line arguments (DESIGN: operator flags). */}}
{{- define "ho11y-operator.args" -}}
- --leader-elect={{ .Values.leaderElection.enabled }}
{{- if .Values.leaderElection.enabled }}
- --leader-elect-id={{ include "ho11y-operator.leaseName" . }}
- --leader-elect-lease-duration={{ .Values.leaderElection.leaseDuration }}
- --leader-elect-renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --leader-elect-retry-period={{ .Values.leaderElection.retryPeriod }}
{{- end }}
{{- with .Values.watchNamespace }}
- --namespace={{ . }}
{{- end }}
- --workers={{ .Values.workers }}
- --cache-sync-timeout={{ .Values.cacheSyncTimeout }}
- --generator-image={{ include "ho11y-operator.generatorImage" . }}
{{- with .Values.generator.imagePullPolicy }}
- --image-pull-policy={{ . }}
{{- end }}
{{- with .Values.collector.image }}
- --collector-image={{ . }}
{{- end }}
- --metrics-addr=:{{ .Values.metrics.port }}
- --health-addr=:{{ .Values.health.port }}
- --log-level={{ .Values.logLevel }}
- --log-format={{ .Values.logFormat }}
- --graceful-shutdown-timeout={{ max 1 (sub (int .Values.terminationGracePeriodSeconds) 5) }}s
{{- with .Values.extraArgs }}
{{ toYaml . }}
{{- end }}
{{- end -}}
