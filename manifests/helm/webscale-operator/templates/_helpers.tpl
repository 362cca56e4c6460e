{{/*
Expand the name of the chart.
*/}}
{{- define "webscale-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "webscale-operator.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "webscale-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "webscale-operator.labels" -}}
helm.sh/chart: {{ include "webscale-operator.chart" . }}
{{ include "webscale-operator.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: webscale-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "webscale-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webscale-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "webscale-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "webscale-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The operator settings as WEBSCALE_* environment variables: settings.resyncSeconds ->
WEBSCALE_RESYNC_SECONDS. Empty strings are left out (the operator's default applies).
*/}}
{{- define "webscale-operator.settingsEnv" -}}
{{- range $key, $value := .Values.settings }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: WEBSCALE_{{ $key | snakecase | upper }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- if and .Values.settings.wakePort (not .Values.settings.wakeUrl) }}
- name: WEBSCALE_WAKE_URL
  value: {{ include "webscale-operator.wakeUrl" . | quote }}
{{- end }}
{{- end }}

{{/* Where apps' HAProxy pods reach the wake port: the chart's wake Service, in the cluster's DNS domain
(settings.clusterDomain, as the operator's SRV names of the apps' pods). */}}
{{- define "webscale-operator.wakeUrl" -}}
http://{{ include "webscale-operator.fullname" . }}-wake.{{ .Release.Namespace }}.svc.{{ .Values.settings.clusterDomain | default "cluster.local" }}:{{ .Values.settings.wakePort }}
{{- end }}
