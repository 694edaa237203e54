#!/bin/sh
# run.sh: crash-consistency and fault soaks (issue 13).
#   kill soak:  applies of tests/soak/slow.lua (Cloud SQL and GKE among fast
#               resources, alternating between two phases) killed with
#               SIGKILL at a random moment, then run again: the re-run must
#               succeed on its first try with no `state unlock`, converge
#               (plan: no changes), create nothing twice (no create answered
#               409) and leave no orphan (everything in the emulator is in
#               state).  On the local backend and on the GCS backend.
#   fault soak: applies of the same phases with the emulator losing the
#               answers of 15% of mutations (--lost-rate), 503s and resets:
#               each must succeed on its first try and converge.
# SOAK_SCALE=full: 200 local + 50 GCS kill runs, 50 fault applies (make
# soak); default (small, run by make test through harden_soak.sh): 3 + 2 + 2.
# Prints the figures; exits 1 if any run did not meet them.
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=$(pwd)/tests/integration/lib . tests/integration/lib/emu.sh
if [ "${SOAK_SCALE:-small}" = full ]; then L=${SOAK_LOCAL:-200}; G=${SOAK_GCS:-50}; F=${SOAK_FAULT:-50}
else L=${SOAK_LOCAL:-3}; G=${SOAK_GCS:-2}; F=${SOAK_FAULT:-2}; fi
SPEC="$(pwd)/tests/soak/slow.lua"
cd "$WORK" || exit 1
cp "$SPEC" slow.lua
bad=0

# check_env BACKEND: no 409 on a create, no orphan.  Sets dup/orph counts.
check_env() {
    python3 - "$1" "$WORK/emu.log" "$EMU_URL" <<'PY'
import json, sys, urllib.request
backend, log, url = sys.argv[1:4]
dups = 0
for line in open(log):
    try: r = json.loads(line)
    except Exception: continue
    if r.get("method") == "POST" and r.get("status") == 409: dups += 1
def get(path):
    try: return json.load(urllib.request.urlopen(url + path))
    except Exception: return {}
if backend == "gcs":
    st = get("/storage/storage/v1/b/soak-state/o/soak%2Fdefault.plinth.json?alt=media")
else:
    st = json.load(open(".plinth/default.state.json"))
ids = set((r.get("id") or "") for r in st.get("resources", []))
live = []
live += ["projects/_/buckets/" + b["name"] for b in get("/storage/storage/v1/b?project=soak-proj").get("items", [])]
live += ["projects/soak-proj/instances/" + i["name"] for i in get("/sqladmin/sql/v1beta4/projects/soak-proj/instances").get("items", [])]
live += ["projects/soak-proj/serviceAccounts/" + a["email"] for a in get("/iam/v1/projects/soak-proj/serviceAccounts").get("accounts", [])]
orph = [x for x in live if x not in ids and not x.endswith("/soak-state")
        and not any(x.split("/")[-1] in i for i in ids)]
print(dups, len(orph), " ".join(orph[:3]))
PY
}

kill_soak() { # BACKEND RUNS
    backend=$1 runs=$2 conv=0 dups=0 orph=0 unlock=0
    emu_stop; rm -f "$WORK/emu.log"
    emu_start --op-scale 0.003 --latency 15 --log "$WORK/emu.log" --data "$WORK/emu-$backend"
    rm -rf .plinth
    B=""
    if [ "$backend" = gcs ]; then
        curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"soak-state"}' \
            "$EMU_URL/storage/storage/v1/b?project=soak-state-proj" > /dev/null
        B="--backend-config bucket=soak-state --backend-config prefix=soak"
    fi
    P="$PLINTH --spec slow.lua --no-color $B"
    $P --var phase=0 apply --auto-approve > first.out 2>&1 || { echo "soak: first apply failed: $(tail -3 first.out)"; return 1; }
    i=1
    while [ $i -le "$runs" ]; do
        ms=$(python3 -c "import random; print(random.randint(50, 2500))")
        $P --var phase=$i apply --auto-approve > killed.out 2>&1 &
        pid=$!
        sleep "$(echo "scale=3; $ms / 1000" | bc)"
        kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
        if $P --var phase=$i apply --auto-approve > rerun.out 2>&1 &&
           $P --var phase=$i plan --detailed-exitcode > plan.out 2>&1; then
            conv=$((conv + 1))
        else
            echo "  run $i ($backend, killed after ${ms} ms) did not converge: $(grep -E 'Error' rerun.out plan.out | head -3)"
            grep -q "state is locked" rerun.out && unlock=$((unlock + 1))
        fi
        i=$((i + 1))
    done
    set -- $(check_env "$backend")
    dups=$1 orph=$2
    echo "kill soak ($backend): $runs runs, $conv converged first try, $dups duplicates, $orph orphans, $unlock needed state unlock${3:+ (orphans: $3)}"
    [ "$conv" = "$runs" ] && [ "$dups" = 0 ] && [ "$orph" = 0 ]
}

fault_soak() { # RUNS
    runs=$1 ok=0
    emu_stop; rm -f "$WORK/emu.log"
    emu_start --op-scale 0.003 --latency 5 --lost-rate 0.15 --fault-rate 0.03 --reset-rate 0.02 --seed 4242 \
        --log "$WORK/emu.log" --data "$WORK/emu-fault"
    rm -rf .plinth
    P="$PLINTH --spec slow.lua --no-color"
    i=0
    while [ $i -lt "$runs" ]; do
        if $P --var phase=$i apply --auto-approve > fault.out 2>&1 &&
           $P --var phase=$i plan --detailed-exitcode > plan.out 2>&1; then
            ok=$((ok + 1))
        else
            echo "  fault apply $i failed: $(grep -E 'Error' fault.out plan.out | head -3 | cut -c1-300)"
        fi
        i=$((i + 1))
    done
    lost=$(grep -c '"status": *\(0\|503\)' "$WORK/emu.log")
    echo "fault soak: $runs applies at 15% lost answers (+3% 503, 2% resets; $lost answers lost or failed), $ok succeeded first try"
    [ "$ok" = "$runs" ]
}

start=$(date +%s)
kill_soak local "$L" || bad=1
kill_soak gcs "$G" || bad=1
fault_soak "$F" || bad=1
echo "soak: $(( $(date +%s) - start )) s"
[ $bad = 0 ] && echo "soak: ok"
exit $bad
