#!/bin/sh
# engine_lifecycle.sh: a 50-resource spec over two modules plans, applies,
# re-plans to "No changes" (exit 0 with --detailed-exitcode), and destroys,
# against the emulator (issue 2, acceptance 2 and 6).
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05
cp -r tests/fixtures/engine/. "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --spec fifty.lua --no-color"

expect_rc 2 $P plan --detailed-exitcode
grep -q "Plan: 50 to create, 0 to update, 0 to replace, 0 to destroy." last.out || fail "plan summary: $(tail -3 last.out)"

expect_rc 0 $P plan --json
python3 - last.out <<'PY' || fail "plan --json"
import json, sys
msgs = [json.loads(l) for l in open(sys.argv[1])]  # one JSON object per line
assert msgs[0]["type"] == "version", msgs[0]
ch = [m["change"] for m in msgs if m["type"] == "planned_change"]
assert len(ch) == 50, len(ch)
assert all(c["action"] == "create" for c in ch)
summary = [m["changes"] for m in msgs if m["type"] == "change_summary"]
assert summary == [{"add": 50, "change": 0, "replace": 0, "remove": 0, "import": 0, "operation": "plan"}], summary
addrs = {c["resource"]["addr"] for c in ch}
assert "module.data.gcp.storage_bucket.b7" in addrs, sorted(addrs)[:5]
assert "module.ident.gcp.service_account.sa15" in addrs
PY

expect_rc 0 $P apply --auto-approve
grep -q "Apply complete: 50 added" last.out || fail "apply summary: $(tail -5 last.out)"
grep -q "first_bucket = " last.out || fail "outputs not shown"

expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan not clean: $(cat last.out)"

expect_rc 0 $P output first_account
grep -q "svc-acct-01@engine-test.iam.gserviceaccount.com" last.out || fail "output: $(cat last.out)"

# One input changed: exactly one in-place update (a variant of the spec
# beside it: it plans against the same state only when asked to).
sed 's/owner = "team" .. i/owner = (i == 3 and "other" or "team" .. i)/' fifty.lua > fifty2.lua
expect_rc 2 $PLINTH --spec fifty2.lua --no-color --reuse-state plan --detailed-exitcode
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy." last.out || fail "one change: $(cat last.out)"
grep -q 'labels.owner = "team3" -> "other"' last.out || fail "change not shown: $(cat last.out)"
# A replace: an immutable field.
sed 's/test network " .. i/test network " .. i .. (i == 2 and "!" or "")/' fifty.lua > fifty3.lua
expect_rc 2 $PLINTH --spec fifty3.lua --no-color --reuse-state plan --detailed-exitcode
grep -q "to replace" last.out || fail "replace: $(cat last.out)"
grep -q "description cannot be changed in place" last.out || fail "replace reason: $(cat last.out)"

expect_rc 0 $P destroy --auto-approve
grep -q "Destroy complete" last.out || fail "destroy: $(tail -5 last.out)"
expect_rc 0 $P state list
[ -s last.out ] && fail "state not empty after destroy: $(cat last.out)"
expect_rc 2 $P plan --detailed-exitcode
reqcheck_log
echo "engine_lifecycle: ok"
