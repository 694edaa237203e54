#!/bin/sh
# gcp_refresh_batch.sh: a refresh reads each batched type with one call per
# collection or policy holder (issue 15): one getIamPolicy for the project
# whatever its number of members, one serviceAccounts.list, one
# versions.list per secret, one bucket getIamPolicy per bucket; and what
# changed outside plinth is still seen (a member removed, a version
# destroyed, a service account deleted).
. "$(dirname "$0")/lib/emu.sh"
emu_start
cp tests/fixtures/batch/batch.lua "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --spec batch.lua --no-color"
expect_rc 0 $P apply --auto-approve
rm -f refresh.log
expect_rc 0 $P --http-log refresh.log plan --detailed-exitcode
python3 - refresh.log <<'PY' || fail "refresh not batched"
import json, sys, re, collections
n = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = re.sub(r'^https?://[^/]+/', '', r["url"]).split("?")[0]
    n[r["method"] + " " + u] += 1
def count(pat): return sum(v for k, v in n.items() if re.fullmatch(pat, k))
want = {
    r"POST cloudresourcemanager/v1/projects/batch-proj:getIamPolicy": 1,
    r"GET iam/v1/projects/batch-proj/serviceAccounts": 1,
    r"GET iam/v1/projects/batch-proj/serviceAccounts/.+": 0,
    r"GET secretmanager/v1/projects/batch-proj/secrets/[^/]+/versions": 2,
    r"GET secretmanager/v1/projects/batch-proj/secrets/[^/]+/versions/.+": 0,
    r"GET storage/storage/v1/b/[^/]+/iam": 2,
}
bad = [f"{p}: {count(p)} (want {w})" for p, w in want.items() if count(p) != w]
if bad: print("\n".join(bad), "\nall:", dict(n)); sys.exit(1)
PY
# Changes outside plinth are found by the batched reads.
curl -sf -X POST "$EMU_URL/secretmanager/v1/projects/batch-proj/secrets/sec1/versions/1:destroy" -d '{}' > /dev/null ||
    fail "destroy version out of band"
curl -sf -X DELETE "$EMU_URL/iam/v1/projects/batch-proj/serviceAccounts/batch-sa-2@batch-proj.iam.gserviceaccount.com" > /dev/null ||
    fail "delete service account out of band"
pol=$(curl -sf -X POST "$EMU_URL/cloudresourcemanager/v1/projects/batch-proj:getIamPolicy" -d '{}') || fail "get policy"
new=$(printf '%s' "$pol" | python3 -c '
import json, sys
p = json.load(sys.stdin)
for b in p.get("bindings", []):
    b["members"] = [m for m in b["members"] if m != "user:p3@example.com"]
print(json.dumps({"policy": p}))')
curl -sf -X POST "$EMU_URL/cloudresourcemanager/v1/projects/batch-proj:setIamPolicy" -d "$new" > /dev/null || fail "set policy"
expect_rc 2 $P plan --detailed-exitcode
for a in "gcp.secret_version.sec1_[ab] will be created" gcp.service_account.sa2 gcp.project_iam_member.pm3; do
    grep -q "$a" last.out || fail "$a not planned after it changed outside plinth: $(cat last.out)"
done
grep -q "Plan: 3 to create, 0 to update" last.out || fail "expected 3 to create: $(grep -i 'plan:' last.out)"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
reqcheck_log
echo "gcp_refresh_batch: ok"
