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
Rules in each namespace holding target StatefulSets (or cluster-wide on request):
- statefulsets get: read status (readyReplicas, currentRevision) while an operation runs.
- statefulsets/scale get, patch, update: the scale subresource (read replicas, set replicas
  with resourceVersion; `update` for clients that PUT the Scale object).
- pods get, list, watch: wait for new pods to be Ready and old ones to be gone.
- events create, patch: a Kubernetes Event on the target at every operation transition
  (core/v1 and events.k8s.io/v1; `patch` bumps the count of a repeated event).
`resourceNames` restricts get/patch/update but cannot restrict create/list/watch (Kubernetes
RBAC docs, "Referring to resources"), so only the statefulset rules carry it.
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
  verbs: ["get", "patch", "update"]
  {{- with .Values.rbac.statefulSetNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Rules in the release namespace, for the service's own objects:
- configmaps: the state ConfigMap (create once; get/update/patch by name).
- leases: the leader-election Lease (create once; get/update by name).
*/}}
{{- define "es-autoscaler.selfRules" -}}
{{- if .Values.state.configMap.enabled }}
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "update", "patch"]
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
