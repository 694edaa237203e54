-- kuberay: the KubeRay operator and a RayCluster with a CPU worker group
-- and a GPU worker group on the gke module's GPU pool (autoscaled from zero
-- by the Ray autoscaler).
--
-- The operator is either GKE's managed Ray operator add-on (operator =
-- "addon": the cluster's addonsConfig.rayOperatorConfig, set by the gke
-- module's ray_operator input; GKE >= 1.30.0-gke.1747000, every release
-- channel today; GKE installs the CRDs and runs the operator) or installed
-- by this module (operator = "install"), written here from the release's
-- documented facts, pinned to `version`: the three ray.io CRDs (RayCluster,
-- RayJob, RayService; structural schemas whose spec and status keep unknown
-- fields: the operator validates them), the ServiceAccount, ClusterRole and
-- ClusterRoleBinding kuberay-operator, the leader-election Role and its
-- binding, and the kuberay-operator Deployment and Service (metrics, 8080).
-- Switching an applied "install" to "addon" deletes the module's CRDs, and
-- with them every Ray resource of the cluster: drain first.
-- With operator = "none" neither: no RayCluster either (nothing would serve
-- the kind), and the outputs that need one are nil.
--
-- Inputs:  cluster (the gcp.container_cluster: the gke module's `cluster`) (required);
--          operator ("install" | "addon" | "none"; default "addon"),
--          version ("v1.4.2": the KubeRay release), operator_image
--          ("quay.io/kuberay/operator:<version>"), namespace ("ray"),
--          raycluster (true: declare a RayCluster),
--          cluster_name ("ray"), ray_version ("2.52.0"),
--          image ("rayproject/ray:<ray_version>"), gpu_image ("rayproject/ray:<ray_version>-gpu"),
--          head_cpu ("2"), head_memory ("8Gi"),
--          cpu_workers_min (0), cpu_workers_max (4), worker_cpu ("4"), worker_memory ("16Gi"),
--          gpu_workers_max (0: no GPU group), gpu_per_worker (1), gpu_worker_cpu ("6"),
--          gpu_worker_memory ("24Gi"),
--          gpu_node_selector ({ ["plinth.dev/pool"] = "gpu" }), gpu_tolerations
--          (the nvidia.com/gpu=present:NoSchedule taint) -- the gke module's outputs
-- Outputs: namespace, operator (the input), operator_service (the metrics
--          service "kuberay-operator.<ns>.svc:8080", nil unless installed),
--          raycluster (name, or nil), head_service ("<name>-head-svc", or nil),
--          dashboard_url (http://<head service>.<namespace>.svc.cluster.local:8265, or nil),
--          head_metrics_port (8080, or nil)
local util = require("util")

local function rule(groups, resources, verbs)
  return { apiGroups = groups, resources = resources, verbs = verbs }
end

local crud = { "create", "delete", "get", "list", "patch", "update", "watch" }

-- config/rbac/role.yaml of the release.
local operator_rules = {
  rule({ "" }, { "endpoints" }, { "get", "list", "watch" }),
  rule({ "" }, { "events", "pods/status", "services" }, crud),
  rule({ "" }, { "pods" }, { "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch" }),
  rule({ "" }, { "pods/proxy", "services/status" }, { "get", "patch", "update" }),
  rule({ "" }, { "serviceaccounts" }, { "create", "delete", "get", "list", "watch" }),
  rule({ "" }, { "services/proxy" }, { "create", "get", "patch", "update" }),
  rule({ "batch" }, { "jobs" }, crud),
  rule({ "coordination.k8s.io" }, { "leases" }, { "create", "get", "list", "update" }),
  rule({ "extensions", "networking.k8s.io" }, { "ingresses" }, crud),
  rule({ "networking.k8s.io" }, { "ingressclasses" }, { "get", "list", "watch" }),
  rule({ "ray.io" }, { "rayclusters", "rayjobs", "rayservices" }, crud),
  rule({ "ray.io" }, { "rayclusters/finalizers", "rayjobs/finalizers", "rayservices/finalizers" }, { "update" }),
  rule({ "ray.io" }, { "rayclusters/status", "rayjobs/status", "rayservices/status" }, { "get", "patch", "update" }),
  rule({ "rbac.authorization.k8s.io" }, { "rolebindings" }, { "create", "delete", "get", "list", "watch" }),
  rule({ "rbac.authorization.k8s.io" }, { "roles" }, { "create", "delete", "get", "list", "update", "watch" }),
  rule({ "route.openshift.io" }, { "routes" }, crud),
}

local leader_rules = {
  rule({ "" }, { "configmaps" }, { "get", "list", "watch", "create", "update", "patch", "delete" }),
  rule({ "" }, { "events" }, { "create" }),
  rule({ "coordination.k8s.io" }, { "leases" }, { "create", "get", "list", "update" }),
}

local function col(name, path, typ, priority)
  return { name = name, jsonPath = path, type = typ, priority = priority }
end

-- plural, kind, printer columns
local crds = {
  { "rayclusters", "RayCluster", {
    col("desired workers", ".status.desiredWorkerReplicas", "integer"),
    col("available workers", ".status.availableWorkerReplicas", "integer"),
    col("cpus", ".status.desiredCPU", "string"), col("memory", ".status.desiredMemory", "string"),
    col("gpus", ".status.desiredGPU", "string"), col("status", ".status.state", "string"),
    col("age", ".metadata.creationTimestamp", "date"),
    col("head pod IP", ".status.head.podIP", "string", 1),
    col("head service IP", ".status.head.serviceIP", "string", 1) } },
  { "rayjobs", "RayJob", {
    col("job status", ".status.jobStatus", "string"),
    col("deployment status", ".status.jobDeploymentStatus", "string"),
    col("ray cluster name", ".status.rayClusterName", "string"),
    col("start time", ".status.startTime", "string"), col("end time", ".status.endTime", "string"),
    col("age", ".metadata.creationTimestamp", "date") } },
  { "rayservices", "RayService", {
    col("service status", ".status.serviceStatus", "string"),
    col("num serve endpoints", ".status.numServeEndpoints", "string") } },
}

local function open_object()
  return { type = "object", ["x-kubernetes-preserve-unknown-fields"] = true }
end

local function install_operator(cl, ns, version, image)
  local labels = { ["app.kubernetes.io/name"] = "kuberay", ["app.kubernetes.io/component"] = "kuberay-operator",
                   ["app.kubernetes.io/version"] = version, ["app.kubernetes.io/managed-by"] = "plinth" }
  local function obj(addr, apiVersion, kind, name, namespace, body)
    body.cluster, body.apiVersion, body.kind = cl, apiVersion, kind
    body.metadata = { name = name, namespace = namespace, labels = labels }
    return k8s.object(addr)(body)
  end
  for _, c in ipairs(crds) do
    local plural, kind = c[1], c[2]
    obj("crd_" .. plural, "apiextensions.k8s.io/v1", "CustomResourceDefinition", plural .. ".ray.io", nil, {
      spec = {
        group = "ray.io", scope = "Namespaced",
        names = { kind = kind, listKind = kind .. "List", plural = plural, singular = kind:lower(),
                  categories = { "all" } },
        versions = { {
          name = "v1", served = true, storage = true,
          schema = { openAPIV3Schema = {
            type = "object",
            properties = { apiVersion = { type = "string" }, kind = { type = "string" },
                           metadata = { type = "object" }, spec = open_object(), status = open_object() },
          } },
          subresources = { status = {} },
          additionalPrinterColumns = c[3],
        } },
      },
    })
  end
  local rbac = "rbac.authorization.k8s.io/v1"
  local subjects = { { kind = "ServiceAccount", name = "kuberay-operator", namespace = ns } }
  obj("operator_service_account", "v1", "ServiceAccount", "kuberay-operator", ns, {})
  obj("operator_cluster_role", rbac, "ClusterRole", "kuberay-operator", nil, { rules = operator_rules })
  obj("operator_cluster_role_binding", rbac, "ClusterRoleBinding", "kuberay-operator", nil, {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "kuberay-operator" },
    subjects = subjects,
  })
  obj("operator_leader_election_role", rbac, "Role", "kuberay-operator-leader-election", ns, { rules = leader_rules })
  obj("operator_leader_election_binding", rbac, "RoleBinding", "kuberay-operator-leader-election", ns, {
    roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "kuberay-operator-leader-election" },
    subjects = subjects,
  })
  local sel = { ["app.kubernetes.io/name"] = "kuberay", ["app.kubernetes.io/component"] = "kuberay-operator" }
  local probe = { httpGet = { path = "/metrics", port = "http" }, initialDelaySeconds = 10, periodSeconds = 5,
                  failureThreshold = 5 }
  obj("operator", "apps/v1", "Deployment", "kuberay-operator", ns, {
    spec = {
      replicas = 1, strategy = { type = "Recreate" }, selector = { matchLabels = sel },
      template = {
        metadata = { labels = sel },
        spec = {
          serviceAccountName = "kuberay-operator", terminationGracePeriodSeconds = 10,
          securityContext = { runAsNonRoot = true },
          containers = { {
            name = "kuberay-operator", image = image, command = { "/manager" },
            args = { "--feature-gates=RayClusterStatusConditions=true", "--enable-leader-election=true" },
            ports = { { name = "http", containerPort = 8080, protocol = "TCP" } },
            livenessProbe = probe, readinessProbe = probe,
            -- Upstream's sizing: about 500 MB manage 500 Ray pods.
            resources = { requests = { cpu = "100m", memory = "512Mi" }, limits = { cpu = "100m", memory = "512Mi" } },
            securityContext = { allowPrivilegeEscalation = false, readOnlyRootFilesystem = true,
                                capabilities = { drop = { "ALL" } }, seccompProfile = { type = "RuntimeDefault" } },
          } },
        },
      },
    },
  })
  obj("operator_service", "v1", "Service", "kuberay-operator", ns, {
    spec = { type = "ClusterIP", selector = sel,
             ports = { { name = "monitoring-port", port = 8080, targetPort = 8080, protocol = "TCP" } } },
  })
