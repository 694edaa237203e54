-- gke.lua: a private GKE cluster on its own network, nothing else.
backend "gcs" {} -- CI completes it: --backend-config bucket=... or PLINTH_STATE_BUCKET; else local state
provider "gcp" { project = var("project", { default = "plinth-demo" }), region = "europe-west1" }

local net = module "network" { source = "network", name = "gke-only", region = "europe-west1" }
local gke = module "gke" {
  source = "gke", project = var("project", { default = "plinth-demo" }), name = "gke-only",
  region = "europe-west1", network = net.network, subnetwork = net.subnetwork,
}
output("endpoint", gke.endpoint)
