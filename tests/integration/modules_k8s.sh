#!/bin/sh
# modules_k8s.sh: the Kubernetes side of the ML platform modules (issue 7).
# platform.lua applied against the emulator with the upstream installs the
# user would download (Argo Workflows quick-start, KubeRay CRDs; a rendered
# KubeRay operator stand-in from tests/fixtures/modules): one apply from
# nothing; kubectl (kubeconfig from `plinth kubeconfig`) sees MLflow's
# namespace, workload-identity ServiceAccount, Deployment (server + Cloud
# SQL Auth Proxy) and Service, Argo's controller, server, ServiceAccount and
# GCS artifact repository, the KubeRay operator and the RayCluster; the
# RayCluster and an upstream Argo Workflow validate against the upstream
# CRDs' schemas; re-plan is clean; one input changed plans exactly one
# in-place update; destroy leaves nothing; every request is valid.
. "$(dirname "$0")/lib/emu.sh"
TD=${PLINTH_K8S_TESTDATA:-/work/shared/testdata/k8s}
[ -f "$TD/argo-workflows/quick-start-minimal.yaml" ] || { echo "modules_k8s: SKIP (no testdata at $TD)"; exit 0; }
command -v kubectl > /dev/null || { echo "modules_k8s: SKIP (no kubectl)"; exit 0; }
FIX=$(pwd)/tests/fixtures/modules
CHECK="python3 $FIX/crd_schema_check.py"
mkdir -p "$WORK/p" && cp platform.lua "$WORK/p/" && cp -r modules "$WORK/p/"
emu_start --op-scale 0.01 --data "$WORK/emu"
cd "$WORK/p" || exit 1
export HOME="$WORK" # kubectl's discovery cache
P="$PLINTH --no-color --var argo_manifest=$TD/argo-workflows/quick-start-minimal.yaml
   --var kuberay_crds=$TD/kuberay/ray.io_rayclusters.yaml,$TD/kuberay/ray.io_rayjobs.yaml,$TD/kuberay/ray.io_rayservices.yaml
   --var kuberay_operator=$FIX/kuberay-operator.yaml"
M=module.platform.module

# The validator can fail: a broken RayCluster is refused.
cat > "$WORK/bad.json" <<'J'
{"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "bad"},
 "spec": {"bogus": 1, "headGroupSpec": {"template": {"spec": {"containers": [
   {"name": "h", "image": "i", "resources": {"limits": {"cpu": "1x"}}}]}}},
  "workerGroupSpecs": [{"groupName": "g", "replicas": "two", "template": {}}]}}
J

start=$(date +%s)
expect_rc 0 $P apply --auto-approve
took=$(( $(date +%s) - start ))
grep -q "Apply complete" "$WORK/last.out" || fail "apply: $(tail -5 "$WORK/last.out")"
grep -q "ray_dashboard_url = \"http://ray-head-svc.ray.svc.cluster.local:8265\"" "$WORK/last.out" ||
    fail "ray_dashboard_url output: $(tail -12 "$WORK/last.out")"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "re-plan not clean: $(grep -E '^ *[#~+-]' "$WORK/last.out" | head -20)"

expect_rc 0 $P state list
grep -q "^$M.argo.k8s.manifest.install\[\"Deployment/argo/workflow-controller\"\]$" "$WORK/last.out" ||
    fail "argo install not applied: $(grep argo "$WORK/last.out" | head)"
grep -q 'ConfigMap/argo/artifact-repositories' "$WORK/last.out" &&
    fail "the quick-start's artifact-repositories ConfigMap was applied beside the module's"

expect_rc 0 $P kubeconfig $M.gke.gcp.container_cluster.cluster
cp "$WORK/last.out" "$WORK/kubeconfig"
export KUBECONFIG="$WORK/kubeconfig"
K="kubectl --request-timeout=10s"
expect_rc 0 $K get ns
for ns in mlflow argo ray; do
    grep -q "^$ns " "$WORK/last.out" || fail "namespace $ns: $(cat "$WORK/last.out")"
done

