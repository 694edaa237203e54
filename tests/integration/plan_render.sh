#!/bin/sh
# plan_render.sh: readable plans (issue 11):
#   - a first plan shows every known leaf: a Cloud SQL settings block with
#     one reference shows its tier and labels, and only privateNetwork is
#     "(known after apply)" (the whole block was);
#   - Kubernetes objects show their cluster by address, not its body;
#   - large values (the KubeRay CRD, ~300 kB) are summarised, and no line of
#     the plan of the upstream Argo Workflows and KubeRay manifests is
#     longer than 200 columns;
#   - nested values are indented blocks; a named list (containers) diffs by
#     name: one changed image is one line;
#   - a create_before_destroy replacement is "+/-".
. "$(dirname "$0")/lib/emu.sh"
TD=${PLINTH_K8S_TESTDATA:-/work/shared/testdata/k8s}
if [ ! -f "$TD/kuberay/ray.io_rayclusters.yaml" ] || [ ! -f "$TD/argo-workflows/quick-start-minimal.yaml" ]; then
    echo "plan_render: skipped (no testdata at $TD)"
    exit 77
fi
emu_start --op-scale 0.01
cd "$WORK" || exit 1
cp "$TD/argo-workflows/quick-start-minimal.yaml" "$TD/kuberay/ray.io_rayclusters.yaml" .
cat > spec.lua <<'EOF'
provider "gcp" { project = "render-proj", region = "europe-west1" }
local net = gcp.compute_network "vpc" { autoCreateSubnetworks = false }
gcp.sql_instance "db" {
  name = "render-db", databaseVersion = "POSTGRES_16", region = "europe-west1",
  settings = { tier = "db-custom-1-3840", userLabels = { app = "mlflow" },
               ipConfiguration = { ipv4Enabled = false, privateNetwork = net.selfLink } },
}
local gke = gcp.container_cluster "ml" { location = "europe-west1", initialNodeCount = 1 }
local cluster = {
  endpoint = gke.endpoint, ca_certificate = gke.masterAuth.clusterCaCertificate,
  id = gke.id, name = gke.name, location = gke.location, self_link = gke.selfLink,
}
k8s.namespace "argo" { cluster = cluster }
k8s.manifest "argo" { cluster = cluster, file = "quick-start-minimal.yaml", namespace = "argo" }
k8s.manifest "kuberay" { cluster = cluster, file = "ray.io_rayclusters.yaml" }
gcp.storage_bucket "b" { name = "render-b", location = "EU", lifecycle = { create_before_destroy = true } }
EOF
P="$PLINTH --spec spec.lua --no-color"
expect_rc 0 $P plan
cp last.out plan1.txt
long=$(awk 'length($0) > 200' plan1.txt | wc -l)
[ "$long" = 0 ] || fail "$long plan lines longer than 200 columns: $(awk 'length($0) > 200 { print substr($0, 1, 120) }' plan1.txt | head -3)"
grep -q '+ tier = "db-custom-1-3840"' plan1.txt || fail "settings.tier hidden: $(grep -A12 'sql_instance.db will' plan1.txt)"
grep -q '+ app = "mlflow"' plan1.txt || fail "settings.userLabels hidden"
grep -q '+ privateNetwork = (known after apply)' plan1.txt || fail "privateNetwork: $(grep -A14 'sql_instance.db will' plan1.txt)"
grep -q '+ settings = (known after apply)' plan1.txt && fail "the whole settings block is unknown"
grep -q '+ cluster = gcp.container_cluster.ml$' plan1.txt || fail "cluster not shown by address: $(grep -m3 'cluster =' plan1.txt)"
grep -q '+ schema = { (1[0-9][0-9].[0-9] kB, sha256:[0-9a-f]*' plan1.txt || fail "CRD schema not summarised: $(grep -m3 'schema = ' plan1.txt)"
grep -q '+ iamConfiguration = {' plan1.txt && fail "an unset block shown"
expect_rc 0 $P apply --auto-approve

# a named list diffs by name; a create_before_destroy replacement is +/-
sed -e 's/image: quay.io\/argoproj\/argocli:latest/image: quay.io\/argoproj\/argocli:v3.7.1/' \
    quick-start-minimal.yaml > q2.yaml
cmp -s q2.yaml quick-start-minimal.yaml && fail "the argo-server image line was not found in the manifest"
sed -e 's/quick-start-minimal.yaml/q2.yaml/; s/name = "render-b"/name = "render-b2"/' spec.lua > spec2.lua
mv spec2.lua spec.lua
expect_rc 0 $P plan
cp last.out plan2.txt
grep -q '~ image = "quay.io/argoproj/argocli:latest" -> "quay.io/argoproj/argocli:v3.7.1"' plan2.txt ||
    fail "image change: $(grep -B3 -A8 'containers' plan2.txt | head -30)"
grep -A12 'containers = \[' plan2.txt | grep -q 'args' && fail "unchanged container fields shown: $(grep -A12 'containers = \[' plan2.txt)"
grep -q '^  +/- gcp.storage_bucket.b$' plan2.txt || fail "create_before_destroy symbol: $(grep -A2 'storage_bucket.b ' plan2.txt)"
long=$(awk 'length($0) > 200' plan2.txt | wc -l)
[ "$long" = 0 ] || fail "$long update plan lines longer than 200 columns"
echo "plan_render: ok"
