#!/bin/sh
# state_gcs.sh: remote state in the emulator's Cloud Storage (issue 8):
#  1. ten plinth processes apply one environment at once: one holds the lock
#     at any moment, the others fail naming the holder; with --lock-timeout
#     they all finish; the state is never corrupted or rolled back; a killed
#     run's stale lock is taken over by the next run, which says so (issue 13);
#  4. local state moved to GCS keeps lineage and serial; next plan: no changes.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05 --latency 20 --log "$WORK/emu.log"
cd "$WORK" || exit 1
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"team-state"}' \
    "$EMU_URL/storage/storage/v1/b?project=state-proj" > /dev/null || fail "state bucket"
cat > env.lua <<'LUA'
provider "gcp" { project = "state-proj", region = "europe-west1" }
backend "gcs" { bucket = "team-state", prefix = "envs" }
for i = 1, 8 do gcp.storage_bucket("b" .. i) { name = "state-test-" .. i, location = "EU" } end
LUA
P="$PLINTH --spec env.lua --no-color"
state_url="$EMU_URL/storage/storage/v1/b/team-state/o/envs%2Fdefault.plinth.json"

# 1a. Ten at once, no waiting.
pids=""
for i in 0 1 2 3 4 5 6 7 8 9; do $P apply --auto-approve > "run$i.out" 2>&1 & pids="$pids $!"; done
for p in $pids; do wait $p; done
won=0; lost=0
for i in 0 1 2 3 4 5 6 7 8 9; do
    if grep -q "Apply complete" "run$i.out"; then won=$((won + 1));
    elif grep -q "state is locked by" "run$i.out"; then lost=$((lost + 1));
    else fail "run $i neither applied nor named the lock holder: $(cat "run$i.out")"; fi
done
[ $won -ge 1 ] || fail "no run applied"
echo "ten at once: $won applied, $lost refused naming the holder"
expect_rc 0 $P plan --detailed-exitcode

# 1b. Ten at once with --lock-timeout: every run finishes, one after another.
pids=""
for i in 0 1 2 3 4 5 6 7 8 9; do
    $P --lock-timeout 120s apply --auto-approve --replace "gcp.storage_bucket.b$((i % 8 + 1))" > "wait$i.out" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do wait $p; done
for i in 0 1 2 3 4 5 6 7 8 9; do
    grep -q "Apply complete" "wait$i.out" || fail "waiting run $i: $(cat "wait$i.out")"
done
# Exactly one holder at any moment: lock creations and deletions alternate.
python3 - emu.log <<'PY' || fail "two runs held the lock at once"
import json, sys
held = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = r["url"]
    if "default.plinth.lock" not in u or r["status"] >= 300: continue
    if r["method"] == "POST" and "ifGenerationMatch=0" in u:
        held += 1
        if held > 1: sys.exit(1)
    elif r["method"] == "DELETE":
        held -= 1
PY
serial=$(curl -sf "$state_url?alt=media" | python3 -c 'import json,sys; print(json.load(sys.stdin)["serial"])')
[ "$serial" -ge 20 ] || fail "state serial $serial: writes were lost or rolled back"
expect_rc 0 $P plan --detailed-exitcode

# 1c. A killed run leaves a stale lock; the next run takes it over (same host,
# process gone), saying so, with a generation precondition.
$P apply --auto-approve --replace gcp.storage_bucket.b1 > killed.out 2>&1 &
pid=$!
i=0
until curl -sf "$EMU_URL/storage/storage/v1/b/team-state/o/envs%2Fdefault.plinth.lock" > /dev/null || [ $i -gt 200 ]; do
    sleep 0.02; i=$((i + 1)); done
kill -9 $pid; wait $pid 2>/dev/null
expect_rc 0 $P apply --auto-approve
grep -q "took over the state lock .*pid $pid.*is gone" last.err || fail "takeover not reported: $(cat last.err)"
grep -q '"method":"POST".*default.plinth.lock.*ifGenerationMatch=[1-9]' emu.log ||
    fail "takeover without a generation precondition"
expect_rc 0 $P plan --detailed-exitcode

# The state commands work the same on this backend.
expect_rc 0 $P state list
grep -q "^gcp.storage_bucket.b3$" last.out || fail "state list: $(cat last.out)"
expect_rc 0 $P state show gcp.storage_bucket.b3
grep -q '"id": "projects/_/buckets/state-test-3"' last.out || fail "state show: $(cat last.out)"
expect_rc 0 $P state mv gcp.storage_bucket.b3 gcp.storage_bucket.moved3
expect_rc 0 $P state list
grep -q "^gcp.storage_bucket.moved3$" last.out || fail "state mv: $(cat last.out)"
expect_rc 0 $P state mv gcp.storage_bucket.moved3 gcp.storage_bucket.b3
expect_rc 0 $P state pull
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' last.out || fail "state pull is not JSON"
expect_rc 0 $P plan --detailed-exitcode

# 4. Local state moved to GCS keeps lineage and serial.
sed '/^backend/d; s/state-test-/moved-/' env.lua > local.lua
expect_rc 0 $PLINTH --spec local.lua --no-color apply --auto-approve
expect_rc 0 $PLINTH --spec local.lua --no-color state pull
cp last.out local-state.json
lineage=$(python3 -c 'import json; print(json.load(open("local-state.json"))["lineage"])')
lserial=$(python3 -c 'import json; print(json.load(open("local-state.json"))["serial"])')
G="$PLINTH --spec local.lua --no-color --backend-config bucket=team-state --backend-config prefix=moved"
expect_rc 0 $G state push local-state.json
curl -sf "$EMU_URL/storage/storage/v1/b/team-state/o/moved%2Fdefault.plinth.json?alt=media" > pushed.json ||
    fail "no state object after push"
python3 -c "
import json; s = json.load(open('pushed.json'))
assert s['lineage'] == '$lineage', (s['lineage'], '$lineage')
assert s['serial'] == $lserial, (s['serial'], $lserial)" || fail "lineage or serial changed in the move"
expect_rc 0 $G plan --detailed-exitcode
grep -q "No changes." last.out || fail "plan after the move: $(cat last.out)"
reqcheck_log
echo "state_gcs: ok"
