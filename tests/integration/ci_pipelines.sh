#!/bin/sh
# ci_pipelines.sh: the shipped CI pipelines work on runners that have only
# the checkout and a GCS state bucket (issue 18, acceptance 1 and 3):
#  1. scripts/ci/pr-env.sh under sh -e and bash -e, each step in a fresh
#     directory: plan 7 -> apply 7 -> the resources exist -> destroy 7 from
#     another fresh directory -> nothing left;
#  2. the same through each pipeline, its steps run by
#     lib/ci_runner.py with the shell and working-directory conventions of
#     its runner: the GitHub Actions workflow (PR opened: plan + comment +
#     apply the artefact; PR closed: destroy; push to main: plan + apply;
#     nightly: gc + drift), the
#     Cloud Build config (plan build, apply build, destroy build) and the
#     Argo WorkflowTemplate (plan pod -> apply pod; destroy pod);
#  3. apply --ttl 2s: env list shows the expiry; after 3 s env gc destroys it
#     (not while another run holds its lock: env list names the holder).
. "$(dirname "$0")/lib/emu.sh"
command -v python3 > /dev/null && python3 -c 'import yaml' 2> /dev/null ||
    { echo "ci_pipelines: SKIP (python3 with yaml needed)"; exit 77; }
emu_start --op-scale 0.05
root=$(pwd)
export CI_WORK="$WORK/ci" CI_CHECKOUT="$WORK/checkout"
mkdir -p "$CI_WORK" "$CI_CHECKOUT"
# The checkout a runner gets (sources as in git, plus this build so that
# `make install` on the runner installs without recompiling).
git ls-files -co --exclude-standard -z | xargs -0 cp -a --parents -t "$CI_CHECKOUT" 2> /dev/null
cp -a bin build "$CI_CHECKOUT/"
rm -rf "$CI_CHECKOUT/.plinth"

curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"ci-state"}' \
    "$EMU_URL/storage/storage/v1/b?project=ci-infra" > /dev/null || fail "state bucket"
export PLINTH_STATE_BUCKET=ci-state
export CI_VARS='{"PLINTH_STATE_BUCKET":"ci-state","GCP_WIF_PROVIDER":"projects/1/locations/global/workloadIdentityPools/ci/providers/github","GCP_SERVICE_ACCOUNT":"plinth-ci@ci-infra.iam.gserviceaccount.com"}'
RUN="python3 $root/tests/integration/lib/ci_runner.py"
cd "$WORK" || exit 1

code() { curl -s -o /dev/null -w '%{http_code}' "$EMU_URL/$1"; }
exists() { # exists N: the environment pr-N's bucket and service account are there
    [ "$(code "storage/storage/v1/b/plinth-demo-pr-$1-artifacts")" = 200 ] || fail "$2: bucket of pr-$1 missing"
    [ "$(code "iam/v1/projects/plinth-demo/serviceAccounts/pr-$1-jobs@plinth-demo.iam.gserviceaccount.com")" = 200 ] ||
        fail "$2: service account of pr-$1 missing"
}
nothing_left() {
    n=$(curl -s "$EMU_URL/storage/storage/v1/b?project=plinth-demo" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("items",[])))')
    [ "$n" = 0 ] || fail "$1: $n buckets left"
    n=$(curl -s "$EMU_URL/iam/v1/projects/plinth-demo/serviceAccounts" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("accounts",[])))')
    [ "$n" = 0 ] || fail "$1: $n service accounts left"
}
runner() { # runner DIR: a fresh directory with only the checkout
    rm -rf "$1"
    cp -al "$CI_CHECKOUT" "$1"
}

# 1. pr-env.sh itself, under both shells.
export PLINTH="$BIN/plinth" SPEC=examples/pr-env.lua
for sh in "sh -e" "bash -e"; do
    runner r1 && (cd r1 && $sh scripts/ci/pr-env.sh plan 7) > plan.out 2>&1 || fail "$sh plan: $(cat plan.out)"
    [ "$(head -n 1 r1/pr-7.plan.md)" = 'Plan: 3 to create, 0 to update, 0 to replace, 0 to destroy.' ] ||
        fail "$sh: comment does not start with the Plan: line: $(head -n 3 r1/pr-7.plan.md)"
    grep -q '^<details><summary>' r1/pr-7.plan.md || fail "$sh: plan not collapsed"
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["format_version"] == "1.2"' r1/pr-7.plan.json ||
        fail "$sh: pr-7.plan.json"
    runner r2 && cp r1/pr-7.plan r2/
    (cd r2 && $sh scripts/ci/pr-env.sh apply 7) > apply.out 2>&1 || fail "$sh apply: $(cat apply.out)"
    grep -q "Apply complete: 3 added" apply.out || fail "$sh apply: $(cat apply.out)"
    exists 7 "$sh"
    runner r3 && (cd r3 && $sh scripts/ci/pr-env.sh destroy 7) > destroy.out 2>&1 || fail "$sh destroy: $(cat destroy.out)"
    grep -q "Destroy complete: 0 added, 0 changed, 0 replaced, 3 destroyed" destroy.out || fail "$sh destroy: $(cat destroy.out)"
    nothing_left "$sh"
    echo "pr-env.sh under $sh: plan -> apply -> destroy from fresh directories: ok"
