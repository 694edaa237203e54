#!/bin/sh
# toolchain_modules.sh: the ML toolchain installs itself (issue 16).
# platform.lua applied against the emulator with nothing passed in: kubectl
# (kubeconfig from `plinth kubeconfig`, no address: the only cluster) sees
# the workflow-controller, argo-server, kuberay-operator and mlflow
# Deployments rolled out, every Pod scheduled, the Argo and Ray CRDs Established, a hello-world
# Workflow accepted, the RayCluster with its GPU group on the GPU pool (a
# Pod of its template runs on a GPU node, without tolerations it is Pending), the
# MLflow database-grant Job complete before the server, the artifact
# repository on GCS with no key secret, and no password anywhere.  Every
# object the modules write passes a server-side dry-run as plinth writes
# it; the generated CRDs and RBAC agree with the upstream release manifests
# (test inputs only), the RayCluster and the Workflow validate against the
# upstream CRDs' schemas.  Argo Events (its CRDs and RBAC as upstream's,
# the controller, an EventBus) and the PodMonitoring objects of the Argo
# controller, MLflow, the Ray head and the KubeRay operator when enabled
# (a stand-in PodMonitoring CRD plays GKE's managed Prometheus).  Re-plan is clean; one module input changed
# plans one update; destroy leaves nothing; every request is valid.
. "$(dirname "$0")/lib/emu.sh"
TD=${PLINTH_K8S_TESTDATA:-/work/shared/testdata/k8s}
[ -f "$TD/argo-workflows/quick-start-minimal.yaml" ] || skip "no testdata at $TD"
need_cmd kubectl
python3 -c 'import yaml' 2> /dev/null || skip "needs python3-yaml, which make deps installs"
FIX=$(pwd)/tests/fixtures/modules
CHECK="python3 $FIX/crd_schema_check.py"
mkdir -p "$WORK/p" && cp platform.lua "$WORK/p/" && cp -r modules "$WORK/p/"
cd "$WORK/p" || exit 1
# The Ray operator follows the GKE version: the add-on from 1.30.0-gke.1747000,
# the module's install before; the add-on asked for on an older one is an
# error at the call.
for v in 1.29:1 1.30.0-gke.1746999:1 1.31:0 latest:0; do
    printf 'provider "gcp" { project = "p", region = "r" }\nlocal p = module "m" { source = "ml_platform", project = "p", region = "r", gke_version = "%s" }\noutput("op", p.ray_operator)\n' "${v%:*}" > v.lua
    expect_rc 0 $PLINTH --spec v.lua graph
    [ "$(grep -c '^  "module.m.module.kuberay.k8s.object.operator";$' "$WORK/last.out")" = "${v#*:}" ] || fail "ray operator for GKE ${v%:*}"
done
sed -i 's/gke_version = "latest"/gke_version = "1.29", ray_operator = "addon"/' v.lua
expect_rc 1 $PLINTH --spec v.lua validate
grep -q 'v.lua:2: module ml_platform: ray_operator "addon" needs GKE 1.30.0-gke.1747000 or later, gke_version is 1.29' "$WORK/last.err" ||
    fail "add-on on 1.29: $(cat "$WORK/last.err")"
rm v.lua
# Outputs that do not exist are not printed: no operator, no RayCluster,
# no ray_dashboard_url.
expect_rc 0 $PLINTH --var ray_operator=none validate
grep -q "The spec is valid: 73 resources, 7 outputs." "$WORK/last.out" || fail "operator none: $(cat "$WORK/last.out")"
emu_start --op-scale 0.01 --data "$WORK/emu"
export HOME="$WORK" # kubectl's discovery cache
P="$PLINTH --no-color"
M=module.platform.module

expect_rc 0 $P apply --auto-approve
grep -q "Apply complete" "$WORK/last.out" || fail "apply: $(tail -5 "$WORK/last.out")"
grep -q "ray_dashboard_url = \"http://ray-head-svc.ray.svc.cluster.local:8265\"" "$WORK/last.out" ||
    fail "ray_dashboard_url output: $(tail -12 "$WORK/last.out")"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "re-plan not clean: $(grep -E '^ *[#~+-]' "$WORK/last.out" | head -20)"

