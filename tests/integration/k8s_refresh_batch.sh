#!/bin/sh
# k8s_refresh_batch.sh: a refresh of Kubernetes objects makes one LIST per
# kind and namespace (issue 15), reads the cluster and discovery once, and
# still sees what changed outside plinth: a ConfigMap deleted, another's
# data edited, a whole namespace's objects gone with it.
. "$(dirname "$0")/lib/emu.sh"
need_cmd kubectl
emu_start --op-scale 0.01
cp tests/fixtures/batch/k8s.lua "$WORK/"
cd "$WORK" || exit 1
export HOME="$WORK"
P="$PLINTH --spec k8s.lua --no-color"
expect_rc 0 $P apply --auto-approve
rm -f refresh.log
expect_rc 0 $P --http-log refresh.log plan --detailed-exitcode
python3 - refresh.log <<'PY' || fail "k8s refresh not batched"
import json, sys, re, collections
n = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = re.sub(r'^https?://[^/]+/k8s/[^/]+', '', r["url"]).split("?")[0]
    if "/k8s/" in r["url"]: n[r["method"] + " " + u] += 1
want = {"GET /api/v1": 1, "GET /api/v1/namespaces": 1,
        "GET /api/v1/namespaces/kb-1/configmaps": 1, "GET /api/v1/namespaces/kb-2/configmaps": 1,
        "GET /api/v1/namespaces/kb-1/serviceaccounts": 1, "GET /api/v1/namespaces/kb-2/serviceaccounts": 1}
if dict(n) != want: print("got:", dict(n)); sys.exit(1)
PY
expect_rc 0 $P kubeconfig gcp.container_cluster.ml
cp last.out kubeconfig
export KUBECONFIG="$WORK/kubeconfig"
K="kubectl --request-timeout=10s"
expect_rc 0 $K -n kb-1 delete configmap cm-1
expect_rc 0 $K -n kb-2 patch configmap cm-2 --type merge -p '{"data":{"index":"changed"}}'
expect_rc 2 $P plan --detailed-exitcode
grep -q "k8s.object.cm1 will be created" last.out || fail "deleted ConfigMap not planned: $(cat last.out)"
grep -q "k8s.object.cm2 will be updated" last.out || fail "edited ConfigMap not planned: $(cat last.out)"
grep -q "Plan: 1 to create, 1 to update, 0 to replace, 0 to destroy" last.out || fail "plan: $(grep Plan: last.out)"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
reqcheck_log
echo "k8s_refresh_batch: ok"