done
# Without a state bucket it refuses (a fresh runner would destroy nothing).
runner r4 && (cd r4 && PLINTH_STATE_BUCKET= sh -e scripts/ci/pr-env.sh destroy 7) > nobucket.out 2>&1 &&
    fail "destroy without a state bucket succeeded"
grep -q "no state bucket" nobucket.out || fail "no clear error without a bucket: $(cat nobucket.out)"
unset PLINTH SPEC

# 2a. GitHub Actions.
GH="$root/scripts/ci/github-actions.yml"
$RUN github "$GH" pull_request.opened 7 > gh-open.out 2>&1 || fail "github PR opened: $(tail -40 gh-open.out)"
grep -q "^== job plan" gh-open.out && grep -q "^== job apply" gh-open.out || fail "github: jobs: $(grep '^==' gh-open.out)"
grep -q "^== job destroy" gh-open.out && fail "github: destroy ran on PR opened"
exists 7 github
c=$(ls "$CI_WORK/comments/7/"*.md 2> /dev/null | head -n 1)
[ -n "$c" ] && head -n 1 "$c" | grep -q 'Plan: 3 to create' || fail "github: no plan comment on the PR"
# The apply job ran on another runner from the artefact, with the TTL.
grep -A3 "uses actions/download-artifact" gh-open.out | grep -q "downloaded artefact plan-pr-7" || fail "github: artefact"
$BIN/plinth --spec "$CI_CHECKOUT/examples/pr-env.lua" --no-color env list > list.out 2>&1 || fail "env list: $(cat list.out)"
grep -E "^pr-7 +3 .*octocat" list.out | grep -qE "20[0-9-]+T[0-9:]+Z" || fail "github: env list: $(cat list.out)"
# A second push to the PR: the comment is edited, not duplicated.
$RUN github "$GH" pull_request.synchronize 7 > gh-sync.out 2>&1 || fail "github PR synchronize: $(tail -40 gh-sync.out)"
[ "$(ls "$CI_WORK/comments/7/" | wc -l)" = 1 ] || fail "github: comment duplicated"
head -n 1 "$c" | grep -q 'No changes' || fail "github: second plan not 'No changes': $(head -n 1 "$c")"
$RUN github "$GH" pull_request.closed 7 > gh-close.out 2>&1 || fail "github PR closed: $(tail -40 gh-close.out)"
grep -q "^== job destroy" gh-close.out || fail "github: destroy job did not run"
grep -q "3 destroyed" gh-close.out || fail "github: destroy: $(tail -20 gh-close.out)"
nothing_left github
# Merge to main: plan, then apply the artefact on another runner (a small
# spec in place of the platform).
CI_ENV_OVERRIDES='{"MAIN_SPEC":"examples/bucket.lua"}' $RUN github "$GH" push > gh-push.out 2>&1 ||
    fail "github push: $(tail -40 gh-push.out)"
grep -q "^== job main-plan" gh-push.out && grep -q "^== job main-apply" gh-push.out || fail "github push: $(grep '^==' gh-push.out)"
grep -q "Apply complete: 1 added" gh-push.out || fail "github push: $(tail -20 gh-push.out)"
[ "$(code "storage/storage/v1/b/plinth-demo-data")" = 200 ] || fail "github push: bucket of main missing"
$BIN/plinth --spec "$CI_CHECKOUT/examples/bucket.lua" --env main --no-color destroy --auto-approve > main-destroy.out 2>&1 ||
    fail "destroy main: $(cat main-destroy.out)"
nothing_left "github main"
$RUN github "$GH" schedule > gh-nightly.out 2>&1 || fail "github nightly: $(tail -30 gh-nightly.out)"
grep -q "environments checked: 0 drifted, 0 failed" gh-nightly.out || fail "github nightly: $(tail -20 gh-nightly.out)"
echo "github actions: PR plan + comment + apply, PR closed destroy, merge plan + apply, nightly: ok"