# MLflow: Deployment with the server and the proxy sidecar, rolled out;
# Service on 5000; the ServiceAccount names the Google service account.
expect_rc 0 $K get deploy mlflow -n mlflow -o jsonpath='{.status.availableReplicas} {.spec.template.spec.serviceAccountName} {.spec.template.spec.containers[*].name}'
[ "$(cat "$WORK/last.out")" = "1 mlflow mlflow cloud-sql-proxy" ] || fail "mlflow deployment: $(cat "$WORK/last.out")"
expect_rc 0 $K get deploy mlflow -n mlflow -o jsonpath='{.spec.template.spec.containers[1].args}'
grep -q 'plinth-demo:europe-west1:ml-dev-mlflow' "$WORK/last.out" && grep -q -- '--auto-iam-authn' "$WORK/last.out" ||
    fail "proxy args: $(cat "$WORK/last.out")"
expect_rc 0 $K get deploy mlflow -n mlflow -o jsonpath='{.spec.template.spec.containers[0].args}'
grep -q 'gs://plinth-demo-ml-dev-mlflow-artifacts' "$WORK/last.out" || fail "mlflow args: $(cat "$WORK/last.out")"
expect_rc 0 $K get deploy mlflow -n mlflow -o json
grep -qi 'password' "$WORK/last.out" && fail "a password in the MLflow Deployment"
expect_rc 0 $K get svc mlflow -n mlflow -o jsonpath='{.spec.ports[0].port}'
[ "$(cat "$WORK/last.out")" = 5000 ] || fail "mlflow service: $(cat "$WORK/last.out")"
expect_rc 0 $K get sa mlflow -n mlflow -o jsonpath='{.metadata.annotations.iam\.gke\.io/gcp-service-account}'
[ "$(cat "$WORK/last.out")" = "ml-dev-mlflow@plinth-demo.iam.gserviceaccount.com" ] || fail "mlflow KSA: $(cat "$WORK/last.out")"
expect_rc 0 $K get secret -n mlflow
grep -q . "$WORK/last.out" && fail "secrets in the mlflow namespace: $(cat "$WORK/last.out")"

# Argo: upstream controller and server; the workflow ServiceAccount; the
# artifact repository on the GCS bucket, with no key secret.
expect_rc 0 $K get deploy -n argo
for d in workflow-controller argo-server; do
    grep -q "^$d " "$WORK/last.out" || fail "argo deployment $d: $(cat "$WORK/last.out")"
done
expect_rc 0 $K get sa argo-workflow -n argo -o jsonpath='{.metadata.annotations.iam\.gke\.io/gcp-service-account}'
[ "$(cat "$WORK/last.out")" = "ml-dev-argo@plinth-demo.iam.gserviceaccount.com" ] || fail "argo KSA: $(cat "$WORK/last.out")"
expect_rc 0 $K get rolebinding argo-workflow -n argo -o jsonpath='{.roleRef.name} {.subjects[0].name}'
[ "$(cat "$WORK/last.out")" = "argo-workflow argo-workflow" ] || fail "argo rolebinding: $(cat "$WORK/last.out")"
expect_rc 0 $K get cm artifact-repositories -n argo -o jsonpath='{.metadata.annotations.workflows\.argoproj\.io/default-artifact-repository}|{.data.gcs}'
grep -q '^gcs|' "$WORK/last.out" && grep -q 'bucket: plinth-demo-ml-dev-argo-artifacts' "$WORK/last.out" ||
    fail "artifact-repositories: $(cat "$WORK/last.out")"
grep -qi 'secret\|s3:' "$WORK/last.out" && fail "artifact repository with a key secret: $(cat "$WORK/last.out")"

# KubeRay: operator, CRDs, the RayCluster with a GPU group on the GPU pool.
expect_rc 0 $K get deploy kuberay-operator -n ray -o jsonpath='{.status.availableReplicas}'
[ "$(cat "$WORK/last.out")" = 1 ] || fail "kuberay operator: $(cat "$WORK/last.out")"
expect_rc 0 $K get rayclusters -n ray
grep -q "^ray " "$WORK/last.out" || fail "kubectl get rayclusters: $(cat "$WORK/last.out")"
expect_rc 0 $K get raycluster ray -n ray -o jsonpath='{.spec.workerGroupSpecs[1].groupName} {.spec.workerGroupSpecs[1].template.spec.nodeSelector.plinth\.dev/pool} {.spec.workerGroupSpecs[1].template.spec.tolerations[0].key} {.spec.workerGroupSpecs[1].template.spec.containers[0].resources.limits.nvidia\.com/gpu}'
[ "$(cat "$WORK/last.out")" = "gpu gpu nvidia.com/gpu 1" ] || fail "GPU worker group: $(cat "$WORK/last.out")"

