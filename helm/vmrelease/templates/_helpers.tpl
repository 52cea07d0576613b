{{/*
Labels on every object. The names are fixed (vmrelease-controller, as in
deploy/kustomize): the ClusterRole and CRDs are cluster-wide, so one install
per cluster.
*/}}
{{- define "vmrelease.labels" -}}
app.kubernetes.io/name: vmrelease
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: vmrelease
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vmrelease.selectorLabels" -}}
app.kubernetes.io/name: vmrelease
app.kubernetes.io/component: controller
{{- end -}}
