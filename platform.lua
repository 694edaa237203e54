-- platform.lua: a complete ML platform environment (the default spec of
-- every plinth command).  `make demo` applies it against the local emulator.
--   plinth --local apply                      # offline, against plinth-emulator
--   plinth --var project=acme-ml-dev plan     # real Google Cloud
local project = var("project", { default = "plinth-demo", description = "Google Cloud project ID" })
local region = var("region", { default = "europe-west1" })
local env = var("env", { default = "dev", description = "dev, staging or prod" })

provider "gcp" { project = project, region = region }

local platform = module "platform" {
  source = "ml_platform", project = project, region = region, env = env,
  gpu = var("gpu", { default = true, type = "bool" }),
  gpu_max_nodes = var("gpu_max_nodes", { default = 2, type = "number" }),
}

output("cluster_endpoint", platform.cluster_endpoint)
output("registry_url", platform.registry_url)
output("mlflow_tracking_url", platform.mlflow_tracking_url)
output("mlflow_connection_name", platform.mlflow_connection_name)
output("mlflow_bucket", platform.mlflow_bucket)
output("argo_bucket", platform.argo_bucket)
