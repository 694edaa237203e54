#!/bin/sh
# harden_locks.sh: locks recover without a human (issue 13).
#  1. GCS: a lock from another host whose lease expired (no heartbeat for
#     longer than the lease) is taken over with a generation precondition;
#     one with a fresh heartbeat is not.
#  2. GCS: the holder renews its lease while it runs, also during a long
#     wait without state writes.
#  3. SIGHUP stops an apply like SIGTERM: in-flight work finishes, state is
#     saved, the lock is released; the next run converges.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05 --latency 20 --log "$WORK/emu.log"
cd "$WORK" || exit 1
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"lk-state"}' \
    "$EMU_URL/storage/storage/v1/b?project=lk-proj" > /dev/null || fail "state bucket"
cat > env.lua <<'LUA'
provider "gcp" { project = "lk-proj", region = "europe-west1" }
backend "gcs" { bucket = "lk-state", prefix = "envs" }
for i = 1, 6 do gcp.storage_bucket("b" .. i) { name = "lk-test-" .. i, location = "EU" } end
LUA
P="$PLINTH --spec env.lua --no-color"
lock_url="$EMU_URL/storage/storage/v1/b/lk-state/o/envs%2Fdefault.plinth.lock"
plant() { # plant a lock held on another host, heartbeat $1
    printf '{"id": "9e1d0c2b-1111-4a55-9c5e-0123456789ab", "who": "ci", "host": "runner-elsewhere", "pid": 4242, "op": "apply", "created": "%s", "heartbeat": "%s"}\n' "$1" "$1" > lock.json
    curl -sf -X POST -H 'Content-Type: application/json' --data-binary @lock.json \
        "$EMU_URL/upload/storage/v1/b/lk-state/o?uploadType=media&name=envs%2Fdefault.plinth.lock" > /dev/null ||
        fail "planting a lock"
}
expect_rc 0 $P apply --auto-approve

# 1. Expired lease: taken over.  Fresh: refused, naming the holder.
plant "$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%SZ)"
expect_rc 0 $P plan
grep -q "took over the state lock 9e1d0c2b.*lease expired" last.err || fail "expired lease not taken over: $(cat last.err)"
curl -sf "$lock_url" > /dev/null && fail "lock left behind after the run"
plant "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
expect_rc 1 $P plan
grep -q "locked by ci@runner-elsewhere" last.err || fail "fresh lock not refused: $(cat last.err)"
expect_rc 0 $P state unlock 9e1d0c2b-1111-4a55-9c5e-0123456789ab

# 2. Lease renewal during a long run (lease 3 s: renewed every second).
emu_stop
emu_start --op-scale 0.05 --latency 1000 --data "$WORK/emu-data"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"lk-state"}' \
    "$EMU_URL/storage/storage/v1/b?project=lk-proj" > /dev/null || fail "state bucket (2)"
lock_url="$EMU_URL/storage/storage/v1/b/lk-state/o/envs%2Fdefault.plinth.lock"
sed 's/for i = 1, 6/for i = 1, 2/' env.lua > two.lua
PLINTH_LOCK_LEASE_S=3 $PLINTH --spec two.lua --no-color --parallelism 1 apply --auto-approve > long.out 2>&1 &
pid=$!
beats=""
for i in $(seq 1 40); do
    b=$(curl -sf "$lock_url?alt=media" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heartbeat"])' 2>/dev/null)
    [ -n "$b" ] && case " $beats " in *" $b "*) ;; *) beats="$beats $b" ;; esac
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
done
wait $pid || fail "long apply: $(cat long.out)"
n=$(echo $beats | wc -w)
[ "$n" -ge 3 ] || fail "lease not renewed while running (heartbeats seen:$beats)"
echo "lease renewed: $n distinct heartbeats"

# 3. SIGHUP is handled like SIGTERM (local state).
emu_stop
emu_start --op-scale 0.05 --latency 300
sed '/^backend/d; s/lk-test-/hup-/' env.lua > hup.lua
H="$PLINTH --spec hup.lua --no-color"
$H --parallelism 1 apply --auto-approve > hup.out 2>&1 &
pid=$!
i=0
while [ ! -f .plinth/default.state.json.lock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.8
kill -HUP $pid
wait $pid
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "SIGHUP: exit $rc (killed by the signal, not handled)"
grep -q "Interrupt received" hup.out || fail "SIGHUP not handled like SIGTERM: $(cat hup.out)"
[ -f .plinth/default.state.json.lock ] && fail "SIGHUP left the lock behind"
expect_rc 0 $H apply --auto-approve
expect_rc 0 $H plan --detailed-exitcode
reqcheck_log
echo "harden_locks: ok"
