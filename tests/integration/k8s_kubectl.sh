#!/bin/sh
# k8s_kubectl.sh: one apply from nothing creates a GKE cluster and the
# workloads on it (namespace, Deployment, CRD, custom resource); kubectl,
# with the kubeconfig from `plinth kubeconfig`, sees them in the emulator;
# re-plan is clean; a field another manager changes that the spec does not
# set is left alone; one the spec sets shows as drift and apply restores it.
. "$(dirname "$0")/lib/emu.sh"
need_cmd kubectl
emu_start --op-scale 0.01
cp tests/fixtures/k8s/platform.lua "$WORK/"
cd "$WORK" || exit 1
export HOME="$WORK" # kubectl's discovery cache
P="$PLINTH --no-color"

expect_rc 0 $P apply --auto-approve
grep -q "Apply complete: 5 added" last.out || fail "apply: $(cat last.out last.err)"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan not clean: $(cat last.out)"

expect_rc 0 $P kubeconfig gcp.container_cluster.ml
cp last.out kubeconfig
grep -q "server: $EMU_URL/k8s/" kubeconfig || fail "kubeconfig server: $(cat kubeconfig)"
export KUBECONFIG="$WORK/kubeconfig"
K="kubectl --request-timeout=10s"
expect_rc 0 $K get ns
grep -q "^apps " last.out || fail "kubectl get ns: $(cat last.out)"
expect_rc 0 $K get deploy -A
grep -q "apps *web" last.out || fail "kubectl get deploy -A: $(cat last.out)"
expect_rc 0 $K get crd
grep -q "widgets.example.com" last.out || fail "kubectl get crd: $(cat last.out)"
expect_rc 0 $K get widgets -A
grep -q "apps *gizmo" last.out || fail "kubectl get widgets -A: $(cat last.out)"
expect_rc 0 $K get deploy web -n apps -o jsonpath='{.status.availableReplicas}'
[ "$(cat last.out)" = 2 ] || fail "rollout status: $(cat last.out)"

# Label selectors, NotFound / AlreadyExists Status errors.
expect_rc 0 $K get deploy -A -l app=web
grep -q "web" last.out || fail "label selector: $(cat last.out)"
expect_rc 0 $K get deploy -A -l app=nope
grep -q "web" last.out && fail "label selector matched: $(cat last.out)"
expect_rc 1 $K get deploy nope -n apps
grep -q 'deployments.apps "nope" not found' last.err || fail "NotFound: $(cat last.err)"
expect_rc 1 $K create ns apps
grep -q 'already exists' last.err || fail "AlreadyExists: $(cat last.err)"

# Another manager changes fields the spec does not set: not fought over.
expect_rc 0 $K patch deploy web -n apps --type merge -p '{"spec":{"minReadySeconds":5}}'
expect_rc 0 $K annotate deploy web -n apps team=ml
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "unowned change fought over: $(cat last.out)"

# ... and a field the spec sets: drift, restored by apply (force).
expect_rc 0 $K scale deploy web -n apps --replicas=5
expect_rc 2 $P plan --detailed-exitcode
grep -q "spec.replicas" last.out || fail "drift not shown: $(cat last.out)"
grep -q "1 to update" last.out || fail "drift plan: $(cat last.out)"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $K get deploy web -n apps -o jsonpath='{.spec.replicas} {.spec.minReadySeconds} {.metadata.annotations.team}'
[ "$(cat last.out)" = "2 5 ml" ] || fail "after apply: $(cat last.out)"
expect_rc 0 $P plan --detailed-exitcode

# kubectl server-side apply by another manager conflicts on plinth's field.
cat > w.yaml <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec: {replicas: 3}
Y
expect_rc 1 $K apply --server-side -f w.yaml
grep -q "conflict with \"plinth\"" last.err || fail "SSA conflict: $(cat last.err)"

# An immutable field (a Deployment's selector): replace, not update.
# selector.lua is platform.lua changed: it plans against platform.lua's
# state on purpose (--reuse-state).
sed 's/app = "web"/app = "web2"/g' platform.lua > selector.lua
expect_rc 2 $P --reuse-state --spec selector.lua plan --detailed-exitcode
grep -q "1 to replace" last.out || fail "selector change: $(cat last.out)"
expect_rc 0 $P --reuse-state --spec selector.lua apply --auto-approve
expect_rc 0 $K get deploy web -n apps -o jsonpath='{.spec.selector.matchLabels.app}'
[ "$(cat last.out)" = web2 ] || fail "after replace: $(cat last.out)"
expect_rc 0 $P --spec selector.lua plan --detailed-exitcode

expect_rc 0 $P --spec selector.lua destroy --auto-approve
grep -q "Destroy complete" last.out || fail "destroy: $(cat last.out last.err)"
echo "k8s_kubectl: ok"
