#!/bin/sh
# conformance_client_bugs.sh: client bugs the real APIs reveal make a plinth
# apply fail, with the real error, against the strict emulator: an
# overlapping subnet range, a Deployment with replicas "two", a RayCluster
# with a field its CRD does not declare, a GPU worker without the GPU
# pool's toleration.  The corrected specs apply.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.01
cd "$WORK" || exit 1
export HOME="$WORK"
P="$PLINTH --no-color"

# expect_fail NAME WANT: apply of NAME.lua fails and says WANT.
expect_fail() {
    $P --spec "$1.lua" --env "$1" apply --auto-approve > "$1.out" 2>&1 && fail "$1: apply succeeded: $(tail -5 "$1.out")"
    grep -qF -- "$2" "$1.out" || fail "$1: error lacks '$2': $(tail -8 "$1.out")"
    echo "ok   $1 fails: $2"
}

# ---- an overlapping secondary range ----------------------------------------------
cat > overlap.lua <<'EOF'
provider "gcp" { project = "bugs", region = "europe-west1" }
local net = gcp.compute_network "vpc" { autoCreateSubnetworks = false }
gcp.compute_subnetwork "nodes" { network = net.selfLink, ipCidrRange = "10.0.0.0/20",
  secondaryIpRanges = { { rangeName = "pods", ipCidrRange = "10.4.0.0/14" } } }
gcp.compute_subnetwork "db" { network = net.selfLink, ipCidrRange = "10.5.0.0/24", region = "us-central1" }
EOF
expect_fail overlap "conflicts with existing subnetwork"

# ---- Kubernetes objects on a cluster with a GPU pool ----------------------------------
head() { # head CLUSTER_NAME
    cat <<EOF
provider "gcp" { project = "bugs", region = "europe-west1" }
local gke = gcp.container_cluster "$1" { location = "europe-west1", nodePools = {
  { name = "system", initialNodeCount = 1, config = { machineType = "e2-standard-4" } },
  { name = "gpu", initialNodeCount = 1, locations = { "europe-west1-b" }, config = { machineType = "g2-standard-8",
    taints = { { key = "nvidia.com/gpu", value = "present", effect = "NO_SCHEDULE" } } } } } }
local cluster = { endpoint = gke.endpoint, ca_certificate = gke.masterAuth.clusterCaCertificate,
  id = gke.id, name = gke.name, location = gke.location, self_link = gke.selfLink }
k8s.namespace "ray" { cluster = cluster }
EOF
}
deploy() { # deploy NAME REPLICAS POD_SPEC_EXTRA
    cat <<EOF
k8s.object "$1" { cluster = cluster, wait_timeout = 20, apiVersion = "apps/v1", kind = "Deployment",
  metadata = { name = "$1", namespace = "ray" },
  spec = { replicas = $2, progressDeadlineSeconds = 300, selector = { matchLabels = { app = "$1" } },
    template = { metadata = { labels = { app = "$1" } }, spec = { $3
      containers = { { name = "w", image = "rayproject/ray:2.9.0-gpu",
        resources = { limits = { ["nvidia.com/gpu"] = 1 } } } } } } } }
EOF
}

{ head c1; deploy worker '"two"' 'tolerations = { { key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" } },'; } > replicas.lua
expect_fail replicas "spec.replicas"

{ head c2; deploy worker 1 ''; } > toleration.lua
expect_fail toleration "timed out progressing"

{ head c3; cat <<'EOF'
local crd = k8s.object "raycluster_crd" { cluster = cluster, apiVersion = "apiextensions.k8s.io/v1",
  kind = "CustomResourceDefinition", metadata = { name = "rayclusters.ray.io" },
  spec = { group = "ray.io", scope = "Namespaced",
    names = { plural = "rayclusters", singular = "raycluster", kind = "RayCluster", listKind = "RayClusterList" },
    versions = { { name = "v1", served = true, storage = true, schema = { openAPIV3Schema = { type = "object",
      properties = { spec = { type = "object", properties = {
        rayVersion = { type = "string" },
        headGroupSpec = { type = "object", ["x-kubernetes-preserve-unknown-fields"] = true },
        workerGroupSpecs = { type = "array", items = { type = "object", properties = {
          groupName = { type = "string" }, replicas = { type = "integer" }, minReplicas = { type = "integer" },
          maxReplicas = { type = "integer" },
          template = { type = "object", ["x-kubernetes-preserve-unknown-fields"] = true } } } } } } } } } } } } }
k8s.object "raycluster" { cluster = cluster, depends_on = { crd }, apiVersion = "ray.io/v1", kind = "RayCluster",
  metadata = { name = "ml", namespace = "ray" },
  spec = { rayVersion = "2.9.0", headGroupSpec = { rayStartParams = {} },
    workerGroupSpecs = { { groupName = "gpu", replicas = 1, maxReplica = 4, template = {} } } } }
EOF
} > raycluster.lua
expect_fail raycluster "spec.workerGroupSpecs[0].maxReplica: field not declared in schema"

# ---- the corrected specs apply ------------------------------------------------------------
sed -i "s/10.4.0.0\/14/10.20.0.0\/14/" overlap.lua
sed -i 's/replicas = "two"/replicas = 1/' replicas.lua # one GPU node, one GPU
sed -i 's/maxReplica = 4/maxReplicas = 4/' raycluster.lua
for s in overlap replicas raycluster; do
    expect_rc 0 $P --spec "$s.lua" --env "$s" apply --auto-approve
    echo "ok   $s applies once corrected"
done
reqcheck_log
echo "conformance_client_bugs: ok"
