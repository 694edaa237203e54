#!/bin/sh
# k8s_manifests.sh: real upstream manifests applied to an emulated GKE
# cluster in one run: the Argo Workflows quick-start (52 objects: CRDs,
# RBAC, Deployments, ...) and the KubeRay RayCluster CRD (> 900 kB) with a
# RayCluster; apply converges and re-plans to "No changes"; destroy removes
# everything; objects are ordered automatically (CRDs before custom
# resources, namespaces before their objects).  A malformed document fails
# with file:line:col and nothing is applied.
. "$(dirname "$0")/lib/emu.sh"
TD=${PLINTH_K8S_TESTDATA:-/work/shared/testdata/k8s}
[ -f "$TD/argo-workflows/quick-start-minimal.yaml" ] || skip "no testdata at $TD"
FIX=$(pwd)/tests/fixtures/k8s
emu_start --op-scale 0.01
cd "$WORK" || exit 1
cp "$TD/argo-workflows/quick-start-minimal.yaml" "$TD/kuberay/ray.io_rayclusters.yaml" \
   "$TD/kuberay/ray-cluster.sample.yaml" .
P="$PLINTH --no-color"

{ cat "$FIX/manifests_head.lua"; cat <<'L'
k8s.manifest "argo" { cluster = cluster, file = "quick-start-minimal.yaml", namespace = "argo" }
k8s.manifest "kuberay" { cluster = cluster, file = "ray.io_rayclusters.yaml" }
k8s.manifest "raycluster" { cluster = cluster, file = "ray-cluster.sample.yaml", namespace = "default" }
L
} > platform.lua

# A malformed document: an error naming file, line and column; nothing applied.
sed 's/^  name: workflow-controller$/  name: [workflow-controller/' quick-start-minimal.yaml > broken.yaml
sed 's/file = "quick-start-minimal.yaml"/file = "broken.yaml"/' platform.lua > broken.lua
expect_rc 1 $P --spec broken.lua apply --auto-approve
grep -Eq "broken.yaml:3611:[0-9]+" last.out last.err || fail "malformed YAML error: $(cat last.out last.err)"
expect_rc 0 $P state list
[ -s last.out ] && fail "something was applied from a malformed manifest: $(cat last.out)"
expect_rc 0 $P plan
grep -q 'k8s.manifest.argo\["Deployment/argo/workflow-controller"\]' last.out || fail "manifest address: $(grep '#' last.out | head)"

expect_rc 0 $P apply --auto-approve
grep -q "Apply complete: 56 added" last.out || fail "apply: $(grep -E 'Error|complete' last.out last.err | cut -c1-300)"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan not clean: $(grep -E '^ *[#~+-]' last.out | cut -c1-300 | head -20)"

if command -v kubectl > /dev/null; then
    export HOME="$WORK"
    expect_rc 0 $P kubeconfig gcp.container_cluster.ml
    cp last.out kubeconfig
    export KUBECONFIG="$WORK/kubeconfig"
    expect_rc 0 kubectl get deploy -n argo
    grep -q "workflow-controller" last.out || fail "kubectl deploy: $(cat last.out)"
    expect_rc 0 kubectl get rayclusters -A
    grep -q "raycluster-kuberay" last.out || fail "kubectl rayclusters: $(cat last.out)"
    expect_rc 0 kubectl get crd workflows.argoproj.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}'
    [ "$(cat last.out)" = True ] || fail "CRD not Established: $(cat last.out)"
fi

expect_rc 0 $P destroy --auto-approve
grep -q "Destroy complete" last.out || fail "destroy: $(grep -E 'Error|complete' last.out last.err | cut -c1-300)"
echo "k8s_manifests: ok"
