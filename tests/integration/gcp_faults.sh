#!/bin/sh
# gcp_faults.sh: with the emulator injecting 10% 503, 5% 429 and 2% dropped
# connections, applying a 40-resource spec succeeds in RUNS of RUNS runs
# (default 20) with no duplicate resources, and re-plans to No changes
# (issue 4, acceptance 4).
. "$(dirname "$0")/lib/emu.sh"
RUNS=${RUNS:-20}
cp tests/fixtures/engine/forty.lua "$WORK/"
cd "$WORK" || exit 1
ok=0
for run in $(seq 1 "$RUNS"); do
    rm -rf .plinth emu.log
    emu_start --op-scale 0.02 --fault-rate 0.10 --throttle-rate 0.05 --reset-rate 0.02 --seed "$run" --log "$WORK/emu.log"
    if $PLINTH --spec forty.lua --no-color apply --auto-approve > "apply-$run.out" 2>&1 &&
       $PLINTH --spec forty.lua --no-color plan --detailed-exitcode > "plan-$run.out" 2>&1; then
        ok=$((ok + 1))
    else
        echo "run $run failed:"; tail -20 "apply-$run.out" "plan-$run.out"
    fi
    # no duplicates: no create answered 409, and each bucket/SA created once
    python3 - emu.log <<'PY' || fail "run $run: duplicate resource"
import json, sys, collections
seen = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] != "POST" or r["status"] != 200: continue
    u = r["url"].split("?")[0]
    if u.endswith("/b") or u.endswith("/serviceAccounts") or u.endswith("/secrets"):
        b = r["resp_body"] or {}
        seen[b.get("name") or b.get("email")] += 1
d = [k for k, v in seen.items() if v > 1]
if d: print("created twice:", d); sys.exit(1)
PY
    emu_stop
done
reqcheck_log
echo "gcp_faults: $ok of $RUNS runs succeeded"
[ "$ok" = "$RUNS" ] || fail "only $ok of $RUNS runs succeeded"