# GKE's Ray operator add-on instead: one boolean on the cluster, and none
# of the module's operator objects (planned only: the emulator does not run
# the add-on).
expect_rc 2 $P plan --detailed-exitcode --var ray_operator=addon
grep -qE "addonsConfig.rayOperatorConfig.enabled = (null -> )?true" "$WORK/last.out" ||
    fail "add-on plan: $(grep -E '^  #|^Plan' "$WORK/last.out")"
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 10 to destroy." "$WORK/last.out" ||
    fail "add-on plan: $(grep -E '^  #|^Plan' "$WORK/last.out")"

expect_rc 0 $P kubeconfig
cp "$WORK/last.out" "$WORK/kubeconfig"
export KUBECONFIG="$WORK/kubeconfig"
K="kubectl --request-timeout=10s"

# The four Deployments, rolled out.
expect_rc 0 $K get deploy -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}={.status.availableReplicas} {end}'
for d in argo/workflow-controller=1 argo/argo-server=1 ray/kuberay-operator=1 mlflow/mlflow=1; do
    grep -q "$d" "$WORK/last.out" || fail "deployment $d: $(cat "$WORK/last.out")"
done
# Every Pod scheduled on a node (the emulator's scheduler honours node
# selectors, taints and requests), the grant Job's done.
expect_rc 0 $K get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}={.spec.nodeName}/{.status.phase}{"\n"}{end}'
cp "$WORK/last.out" "$WORK/pods.txt"
[ "$(grep -c . "$WORK/pods.txt")" -ge 5 ] || fail "pods: $(cat "$WORK/pods.txt")"
grep -v '=gke-ml-dev-system-[^/]*/Running$' "$WORK/pods.txt" | grep -v '^mlflow/mlflow-db-grant-[^=]*=gke-ml-dev-system-[^/]*/Succeeded$' &&
    fail "pods not scheduled or not running: $(cat "$WORK/pods.txt")"
# The CRDs, Established.
crds="workflows cronworkflows workflowtemplates clusterworkflowtemplates workfloweventbindings
      workflowtasksets workflowtaskresults workflowartifactgctasks"
set --
for c in $crds; do set -- "$@" "crd/$c.argoproj.io"; done
for c in rayclusters rayjobs rayservices; do set -- "$@" "crd/$c.ray.io"; done
expect_rc 0 $K wait --for=condition=Established --timeout=20s "$@"
[ "$(grep -c 'condition met' "$WORK/last.out")" = 11 ] || fail "CRDs established: $(cat "$WORK/last.out")"

# A hello-world Workflow, accepted by the CRD, runs as argo-workflow.
cat > "$WORK/hello.yaml" <<'Y'
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: hello-world, namespace: argo}
spec:
  entrypoint: main
  serviceAccountName: argo-workflow
  templates:
  - name: main
    container: {image: busybox, command: [echo], args: ["hello world"]}
Y
expect_rc 0 $K create -f "$WORK/hello.yaml"
expect_rc 0 $K get workflows hello-world -n argo -o json
cp "$WORK/last.out" "$WORK/hello.json"

# Argo: the artifact repository is the bucket, through workload identity.
expect_rc 0 $K get cm workflow-controller-configmap -n argo -o jsonpath='{.data.artifactRepository}'
grep -q 'bucket: plinth-demo-ml-dev-argo-artifacts' "$WORK/last.out" || fail "artifactRepository: $(cat "$WORK/last.out")"
grep -qi 'secret\|s3:' "$WORK/last.out" && fail "artifact repository with a key secret: $(cat "$WORK/last.out")"
expect_rc 0 $K get sa argo-workflow -n argo -o jsonpath='{.metadata.annotations.iam\.gke\.io/gcp-service-account}'
[ "$(cat "$WORK/last.out")" = "ml-dev-argo@plinth-demo.iam.gserviceaccount.com" ] || fail "argo KSA: $(cat "$WORK/last.out")"
expect_rc 0 $K get deploy workflow-controller -n argo -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].args}'
grep -q '^quay.io/argoproj/workflow-controller:v3.7.18 .*argoexec:v3.7.18' "$WORK/last.out" || fail "controller: $(cat "$WORK/last.out")"