end

return function(args)
  local i = util.inputs("kuberay", args, {
    cluster = { required = true },
    operator = { type = "string", default = "addon", one_of = { "install", "addon", "none" } },
    version = { type = "string", default = "v1.4.2" },
    operator_image = { type = "string" },
    namespace = { type = "string", default = "ray" },
    raycluster = { type = "boolean", default = true },
    cluster_name = { type = "string", default = "ray" },
    ray_version = { type = "string", default = "2.52.0" },
    image = { type = "string" },
    gpu_image = { type = "string" },
    head_cpu = { type = "string", default = "2" },
    head_memory = { type = "string", default = "8Gi" },
    cpu_workers_min = { type = "number", default = 0, min = 0 },
    cpu_workers_max = { type = "number", default = 4, min = 0 },
    worker_cpu = { type = "string", default = "4" },
    worker_memory = { type = "string", default = "16Gi" },
    gpu_workers_max = { type = "number", default = 0, min = 0 },
    gpu_per_worker = { type = "number", default = 1, min = 1 },
    gpu_worker_cpu = { type = "string", default = "6" },
    gpu_worker_memory = { type = "string", default = "24Gi" },
    gpu_node_selector = { type = "table", default = { ["plinth.dev/pool"] = "gpu" } },
    gpu_tolerations = { type = "table", default = {
      { key = "nvidia.com/gpu", operator = "Equal", value = "present", effect = "NoSchedule" } } },
  })
  if i.cpu_workers_min > i.cpu_workers_max then
    error(string.format("module kuberay: input 'cpu_workers_min' (%d) is above 'cpu_workers_max' (%d)",
                        i.cpu_workers_min, i.cpu_workers_max), 3)
  end
  if not i.version:match("^v%d+%.%d+%.%d+$") then
    error("module kuberay: input 'version' must look like v1.4.2, got '" .. i.version .. "'", 3)
  end
  local cl, ns = i.cluster, i.namespace

  k8s.namespace "ray" { cluster = cl, metadata = { name = ns } }
  if i.operator == "install" then
    install_operator(cl, ns, i.version, i.operator_image or ("quay.io/kuberay/operator:" .. i.version))
  end

  local out = { namespace = ns, operator = i.operator }
  if i.operator == "install" then
    out.operator_service = string.format("kuberay-operator.%s.svc:8080", ns)
  end
  if i.operator ~= "none" and i.raycluster then
    local image = i.image or ("rayproject/ray:" .. i.ray_version)
    local gpu_image = i.gpu_image or ("rayproject/ray:" .. i.ray_version .. "-gpu")
    local function res(cpu, mem, gpus)
      local r = { requests = { cpu = cpu, memory = mem }, limits = { cpu = cpu, memory = mem } }
      if gpus then r.limits["nvidia.com/gpu"] = tostring(gpus); r.requests["nvidia.com/gpu"] = tostring(gpus) end
      return r
    end
    local lifecycle = { preStop = { exec = { command = { "/bin/sh", "-c", "ray stop" } } } }
    local groups = { {
      groupName = "cpu", replicas = i.cpu_workers_min, minReplicas = i.cpu_workers_min,
      maxReplicas = i.cpu_workers_max, rayStartParams = {},
      template = { spec = { containers = { {
        name = "ray-worker", image = image, resources = res(i.worker_cpu, i.worker_memory),
        lifecycle = lifecycle,
      } } } },
    } }
    if i.gpu_workers_max > 0 then
      groups[#groups + 1] = {
        groupName = "gpu", replicas = 0, minReplicas = 0, maxReplicas = i.gpu_workers_max,
        rayStartParams = {},
        template = { spec = {
          nodeSelector = i.gpu_node_selector, tolerations = i.gpu_tolerations,
          containers = { {
            name = "ray-worker", image = gpu_image,
            resources = res(i.gpu_worker_cpu, i.gpu_worker_memory, i.gpu_per_worker),
            lifecycle = lifecycle,
          } },
        } },
      }
    end
    k8s.object "raycluster" {
      cluster = cl, apiVersion = "ray.io/v1", kind = "RayCluster",
      metadata = { name = i.cluster_name, namespace = ns,
                   labels = { ["app.kubernetes.io/managed-by"] = "plinth" } },
      spec = {
        rayVersion = i.ray_version,
        enableInTreeAutoscaling = true,
        headGroupSpec = {
          -- The head schedules no tasks: work goes to the worker groups.
          rayStartParams = { ["num-cpus"] = "0", ["dashboard-host"] = "0.0.0.0" },
          template = { spec = { containers = { {
            name = "ray-head", image = image, resources = res(i.head_cpu, i.head_memory),
            ports = { { containerPort = 6379, name = "gcs-server" }, { containerPort = 8265, name = "dashboard" },
                      { containerPort = 10001, name = "client" }, { containerPort = 8080, name = "metrics" } },
            lifecycle = lifecycle,
          } } } },
        },
        workerGroupSpecs = groups,
      },
    }
    out.raycluster = i.cluster_name
    out.head_service = i.cluster_name .. "-head-svc"
    out.dashboard_url = string.format("http://%s-head-svc.%s.svc.cluster.local:8265", i.cluster_name, ns)
    out.head_metrics_port = 8080
  end
  return out
end
