-- full-gpu.lua: the whole ML platform for production, with a GPU pool of up
-- to 8 L4 nodes on spot VMs, scaled from zero.
backend "gcs" {} -- CI completes it: --backend-config bucket=... or PLINTH_STATE_BUCKET; else local state
provider "gcp" { project = var("project", { default = "plinth-demo" }), region = "europe-west4" }

local p = module "platform" {
  source = "ml_platform", project = var("project", { default = "plinth-demo" }), region = "europe-west4",
  env = "prod", gpu = true, gpu_max_nodes = 8,
}
output("mlflow_tracking_url", p.mlflow_tracking_url)
output("registry_url", p.registry_url)