# KubeRay: the RayCluster with a GPU group on the GPU pool.
expect_rc 0 $K get raycluster ray -n ray -o jsonpath='{.spec.workerGroupSpecs[1].groupName} {.spec.workerGroupSpecs[1].template.spec.nodeSelector.plinth\.dev/pool} {.spec.workerGroupSpecs[1].template.spec.tolerations[0].key} {.spec.workerGroupSpecs[1].template.spec.containers[0].resources.limits.nvidia\.com/gpu}'
[ "$(cat "$WORK/last.out")" = "gpu gpu nvidia.com/gpu 1" ] || fail "GPU worker group: $(cat "$WORK/last.out")"
expect_rc 0 $K get raycluster ray -n ray -o json
cp "$WORK/last.out" "$WORK/raycluster.json"

# The GPU workers land on the GPU pool: once a GPU node is up (the cluster
# autoscaler's part, played by setSize), a Pod of the GPU group's template
# (as KubeRay makes it) runs there; without the tolerations it stays Pending.
expect_rc 0 curl -sf -X POST -H 'Content-Type: application/json' -d '{"nodeCount":1}' \
    "$EMU_URL/container/v1/projects/plinth-demo/locations/europe-west1/clusters/ml-dev/nodePools/gpu:setSize"
python3 - "$WORK/raycluster.json" "$WORK" <<'PY' || fail "pods from the GPU template"
import json, sys
rc = json.load(open(sys.argv[1]))
g = [w for w in rc["spec"]["workerGroupSpecs"] if w["groupName"] == "gpu"][0]
for name, tol in (("gpu-worker", True), ("no-toleration", False)):
    spec = json.loads(json.dumps(g["template"]["spec"]))
    if not tol:
        del spec["tolerations"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ray"}, "spec": spec}
    json.dump(pod, open("%s/%s.json" % (sys.argv[2], name), "w"))
PY
for _ in $(seq 40); do
    $K get nodes -l cloud.google.com/gke-nodepool=gpu -o name 2> /dev/null | grep -q . && break
    sleep 0.5
done
expect_rc 0 $K create -f "$WORK/gpu-worker.json" -f "$WORK/no-toleration.json"
expect_rc 0 $K wait --for=condition=PodScheduled --timeout=20s pod/gpu-worker -n ray
expect_rc 0 $K get pods gpu-worker no-toleration -n ray -o jsonpath='{range .items[*]}{.metadata.name}={.spec.nodeName}/{.status.phase} {end}'
grep -q '^gpu-worker=gke-ml-dev-gpu-[^/]*/Running no-toleration=/Pending $' "$WORK/last.out" ||
    fail "GPU pods: $(cat "$WORK/last.out")"
expect_rc 0 $K get events -n ray --field-selector involvedObject.name=no-toleration -o jsonpath='{.items[*].message}'
grep -q "untolerated taint" "$WORK/last.out" || fail "FailedScheduling: $(cat "$WORK/last.out")"
expect_rc 0 $K delete pod gpu-worker no-toleration -n ray --wait=false

# MLflow: the grant Job completed; the server with the proxy as a native
# sidecar, its hosts allowed, artifacts on GCS; no password anywhere.
expect_rc 0 $K get job mlflow-db-grant -n mlflow -o jsonpath='{.status.succeeded}'
[ "$(cat "$WORK/last.out")" = 1 ] || fail "grant job: $(cat "$WORK/last.out")"
expect_rc 0 $K get deploy mlflow -n mlflow -o jsonpath='{.spec.template.spec.initContainers[0].name}/{.spec.template.spec.initContainers[0].restartPolicy} {.spec.template.spec.containers[0].args}'
grep -q '^cloud-sql-proxy/Always ' "$WORK/last.out" || fail "proxy sidecar: $(cat "$WORK/last.out")"
for a in 'gs://plinth-demo-ml-dev-mlflow-artifacts/mlflow' 'mlflow.mlflow.svc.cluster.local:5000' \
         'postgresql+psycopg2://ml-dev-mlflow%40plinth-demo.iam@127.0.0.1:5432/mlflow'; do
    grep -qF "$a" "$WORK/last.out" || fail "mlflow args lack $a: $(cat "$WORK/last.out")"
done
for o in "deploy mlflow" "job mlflow-db-grant"; do
    expect_rc 0 $K get $o -n mlflow -o json
    # Only a reference to the secret and the memory volume it is read into.
    grep -qiE '"password"|PGPASSWORD=[^\\"$]' "$WORK/last.out" && fail "a password in $o"
done
expect_rc 0 $K get secret -A
grep -q mlflow "$WORK/last.out" && fail "secrets in the mlflow namespace: $(cat "$WORK/last.out")"

# Argo Events and the PodMonitoring objects.  GKE serves PodMonitoring
# once its managed Prometheus is on; the emulator does not: a stand-in CRD.
cat > "$WORK/podmonitoring-crd.yaml" <<'Y'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: podmonitorings.monitoring.googleapis.com}
spec:
  group: monitoring.googleapis.com
  scope: Namespaced
  names: {kind: PodMonitoring, listKind: PodMonitoringList, plural: podmonitorings, singular: podmonitoring}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [selector, endpoints]
            properties:
              selector: {type: object, properties: {matchLabels: {type: object, additionalProperties: {type: string}}}}
              endpoints:
                type: array
                items:
                  type: object
                  required: [port]
                  properties:
                    port: {x-kubernetes-int-or-string: true}
                    path: {type: string}
                    interval: {type: string}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
