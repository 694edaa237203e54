-- platform.lua: a complete ML platform environment (the default spec of
-- every plinth command).  `make demo` applies it against the local emulator.
--   plinth --local apply                      # offline, against plinth-emulator
--   plinth --var project=acme-ml-dev plan     # real Google Cloud
-- The upstream Kubernetes installs are not part of plinth: download them and
-- point these variables at them (paths relative to this file, or absolute):
--   --var argo_manifest=argo-install.yaml         Argo Workflows' release install.yaml
--   --var kuberay_crds=ray.io_rayclusters.yaml    KubeRay's CRDs (comma-separated files)
--   --var kuberay_operator=kuberay-operator.yaml  the KubeRay operator, rendered
-- Without them the platform still gets MLflow on the cluster, Argo's
-- namespace, identity and artifact repository, and the Ray namespace.
local project = var("project", { default = "plinth-demo", description = "Google Cloud project ID" })
local region = var("region", { default = "europe-west1" })
local env = var("env", { default = "dev", description = "dev, staging or prod" })

-- State: in Cloud Storage when CI names the bucket (--backend-config
-- bucket=... or PLINTH_STATE_BUCKET), in .plinth/ beside this file otherwise.
backend "gcs" { prefix = "plinth" }
provider "gcp" { project = project, region = region }

-- A file variable: nil when unset, else the file's text (read relative to this spec).
local function manifest(name, description)
  local v = var(name, { default = "", description = description })
  if v == "" then return nil end
  local texts = {}
  for path in v:gmatch("[^,]+") do texts[#texts + 1] = file(path) end
  return #texts == 1 and texts[1] or texts
end

local platform = module "platform" {
  source = "ml_platform", project = project, region = region, env = env,
  gpu = var("gpu", { default = true, type = "bool" }),
  gpu_max_nodes = var("gpu_max_nodes", { default = 2, type = "number" }),
  argo_manifest = manifest("argo_manifest", "Argo Workflows install YAML"),
  kuberay_crds = manifest("kuberay_crds", "KubeRay CRD YAML files, comma-separated"),
  kuberay_operator = manifest("kuberay_operator", "KubeRay operator install YAML"),
}

output("cluster_endpoint", platform.cluster_endpoint)
output("registry_url", platform.registry_url)
output("mlflow_tracking_url", platform.mlflow_tracking_url)
output("mlflow_connection_name", platform.mlflow_connection_name)
output("mlflow_bucket", platform.mlflow_bucket)
output("argo_bucket", platform.argo_bucket)
if platform.ray_dashboard_url then output("ray_dashboard_url", platform.ray_dashboard_url) end
