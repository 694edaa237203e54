-- kuberay: the KubeRay operator with its CRDs, and an optional RayCluster
-- with a CPU worker group and a GPU worker group on the gke module's GPU
-- pool (autoscaled from zero by the Ray autoscaler).
--
-- plinth ships no copy of the upstream manifests: download KubeRay's CRDs
-- (ray-operator/config/crd, e.g. ray.io_rayclusters.yaml, ray.io_rayjobs.yaml,
-- ray.io_rayservices.yaml) and a rendered operator install, and pass them as
-- crds_manifest / operator_manifest.  Without crds_manifest no RayCluster is
-- declared (the cluster would not serve the kind); the namespace is.
--
-- Inputs:  cluster (the gcp.container_cluster: the gke module's `cluster`) (required);
--          namespace ("ray"),
--          crds_manifest (a path, absolute, or the YAML text, or a list of them; default none),
--          operator_manifest (a path or the YAML text; default none),
--          raycluster (true: declare a RayCluster when the CRDs are given),
--          cluster_name ("ray"), ray_version ("2.52.0"),
--          image ("rayproject/ray:<ray_version>"), gpu_image ("rayproject/ray:<ray_version>-gpu"),
--          head_cpu ("2"), head_memory ("8Gi"),
--          cpu_workers_min (0), cpu_workers_max (4), worker_cpu ("4"), worker_memory ("16Gi"),
--          gpu_workers_max (0: no GPU group), gpu_per_worker (1), gpu_worker_cpu ("6"),
--          gpu_worker_memory ("24Gi"),
--          gpu_node_selector ({ ["plinth.dev/pool"] = "gpu" }), gpu_tolerations
--          (the nvidia.com/gpu=present:NoSchedule taint) -- the gke module's outputs
-- Outputs: namespace, raycluster (name, or nil), head_service ("<name>-head-svc"),
--          dashboard_url (http://<head service>.<namespace>.svc.cluster.local:8265, or nil)
local util = require("util")

return function(args)
  local i = util.inputs("kuberay", args, {
    cluster = { required = true },
    namespace = { type = "string", default = "ray" },
    crds_manifest = {},
    operator_manifest = { type = "string" },
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
  local crds = i.crds_manifest
  if type(crds) == "string" then crds = { crds } end
  if crds ~= nil and type(crds) ~= "table" then
    error("module kuberay: input 'crds_manifest' must be a path, YAML text or a list of them, got " .. type(crds), 3)
  end
  local cl, ns = i.cluster, i.namespace

  k8s.namespace "ray" { cluster = cl, metadata = { name = ns } }
  for n, c in ipairs(crds or {}) do
    k8s.manifest("crds" .. (n > 1 and n or "")) {
      cluster = cl, yaml = util.manifest("kuberay", "crds_manifest", c),
    }
  end
  if i.operator_manifest then
    k8s.manifest "operator" {
      cluster = cl, namespace = ns, yaml = util.manifest("kuberay", "operator_manifest", i.operator_manifest),
    }
  end

  local out = { namespace = ns }
  if crds and #crds > 0 and i.raycluster then
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
                      { containerPort = 10001, name = "client" } },
            lifecycle = lifecycle,
          } } } },
        },
        workerGroupSpecs = groups,
      },
    }
    out.raycluster = i.cluster_name
    out.head_service = i.cluster_name .. "-head-svc"
    out.dashboard_url = string.format("http://%s-head-svc.%s.svc.cluster.local:8265", i.cluster_name, ns)
  end
  return out
end
