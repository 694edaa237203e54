-- argo_workflows: Argo Workflows, installed by the module itself (no
-- upstream YAML), with its artifact repository on GCS through workload
-- identity.
--
-- Cloud side: a GCS bucket and a Google service account with objectAdmin on
-- it, bound through workload identity to the Kubernetes service account
-- <workflow namespace>/argo-workflow of every workflow namespace.
-- Cluster side (when `cluster` is given), the objects of the release's
-- cluster install, written here from its documented facts and pinned to
-- `version`:
--   * the eight argoproj.io CRDs with minimal structural schemas (spec and
--     status keep unknown fields where upstream's minimal CRDs do; the
--     controller validates workflows itself);
--   * ServiceAccounts argo (controller) and argo-server; the ClusterRoles
--     argo-cluster-role, argo-server-cluster-role and the aggregated
--     argo-aggregate-to-view|edit|admin; the Role argo-role (leader
--     election leases); their bindings;
--   * the ConfigMap workflow-controller-configmap whose artifactRepository
--     is the bucket, with no key secret (the workflow pods' identity is the
--     Google service account);
--   * the PriorityClass workflow-controller, the workflow-controller and
--     argo-server Deployments (images quay.io/argoproj/*:<version>,
--     non-root, read-only root filesystem, no capabilities) and the
--     argo-server Service (2746, HTTPS);
--   * in every workflow namespace the ServiceAccount argo-workflow (the
--     Google service account's annotation) and the Roles the pods need:
--     executor (workflowtaskresults create patch) and artifactgc.
-- Workflows run as `serviceAccountName: argo-workflow`.
--
-- Inputs:  project, name, workload_pool (the gke module's output) (required);
--          cluster (the gcp.container_cluster: the gke module's `cluster`;
--          without it only the cloud side is declared),
--          version ("v3.7.18": the Argo Workflows release of the images and
--          RBAC; v4.x works too, the CRDs staying minimal),
--          registry ("quay.io/argoproj"), namespace ("argo"),
--          workflow_namespaces ({ namespace }: where workflows run; each is
--          created unless it is `namespace`), auth_mode ("client": argo-server's
--          --auth-mode, or "server"), bucket_location ("EU"),
--          key_format ("{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}"),
--          archive_logs (true), node_selector ({ ["kubernetes.io/os"] = "linux" })
-- Outputs: bucket, service_account (email), namespace, workflow_service_account,
--          server_url (https://argo-server.<namespace>.svc.cluster.local:2746, nil
--          without a cluster), controller_metrics_port (9090)
local util = require("util")

local group = "argoproj.io"

-- Upstream's minimal schema: spec (and status) are objects whose content
-- the API server keeps as given.
local function open_object()
  return { type = "object", ["x-kubernetes-map-type"] = "atomic", ["x-kubernetes-preserve-unknown-fields"] = true }
end

local function schema(props, required)
  local p = { apiVersion = { type = "string" }, kind = { type = "string" }, metadata = { type = "object" } }
  for k, v in pairs(props) do p[k] = v end
  return { type = "object", properties = p, required = required }
end

-- plural, kind, scope, short names, schema, status subresource, printer columns
local crds = {
  { "workflows", "Workflow", "Namespaced", { "wf" },
    schema({ spec = open_object(), status = open_object() }, { "metadata", "spec" }), false,
    { { name = "Status", type = "string", jsonPath = ".status.phase", description = "Status of the workflow" },
      { name = "Age", type = "date", format = "date-time", jsonPath = ".status.startedAt",
        description = "When the workflow was started" },
      { name = "Message", type = "string", jsonPath = ".status.message",
        description = "Human readable message indicating details about why the workflow is in this condition." } } },
  { "cronworkflows", "CronWorkflow", "Namespaced", { "cwf", "cronwf" },
    schema({ spec = open_object(), status = open_object() }, { "metadata", "spec" }) },
  { "workflowtemplates", "WorkflowTemplate", "Namespaced", { "wftmpl" },
    schema({ spec = open_object() }, { "metadata", "spec" }) },
  { "clusterworkflowtemplates", "ClusterWorkflowTemplate", "Cluster", { "clusterwftmpl", "cwft" },
    schema({ spec = open_object() }, { "metadata", "spec" }) },
  { "workfloweventbindings", "WorkflowEventBinding", "Namespaced", { "wfeb" },
    schema({ spec = open_object() }, { "metadata", "spec" }) },
  { "workflowtasksets", "WorkflowTaskSet", "Namespaced", { "wfts" },
    schema({ spec = open_object(), status = open_object() }, { "metadata", "spec" }), true },
  { "workflowtaskresults", "WorkflowTaskResult", "Namespaced", nil,
    schema({ message = { type = "string" }, phase = { type = "string" }, progress = { type = "string" },
             outputs = open_object() }, { "metadata" }) },
  { "workflowartifactgctasks", "WorkflowArtifactGCTask", "Namespaced", { "wfat" },
    schema({ spec = open_object(), status = open_object() }, { "metadata", "spec" }), true },
}

local function rule(groups, resources, verbs, names)
  return { apiGroups = groups, resources = resources, verbs = verbs, resourceNames = names }
end

local all_verbs = { "get", "list", "watch", "update", "patch", "delete", "create" }

local controller_rules = {
  rule({ "" }, { "pods", "pods/exec" }, { "create", "get", "list", "watch", "update", "patch", "delete" }),
  rule({ "" }, { "configmaps" }, { "get", "watch", "list" }),
  rule({ "" }, { "persistentvolumeclaims", "persistentvolumeclaims/finalizers" }, { "create", "update", "delete", "get" }),
  rule({ group }, { "workflows", "workflows/finalizers", "workflowtasksets", "workflowtasksets/finalizers",
                    "workflowartifactgctasks" }, all_verbs),
  rule({ group }, { "workflowtemplates", "workflowtemplates/finalizers", "clusterworkflowtemplates",
                    "clusterworkflowtemplates/finalizers" }, { "get", "list", "watch" }),
  rule({ group }, { "workflowtaskresults" }, { "list", "watch", "deletecollection" }),
  rule({ "" }, { "serviceaccounts" }, { "get", "list" }),
  rule({ group }, { "cronworkflows", "cronworkflows/finalizers" }, { "get", "list", "watch", "update", "patch", "delete" }),
  rule({ "" }, { "events" }, { "create", "patch" }),
  rule({ "policy" }, { "poddisruptionbudgets" }, { "create", "get", "delete" }),
  rule({ "" }, { "namespaces" }, { "get", "watch", "list" }),
  rule({ "" }, { "secrets" }, { "get" }, { "argo-workflows-agent-ca-certificates" }),
}

local server_rules = {
  rule({ "" }, { "configmaps" }, { "get", "watch", "list" }),
  rule({ "" }, { "secrets" }, { "get", "create" }),
  rule({ "" }, { "pods", "pods/exec", "pods/log" }, { "get", "list", "watch", "delete" }),
  rule({ "" }, { "events" }, { "watch", "create", "patch" }),
  rule({ "" }, { "serviceaccounts" }, { "get", "list", "watch" }),
  rule({ group }, { "eventsources", "sensors", "workflows", "workfloweventbindings", "workflowtemplates",
                    "cronworkflows", "clusterworkflowtemplates" }, { "create", "get", "list", "watch", "update", "patch", "delete" }),
}

local function aggregate_rules(level)
  local res = {}
  local kinds = { "workflows", "workfloweventbindings", "workflowtemplates", "cronworkflows",
                  "clusterworkflowtemplates", "workflowtaskresults" }
  if level == "admin" then kinds[#kinds + 1] = "workflowtasksets" end
  for _, k in ipairs(kinds) do
    res[#res + 1] = k
    res[#res + 1] = k .. "/finalizers"
  end
  local verbs = level == "view" and { "get", "list", "watch" }
                or { "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch" }
  return { rule({ group }, res, verbs) }
end

local hardened = {
  readOnlyRootFilesystem = true, runAsNonRoot = true, allowPrivilegeEscalation = false,
  capabilities = { drop = { "ALL" } },
}

return function(args)
  local i = util.inputs("argo_workflows", args, {
    project = { type = "string", required = true },
    workload_pool = { required = true },
    name = { type = "string", required = true },
    cluster = {},
    version = { type = "string", default = "v3.7.18" },
    registry = { type = "string", default = "quay.io/argoproj" },
    namespace = { type = "string", default = "argo" },
    workflow_namespaces = { type = "table" },
    auth_mode = { type = "string", default = "client", one_of = { "client", "server" } },
    bucket_location = { type = "string", default = "EU" },
    key_format = { type = "string", default = "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}" },
    archive_logs = { type = "boolean", default = true },
    node_selector = { type = "table", default = { ["kubernetes.io/os"] = "linux" } },
  })
  if not i.version:match("^v%d+%.%d+%.%d+$") then
    error("module argo_workflows: input 'version' must look like v3.7.18, got '" .. i.version .. "'", 3)
  end
  local wf_nss = i.workflow_namespaces or { i.namespace }
  local bucket = gcp.storage_bucket "artifacts" {
    name = i.project .. "-" .. i.name .. "-argo-artifacts", location = i.bucket_location,
    iamConfiguration = { uniformBucketLevelAccess = { enabled = true } },
    labels = { app = "argo-workflows" },
  }
  local sa = gcp.service_account "argo" {
    accountId = i.name .. "-argo", displayName = "Argo Workflows artifacts",
  }
  gcp.storage_bucket_iam_member "artifacts" {
    bucket = bucket.name, role = "roles/storage.objectAdmin", member = "serviceAccount:" .. sa.email,
  }
  for n, wns in ipairs(wf_nss) do
    gcp.service_account_iam_member("argo_wi" .. (n > 1 and "_" .. wns or "")) {
      service_account = sa.name, role = "roles/iam.workloadIdentityUser",
      member = fmt("serviceAccount:%s[%s/argo-workflow]", i.workload_pool, wns),
    }
  end
  local out = { bucket = bucket.name, service_account = sa.email, namespace = i.namespace,
                workflow_service_account = "argo-workflow" }
  if i.cluster == nil then return out end

  local ns, cl = i.namespace, i.cluster
  local labels = { ["app.kubernetes.io/part-of"] = "argo-workflows", ["app.kubernetes.io/managed-by"] = "plinth",
                   ["app.kubernetes.io/version"] = i.version }
  local function meta(name, namespace, extra)
    local m = { name = name, namespace = namespace, labels = {} }
    for k, v in pairs(labels) do m.labels[k] = v end
    for k, v in pairs(extra or {}) do m.labels[k] = v end
    return m
  end
  local function obj(addr, apiVersion, kind, metadata, body)
    body.cluster, body.apiVersion, body.kind, body.metadata = cl, apiVersion, kind, metadata
    return k8s.object(addr)(body)
  end
  local rbac = "rbac.authorization.k8s.io/v1"

  k8s.namespace "argo" { cluster = cl, metadata = { name = ns } }
  for _, c in ipairs(crds) do
    local plural, kind, scope, short, sch, status, cols = c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    obj("crd_" .. plural, "apiextensions.k8s.io/v1", "CustomResourceDefinition",
        meta(plural .. "." .. group), {
      spec = {
        group = group, scope = scope,
        names = { kind = kind, listKind = kind .. "List", plural = plural, singular = kind:lower(),
                  shortNames = short },
        versions = { {
          name = "v1alpha1", served = true, storage = true,
          schema = { openAPIV3Schema = sch },
          subresources = status and { status = {} } or nil,
          additionalPrinterColumns = cols,
        } },
      },
    })
  end

  obj("sa_controller", "v1", "ServiceAccount", meta("argo", ns), {})
  obj("sa_server", "v1", "ServiceAccount", meta("argo-server", ns), {})
  obj("role_controller", rbac, "Role", meta("argo-role", ns), {
    rules = { rule({ "coordination.k8s.io" }, { "leases" }, { "create", "get", "update" }),
              rule({ "" }, { "secrets" }, { "get" }) },
  })
  obj("rolebinding_controller", rbac, "RoleBinding", meta("argo-binding", ns), {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "argo-role" },
    subjects = { { kind = "ServiceAccount", name = "argo", namespace = ns } },
  })
  obj("clusterrole_controller", rbac, "ClusterRole", meta("argo-cluster-role"), { rules = controller_rules })
  obj("clusterrolebinding_controller", rbac, "ClusterRoleBinding", meta("argo-binding"), {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "argo-cluster-role" },
    subjects = { { kind = "ServiceAccount", name = "argo", namespace = ns } },
  })
  local srules = server_rules
  if util.version_at_least(i.version:sub(2), "4.1.0") then
    -- From 4.1 the server also writes ConfigMaps.
    srules = { rule({ "" }, { "configmaps" }, { "get", "watch", "list", "create", "update" }) }
    for n = 2, #server_rules do srules[n] = server_rules[n] end
  end
  obj("clusterrole_server", rbac, "ClusterRole", meta("argo-server-cluster-role"), { rules = srules })
  obj("clusterrolebinding_server", rbac, "ClusterRoleBinding", meta("argo-server-binding"), {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "argo-server-cluster-role" },
    subjects = { { kind = "ServiceAccount", name = "argo-server", namespace = ns } },
  })
  for _, level in ipairs({ "view", "edit", "admin" }) do
    obj("clusterrole_aggregate_" .. level, rbac, "ClusterRole",
        meta("argo-aggregate-to-" .. level, nil, { ["rbac.authorization.k8s.io/aggregate-to-" .. level] = "true" }),
        { rules = aggregate_rules(level) })
  end

  obj("controller_configmap", "v1", "ConfigMap", meta("workflow-controller-configmap", ns), {
    data = {
      -- No serviceAccountKeySecret: on GKE with workload identity the
      -- workflow pod's Kubernetes service account is the Google one.
      artifactRepository = "archiveLogs: " .. tostring(i.archive_logs) .. "\ngcs:\n  bucket: " .. bucket.name
                           .. "\n  keyFormat: \"" .. i.key_format .. "\"\n",
      metricsConfig = "enabled: true\npath: /metrics\nport: 9090\n",
    },
  })
  obj("priority_class", "scheduling.k8s.io/v1", "PriorityClass", meta("workflow-controller"), {
    value = 1000000, globalDefault = false,
    description = "The Argo Workflows controller: scheduled before the workflows it runs.",
  })

  local function deployment(addr, app, podspec)
    podspec.securityContext = { runAsNonRoot = true }
    podspec.nodeSelector = i.node_selector
    return obj(addr, "apps/v1", "Deployment", meta(app, ns, { app = app }), {
      spec = {
        replicas = 1, selector = { matchLabels = { app = app } },
        template = { metadata = { labels = { app = app } }, spec = podspec },
      },
    })
  end
  deployment("controller", "workflow-controller", {
    serviceAccountName = "argo", priorityClassName = "workflow-controller",
    containers = { {
      name = "workflow-controller", image = i.registry .. "/workflow-controller:" .. i.version,
      command = { "workflow-controller" },
      args = { "--configmap", "workflow-controller-configmap",
               "--executor-image", i.registry .. "/argoexec:" .. i.version },
      env = { { name = "LEADER_ELECTION_IDENTITY", valueFrom = { fieldRef = { apiVersion = "v1",
                                                                                fieldPath = "metadata.name" } } } },
      ports = { { name = "metrics", containerPort = 9090, protocol = "TCP" },
                { name = "healthz", containerPort = 6060, protocol = "TCP" } },
      livenessProbe = { httpGet = { path = "/healthz", port = 6060 }, failureThreshold = 3,
                        initialDelaySeconds = 90, periodSeconds = 60, timeoutSeconds = 30 },
      securityContext = hardened,
    } },
  })
  deployment("server", "argo-server", {
    serviceAccountName = "argo-server",
    containers = { {
      name = "argo-server", image = i.registry .. "/argocli:" .. i.version,
      args = { "server", "--auth-mode", i.auth_mode },
      ports = { { name = "web", containerPort = 2746, protocol = "TCP" } },
      readinessProbe = { httpGet = { path = "/", port = 2746, scheme = "HTTPS" },
                         initialDelaySeconds = 10, periodSeconds = 20 },
      securityContext = hardened,
      volumeMounts = { { name = "tmp", mountPath = "/tmp" } },
    } },
    volumes = { { name = "tmp", emptyDir = {} } },
  })
  obj("server_service", "v1", "Service", meta("argo-server", ns), {
    spec = { type = "ClusterIP", selector = { app = "argo-server" },
             ports = { { name = "web", port = 2746, targetPort = 2746, protocol = "TCP" } } },
  })

  for n, wns in ipairs(wf_nss) do
    local sfx = n > 1 and "_" .. wns:gsub("%-", "_") or ""
    if wns ~= ns then k8s.namespace("workflows" .. sfx) { cluster = cl, metadata = { name = wns } } end
    obj("workflow_service_account" .. sfx, "v1", "ServiceAccount", {
      name = "argo-workflow", namespace = wns, labels = meta("argo-workflow").labels,
      annotations = { ["iam.gke.io/gcp-service-account"] = sa.email },
    }, {})
    for _, r in ipairs({
      { "executor", { rule({ group }, { "workflowtaskresults" }, { "create", "patch" }) } },
      { "artifactgc", { rule({ group }, { "workflowartifactgctasks" }, { "list", "watch" }),
                        rule({ group }, { "workflowartifactgctasks/status" }, { "patch" }) } },
    }) do
      obj("role_" .. r[1] .. sfx, rbac, "Role", meta(r[1], wns), { rules = r[2] })
      obj("rolebinding_" .. r[1] .. sfx, rbac, "RoleBinding", meta("argo-workflow-" .. r[1], wns), {
        roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = r[1] },
        subjects = { { kind = "ServiceAccount", name = "argo-workflow", namespace = wns } },
      })
    end
  end
  out.server_url = string.format("https://argo-server.%s.svc.cluster.local:2746", ns)
  out.controller_metrics_port = 9090
  return out
end
