#!/bin/sh
# toolchain_demo.sh: what `make demo` runs after its build (scripts/demo.sh,
# issue 16), in a copy of the tree: the local cloud comes up, platform.lua
# applies from nothing, the second plan has no changes, and the closing
# hints work as printed: the kubeconfig it wrote reaches the cluster
# (workflow-controller, argo-server, kuberay-operator and mlflow rolled
# out), the gcloud exports reach the emulator, and `plinth local down`
# stops it (kubectl: connection refused).  A second run starts afresh.
. "$(dirname "$0")/lib/emu.sh"
need_cmd kubectl
unset PLINTH_GCP_ENDPOINT PLINTH_HTTP_LOG
R=$WORK/r
mkdir -p "$R/scripts" && cp platform.lua "$R/" && cp -r modules "$R/" && cp scripts/demo.sh "$R/scripts/"
ln -s "$BIN" "$R/bin"
export HOME="$WORK"
trap '"$R/bin/plinth" --spec "$R/platform.lua" local down > /dev/null 2>&1; cleanup' EXIT INT TERM

expect_rc 0 sh "$R/scripts/demo.sh"
for want in "Apply complete" "No changes." "The local cloud stays up at http://127.0.0.1:" \
            "export KUBECONFIG=$R/.plinth/local/kubeconfig" "kubectl get pods -A" "bin/plinth local down"; do
    grep -qF "$want" "$WORK/last.out" || fail "demo output lacks '$want': $(tail -20 "$WORK/last.out")"
done
url=$(sed -n 's/^==> The local cloud stays up at \(http:\/\/[0-9.:]*[0-9]\)\. Try:$/\1/p' "$WORK/last.out")
[ -n "$url" ] || fail "no URL in: $(tail -12 "$WORK/last.out")"
export KUBECONFIG="$R/.plinth/local/kubeconfig"
expect_rc 0 kubectl --request-timeout=10s get deploy -A -o jsonpath='{range .items[*]}{.metadata.name}={.status.availableReplicas} {end}'
for d in workflow-controller=1 argo-server=1 kuberay-operator=1 mlflow=1; do
    grep -q "$d" "$WORK/last.out" || fail "deployment $d: $(cat "$WORK/last.out")"
done
if have_cmd gcloud; then
    export CLOUDSDK_CONFIG="$WORK/gcloud" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1 CLOUDSDK_CORE_DISABLE_PROMPTS=1
    export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="$url/container/"
    expect_rc 0 gcloud container clusters list --project plinth-demo --format='value(name)'
    grep -q "^ml-dev$" "$WORK/last.out" || fail "gcloud: $(cat "$WORK/last.out")"
fi
# Again: the demo starts from nothing (its old cloud stopped, its data gone).
expect_rc 0 sh "$R/scripts/demo.sh"
grep -q "Apply complete: 84 added" "$WORK/last.out" || fail "second demo: $(grep Apply "$WORK/last.out")"
expect_rc 0 "$R/bin/plinth" --spec "$R/platform.lua" local down
expect_rc 1 kubectl --request-timeout=10s get ns
grep -q "refused" "$WORK/last.err" || fail "kubectl after down: $(cat "$WORK/last.err")"
echo "toolchain_demo: ok"
