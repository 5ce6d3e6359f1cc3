{{/*
Names and labels.
*/}}
{{- define "tiergate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tiergate.fullname" -}}
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

{{- define "tiergate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tiergate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tiergate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tiergate.labels" -}}
helm.sh/chart: {{ include "tiergate.chart" . }}
{{ include "tiergate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tiergate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The gateway's configuration file: .Values.config, else the chart's copy of
the embedded default. With auth.keys set it is rewritten through YAML to
add those keys, each secret a ${TIERGATE_KEY_<n>} reference.
*/}}
{{- define "tiergate.configText" -}}
{{- $text := .Values.config | default (.Files.Get "files/tiergate.yaml") }}
{{- if not $text }}
{{- fail "no configuration: set config, or restore the chart's files/tiergate.yaml" }}
{{- end }}
{{- if .Values.auth.keys }}
{{- $cfg := fromYaml $text }}
{{- if hasKey $cfg "Error" }}
{{- fail (printf "config is not YAML: %s" $cfg.Error) }}
{{- end }}
{{- $auth := $cfg.auth | default dict }}
{{- $keys := $auth.keys | default list }}
{{- range $i, $k := .Values.auth.keys }}
{{- if not (and $k.name $k.existingSecret $k.secretKey) }}
{{- fail (printf "auth.keys[%d] needs name, existingSecret and secretKey" $i) }}
{{- end }}
{{- $e := dict "name" $k.name "key" (printf "${TIERGATE_KEY_%d}" $i) }}
{{- with $k.expires_at }}{{ $_ := set $e "expires_at" . }}{{ end }}
{{- with $k.policy }}{{ $_ := set $e "policy" . }}{{ end }}
{{- $keys = append $keys $e }}
{{- end }}
{{- $_ := set $auth "keys" $keys }}
{{- $_ := set $cfg "auth" $auth }}
{{- toYaml $cfg }}
{{- else }}
{{- $text }}
{{- end }}
{{- end }}

{{/*
tiergate.seconds: a Go duration string (5s, 1m30s, 500ms) in seconds.
*/}}
{{- define "tiergate.seconds" -}}
{{- $d := toString . }}
{{- $re := "[0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h)" }}
{{- if not (regexMatch (printf "^(%s)+$" $re) $d) }}
{{- fail (printf "server.drain_delay and server.shutdown_grace must be plain durations such as 5s or 1m30s for the chart to compute terminationGracePeriodSeconds, not %q" $d) }}
{{- end }}
{{- $unit := dict "ns" 0.000000001 "us" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll $re $d -1 }}
{{- $n := regexFind "^[0-9]+(\\.[0-9]+)?" . }}
{{- $u := trimPrefix $n . }}
{{- $total = addf $total (mulf (float64 $n) (get $unit $u)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
terminationGracePeriodSeconds: the preStop sleep, then the config's
server.drain_delay and server.shutdown_grace (the gateway's defaults, 5s
and 30s, when it leaves them out), the 2 s the gateway gives cut streams,
and a margin.
*/}}
{{- define "tiergate.terminationGracePeriodSeconds" -}}
{{- $cfg := fromYaml (include "tiergate.configText" .) }}
{{- $server := $cfg.server | default dict }}
{{- $drain := include "tiergate.seconds" ($server.drain_delay | default "5s") }}
{{- $grace := include "tiergate.seconds" ($server.shutdown_grace | default "30s") }}
{{- $sum := addf (.Values.lifecycle.preStopSleepSeconds | default 0) $drain $grace 2 (.Values.lifecycle.terminationMarginSeconds | default 0) }}
{{- ceil $sum | int }}
{{- end }}

{{- define "tiergate.tiersPath" -}}
{{- if and .Values.bench.enabled .Values.bench.tiersClaim }}/tiers/tiers.json{{ else }}/data/tiers.json{{ end }}
{{- end }}

{{/*
tiergate.env: the environment of the gateway (gateway true) and of the
bench job: every secret is a secretKeyRef, never a value.
*/}}
{{- define "tiergate.env" -}}
{{- $v := .root.Values }}
{{- if .gateway }}
- name: TIERGATE_ADDR
  value: {{ printf "0.0.0.0:%v" $v.port | quote }}
{{- end }}
- name: TIERGATE_AUTH_MODE
  value: {{ $v.auth.mode | quote }}
- name: TIERGATE_DATA_DIR
  value: /data
- name: TIERGATE_TIERS
  value: {{ include "tiergate.tiersPath" .root }}
{{- with $v.providers.existingSecret }}
{{- $secret := . }}
{{- range $v.providers.keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end }}
{{- if and .gateway $v.auth.admin.existingSecret }}
- name: TIERGATE_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.auth.admin.existingSecret }}
      key: {{ $v.auth.admin.secretKey }}
{{- end }}
{{- /* the config references them, so the bench's loader needs them too */}}
{{- range $i, $k := $v.auth.keys }}
- name: {{ printf "TIERGATE_KEY_%d" $i }}
  valueFrom:
    secretKeyRef:
      name: {{ $k.existingSecret }}
      key: {{ $k.secretKey }}
{{- end }}
{{- with $v.state.redis.existingSecret }}
- name: TIERGATE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.state.redis.secretKey }}
{{- end }}
{{- with $v.state.postgres.existingSecret }}
- name: TIERGATE_POSTGRES_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $v.state.postgres.secretKey }}
{{- end }}
{{- range $name, $value := $v.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
