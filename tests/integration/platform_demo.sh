#!/bin/sh
# platform_demo.sh: platform.lua as `make demo` runs it (issue 7): --local
# apply from nothing, a second plan with no changes, one input changed
# (the GPU pool's maximum nodes) planning exactly one in-place update,
# destroy leaving no resources in the emulator, and every request valid
# for the real API.
. "$(dirname "$0")/lib/emu.sh"
root=$(pwd)
mkdir -p "$WORK/p" && cp platform.lua "$WORK/p/" && cp -r modules "$WORK/p/"
cd "$WORK/p" || exit 1
P="$PLINTH --local --no-color"

start=$(date +%s)
expect_rc 0 $P apply --auto-approve
took=$(( $(date +%s) - start ))
grep -q "Apply complete" "$WORK/last.out" || fail "apply: $(tail -5 "$WORK/last.out")"
grep -q "mlflow_tracking_url = " "$WORK/last.out" || fail "outputs missing"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "second plan: $(cat "$WORK/last.out")"

expect_rc 2 $P plan --detailed-exitcode --var gpu_max_nodes=6
grep -q "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy." "$WORK/last.out" || fail "one input: $(cat "$WORK/last.out")"
grep -q "autoscaling.maxNodeCount = 2 -> 6" "$WORK/last.out" || fail "change not shown: $(cat "$WORK/last.out")"

expect_rc 0 $P destroy --auto-approve
grep -q "Destroy complete" "$WORK/last.out" || fail "destroy: $(tail -5 "$WORK/last.out")"
# What may remain: finished operations, the project's IAM policy with only
# the owner binding the emulator starts with,
# and enabled APIs (plinth does not disable APIs on destroy unless
# disable_on_destroy is set: disabling breaks other stacks in the project).
python3 - .plinth/local/emulator/emulator.json <<'PY' || fail "resources left in the emulator"
import json, sys
docs = json.load(open(sys.argv[1]))["docs"]
left = [k for k in docs
        if "/operations/" not in k and not k.startswith("serviceusage/")
        and not (k.endswith("/iamPolicy") and
                 all(b["role"] == "roles/owner" for b in docs[k].get("bindings", [])))]
if left: print("left:", left); sys.exit(1)
PY
reqcheck_log
echo "platform_demo: ok (apply from nothing took ${took}s)"