Y
expect_rc 0 $K apply -f "$WORK/podmonitoring-crd.yaml"
expect_rc 0 $K wait --for=condition=Established --timeout=20s crd/podmonitorings.monitoring.googleapis.com
V="--var argo_events=true --var monitoring=true"
expect_rc 0 $P apply --auto-approve $V
grep -q 'argo_events_namespace = "argo-events"' "$WORK/last.out" || fail "events apply: $(tail -12 "$WORK/last.out")"
expect_rc 0 $P plan --detailed-exitcode $V
grep -q "No changes." "$WORK/last.out" || fail "re-plan with events: $(grep -E '^ *[#~+-]' "$WORK/last.out" | head -20)"
expect_rc 0 $K get podmonitorings -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}:{.spec.endpoints[0].port} {end}'
for m in argo/argo-controller:metrics mlflow/mlflow:http ray/ray-head:metrics ray/kuberay-operator:http; do
    grep -q "$m" "$WORK/last.out" || fail "PodMonitoring $m: $(cat "$WORK/last.out")"
done
expect_rc 0 $K get deploy controller-manager -n argo-events -o jsonpath='{.status.availableReplicas}'
[ "$(cat "$WORK/last.out")" = 1 ] || fail "argo events controller: $(cat "$WORK/last.out")"
expect_rc 0 $K get eventbus default -n argo-events -o json
cp "$WORK/last.out" "$WORK/eventbus.json"

# Every object the modules write, as plinth wrote it, passes a server-side
# dry-run.
expect_rc 0 $P state pull
cp "$WORK/last.out" "$WORK/state.json"
expect_rc 0 python3 "$FIX/state_objects.py" "$WORK/state.json" "$WORK/objs"
n=$(cat "$WORK/last.out")
[ "$n" -ge 60 ] || fail "only $n Kubernetes objects in state"
expect_rc 0 $K apply --server-side --dry-run=server --field-manager=plinth -f "$WORK/objs"
[ "$(grep -c 'serverside-applied (server dry run)' "$WORK/last.out")" = "$n" ] ||
    fail "dry-run: $(grep -v 'server dry run' "$WORK/last.out" | head)"

