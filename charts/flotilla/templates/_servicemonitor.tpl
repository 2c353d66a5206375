{{/* A ServiceMonitor scraping /q/metrics on a component Service's "http" port.
Call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "flotilla.serviceMonitor" -}}
{{- $sm := .ctx.Values.metrics.serviceMonitor -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "flotilla.componentName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "flotilla.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "flotilla.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace }}
  endpoints:
    - port: http
      path: /q/metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end -}}
