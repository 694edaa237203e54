-- platform.lua: a complete ML platform environment (the default spec of
-- every plinth command).  `make demo` applies it against the local emulator.
--   plinth --local apply                      # offline, against plinth-emulator
--   plinth --var project=acme-ml-dev plan     # real Google Cloud
-- Everything on the cluster is written by the modules themselves (Argo
-- Workflows, KubeRay, MLflow): nothing to download.
-- The KubeRay operator is installed by the kuberay module here ("install"):
-- the local cloud does not run GKE's managed Ray operator add-on;
-- --var ray_operator=addon uses the add-on on real GKE instead.
local project = var("project", { default = "plinth-demo", description = "Google Cloud project ID" })
local region = var("region", { default = "europe-west1" })
local env = var("env", { default = "dev", description = "dev, staging or prod" })

-- State: in Cloud Storage when CI names the bucket (--backend-config
-- bucket=... or PLINTH_STATE_BUCKET), in .plinth/ beside this file otherwise.
backend "gcs" { prefix = "plinth" }
provider "gcp" { project = project, region = region }

local platform = module "platform" {
  source = "ml_platform", project = project, region = region, env = env,
  gpu = var("gpu", { default = true, type = "bool" }),
  gpu_max_nodes = var("gpu_max_nodes", { default = 2, type = "number" }),
  ray_operator = var("ray_operator", { default = "install", description = "addon, install or none" }),
  -- PodMonitoring needs GKE's managed Prometheus, which the local cloud
  -- does not run: on real GKE pass --var monitoring=true.
  monitoring = var("monitoring", { default = false, type = "bool" }),
  argo_events = var("argo_events", { default = false, type = "bool" }),
}

output("cluster_endpoint", platform.cluster_endpoint)
output("registry_url", platform.registry_url)
output("mlflow_tracking_url", platform.mlflow_tracking_url)
output("mlflow_connection_name", platform.mlflow_connection_name)
output("mlflow_bucket", platform.mlflow_bucket)
output("argo_bucket", platform.argo_bucket)
output("argo_server_url", platform.argo_server_url)
if platform.argo_events_namespace then output("argo_events_namespace", platform.argo_events_namespace) end
if platform.ray_dashboard_url then output("ray_dashboard_url", platform.ray_dashboard_url) end
