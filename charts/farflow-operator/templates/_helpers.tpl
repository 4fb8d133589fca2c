{{/* The release's name when it says farflow already (`helm install farflow`), else
<release>-farflow-operator; every object of the chart is named so. */}}
{{- define "farflow.fullname" -}}
{{- if contains "farflow" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "farflow.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "farflow.fullname" .) -}}
{{- end -}}

{{- define "farflow.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "farflow.labels" -}}
{{ include "farflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "farflow.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The kopf peering the replicas share; only used when replicas > 1. */}}
{{- define "farflow.peering" -}}
{{- include "farflow.fullname" . -}}
{{- end -}}

{{/*
The rules the operator needs in each namespace it watches (as a Role) or in all of them (as a
ClusterRole). Each rule says which code uses it; keep it in step with operator/farflow.
*/}}
{{- define "farflow.namespacedRules" -}}
# kopf: list and watch AirflowClusters, patch their finalizers and annotations (kopf) and
# their status (reconcile.py).
- apiGroups: ["farflow.io"]
  resources: ["airflowclusters"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["farflow.io"]
  resources: ["airflowclusters/status"]
  verbs: ["patch"]
# kube/apply.py: server-side apply (patch; creating an object by apply also needs create),
# create-once Jobs, and pruning (delete) of these kinds; kube/cache.py reads them from
# watches (list + watch); users' Secrets (the database URL, ...) are read with get.
- apiGroups: [""]
  resources: ["serviceaccounts", "secrets", "configmaps", "services"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["rolebindings"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Earlier versions made Roles; kube/apply.py prunes those left over.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles"]
  verbs: ["list", "watch", "delete"]
# manifests/rbac.py binds Airflow's task-pod runners to these ClusterRoles of the chart
# (task-roles.yaml). RBAC lets a RoleBinding grant only what its author holds, or may `bind`:
# the operator may bind exactly these two, and holds no pod rights itself.
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["clusterroles"]
  resourceNames: ["farflow-kubernetes-executor", "farflow-pod-operator"]
  verbs: ["bind"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# manifests/security_groups.py: security groups for the Airflow pods (EKS's CRD).
- apiGroups: ["vpcresources.k8s.aws"]
  resources: ["securitygrouppolicies"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# kube/observe.py: a Fargate profile FarFlow replaces is deleted once no pod is on it;
# scaler.py: before a scale-in, each worker pod's deletion cost is its running tasks.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "patch"]
# kopf and kube/events.py post Events.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- if gt (int .Values.replicas) 1 }}
# kopf peering between the replicas (--peering).
- apiGroups: ["kopf.dev"]
  resources: ["kopfpeerings"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- end -}}

{{/*
upgrade.py: the operator server-side applies its own CRD at start (Helm never upgrades the
CRDs of crds/), and reads it first. Cluster-scoped, and only this CRD.
*/}}
{{- define "farflow.crdRule" -}}
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  resourceNames: ["airflowclusters.farflow.io"]
  verbs: ["get", "patch"]
{{- end -}}
