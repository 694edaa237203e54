-- slow.lua: the soak's spec (tests/soak/run.sh): slow operations (Cloud SQL,
-- GKE) beside fast ones, in two phases that differ by creates, deletes,
-- updates and a replace, so every apply has work in flight to be killed.
provider "gcp" { project = "soak-proj", region = "europe-west1" }
local phase = var("phase", { default = 0, type = "number" })
local odd = phase % 2 == 1
local net = gcp.compute_network "net" { autoCreateSubnetworks = false }
local sub = gcp.compute_subnetwork "sub" { network = net.selfLink, region = "europe-west1", ipCidrRange = "10.2.0.0/20" }
local first, last = odd and 4 or 1, odd and 9 or 6
for i = first, last do
  gcp.storage_bucket("b" .. i) { name = "soak-b-" .. i, location = "EU", labels = { phase = odd and "odd" or "even" } }
end
gcp.sql_instance "db" {
  name = "soak-db", databaseVersion = "POSTGRES_16", region = "europe-west1",
  settings = { tier = "db-custom-1-3840", userLabels = { phase = odd and "odd" or "even" } },
}
gcp.container_cluster "gke" {
  location = "europe-west1", network = net.selfLink, subnetwork = sub.selfLink, initialNodeCount = 1,
  nodeConfig = { machineType = "e2-small" },
  resourceLabels = { phase = odd and "odd" or "even" },
}
gcp.service_account("sa" .. (odd and "b" or "a")) { accountId = "soak-sa-" .. (odd and "b" or "a") }
