-- platform-services.lua: the Google Cloud services an ML platform needs
-- beside its cluster: Cloud NAT for egress, private DNS for internal names, a static address for
-- the ingress, log-based metrics, alert policies, uptime checks and an
-- alerts topic, a work queue, an encryption key for artifacts, keyless CI
-- (workload identity federation) with access to a secret and the image
-- repository, and a workflow managed as a plain API resource.
-- Variables: project, region (like the other examples).
local project = var("project", { default = "plinth-demo" })
local region = var("region", { default = "europe-west1" })
provider "gcp" { project = project, region = region }

local net = gcp.compute_network "services" { name = "services", routingConfig = { routingMode = "REGIONAL" } }

local router = gcp.compute_router "services" { name = "services", region = region, network = net.selfLink }
gcp.compute_router_nat "egress" {
  router = router.name, name = "services-egress", region = region,
  natIpAllocateOption = "AUTO_ONLY", sourceSubnetworkIpRangesToNat = "ALL_SUBNETWORKS_ALL_IP_RANGES",
  logConfig = { enable = true, filter = "ERRORS_ONLY" },
}

local ingress = gcp.compute_address "ingress" {
  name = "platform-ingress", region = region, addressType = "EXTERNAL", networkTier = "PREMIUM",
  description = "ingress of the platform's web UIs", labels = { platform = "ml" },
}

local dns = module "dns" {
  source = "dns", name = "platform-internal", domain = "platform.internal.", network = net.selfLink,
  records = { mlflow = "10.0.0.10", argo = "10.0.0.11", ray = "10.0.0.12" },
}

local obs = module "observability" {
  source = "observability", name = "platform", project = project, email = "ml-oncall@example.com",
  urls = { mlflow = "mlflow.example.com", argo = "argo.example.com" },
}

gcp.pubsub_subscription "alert_workers" {
  name = "platform-alert-workers", topic = obs.topic, ackDeadlineSeconds = 60,
  labels = { platform = "ml" },
}

local ring = gcp.kms_key_ring "platform" { name = "platform", location = region }
local key = gcp.kms_crypto_key "artifacts" {
  key_ring = ring.name, name = "artifacts", purpose = "ENCRYPT_DECRYPT", rotationPeriod = "7776000s",
  labels = { platform = "ml" },
}
gcp.kms_crypto_key_iam_member "artifacts_users" {
  crypto_key_id = key.id, role = "roles/cloudkms.cryptoKeyEncrypterDecrypter",
  member = "group:ml-platform@example.com",
}

local ci = module "ci_identity" {
  source = "ci_identity", name = "platform-ci", repository = "example-org/ml-platform", branch = "main",
}

local token = gcp.secret "registry_token" { labels = { platform = "ml" } }
gcp.secret_manager_secret_iam_member "ci_reads_token" {
  secret_id = token.name, role = "roles/secretmanager.secretAccessor",
  member = "serviceAccount:" .. ci.service_account,
}
local images = gcp.artifact_registry_repository "images" { repositoryId = "platform-images", format = "DOCKER" }
gcp.artifact_registry_repository_iam_member "ci_pushes" {
  repository = images.name, role = "roles/artifactregistry.writer",
  member = "serviceAccount:" .. ci.service_account,
}

-- Training data, experiment tracking, notebooks and model serving.
gcp.bigquery_dataset "training" {
  datasetId = "training_data", location = "EU", description = "features and labels for training",
  labels = { platform = "ml" },
}
gcp.vertex_ai_tensorboard "experiments" { location = region, displayName = "platform experiments" }
gcp.vertex_ai_endpoint "serving" { name = "serving", location = region, displayName = "model serving" }
gcp.workbench_instance "notebook" {
  name = "ml-notebook", location = region .. "-b",
  gceSetup = { machineType = "e2-standard-4", disablePublicIp = true,
               vmImage = { project = "cloud-notebooks-managed", family = "workbench-instances" } },
}
gcp.cloud_run_v2_service "model" {
  name = "model-serving", location = region, ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY",
  template = { containers = { { image = region .. "-docker.pkg.dev/" .. project .. "/platform-images/serve:1" } },
               scaling = { maxInstanceCount = 3 } },
}

gcp.cloudbuild_trigger "images" {
  name = "platform-images", location = region, description = "build the serving image on main",
  github = { owner = "example-org", name = "ml-platform", push = { branch = "^main$" } },
  filename = "serve/cloudbuild.yaml", serviceAccount = "projects/" .. project .. "/serviceAccounts/" .. ci.service_account,
}

-- A Cloud Workflows workflow through gcp.api_resource (no typed resource).
gcp.api_resource "retrain" {
  api = "workflows", collection = "projects.locations.workflows", id = "nightly-retrain",
  body = { description = "nightly retraining",
           sourceContents = "main:\n  steps:\n    - done:\n        return: ok\n" },
}

output("ingress_ip", ingress.address)
output("zone", dns.zone)
output("alerts_topic", obs.topic)
output("ci_provider", ci.provider)
output("ci_service_account", ci.service_account)