# 2b. Cloud Build: three builds, each on a fresh workspace.
CB="$root/scripts/ci/cloudbuild.yaml"
for a in plan apply; do
    $RUN cloudbuild "$CB" _ACTION=$a _NAME=7 _STATE_BUCKET=ci-state > cb-$a.out 2>&1 || fail "cloudbuild $a: $(tail -40 cb-$a.out)"
done
[ "$(code "storage/storage/v1/b/ci-state/o/plans%2Fpr-7%2Fpr-7.plan")" = 200 ] || fail "cloudbuild: plan not uploaded"
exists 7 cloudbuild
$RUN cloudbuild "$CB" _ACTION=destroy _NAME=7 _STATE_BUCKET=ci-state > cb-destroy.out 2>&1 ||
    fail "cloudbuild destroy: $(tail -40 cb-destroy.out)"
nothing_left cloudbuild
echo "cloud build: plan build -> apply build -> destroy build: ok"

# 2c. Argo: plan pod -> apply pod (the plan as an artefact), destroy pod.
AR="$root/scripts/ci/argo/plinth-env.yaml"
$RUN argo "$AR" name=7 action=up state-bucket=ci-state > ar-up.out 2>&1 || fail "argo up: $(tail -40 ar-up.out)"
[ "$(grep -c '^---- pod ' ar-up.out)" = 2 ] || fail "argo: expected two pods: $(grep '^----' ar-up.out)"
exists 7 argo
$RUN argo "$AR" name=7 action=down state-bucket=ci-state > ar-down.out 2>&1 || fail "argo down: $(tail -40 ar-down.out)"
nothing_left argo
echo "argo workflows: plan pod -> apply pod -> destroy pod: ok"

# 3. A lifetime: apply --ttl 2s, listed with its expiry, collected after 3 s.
P="$BIN/plinth --spec $CI_CHECKOUT/examples/pr-env.lua --no-color"
expect_rc 0 $P --env pr-50 apply --auto-approve --ttl 2s
expect_rc 0 $P env list --json
python3 - last.out <<'PY' || fail "env list --json: $(cat last.out)"
import json, sys, datetime
envs = {e["name"]: e for e in json.load(open(sys.argv[1]))}
e = envs["pr-50"]
assert e["resources"] == 3 and e["ttl"] == "2s", e
exp = datetime.datetime.strptime(e["expires"], "%Y-%m-%dT%H:%M:%SZ")
last = datetime.datetime.strptime(e["last_apply"], "%Y-%m-%dT%H:%M:%SZ")
assert (exp - last).total_seconds() == 2, e
assert envs["pr-7"]["resources"] == 0, envs["pr-7"]
PY
expect_rc 0 $P env gc --auto-approve
grep -q "No environment is past its expiry" last.out || fail "gc before expiry: $(cat last.out)"
exists 50 ttl
sleep 3
expect_rc 0 $P env list
grep -E "^pr-50 .*\(expired\)" last.out > /dev/null || fail "env list: not expired: $(cat last.out)"
expect_rc 0 $P env gc
grep -q "run with --auto-approve" last.out || fail "gc without approval: $(cat last.out)"
exists 50 "gc without approval"
# Another run holds pr-50's lock: listed as the holder; gc leaves it and fails.
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"id":"lock-from-ci","who":"ci-bot","host":"runner-9","pid":4242,"op":"apply","created":"%s","heartbeat":"%s"}\n' \
    "$now" "$now" > lock.json
curl -sf -X POST -H 'Content-Type: application/json' --data-binary @lock.json \
    "$EMU_URL/upload/storage/v1/b/ci-state/o?uploadType=media&name=plinth%2Fpr-50.plinth.lock&ifGenerationMatch=0" > /dev/null ||
    fail "lock upload"
expect_rc 0 $P env list --json
python3 -c 'import json,sys; e=[e for e in json.load(open(sys.argv[1])) if e["name"]=="pr-50"][0]; l=e["lock"]; assert l["who"]=="ci-bot" and l["id"]=="lock-from-ci" and l["op"]=="apply", e' last.out ||
    fail "env list: lock holder: $(cat last.out)"
expect_rc 1 $P env gc --auto-approve
grep -q "Failed to destroy pr-50" last.out && grep -q "ci-bot" last.err || fail "gc of a locked environment: $(cat last.out last.err)"
exists 50 "gc of a locked environment"
expect_rc 0 $P --env pr-50 state unlock lock-from-ci
expect_rc 0 $P env gc --auto-approve
grep -q "Destroyed pr-50: 3 resources" last.out || fail "gc: $(cat last.out)"
grep -q "Garbage collection: 1 destroyed, 0 failed." last.out || fail "gc report: $(cat last.out)"
nothing_left gc
echo "ttl: apply --ttl 2s -> listed with expiry -> env gc destroyed it: ok"
reqcheck_log
echo "ci_pipelines: ok"
