{{/* Names, labels and the environment both workers share. */}}

{{- define "pulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pulse.fullname" -}}
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

{{- define "pulse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "pulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: realtime-pulse
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "component" "ingest"). */}}
{{- define "pulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pulse.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pulse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pulse.secretName" -}}
{{- default (printf "%s-secrets" (include "pulse.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The Faust app id, which is also the workers' consumer group. */}}
{{- define "pulse.appId" -}}
{{- default (include "pulse.fullname" .) .Values.worker.appId -}}
{{- end -}}

{{- define "pulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "pulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Most stream workers one release may run: the partition count caps a consumer group. */}}
{{- define "pulse.maxWorkers" -}}
{{- if .Values.autoscaling.enabled -}}
{{- default .Values.kafka.partitions .Values.autoscaling.maxReplicas -}}
{{- else -}}
{{- .Values.worker.replicas -}}
{{- end -}}
{{- end -}}

{{/* Pod-level fields both workloads share. */}}
{{- define "pulse.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "pulse.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{- define "pulse.bootstrapServers" -}}
{{- required "kafka.bootstrapServers is required: the brokers of the existing Kafka cluster" .Values.kafka.bootstrapServers -}}
{{- end -}}

{{/* Settings both workers read (names: README configuration table). */}}
{{- define "pulse.commonEnv" -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ include "pulse.bootstrapServers" . | quote }}
- name: PULSE_CHANGES_TOPIC
  value: {{ .Values.kafka.topics.changes | quote }}
- name: PULSE_UPDATES_TOPIC
  value: {{ .Values.kafka.topics.updates | quote }}
- name: PULSE_REJECTED_TOPIC
  value: {{ .Values.kafka.topics.rejected | quote }}
- name: PULSE_PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: PULSE_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: PULSE_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: PULSE_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "pulse.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: http-metrics}
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: {path: /healthz, port: http-metrics}
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /readyz, port: http-metrics}
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}
