-- argo_events: Argo Events (event sources and sensors that start
-- workflows), installed by the module itself from the release's documented
-- facts, pinned to `version`: the three argoproj.io CRDs (EventBus,
-- EventSource, Sensor; spec and status keep unknown fields as upstream's),
-- the ServiceAccount argo-events-sa, the ClusterRole argo-events-role and
-- its binding, the aggregated argo-events-aggregate-to-view|edit|admin
-- ClusterRoles, the controller's ConfigMap (the JetStream event bus
-- versions it may run) and the controller-manager Deployment; and an
-- EventBus "default" (JetStream) in every namespace of `eventbus_namespaces`.
--
-- Inputs:  cluster (the gcp.container_cluster: the gke module's `cluster`) (required);
--          version ("v1.9.11"), namespace ("argo-events"),
--          eventbus_namespaces ({ namespace }: namespaces given an EventBus "default";
--          each must exist or be `namespace`), eventbus_replicas (3: JetStream servers),
--          nats_version ("2.10.29")
-- Outputs: namespace, eventbus ("default")
local util = require("util")

local group = "argoproj.io"
local kinds = { { "eventbus", "EventBus", "eb", "eventbus" }, { "eventsources", "EventSource", "es", "eventsource" },
                { "sensors", "Sensor", "sn", "sensor" } }

local function rule(groups, resources, verbs)
  return { apiGroups = groups, resources = resources, verbs = verbs }
end

local own = {}
for _, k in ipairs(kinds) do
  for _, sfx in ipairs({ "", "/finalizers", "/status" }) do own[#own + 1] = k[1] .. sfx end
end
local all = { "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch" }
local crud = { "create", "get", "list", "watch", "update", "patch", "delete" }

local controller_rules = {
  rule({ "" }, { "events" }, { "create", "patch" }),
  rule({ "coordination.k8s.io" }, { "leases" }, crud),
  rule({ group }, own, all),
  rule({ "" }, { "pods", "pods/exec", "configmaps", "services", "persistentvolumeclaims" }, crud),
  rule({ "" }, { "secrets" }, { "create", "get", "list", "update", "patch", "delete" }),
  rule({ "apps" }, { "deployments", "statefulsets" }, crud),
}

local function controller_config(nats)
  return table.concat({
    "eventBus:",
    "  jetstream:",
    "    settings: |",
    "      max_memory_store: -1",
    "      max_file_store: 1TB",
    "    streamConfig: |",
    "      maxMsgs: 50000",
    "      maxAge: 168h",
    "      maxBytes: -1",
    "      replicas: 3",
    "      duplicates: 300s",
    "      retention: 0",
    "      discard: 0",
    "    versions:",
    "    - version: latest",
    "      natsImage: nats:" .. nats,
    "      metricsExporterImage: natsio/prometheus-nats-exporter:0.14.0",
    "      configReloaderImage: natsio/nats-server-config-reloader:0.14.0",
    "      startCommand: /nats-server",
    "",
  }, "\n")
end

return function(args)
  local i = util.inputs("argo_events", args, {
    cluster = { required = true },
    version = { type = "string", default = "v1.9.11" },
    namespace = { type = "string", default = "argo-events" },
    eventbus_namespaces = { type = "table" },
    eventbus_replicas = { type = "number", default = 3, min = 1 },
    nats_version = { type = "string", default = "2.10.29" },
  })
  if not i.version:match("^v%d+%.%d+%.%d+$") then
    error("module argo_events: input 'version' must look like v1.9.11, got '" .. i.version .. "'", 3)
  end
  local cl, ns = i.cluster, i.namespace
  local labels = { ["app.kubernetes.io/part-of"] = "argo-events", ["app.kubernetes.io/managed-by"] = "plinth",
                   ["app.kubernetes.io/version"] = i.version }
  local function obj(addr, apiVersion, kind, name, namespace, body, extra_labels)
    local l = {}
    for k, v in pairs(labels) do l[k] = v end
    for k, v in pairs(extra_labels or {}) do l[k] = v end
    body.cluster, body.apiVersion, body.kind = cl, apiVersion, kind
    body.metadata = { name = name, namespace = namespace, labels = l }
    return k8s.object(addr)(body)
  end
  local open = { type = "object", ["x-kubernetes-preserve-unknown-fields"] = true }
  local rbac = "rbac.authorization.k8s.io/v1"

  k8s.namespace "argo_events" { cluster = cl, metadata = { name = ns } }
  for _, k in ipairs(kinds) do
    obj("crd_" .. k[1], "apiextensions.k8s.io/v1", "CustomResourceDefinition", k[1] .. "." .. group, nil, {
      spec = {
        group = group, scope = "Namespaced",
        names = { kind = k[2], listKind = k[2] .. "List", plural = k[1], singular = k[4], shortNames = { k[3] } },
        versions = { {
          name = "v1alpha1", served = true, storage = true, subresources = { status = {} },
          schema = { openAPIV3Schema = {
            type = "object", required = { "metadata", "spec" },
            properties = { apiVersion = { type = "string" }, kind = { type = "string" },
                           metadata = { type = "object" }, spec = open, status = open },
          } },
        } },
      },
    })
  end
  obj("service_account", "v1", "ServiceAccount", "argo-events-sa", ns, {})
  obj("cluster_role", rbac, "ClusterRole", "argo-events-role", nil, { rules = controller_rules })
  obj("cluster_role_binding", rbac, "ClusterRoleBinding", "argo-events-binding", nil, {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "argo-events-role" },
    subjects = { { kind = "ServiceAccount", name = "argo-events-sa", namespace = ns } },
  })
  for _, level in ipairs({ "view", "edit", "admin" }) do
    obj("aggregate_" .. level, rbac, "ClusterRole", "argo-events-aggregate-to-" .. level, nil,
        { rules = { rule({ group }, own, level == "view" and { "get", "list", "watch" } or all) } },
        { ["rbac.authorization.k8s.io/aggregate-to-" .. level] = "true" })
  end
  obj("controller_config", "v1", "ConfigMap", "argo-events-controller-config", ns, {
    data = { ["controller-config.yaml"] = controller_config(i.nats_version) },
  })
  local image = "quay.io/argoproj/argo-events:" .. i.version
  local sel = { app = "controller-manager" }
  obj("controller", "apps/v1", "Deployment", "controller-manager", ns, {
    spec = {
      replicas = 1, selector = { matchLabels = sel },
      template = {
        metadata = { labels = sel },
        spec = {
          serviceAccountName = "argo-events-sa",
          securityContext = { runAsNonRoot = true, runAsUser = 9731 },
          containers = { {
            name = "controller-manager", image = image, args = { "controller" },
            env = { { name = "ARGO_EVENTS_IMAGE", value = image },
                    { name = "NAMESPACE", valueFrom = { fieldRef = { fieldPath = "metadata.namespace" } } } },
            livenessProbe = { httpGet = { path = "/healthz", port = 8081 }, initialDelaySeconds = 3, periodSeconds = 3 },
            readinessProbe = { httpGet = { path = "/readyz", port = 8081 }, initialDelaySeconds = 3, periodSeconds = 3 },
            volumeMounts = { { name = "controller-config-volume", mountPath = "/etc/argo-events" } },
            securityContext = { allowPrivilegeEscalation = false, capabilities = { drop = { "ALL" } } },
          } },
          volumes = { { name = "controller-config-volume", configMap = { name = "argo-events-controller-config" } } },
        },
      },
    },
  })
  for n, bns in ipairs(i.eventbus_namespaces or { ns }) do
    obj("eventbus" .. (n > 1 and "_" .. bns:gsub("%-", "_") or ""), group .. "/v1alpha1", "EventBus", "default", bns, {
      spec = { jetstream = { version = "latest", replicas = i.eventbus_replicas } },
    })
  end
  return { namespace = ns, eventbus = "default" }
end
