#!/bin/sh
# conformance_kubectl.sh: the real kubectl against the emulator's apiserver
# of a GKE cluster with a system pool and a GPU pool, through the commands
# a platform engineer uses; each must behave as on a real cluster, failing
# cases with the real error.  Prints the number of kubectl commands run.
. "$(dirname "$0")/lib/emu.sh"
. "$(dirname "$0")/lib/skip.sh"
need_cmd kubectl
need_cmd curl
emu_start --op-scale 0.01
export HOME="$WORK"
cd "$WORK" || exit 1
U="$EMU_URL"

# ---- a cluster: 1 system node per zone (3) and a 1-node L4 GPU pool ---------------
curl -sf -X POST "$U/container/v1/projects/p/locations/europe-west1/clusters" -H 'Content-Type: application/json' -d '{
  "cluster": {"name": "ml", "initialClusterVersion": "1.31", "nodePools": [
    {"name": "system", "initialNodeCount": 1, "config": {"machineType": "e2-standard-4"}},
    {"name": "gpu", "initialNodeCount": 1, "locations": ["europe-west1-b"],
     "config": {"machineType": "g2-standard-8", "accelerators": [{"acceleratorType": "nvidia-l4", "acceleratorCount": "1"}]}}]}}' \
    > create.json || fail "cluster create: $(cat create.json)"
i=0
until curl -sf "$U/container/v1/projects/p/locations/europe-west1/clusters/ml" > cl.json && grep -q '"status": *"RUNNING"' cl.json; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "cluster not RUNNING: $(cat cl.json)"; sleep 0.1
done
CID=$(sed -n 's/.*"id": *"\([0-9a-f]*\)".*/\1/p' cl.json | head -n 1)
cat > kubeconfig <<EOF
apiVersion: v1
kind: Config
clusters: [{name: ml, cluster: {server: "$U/k8s/$CID"}}]
users: [{name: u, user: {}}]
contexts: [{name: ml, context: {cluster: ml, user: u}}]
current-context: ml
EOF
export KUBECONFIG="$WORK/kubeconfig"

n=0
fails=0
# ok CMD... [-- WANT]: kubectl CMD exits 0 (and prints WANT when given).
# no WANT CMD...: kubectl CMD fails and prints WANT (the real error).
ok() {
    n=$((n + 1))
    want=
    args=
    for a in "$@"; do shift; [ "$a" = "--" ] && { want=$1; shift; break; }; set -- "$@" "$a"; done
    kubectl --request-timeout=20s "$@" > out 2>&1
    rc=$?
    if [ $rc -ne 0 ] || { [ -n "$want" ] && ! grep -qF -- "$want" out; }; then
        echo "FAIL: kubectl $* (rc $rc, want '$want'):" | cut -c1-300; head -c 1500 out | sed 's/^/    /'; fails=$((fails + 1))
    fi
}
no() {
    n=$((n + 1))
    want=$1
    shift
    kubectl --request-timeout=20s "$@" > out 2>&1 && { echo "FAIL: kubectl $* succeeded:" | cut -c1-300; head -c 1500 out | sed 's/^/    /'; fails=$((fails + 1)); return; }
    grep -qF -- "$want" out || { echo "FAIL: kubectl $* lacks '$want':" | cut -c1-300; head -c 1500 out | sed 's/^/    /'; fails=$((fails + 1)); }
}

# ---- the server -----------------------------------------------------------------
ok version -o json -- '"gitVersion": "v1.31.1-gke.1678000"'
ok cluster-info -- "Kubernetes control plane"
ok api-resources -- "deployments"
ok api-versions -- "apps/v1"
ok get --raw /healthz -- "ok"
ok get --raw /readyz -- "ok"
ok get --raw /livez -- "ok"
ok get nodes -l cloud.google.com/gke-nodepool=system -o name -- "node/gke-ml-system-"
ok get nodes -l cloud.google.com/gke-accelerator=nvidia-l4 -o jsonpath='{.items[0].spec.taints[0].key}={.items[0].status.allocatable.nvidia\.com/gpu}' -- "nvidia.com/gpu=1"

# ---- namespaces, config -------------------------------------------------------------
ok create namespace team
no 'namespaces "team" already exists' create namespace team
no "a lowercase RFC 1123 label must consist of" create namespace Team_A
ok get ns team -o jsonpath='{.status.phase}' -- "Active"
ok create configmap cfg -n team --from-literal=mode=fast
ok get configmap cfg -n team -o jsonpath='{.data.mode}' -- "fast"
ok create secret generic creds -n team --from-literal=password=s3cret
ok get secret creds -n team -o jsonpath='{.data.password}' -- "czNjcmV0"
no 'configmaps "nope" not found' get configmap nope -n team

