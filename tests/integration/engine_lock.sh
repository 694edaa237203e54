#!/bin/sh
# engine_lock.sh: two concurrent applies on one state: the second fails at
# once naming the holder; after the holder is killed, the stale lock is
# reported and `state unlock` clears it (issue 2, acceptance 5).
. "$(dirname "$0")/lib/emu.sh"
emu_start --latency 150 --op-scale 0.05
cp -r tests/fixtures/engine/. "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --spec fifty.lua --no-color"

$P apply --auto-approve > first.out 2>&1 &
first=$!
# wait until the first run holds the lock
i=0
while [ ! -f .plinth/default.state.json.lock ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -f .plinth/default.state.json.lock ] || fail "first apply never took the lock: $(cat first.out)"
start=$(date +%s)
expect_rc 1 $P apply --auto-approve
[ $(( $(date +%s) - start )) -le 3 ] || fail "second apply did not fail at once"
grep -q "locked by .*pid $first" last.err || fail "holder not named: $(cat last.err)"

kill -9 $first
wait $first 2>/dev/null
expect_rc 1 $P plan
grep -q "no longer running" last.err || fail "stale lock not reported: $(cat last.err)"
id=$(sed -n 's/.*lock ID \([0-9a-f-]*\).*/\1/p' last.err | head -1)
[ -n "$id" ] || fail "no lock ID in: $(cat last.err)"
expect_rc 1 $P state unlock wrong-id
expect_rc 0 $P state unlock "$id"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
reqcheck_log
echo "engine_lock: ok"
