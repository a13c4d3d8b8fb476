{{/*
Names, labels and the RBAC rules of the chart. The rules live here, as data, so they are easy
to read and adjust in one place; tests/integration/deploy checks them against the requests
the service really makes.
*/}}

{{- define "es-autoscaler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "es-autoscaler.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "es-autoscaler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "es-autoscaler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "es-autoscaler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "es-autoscaler.labels" -}}
helm.sh/chart: {{ include "es-autoscaler.chart" . }}
{{ include "es-autoscaler.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: es-autoscaler
{{- end }}

{{- define "es-autoscaler.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "es-autoscaler.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "es-autoscaler.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "es-autoscaler.policiesConfigMap" -}}
{{- default (printf "%s-policies" (include "es-autoscaler.fullname" .)) .Values.existingConfigMap }}
{{- end }}

{{- define "es-autoscaler.webhookSecret" -}}
{{- default (printf "%s-webhook" (include "es-autoscaler.fullname" .)) .Values.webhook.existingSecret }}
{{- end }}

{{- define "es-autoscaler.stateConfigMap" -}}
{{- default (printf "%s-state" (include "es-autoscaler.fullname" .)) .Values.state.configMap.name }}
{{- end }}

{{- define "es-autoscaler.leaseName" -}}
{{- default (include "es-autoscaler.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/*
Rules in each namespace holding target StatefulSets (or cluster-wide on request), one per
call the service makes (autoscaler/targets/statefulset.py):
- statefulsets get: the StatefulSet's uid (Event owner) and PVC retention policy.
- statefulsets/scale get, update: read replicas, then write them back with the
  resourceVersion read (PUT of the Scale object; a 409 re-reads).
- pods get: each member pod's Ready condition, read by name.
- events create, patch: a core/v1 Event on the StatefulSet at each operation step; a repeat
  patches count/lastTimestamp of the first one.
`resourceNames` can restrict get/update/patch but not create/list/watch (Kubernetes RBAC
docs, "Referring to resources"), so only the StatefulSet rules carry it.
tests/integration/deploy/test_chart_rbac.py fails when these and the calls in the code differ.
*/}}
{{- define "es-autoscaler.targetRules" -}}
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get"]
  {{- with .Values.rbac.statefulSetNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
- apiGroups: ["apps"]
  resources: ["statefulsets/scale"]
  verbs: ["get", "update"]
  {{- with .Values.rbac.statefulSetNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Rules in the release namespace, for the service's own objects:
- configmaps: the state ConfigMap (autoscaler/operations/store.py: create once, then get and
  update by name with the resourceVersion read).
- leases: the leader-election Lease (autoscaler/service/leader.py: create once, then get and
  update by name).
*/}}
{{- define "es-autoscaler.selfRules" -}}
{{- if .Values.state.configMap.enabled }}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "update"]
  resourceNames: [{{ include "es-autoscaler.stateConfigMap" . | quote }}]
{{- end }}
{{- if .Values.leaderElection.enabled }}
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["create"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "update"]
  resourceNames: [{{ include "es-autoscaler.leaseName" . | quote }}]
{{- end }}
{{- end }}
