{{/* The image of the controller and of the data planes. */}}
{{- define "nghttpx-gateway.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Labels of every object; component is controller or proxy. */}}
{{- define "nghttpx-gateway.labels" -}}
app.kubernetes.io/name: nghttpx-gateway
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Values.image.tag | default .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The controller's pod selector (the same as config/controller). */}}
{{- define "nghttpx-gateway.selector" -}}
app.kubernetes.io/name: nghttpx-gateway
app.kubernetes.io/component: controller
{{- end }}

{{/* The controller's ServiceAccount as admission sees it. */}}
{{- define "nghttpx-gateway.user" -}}
system:serviceaccount:{{ .Release.Namespace }}:nghttpx-gateway
{{- end }}
