{{/* A ServiceMonitor named after a component, scraping /q/metrics on the port "port" of the Service
whose component label is "service". Call with
(dict "ctx" $ "component" "gateway" "service" "gateway-metrics" "port" "metrics"). */}}
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
      {{- include "flotilla.selectorLabels" (dict "ctx" .ctx "component" .service) | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace }}
  endpoints:
    - port: {{ .port }}
      path: /q/metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end -}}