# Custom resources against the upstream CRDs' schemas.
expect_rc 0 $K get crd rayclusters.ray.io -o json
cp "$WORK/last.out" "$WORK/raycluster-crd.json"
expect_rc 0 $K get raycluster ray -n ray -o json
cp "$WORK/last.out" "$WORK/raycluster.json"
expect_rc 0 $CHECK "$WORK/raycluster-crd.json" "$WORK/raycluster.json"
expect_rc 1 $CHECK "$WORK/raycluster-crd.json" "$WORK/bad.json"
for e in "spec.bogus: unknown field" "replicas: must be integer" "cpu: '1x' does not match"; do
    grep -q "$e" "$WORK/last.out" || fail "schema check missed '$e': $(cat "$WORK/last.out")"
done
expect_rc 0 $K create --dry-run=client -o json -f "$TD/kuberay/ray-cluster.sample.yaml"
cp "$WORK/last.out" "$WORK/sample.json"
expect_rc 0 $CHECK "$WORK/raycluster-crd.json" "$WORK/sample.json"
expect_rc 0 $K get crd workflows.argoproj.io -o json
cp "$WORK/last.out" "$WORK/workflow-crd.json"
expect_rc 0 $K create --dry-run=client -o json -f "$TD/argo-workflows/template-on-exit.yaml"
cp "$WORK/last.out" "$WORK/workflow.json"
expect_rc 0 $CHECK "$WORK/workflow-crd.json" "$WORK/workflow.json"
# The server accepts the module's objects as kubectl sends them.
for o in "ns mlflow" "sa mlflow -n mlflow" "deploy mlflow -n mlflow" "svc mlflow -n mlflow" "ns argo" \
         "sa argo-workflow -n argo" "role argo-workflow -n argo" "rolebinding argo-workflow -n argo" \
         "cm artifact-repositories -n argo" "ns ray" "raycluster ray -n ray"; do
    expect_rc 0 $K get $o -o json
    python3 -c 'import json,sys; o=json.load(sys.stdin); o.pop("status",None); m=o["metadata"]
[m.pop(k,None) for k in ("managedFields","resourceVersion","uid","creationTimestamp","generation")]
print(json.dumps(o))' < "$WORK/last.out" > "$WORK/obj.json" || fail "export $o"
    expect_rc 0 $K apply --server-side --dry-run=server --field-manager=plinth -f "$WORK/obj.json"
done

# One input changed: exactly one in-place update.
expect_rc 2 $P plan --detailed-exitcode --var gpu_max_nodes=6
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy." "$WORK/last.out" || fail "one input: $(cat "$WORK/last.out")"
# ... and one input of a module's cluster side (MLflow's replicas).
sed 's/replicas = { type = "number", default = 1,/replicas = { type = "number", default = 2,/' modules/mlflow.lua > m.lua
cmp -s m.lua modules/mlflow.lua && fail "mlflow replicas input not found"
cp modules/mlflow.lua mlflow.lua.orig && mv m.lua modules/mlflow.lua
expect_rc 2 $P plan --detailed-exitcode
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy." "$WORK/last.out" &&
    grep -q "spec.replicas = 1 -> 2" "$WORK/last.out" || fail "mlflow replicas: $(cat "$WORK/last.out")"
mv mlflow.lua.orig modules/mlflow.lua

expect_rc 0 $P destroy --auto-approve
grep -q "Destroy complete" "$WORK/last.out" || fail "destroy: $(tail -5 "$WORK/last.out")"
expect_rc 0 $P state list
[ -s "$WORK/last.out" ] && fail "state not empty after destroy: $(cat "$WORK/last.out")"
emu_stop
python3 - "$WORK/emu/emulator.json" <<'PY' || fail "resources left in the emulator"
import json, sys
docs = json.load(open(sys.argv[1]))["docs"]
left = [k for k in docs
        if "/operations/" not in k and not k.startswith("serviceusage/")
        and not (k.endswith("/iamPolicy") and
                 all(b["role"] == "roles/owner" for b in docs[k].get("bindings", [])))]
if left: print("left:", left[:20]); sys.exit(1)
PY
reqcheck_log
echo "modules_k8s: ok (apply from nothing took ${took}s)"
