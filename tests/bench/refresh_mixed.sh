#!/bin/sh
# refresh_mixed.sh: a no-op plan of a 1,000-resource mixed platform
# (tests/fixtures/bench/mixed.lua: networks, subnets, firewalls, service
# accounts, project IAM members, secrets and versions, buckets and bucket
# IAM members) with the emulator at 50 ms latency (issue 15, goal 2):
# goals <= 60 requests and <= 0.4 s wall.  The ideal is one round trip per
# list or policy read, all in parallel: 1 x L.  Prints the figures and the
# emulator's CPU share; never fails on a figure.
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=tests/integration/lib && . tests/integration/lib/emu.sh
. tests/bench/lib/common.sh
L=${L:-50}
unset PLINTH_HTTP_LOG
cp tests/fixtures/bench/mixed.lua "$WORK/"
emu_start --data "$WORK/emu-data"
cd "$WORK" || exit 1
P="$PLINTH --spec mixed.lua --no-color --parallelism 16"
$P apply --auto-approve > apply.out 2>&1 || { tail apply.out; fail "apply"; }
$P plan --detailed-exitcode > plan.out 2>&1 || { tail plan.out; fail "plan not clean"; }
emu_stop
emu_start --data "$WORK/emu-data" --latency "$L"
e0=$(emu_cpu)
t0=$(now)
$P --http-log http.log plan > /dev/null 2>&1 || fail "plan at $L ms"
t1=$(now)
e1=$(emu_cpu)
reqs=$(wc -l < http.log)
calc "f'no-op plan, 1000 mixed resources, $L ms latency: wall {$t1-$t0:.2f} s (goal <= 0.4 s; {($t1-$t0)/($L/1000):.1f} x L), {$reqs} requests (goal <= 60); emulator CPU {($e1-$e0)*1000:.0f} ms'"
python3 - http.log <<'PY'
import json, sys, collections, re
per = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = re.sub(r'https?://[^/]+/', '', r["url"]).split("?")[0]
    u = re.sub(r'/(b|serviceAccounts|secrets)/[^/:]+', r'/\1/*', u)
    per[r["method"] + " " + u] += 1
for k, v in per.most_common(12): print(f"  {v:4d} {k}")
PY
