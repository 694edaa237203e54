#!/bin/sh
# refresh_k8s.sh: a no-op plan of 200 Kubernetes objects on one cluster
# (tests/fixtures/bench/k8s.lua) at 50 ms latency (issue 15, goal 4):
# goal <= 5 requests (the cluster once, discovery once, one LIST per kind
# and namespace); prints the requests by kind and the wall time.  Never
# fails on a figure.
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=tests/integration/lib && . tests/integration/lib/emu.sh
. tests/bench/lib/common.sh
L=${L:-50}
unset PLINTH_HTTP_LOG
cp tests/fixtures/bench/k8s.lua "$WORK/"
emu_start --data "$WORK/emu-data" --op-scale 0.01
cd "$WORK" || exit 1
P="$PLINTH --spec k8s.lua --no-color --parallelism 16"
$P apply --auto-approve > apply.out 2>&1 || { tail apply.out; fail "apply"; }
$P plan --detailed-exitcode > plan.out 2>&1 || { tail plan.out; fail "plan not clean"; }
emu_stop
emu_start --data "$WORK/emu-data" --op-scale 0.01 --latency "$L"
t0=$(now)
$P --http-log http.log plan > /dev/null 2>&1 || fail "plan at $L ms"
t1=$(now)
reqs=$(wc -l < http.log)
k8s=$(grep -c '/k8s/' http.log)
calc "f'no-op plan, 200 k8s objects on one cluster + the cluster, $L ms latency: wall {$t1-$t0:.2f} s, {$reqs} requests ({$k8s} to the cluster; goal <= 5)'"
python3 - http.log <<'PY'
import json, sys, collections, re
per = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = re.sub(r'https?://[^/]+/', '', r["url"]).split("?")[0]
    u = re.sub(r'/(configmaps|serviceaccounts|namespaces)/[^/]+$', r'/\1/*', u)
    per[r["method"] + " " + u] += 1
for k, v in per.most_common(10): print(f"  {v:4d} {k}")
PY
