-- gke: a private, regional GKE cluster for ML workloads.
-- Creates: the APIs it needs; a node service account with least-privilege
-- roles (logs, metrics, image pulls); the cluster (workload identity, release
-- channel, private nodes, authorized networks, VPC-native ranges) with a
-- system node pool; an optional GPU node pool (accelerators, spot,
-- autoscaling from zero, a NoSchedule taint so only GPU workloads land there).
-- Inputs:  project, name, region, network, subnetwork (required);
--          pods_range ("pods"), services_range ("services"),
--          master_cidr ("172.16.0.0/28"), authorized_networks ({}: list of CIDRs),
--          release_channel ("REGULAR"), version (none: the channel's default;
--          else initialClusterVersion, e.g. "1.31"), system_machine_type ("e2-standard-4"),
--          system_min_nodes (1), system_max_nodes (3),
--          gpu (false), gpu_type ("nvidia-l4"), gpu_count (1),
--          gpu_machine_type ("g2-standard-8"), gpu_max_nodes (2), gpu_spot (true),
--          ray_operator (false: GKE's managed Ray operator add-on,
--          addonsConfig.rayOperatorConfig; GKE >= 1.30.0-gke.1747000),
--          managed_prometheus (true: Google Managed Prometheus collection,
--          which serves the PodMonitoring kind)
-- Outputs: cluster (resource), endpoint, ca_certificate, node_service_account (email),
--          workload_pool, gpu_node_selector and gpu_tolerations (what a pod
--          needs to land on the GPU pool: its label and its taint)
local util = require("util")

return function(args)
  local i = util.inputs("gke", args, {
    project = { type = "string", required = true },
    name = { type = "string", required = true },
    region = { type = "string", required = true },
    network = { required = true },
    subnetwork = { required = true },
    pods_range = { type = "string", default = "pods" },
    services_range = { type = "string", default = "services" },
    master_cidr = { type = "string", default = "172.16.0.0/28" },
    authorized_networks = { type = "table", default = {} },
    release_channel = { type = "string", default = "REGULAR" },
    version = { type = "string" },
    system_machine_type = { type = "string", default = "e2-standard-4" },
    system_min_nodes = { type = "number", default = 1 },
    system_max_nodes = { type = "number", default = 3 },
    gpu = { type = "boolean", default = false },
    gpu_type = { type = "string", default = "nvidia-l4" },
    gpu_count = { type = "number", default = 1 },
    gpu_machine_type = { type = "string", default = "g2-standard-8" },
    gpu_max_nodes = { type = "number", default = 2 },
    gpu_spot = { type = "boolean", default = true },
    ray_operator = { type = "boolean", default = false },
    managed_prometheus = { type = "boolean", default = true },
  })

  local apis = {}
  for _, svc in ipairs({ "container.googleapis.com", "compute.googleapis.com" }) do
    apis[#apis + 1] = gcp.project_service(svc:match("^[a-z]+")) { service = svc }
  end

  local sa = gcp.service_account "nodes" {
    accountId = i.name .. "-nodes", displayName = "GKE nodes of " .. i.name,
  }
  local roles = { "roles/logging.logWriter", "roles/monitoring.metricWriter",
                  "roles/monitoring.viewer", "roles/stackdriver.resourceMetadata.writer",
                  "roles/artifactregistry.reader" }
  for _, role in ipairs(roles) do
    gcp.project_iam_member("nodes_" .. role:match("[^/]+$"):gsub("%.", "_")) {
      role = role, member = "serviceAccount:" .. sa.email,
    }
  end

  local node_config = function(machine)
    return {
      machineType = machine, serviceAccount = sa.email,
      oauthScopes = { "https://www.googleapis.com/auth/cloud-platform" },
      workloadMetadataConfig = { mode = "GKE_METADATA" },
      shieldedInstanceConfig = { enableSecureBoot = true },
    }
  end

  local cidrs = {}
  for n, c in ipairs(i.authorized_networks) do cidrs[n] = { cidrBlock = c, displayName = "allowed-" .. n } end

  local cluster = gcp.container_cluster "cluster" {
    name = i.name, location = i.region,
    network = i.network, subnetwork = i.subnetwork,
    releaseChannel = { channel = i.release_channel }, initialClusterVersion = i.version,
    workloadIdentityConfig = { workloadPool = i.project .. ".svc.id.goog" },
    privateClusterConfig = { enablePrivateNodes = true, masterIpv4CidrBlock = i.master_cidr },
    masterAuthorizedNetworksConfig = { enabled = true, cidrBlocks = cidrs },
    ipAllocationPolicy = { useIpAliases = true, clusterSecondaryRangeName = i.pods_range,
                           servicesSecondaryRangeName = i.services_range },
    addonsConfig = i.ray_operator and { rayOperatorConfig = { enabled = true } } or nil,
    monitoringConfig = i.managed_prometheus and { managedPrometheusConfig = { enabled = true } } or nil,
    nodePools = { {
      name = "system", initialNodeCount = i.system_min_nodes,
      config = node_config(i.system_machine_type),
      autoscaling = { enabled = true, minNodeCount = i.system_min_nodes, maxNodeCount = i.system_max_nodes },
      management = { autoRepair = true, autoUpgrade = true },
    } },
    depends_on = apis,
    -- The system pool is created with the cluster; later changes to it go
    -- through node pool verbs, not through the cluster body.
    lifecycle = { ignore_changes = { "nodePools" } },
  }

  local gpu_labels = { ["plinth.dev/pool"] = "gpu" }
  local gpu_taint = { key = "nvidia.com/gpu", value = "present" }
  if i.gpu then
    local cfg = node_config(i.gpu_machine_type)
    cfg.accelerators = { { acceleratorType = i.gpu_type, acceleratorCount = i.gpu_count } }
    cfg.spot = i.gpu_spot
    cfg.taints = { { key = gpu_taint.key, value = gpu_taint.value, effect = "NO_SCHEDULE" } }
    cfg.labels = gpu_labels
    gcp.container_node_pool "gpu" {
      name = "gpu", cluster = cluster.name, location = i.region,
      initialNodeCount = 0, config = cfg,
      autoscaling = { enabled = true, minNodeCount = 0, maxNodeCount = i.gpu_max_nodes },
      management = { autoRepair = true, autoUpgrade = true },
    }
  end

  return {
    cluster = cluster, endpoint = cluster.endpoint,
    ca_certificate = cluster.masterAuth.clusterCaCertificate,
    node_service_account = sa.email,
    -- The identity pool exists once a cluster with workload identity does:
    -- bindings that name it must wait for the cluster (a reference does that).
    workload_pool = cluster.workloadIdentityConfig.workloadPool,
    gpu_node_selector = gpu_labels,
    ray_operator = i.ray_operator, managed_prometheus = i.managed_prometheus,
    gpu_tolerations = { { key = gpu_taint.key, operator = "Equal", value = gpu_taint.value, effect = "NoSchedule" } },
  }
end
