#!/bin/sh
# ci_argo.sh: the Argo Workflows templates of scripts/ci/argo/ (issue 18,
# acceptance 4):
#  1. every template checks against upstream Argo's structural Template
#     schema (lib/argo_schema.py; a template with an unknown field fails);
#  2. applied to the emulator's cluster with the CRDs the argo_workflows
#     module installs, the WorkflowTemplates and the CronWorkflow are
#     accepted;
#  3. the fan-out runs (lib/ci_runner.py, each step its own pod): its
#     parameters come from `plinth env list --json`; plan over three
#     environments succeeds; after a change made outside plinth to one of
#     them the drift run fails and its report names that environment.
. "$(dirname "$0")/lib/emu.sh"
TD=${PLINTH_TESTDATA:-/work/shared/testdata/k8s}
CRD="$TD/argo-workflows/argoproj.io_workflowtasksets.full.yaml"
[ -f "$CRD" ] || { echo "ci_argo: SKIP (no upstream CRD at $CRD)"; exit 77; }
command -v kubectl > /dev/null || { echo "ci_argo: SKIP (no kubectl)"; exit 77; }
python3 -c 'import yaml' 2> /dev/null || { echo "ci_argo: SKIP (no python3 yaml)"; exit 77; }
root=$(pwd)
A="$root/scripts/ci/argo"
lib="$root/tests/integration/lib"

# 1. The upstream schema.
expect_rc 0 python3 "$lib/argo_schema.py" "$CRD" "$A/plinth-env.yaml" "$A/plinth-fanout.yaml"
grep -q "^9 templates checked .* 0 problems" "$WORK/last.out" || fail "schema: $(cat "$WORK/last.out")"
sed 's/^        workingDir: \/work\/src$/        workDir: \/work\/src/' "$A/plinth-fanout.yaml" > "$WORK/bad.yaml"
expect_rc 1 python3 "$lib/argo_schema.py" "$CRD" "$WORK/bad.yaml"
grep -q "unknown field workDir" "$WORK/last.out" || fail "schema check missed an unknown field: $(cat "$WORK/last.out")"

# 2. The cluster, with the module's CRDs.
emu_start --op-scale 0.01
cp "$root/tests/fixtures/ci/argo.lua" "$WORK/platform.lua"
cp -r "$root/modules" "$WORK/"
cd "$WORK" || exit 1
export HOME="$WORK"
expect_rc 0 "$PLINTH" --no-color apply --auto-approve
expect_rc 0 "$PLINTH" kubeconfig gcp.container_cluster.ci
cp last.out kubeconfig
K="kubectl --kubeconfig $WORK/kubeconfig --request-timeout=10s"
expect_rc 0 $K get crd workflowtemplates.argoproj.io cronworkflows.argoproj.io
expect_rc 0 $K apply -n argo -f "$A/plinth-env.yaml" -f "$A/plinth-fanout.yaml"
grep -q "workflowtemplate.argoproj.io/plinth-fanout created" last.out || fail "apply: $(cat last.out)"
grep -q "cronworkflow.argoproj.io/plinth-drift created" last.out || fail "apply: $(cat last.out)"
expect_rc 0 $K get workflowtemplates -n argo -o name
[ "$(sort last.out | tr '\n' ' ')" = "workflowtemplate.argoproj.io/plinth-env workflowtemplate.argoproj.io/plinth-fanout " ] ||
    fail "templates: $(cat last.out)"
expect_rc 0 $K get cronworkflow plinth-drift -n argo -o jsonpath='{.spec.workflowSpec.workflowTemplateRef.name}'
[ "$(cat last.out)" = plinth-fanout ] || fail "cron: $(cat last.out)"

# 3. The fan-out over the environments in the state bucket.
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"fan-state"}' \
    "$EMU_URL/storage/storage/v1/b?project=ci-infra" > /dev/null || fail "state bucket"
export PLINTH_STATE_BUCKET=fan-state CI_WORK="$WORK/ci" CI_CHECKOUT="$WORK/checkout"
mkdir -p "$CI_WORK" "$CI_CHECKOUT"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp -a --parents -t "$CI_CHECKOUT" 2> /dev/null)
cp -a "$root/bin" "$root/build" "$CI_CHECKOUT/"
for n in 21 22 23; do
    (cd "$CI_CHECKOUT" && "$PLINTH" --spec examples/pr-env.lua --env pr-$n --no-color apply --auto-approve) > a$n.out 2>&1 ||
        fail "apply pr-$n: $(cat a$n.out)"
done
RUN="python3 $lib/ci_runner.py argo $A/plinth-fanout.yaml state-bucket=fan-state"
$RUN command=plan > fan-plan.out 2>&1 || fail "fan-out plan: $(tail -30 fan-plan.out)"
grep -q "step each: withParam over 3 items, parallelism 10" fan-plan.out || fail "fan-out: $(grep '^----' fan-plan.out)"
[ "$(grep -c '^---- pod each-' fan-plan.out)" = 3 ] || fail "fan-out: not one pod per environment"
for n in 21 22 23; do grep -q "pr-$n  *no-changes" fan-plan.out || fail "fan-out plan pr-$n: $(tail -8 fan-plan.out)"; done
curl -sf -X PATCH -H 'Content-Type: application/json' -d '{"labels":{"env":"hand-edited"}}' \
    "$EMU_URL/storage/storage/v1/b/plinth-demo-pr-22-artifacts" > /dev/null || fail "change outside plinth"
$RUN command=drift > fan-drift.out 2>&1 && fail "drift run succeeded although pr-22 drifted"
grep -q "pr-22  *drifted" fan-drift.out || fail "drift report: $(tail -8 fan-drift.out)"
grep -q "pr-21  *clean" fan-drift.out && grep -q "pr-23  *clean" fan-drift.out || fail "drift report: $(tail -8 fan-drift.out)"
grep -q "3 environments, 1 drifted or failed" fan-drift.out || fail "drift summary: $(tail -4 fan-drift.out)"
reqcheck_log
echo "ci_argo: ok"
