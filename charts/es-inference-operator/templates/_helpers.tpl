{{/*
The name of the chart's objects: the release name when it already contains the chart's name (the usual
`helm install es-inference-operator ...` gives the same names as manifests/), else <release>-<chart>.
*/}}
{{- define "es-inference-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "es-inference-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "es-inference-operator.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels the Deployment selects its pod by; they never change over the release's life. */}}
{{- define "es-inference-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "es-inference-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "es-inference-operator.labels" -}}
{{ include "es-inference-operator.selectorLabels" . }}
app.kubernetes.io/part-of: es-inference-operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
A manifest kept in files/ (a byte-for-byte copy of crds/ or policies/, checked by tests/helm), parsed, with the
chart's labels merged into its own. Call with (list $ "files/...").
*/}}
{{- define "es-inference-operator.fileManifest" -}}
{{- $root := index . 0 }}
{{- $path := index . 1 }}
{{- $manifest := $root.Files.Get $path | fromYaml }}
{{- if or (not $manifest) (hasKey $manifest "Error") }}
{{- fail (printf "%s: missing or not one YAML document" $path) }}
{{- end }}
{{- $labels := merge (include "es-inference-operator.labels" $root | fromYaml) ($manifest.metadata.labels | default dict) }}
{{- $_ := set $manifest.metadata "labels" $labels }}
{{- toYaml $manifest }}
{{- end }}

{{/*
The relabeling of the ServiceMonitor's and the PodMonitor's targets: job="es-inference-operator" whatever the
release or monitor is called, as the alerts (files/monitoring/alerts.yaml) and the dashboard select.
*/}}
{{- define "es-inference-operator.monitorRelabelings" -}}
- action: replace
  targetLabel: job
  replacement: es-inference-operator
{{- end }}

{{/*
The leader election Lease's name: leaderElection.leaseName, or the objects' full name.
*/}}
{{- define "es-inference-operator.leaseName" -}}
{{- .Values.leaderElection.leaseName | default (include "es-inference-operator.fullname" .) }}
{{- end }}
