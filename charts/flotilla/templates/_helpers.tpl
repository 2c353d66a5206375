{{/*
Names, labels, images and the hardened security settings every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "flotilla.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: "<release>-<name>", or the release name when it already
contains the chart name, or fullnameOverride. Leaves room for a component suffix. */}}
{{- define "flotilla.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects. Call with (dict "ctx" $ "component" "operator"). */}}
{{- define "flotilla.componentName" -}}
{{- printf "%s-%s" (include "flotilla.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secrets the operator keeps for mutual TLS in the release namespace: the CA ("ca") and
a component's TLS Secret ("gateway", "operator"). Call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "flotilla.mtlsSecret" -}}
{{- if eq .component "ca" -}}
{{- printf "%s-ca" (include "flotilla.fullname" .ctx) -}}
{{- else -}}
{{- printf "%s-mtls" (include "flotilla.componentName" .) -}}
{{- end -}}
{{- end -}}

{{/* A component's TLS Secret as a volume. Optional: the operator issues it after its first start,
and the kubelet fills the directory then; the component reloads it without a restart. */}}
{{- define "flotilla.mtlsVolume" -}}
- name: mtls
  secret:
    secretName: {{ include "flotilla.mtlsSecret" . }}
    optional: true
{{- end -}}

{{/* The namespaces that hold Tenants' API-key Secrets, as a list: tenantSecretNamespaces, or the
release namespace when it lists none. */}}
{{- define "flotilla.tenantSecretNamespaces" -}}
{{- $namespaces := .Values.tenantSecretNamespaces | default (list .Release.Namespace) -}}
{{- toJson $namespaces -}}
{{- end -}}

{{/* A label map as "k=v,k=v" (sorted), how the operator reads selectors from its environment. */}}
{{- define "flotilla.labelList" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* Labels that select a component's pods; never change them after the first install. */}}
{{- define "flotilla.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flotilla.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Labels of every object of a component. */}}
{{- define "flotilla.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "flotilla.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: flotilla
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* Image reference "<registry>/<repository>:<tag>". The tag defaults to appVersion; an empty
tag or "latest" fails the render, so every pod runs a pinned build.
Call with (dict "ctx" $ "repository" .Values.operator.image.repository). */}}
{{- define "flotilla.image" -}}
{{- $tag := toString (default .ctx.Chart.AppVersion .ctx.Values.image.tag) -}}
{{- if not $tag -}}
{{- fail "image.tag is empty and the chart has no appVersion: set image.tag to a version" -}}
{{- end -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag \"latest\" is not allowed: set image.tag to a version" -}}
{{- end -}}
{{- if not .repository -}}
{{- fail "an image repository is empty" -}}
{{- end -}}
{{- $registry := trimSuffix "/" (toString .ctx.Values.image.registry) -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Pod-level security: a fixed non-root user, the runtime's default seccomp profile. */}}
{{- define "flotilla.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security: read-only root filesystem (writable /tmp is an emptyDir), no
privilege escalation, no capabilities. */}}
{{- define "flotilla.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Liveness and readiness probes on a container's named HTTP port (Quarkus SmallRye Health). */}}
{{- define "flotilla.probes" -}}
livenessProbe:
  httpGet:
    path: /q/health/live
    port: http
  initialDelaySeconds: 10
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /q/health/ready
    port: http
  initialDelaySeconds: 3
  periodSeconds: 5
  timeoutSeconds: 2
  failureThreshold: 3
{{- end -}}
