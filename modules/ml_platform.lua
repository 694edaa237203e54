-- ml_platform: a whole ML platform environment from one call: network, GKE
-- (with an optional GPU pool), an Artifact Registry repository for images,
-- MLflow (Cloud SQL, artifacts bucket, and its server on the cluster), Argo
-- Workflows (its GCS artifact repository through workload identity, and the
-- upstream install when given) and KubeRay (operator and CRDs when given,
-- and a RayCluster whose GPU workers land on the GPU pool).
-- Sizes follow the environment: dev is small and unprotected; staging
-- mirrors prod at a smaller size; prod is regional and deletion-protected.
-- Inputs:  project, region (required); env ("dev"|"staging"|"prod", default "dev"),
--          name ("ml-" .. env), gpu (false), gpu_max_nodes (per env),
--          authorized_networks ({"10.0.0.0/8"}),
--          argo_manifest (Argo Workflows' install YAML: an absolute path or
--          the text; default none: see the argo_workflows module),
--          kuberay_crds (KubeRay's CRDs: a path, the text, or a list of
--          them; default none), kuberay_operator (the operator's install
--          YAML; default none) -- see the kuberay module,
--          ray_gpu_workers (the RayCluster's GPU workers at most; default
--          the environment's GPU pool size when gpu, else 0)
-- Outputs: cluster, cluster_endpoint, registry_url, mlflow_tracking_url,
--          mlflow_connection_name, mlflow_bucket, argo_bucket,
--          argo_namespace, ray_namespace, ray_dashboard_url (nil without a RayCluster)
local util = require("util")

local sizes = {
  dev = { tier = "db-custom-1-3840", availability = "ZONAL", protect = false,
          system_max = 3, gpu_max = 1, machine = "e2-standard-4" },
  staging = { tier = "db-custom-2-7680", availability = "ZONAL", protect = true,
              system_max = 5, gpu_max = 2, machine = "e2-standard-8" },
  prod = { tier = "db-custom-4-15360", availability = "REGIONAL", protect = true,
           system_max = 10, gpu_max = 8, machine = "e2-standard-8" },
}

return function(args)
  local i = util.inputs("ml_platform", args, {
    project = { type = "string", required = true },
    region = { type = "string", required = true },
    env = { type = "string", default = "dev", one_of = { "dev", "staging", "prod" } },
    name = { type = "string" },
    gpu = { type = "boolean", default = false },
    gpu_max_nodes = { type = "number" },
    authorized_networks = { type = "table", default = { "10.0.0.0/8" } },
    argo_manifest = { type = "string" },
    kuberay_crds = {},
    kuberay_operator = { type = "string" },
    ray_gpu_workers = { type = "number", min = 0 },
  })
  local size = sizes[i.env]
  local name = i.name or ("ml-" .. i.env)

  local net = module "network" { source = "network", name = name, region = i.region }
  local gke = module "gke" {
    source = "gke", project = i.project, name = name, region = i.region,
    network = net.network, subnetwork = net.subnetwork,
    authorized_networks = i.authorized_networks,
    system_machine_type = size.machine, system_max_nodes = size.system_max,
    gpu = i.gpu, gpu_max_nodes = i.gpu_max_nodes or size.gpu_max,
  }
  local registry = module "registry" { source = "artifact_registry", name = name, location = i.region }
  local mlflow = module "mlflow" {
    source = "mlflow", project = i.project, name = name, region = i.region,
    network = net.network, psa = net.psa, tier = size.tier, availability = size.availability,
    deletion_protection = size.protect, workload_pool = gke.workload_pool, cluster = gke.cluster,
  }
  local argo = module "argo" {
    source = "argo_workflows", project = i.project, name = name, workload_pool = gke.workload_pool,
    cluster = gke.cluster, install_manifest = i.argo_manifest,
  }
  local ray = module "kuberay" {
    source = "kuberay", cluster = gke.cluster,
    crds_manifest = i.kuberay_crds, operator_manifest = i.kuberay_operator,
    gpu_workers_max = i.ray_gpu_workers or (i.gpu and size.gpu_max or 0),
    gpu_node_selector = gke.gpu_node_selector, gpu_tolerations = gke.gpu_tolerations,
  }

  return {
    cluster_endpoint = gke.endpoint, registry_url = registry.url,
    mlflow_tracking_url = mlflow.tracking_url, mlflow_connection_name = mlflow.connection_name,
    mlflow_bucket = mlflow.bucket, argo_bucket = argo.bucket, cluster = gke.cluster,
    argo_namespace = argo.namespace, ray_namespace = ray.namespace, ray_dashboard_url = ray.dashboard_url,
  }
end