# The generated CRDs and RBAC agree with the upstream releases.
expect_rc 0 python3 "$FIX/upstream_compare.py" "$WORK/objs" "$TD/argo-workflows/quick-start-minimal.yaml" \
    --require ClusterRole/argo-cluster-role --require ClusterRole/argo-server-cluster-role \
    --require Role/argo-role --require Role/executor
grep -q "compared 16 objects, 0 differences" "$WORK/last.out" || fail "argo vs upstream: $(cat "$WORK/last.out")"
expect_rc 0 python3 "$FIX/upstream_compare.py" "$WORK/objs" "$TD/argo-events/install.yaml" \
    --require ClusterRole/argo-events-role --require CustomResourceDefinition/eventbus.argoproj.io
grep -q "compared 7 objects, 0 differences" "$WORK/last.out" || fail "argo events vs upstream: $(cat "$WORK/last.out")"
python3 - "$TD/argo-events/install.yaml" > "$WORK/eb-crd.json" <<'PY' || fail "eventbus CRD"
import json, sys, yaml
for d in yaml.load_all(open(sys.argv[1]), Loader=yaml.CSafeLoader):
    if d and d["metadata"]["name"] == "eventbus.argoproj.io":
        print(json.dumps(d))
PY
expect_rc 0 $CHECK "$WORK/eb-crd.json" "$WORK/eventbus.json"
for c in rayclusters rayjobs rayservices; do
    expect_rc 0 python3 "$FIX/upstream_compare.py" "$WORK/objs" "$TD/kuberay/ray.io_$c.yaml" \
        --require "CustomResourceDefinition/$c.ray.io"
done

# Custom resources against the upstream CRDs' schemas (the validator can
# fail: a broken RayCluster is refused).
yaml2json() { python3 -c 'import json,sys,yaml; print(json.dumps(yaml.load(open(sys.argv[1]), Loader=yaml.CSafeLoader)))' "$1"; }
yaml2json "$TD/kuberay/ray.io_rayclusters.yaml" > "$WORK/raycluster-crd.json" || fail "CRD to JSON"
expect_rc 0 $CHECK "$WORK/raycluster-crd.json" "$WORK/raycluster.json"
cat > "$WORK/bad.json" <<'J'
{"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "bad"},
 "spec": {"bogus": 1, "headGroupSpec": {"template": {"spec": {"containers": [
   {"name": "h", "image": "i", "resources": {"limits": {"cpu": "1x"}}}]}}},
  "workerGroupSpecs": [{"groupName": "g", "replicas": "two", "template": {}}]}}
J
expect_rc 1 $CHECK "$WORK/raycluster-crd.json" "$WORK/bad.json"
for e in "spec.bogus: unknown field" "replicas: must be integer" "cpu: '1x' does not match"; do
    grep -q "$e" "$WORK/last.out" || fail "schema check missed '$e': $(cat "$WORK/last.out")"
done
python3 - "$TD/argo-workflows/quick-start-minimal.yaml" > "$WORK/wf-crd.json" <<'PY' || fail "workflow CRD"
import json, sys, yaml
for d in yaml.load_all(open(sys.argv[1]), Loader=yaml.CSafeLoader):
    if d and d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == "workflows.argoproj.io":
        print(json.dumps(d))
PY
expect_rc 0 $CHECK "$WORK/wf-crd.json" "$WORK/hello.json"

# One input of a module's cluster side: exactly one in-place update.
sed 's/replicas = { type = "number", default = 1,/replicas = { type = "number", default = 2,/' modules/mlflow.lua > m.lua
cmp -s m.lua modules/mlflow.lua && fail "mlflow replicas input not found"
cp modules/mlflow.lua mlflow.lua.orig && mv m.lua modules/mlflow.lua
expect_rc 2 $P plan --detailed-exitcode $V
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy." "$WORK/last.out" &&
    grep -q "spec.replicas = 1 -> 2" "$WORK/last.out" || fail "mlflow replicas: $(cat "$WORK/last.out")"
mv mlflow.lua.orig modules/mlflow.lua

expect_rc 0 $K delete workflows hello-world -n argo
expect_rc 0 $P destroy --auto-approve $V
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
echo "toolchain_modules: ok ($n objects)"
