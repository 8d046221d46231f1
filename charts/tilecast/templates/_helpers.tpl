{{/* Names, labels and the pieces every pod shares. */}}

{{- define "tilecast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tilecast.fullname" -}}
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

{{- define "tilecast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "tilecast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tilecast.selector" -}}
app.kubernetes.io/name: {{ include "tilecast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tilecast.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "tilecast.secretName" -}}
{{- if .Values.rabbitmq.existingSecret }}{{ .Values.rabbitmq.existingSecret }}{{ else }}{{ include "tilecast.fullname" . }}-broker{{ end }}
{{- end }}

{{- define "tilecast.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}{{ default (include "tilecast.fullname" .) .Values.serviceAccount.name }}{{ else }}{{ default "default" .Values.serviceAccount.name }}{{ end }}
{{- end }}

{{/* Environment shared by every tilecast container. */}}
{{- define "tilecast.env" -}}
- name: TILECAST_AMQP_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tilecast.secretName" . }}
      key: {{ .Values.rabbitmq.amqpUrlKey }}
- name: TILECAST_QUEUE_PREFIX
  value: {{ .Values.rabbitmq.queuePrefix | quote }}
- name: TILECAST_DELIVERY_LIMIT
  value: {{ .Values.rabbitmq.deliveryLimit | quote }}
- name: TILECAST_OUT
  value: {{ .Values.storage.out.url | default .Values.storage.out.mountPath | quote }}
- name: TILECAST_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: TMPDIR
  value: /scratch
{{- if .Values.s3.enabled }}
- name: TILECAST_S3_ENDPOINT
  value: {{ .Values.s3.endpoint | quote }}
- name: AWS_REGION
  value: {{ .Values.s3.region | quote }}
- name: TILECAST_S3_PATH_STYLE
  value: {{ .Values.s3.forcePathStyle | quote }}
- name: TILECAST_S3_RETRY_TIMEOUT
  value: {{ .Values.s3.retryTimeout | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ required "s3.existingSecret is required when s3.enabled" .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretAccessKeyKey }}
{{- end }}
{{- end }}

{{- define "tilecast.volumeMounts" -}}
- name: out
  mountPath: {{ .Values.storage.out.mountPath }}
- name: scratch
  mountPath: /scratch
{{- if .Values.palettes }}
- name: palettes
  mountPath: /etc/tilecast/palettes/custom
  readOnly: true
{{- end }}
{{- end }}

{{/* MiB of /scratch for a component ("chunker" or "worker"), called with
     (dict "root" $ "component" name): with bucket ingest the chunker spools the largest
     object and a worker caches NetCDF objects and holds the one in use; 256 MiB is for
     temporary files. With volumes nothing is spooled or cached. */}}
{{- define "tilecast.scratchMiB" -}}
{{- $v := .root.Values -}}
{{- $mib := 256 -}}
{{- if $v.storage.ingest.url -}}
{{- $mib = add $mib $v.storage.largestObjectMiB -}}
{{- if eq .component "worker" -}}
{{- $mib = add $mib $v.worker.cacheMb -}}
{{- end -}}
{{- end -}}
{{- $mib -}}
{{- end }}

{{/* A container's resources with the scratch space as its ephemeral-storage request and
     limit (unless given), so the scheduler places the pod where the space is and the kubelet
     never evicts it for using what it was sized for. Called with
     (dict "resources" map "scratchMiB" n). */}}
{{- define "tilecast.resources" -}}
{{- $eph := dict "ephemeral-storage" (printf "%vMi" .scratchMiB) -}}
{{- $req := merge (deepCopy (default dict .resources.requests)) $eph -}}
{{- $lim := merge (deepCopy (default dict .resources.limits)) $eph -}}
requests:
  {{- toYaml $req | nindent 2 }}
limits:
  {{- toYaml $lim | nindent 2 }}
{{- end }}

{{/* Volumes every pod has; called with (dict "root" $ "scratchMiB" n). */}}
{{- define "tilecast.volumes" -}}
{{- $v := .root.Values -}}
- name: out
  {{- if $v.storage.out.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ $v.storage.out.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: scratch
  emptyDir:
    sizeLimit: {{ .scratchMiB }}Mi
{{- if $v.palettes }}
- name: palettes
  configMap:
    name: {{ include "tilecast.fullname" .root }}-palettes
{{- end }}
{{- end }}

{{/* The worker container, shared by the ScaledJob and Deployment modes.
     Called with (dict "root" $ "longLived" bool). */}}
{{- define "tilecast.workerContainer" -}}
{{- $v := .root.Values -}}
- name: worker
  image: {{ include "tilecast.image" .root }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  args:
    - worker
    {{- if .longLived }}
    - --max-jobs
    - {{ $v.worker.deployment.maxJobs | quote }}
    - --idle-exit
    - {{ $v.worker.deployment.idleExit | quote }}
    {{- else }}
    - --max-jobs
    - {{ $v.worker.scaledJob.maxJobs | quote }}
    - --idle-exit
    - {{ $v.worker.scaledJob.idleExit | quote }}
    {{- end }}
  env:
    {{- include "tilecast.env" .root | nindent 4 }}
    # Job sources are read from here only (the trust boundary for job messages).
    - name: TILECAST_INGEST
      value: {{ $v.storage.ingest.url | default $v.storage.ingest.mountPath | quote }}
    - name: TILECAST_JOB_TIMEOUT
      value: {{ $v.worker.jobTimeout | quote }}
    - name: TILECAST_CACHE_DIR
      value: /scratch/cache
    - name: TILECAST_CACHE_MB
      value: {{ $v.worker.cacheMb | quote }}
  volumeMounts:
    {{- include "tilecast.volumeMounts" .root | nindent 4 }}
    - name: ingest
      mountPath: {{ $v.storage.ingest.mountPath }}
      readOnly: true
  resources:
    {{- include "tilecast.resources" (dict "resources" $v.worker.resources "scratchMiB" (include "tilecast.scratchMiB" (dict "root" .root "component" "worker"))) | nindent 4 }}
  securityContext:
    {{- toYaml $v.securityContext | nindent 4 }}
{{- end }}

{{- define "tilecast.ingestVolume" -}}
- name: ingest
  {{- if .Values.storage.ingest.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.storage.ingest.existingClaim }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