# ---- a Deployment: apply, roll out, scale, patch -------------------------------------
cat > web.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
EOF
ok apply -f web.yaml -- "deployment.apps/web created"
ok rollout status deployment/web -n team --timeout=30s -- "successfully rolled out"
ok get rs -n team -l app=web -o jsonpath='{.items[0].status.readyReplicas}' -- "2"
ok get pods -n team -l app=web -o jsonpath='{.items[*].status.phase}' -- "Running Running"
ok apply --server-side -f web.yaml -- "serverside-applied"
rv1=$(kubectl get deploy web -n team -o jsonpath='{.metadata.resourceVersion}')
ok apply --server-side -f web.yaml
rv2=$(kubectl get deploy web -n team -o jsonpath='{.metadata.resourceVersion}')
[ "$rv1" = "$rv2" ] || { echo "FAIL: a no-op server-side apply bumped resourceVersion $rv1 -> $rv2"; fails=$((fails + 1)); }
sed 's/replicas: 2/replicas: 5/' web.yaml > web5.yaml
ok apply --server-side --force-conflicts --dry-run=server -f web5.yaml -- "(server dry run)"
ok get deploy web -n team -o jsonpath='{.spec.replicas}' -- "2"
ok scale deployment web -n team --replicas=3 -- "scaled"
ok patch deployment web -n team --type=json -p '[{"op":"replace","path":"/spec/replicas","value":1}]' -- "patched"
ok get deploy web -n team -o jsonpath='{.spec.replicas}' -- "1"
ok patch deployment web -n team --type=merge -p '{"metadata":{"labels":{"tier":"front"}}}' -- "patched"
ok label deployment web -n team owner=platform -- "labeled"
ok annotate deployment web -n team note=hello -- "annotated"
ok get deploy -n team -l tier=front,owner=platform -o name -- "deployment.apps/web"

# ---- refused as a real apiserver refuses -------------------------------------------------
cat > bad-replicas.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: team}
spec:
  replicas: "two"
  selector: {matchLabels: {app: bad}}
  template: {metadata: {labels: {app: bad}}, spec: {containers: [{name: c, image: busybox}]}}
EOF
no 'spec.replicas' apply --server-side -f bad-replicas.yaml
cat > bad-selector.yaml <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: team}
spec:
  selector: {matchLabels: {app: bad}}
  template: {metadata: {labels: {app: other}}, spec: {containers: [{name: c, image: busybox}]}}
EOF
no '`selector` does not match template `labels`' apply -f bad-selector.yaml
cat > bad-field.yaml <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: odd, namespace: team}
dataa: {a: b}
EOF
no 'strict decoding error: unknown field "dataa"' create --validate=strict -f bad-field.yaml
no 'Required value' create deployment nocontainer -n team --image=''
{ printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big, namespace: team, annotations: {big: "'
  head -c 270000 /dev/zero | tr '\0' a; printf '"}}\n'; } > big.yaml
no 'metadata.annotations: Too long: must have at most 262144 bytes' apply --server-side -f big.yaml

# ---- GPU scheduling ----------------------------------------------------------------------
cat > gpu.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: trainer, namespace: team}
spec:
  containers: [{name: t, image: pytorch, resources: {limits: {nvidia.com/gpu: 1}}}]
EOF
ok apply -f gpu.yaml
ok get pod trainer -n team -o jsonpath='{.status.phase}' -- "Pending"
ok get events -n team --field-selector reason=FailedScheduling -o jsonpath='{.items[*].message}' -- "untolerated taint {nvidia.com/gpu: present}"
cat > gpu-ok.yaml <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: trainer2, namespace: team}
spec:
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  nodeSelector: {cloud.google.com/gke-accelerator: nvidia-l4}
  containers: [{name: t, image: pytorch, resources: {limits: {nvidia.com/gpu: 1}}}]
EOF
ok apply -f gpu-ok.yaml
ok get pod trainer2 -n team -o jsonpath='{.status.phase} {.spec.nodeName}' -- "Running gke-ml-gpu-"

# ---- Jobs, Services, CRDs -----------------------------------------------------------------
ok create job once -n team --image=busybox -- "job.batch/once created"
ok wait --for=condition=complete job/once -n team --timeout=30s -- "condition met"
ok expose deployment web -n team --port=80 -- "service/web exposed"
ok get endpoints web -n team -o jsonpath='{.subsets[0].addresses[0].ip}' -- "10."
cat > crd.yaml <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns: [{name: Size, type: integer, jsonPath: .spec.size}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
EOF
ok apply -f crd.yaml -- "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
ok wait --for=condition=established crd/widgets.example.com --timeout=30s -- "condition met"
cat > widget.yaml <<'EOF'
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: team}
spec: {size: 3, colour: red, extra: {anything: {goes: 1}}}
EOF
ok apply --server-side --validate=false -f widget.yaml -- "serverside-applied"
ok get widget w1 -n team -o jsonpath='{.spec.size}/{.spec.colour}/{.spec.extra.anything.goes}' -- "3//1"
no '.spec.colour: field not declared in schema' apply --server-side --validate=strict -f widget.yaml
sed 's/size: 3/size: three/' widget.yaml > widget-bad.yaml
no 'spec.size in body must be of type integer' apply --server-side --validate=false -f widget-bad.yaml

# ---- auth, deletion --------------------------------------------------------------------------
ok auth can-i create deployments -n team -- "yes"
ok auth whoami -- "Username"
ok delete deployment web -n team -- "deleted"
ok get pods -n team -l app=web -o name
[ -s out ] && { echo "FAIL: the Deployment's Pods outlived it: $(cat out)"; fails=$((fails + 1)); }
no 'deployments.apps "web" not found' get deployment web -n team
ok delete namespace team --wait=true --timeout=30s -- "deleted"

echo "conformance_kubectl: $n kubectl commands, $fails failed"
[ $fails -eq 0 ] || exit 1
echo "conformance_kubectl: ok"
