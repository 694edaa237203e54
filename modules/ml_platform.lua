-- ml_platform: a whole ML platform environment from one call: network, GKE
-- (with an optional GPU pool), an Artifact Registry repository for images,
-- MLflow (Cloud SQL, artifacts bucket, its server on the cluster, the
-- database grant done by a Job), Argo Workflows (installed by its module,
-- its GCS artifact repository through workload identity), optionally Argo
-- Events, KubeRay (GKE's Ray operator add-on or the module-installed
-- operator, and a RayCluster whose GPU workers land on the GPU pool), and
-- Google Managed Prometheus scraping of the Argo controller, MLflow and the
-- Ray head (PodMonitoring objects).
-- Sizes follow the environment: dev is small and unprotected; staging
-- mirrors prod at a smaller size; prod is regional and deletion-protected.
-- Inputs:  project, region (required); env ("dev"|"staging"|"prod", default "dev"),
--          name ("ml-" .. env), gpu (false), gpu_max_nodes (per env),
--          authorized_networks ({"10.0.0.0/8"}),
--          argo_version (the argo_workflows module's default),
--          argo_events (false: the argo_events module, its EventBus),
--          gke_version (none: the release channel's default),
--          ray_operator ("addon": GKE's managed Ray operator, the default
--          where gke_version allows it (>= 1.30.0-gke.1747000) | "install":
--          the kuberay module installs KubeRay, the default on older
--          versions | "none"),
--          kuberay_version (the kuberay module's default),
--          ray_gpu_workers (the RayCluster's GPU workers at most; default
--          the environment's GPU pool size when gpu, else 0),
--          monitoring (true: PodMonitoring objects; needs the cluster's
--          managed Prometheus, which the gke module turns on),
--          services (optional table: the platform's Google Cloud services,
--          { domain = "platform.internal." (dns module), alert_email = "..."
--          (observability module), ci_repository = "org/repo", ci = "github",
--          ci_branch = "main" (ci_identity module) }; each part only when set)
-- Outputs: cluster, cluster_endpoint, registry_url, mlflow_tracking_url,
--          mlflow_connection_name, mlflow_bucket, argo_bucket, argo_server_url,
--          argo_namespace, ray_namespace, ray_operator, ray_dashboard_url
--          (nil without a RayCluster), argo_events_namespace (nil unless enabled),
--          dns_zone, alerts_topic, ci_provider, ci_service_account (nil unless
--          the services part is set)
local util = require("util")

-- GKE's Ray operator add-on exists from this version on.
local ray_addon_min = "1.30.0-gke.1747000"

local sizes = {
  dev = { tier = "db-custom-1-3840", availability = "ZONAL", protect = false,
          system_max = 3, gpu_max = 1, machine = "e2-standard-4" },
  staging = { tier = "db-custom-2-7680", availability = "ZONAL", protect = true,
              system_max = 5, gpu_max = 2, machine = "e2-standard-8" },
  prod = { tier = "db-custom-4-15360", availability = "REGIONAL", protect = true,
           system_max = 10, gpu_max = 8, machine = "e2-standard-8" },
}

-- Google Managed Prometheus scrapes the pods each PodMonitoring selects
-- (the kind exists once the cluster's managed Prometheus is on).
local function pod_monitoring(cluster, targets)
  for n = 1, 4 do
    local t = targets[n]
    if t then
      k8s.object("pod_monitoring_" .. t[1]) {
        cluster = cluster, apiVersion = "monitoring.googleapis.com/v1", kind = "PodMonitoring",
        metadata = { name = t[1]:gsub("_", "-"), namespace = t[2],
                     labels = { ["app.kubernetes.io/managed-by"] = "plinth" } },
        spec = { selector = { matchLabels = t[3] },
                 endpoints = { { port = t[4], path = "/metrics", interval = "30s" } } },
      }
    end
  end
end

return function(args)
  local i = util.inputs("ml_platform", args, {
    project = { type = "string", required = true },
    region = { type = "string", required = true },
    env = { type = "string", default = "dev", one_of = { "dev", "staging", "prod" } },
    name = { type = "string" },
    gpu = { type = "boolean", default = false },
    gpu_max_nodes = { type = "number" },
    authorized_networks = { type = "table", default = { "10.0.0.0/8" } },
    argo_version = { type = "string" },
    argo_events = { type = "boolean", default = false },
    gke_version = { type = "string" },
    ray_operator = { type = "string", one_of = { "addon", "install", "none" } },
    kuberay_version = { type = "string" },
    monitoring = { type = "boolean", default = true },
    ray_gpu_workers = { type = "number", min = 0 },
    services = { type = "table" },
  })
  local size = sizes[i.env]
  local addon_ok = i.gke_version == nil or util.version_at_least(i.gke_version, ray_addon_min)
  local ray_operator = i.ray_operator or (addon_ok and "addon" or "install")
  if ray_operator == "addon" and not addon_ok then
    error(string.format("module ml_platform: ray_operator \"addon\" needs GKE %s or later, gke_version is %s",
                        ray_addon_min, i.gke_version), 3)
  end
  local name = i.name or ("ml-" .. i.env)

  local net = module "network" { source = "network", name = name, region = i.region }
  local gke = module "gke" {
    source = "gke", project = i.project, name = name, region = i.region,
    network = net.network, subnetwork = net.subnetwork,
    authorized_networks = i.authorized_networks,
    system_machine_type = size.machine, system_max_nodes = size.system_max,
    gpu = i.gpu, gpu_max_nodes = i.gpu_max_nodes or size.gpu_max,
    ray_operator = ray_operator == "addon", managed_prometheus = i.monitoring, version = i.gke_version,
  }
  local registry = module "registry" { source = "artifact_registry", name = name, location = i.region }
  local mlflow = module "mlflow" {
    source = "mlflow", project = i.project, name = name, region = i.region,
    network = net.network, psa = net.psa, tier = size.tier, availability = size.availability,
    deletion_protection = size.protect, workload_pool = gke.workload_pool, cluster = gke.cluster,
  }
  local argo = module "argo" {
    source = "argo_workflows", project = i.project, name = name, workload_pool = gke.workload_pool,
    cluster = gke.cluster, version = i.argo_version,
  }
  local events = i.argo_events and module "argo_events" { source = "argo_events", cluster = gke.cluster } or nil
  local ray = module "kuberay" {
    source = "kuberay", cluster = gke.cluster,
    operator = ray_operator, version = i.kuberay_version,
    gpu_workers_max = i.ray_gpu_workers or (i.gpu and size.gpu_max or 0),
    gpu_node_selector = gke.gpu_node_selector, gpu_tolerations = gke.gpu_tolerations,
  }

  if i.monitoring then
    pod_monitoring(gke.cluster, {
      { "argo_controller", argo.namespace, { app = "workflow-controller" }, "metrics" },
      { "mlflow", mlflow.namespace, { ["app.kubernetes.io/name"] = "mlflow",
                                      ["app.kubernetes.io/component"] = "tracking-server" }, "http" },
      ray.head_metrics_port and { "ray_head", ray.namespace, { ["ray.io/node-type"] = "head", ["ray.io/cluster"] = ray.raycluster },
                                  "metrics" } or nil,
      ray.operator_service and { "kuberay_operator", ray.namespace, { ["app.kubernetes.io/name"] = "kuberay",
                                 ["app.kubernetes.io/component"] = "kuberay-operator" }, "http" } or nil,
    })
  end

  -- The platform's Google Cloud services (modules dns, observability, ci_identity).
  local svc, dns, obs, ci = i.services or {}, nil, nil, nil
  if svc.domain then
    dns = module "dns" { source = "dns", name = name .. "-internal", domain = svc.domain, network = net.network }
  end
  if svc.alert_email then
    obs = module "observability" {
      source = "observability", name = name, project = i.project, email = svc.alert_email,
      namespaces = { argo = argo.namespace, mlflow = mlflow.namespace, ray = ray.namespace },
    }
  end
  if svc.ci_repository then
    ci = module "ci_identity" {
      source = "ci_identity", name = name .. "-ci", repository = svc.ci_repository, ci = svc.ci,
      branch = svc.ci_branch,
    }
  end

  return {
    dns_zone = dns and dns.zone or nil, alerts_topic = obs and obs.topic or nil,
    ci_provider = ci and ci.provider or nil, ci_service_account = ci and ci.service_account or nil,
    argo_events_namespace = events and events.namespace or nil,
    cluster_endpoint = gke.endpoint, registry_url = registry.url,
    mlflow_tracking_url = mlflow.tracking_url, mlflow_connection_name = mlflow.connection_name,
    mlflow_bucket = mlflow.bucket, argo_bucket = argo.bucket, cluster = gke.cluster,
    argo_namespace = argo.namespace, argo_server_url = argo.server_url,
    ray_namespace = ray.namespace, ray_operator = ray.operator, ray_dashboard_url = ray.dashboard_url,
  }
end
