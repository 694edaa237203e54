#!/bin/sh
# ci_pr_flow.sh: the pull-request flow of scripts/ci/ end to end against the
# emulator: plan (changes) -> apply the saved plan -> the environment exists
# -> destroy on close -> nothing left (issue 8, acceptance 3).  Also: a saved
# plan applied after the state changed is refused (acceptance 2).
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05
root=$(pwd)
cp examples/pr-env.lua "$WORK/platform.lua"
cd "$WORK" || exit 1
export PLINTH="$BIN/plinth" SPEC=platform.lua
# Local state on purpose here (ci_pipelines.sh runs the same flow on GCS).
export PLINTH_LOCAL_STATE=1
CI="$root/scripts/ci/pr-env.sh"

expect_rc 0 "$CI" plan 42
grep -q "Plan: 3 to create" pr-42.plan.txt || fail "plan: $(cat pr-42.plan.txt)"
[ -f pr-42.plan ] || fail "no saved plan"
expect_rc 0 "$CI" apply 42
curl -sf "$EMU_URL/storage/storage/v1/b/plinth-demo-pr-42-artifacts" > /dev/null || fail "bucket missing after apply"
curl -sf "$EMU_URL/iam/v1/projects/plinth-demo/serviceAccounts/pr-42-jobs@plinth-demo.iam.gserviceaccount.com" > /dev/null ||
    fail "service account missing after apply"

# A saved plan is refused once the state moved on.
expect_rc 0 "$CI" plan 43
expect_rc 0 "$CI" apply 43
sed 's/"Jobs of "/"CI jobs of "/' platform.lua > p2.lua && mv p2.lua platform.lua
expect_rc 0 "$CI" plan 43
$PLINTH --env pr-43 --no-color destroy --auto-approve > /dev/null 2>&1 || fail "destroy 43"
expect_rc 1 "$CI" apply 43
grep -q "state changed since this plan was made" last.err || fail "stale plan not refused: $(cat last.err)"

expect_rc 0 "$CI" destroy 42
curl -s -o /dev/null -w '%{http_code}' "$EMU_URL/storage/storage/v1/b/plinth-demo-pr-42-artifacts" | grep -q 404 ||
    fail "bucket left after destroy"
n=$(curl -s "$EMU_URL/storage/storage/v1/b?project=plinth-demo" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("items",[])))')
[ "$n" = 0 ] || fail "$n buckets left"
reqcheck_log
echo "ci_pr_flow: ok"
