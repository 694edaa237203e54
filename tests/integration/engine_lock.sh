#!/bin/sh
# engine_lock.sh: two concurrent applies on one state: the second fails at
# once naming the holder; after the holder is killed, the next run takes the
# stale lock over by itself and says so (issue 13); `state unlock` still
# clears a lock whose holder is alive (issue 2, acceptance 5).
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
[ -f .plinth/default.state.json.lock ] || fail "the killed apply left no lock (nothing to take over)"
expect_rc 0 $P plan
grep -q "took over the state lock .*pid $first.*is gone" last.err || fail "takeover not reported: $(cat last.err)"
[ -f .plinth/default.state.json.lock ] && fail "the taken-over lock was not released"

# A lock whose holder is alive is not taken over; state unlock clears it.
sleep 600 &
alive=$!
printf '{"id": "0b4c2a4e-aaaa-4a55-9c5e-0123456789ab", "who": "x", "host": "%s", "pid": %d, "op": "apply", "created": "2026-01-01T00:00:00Z", "heartbeat": "2026-01-01T00:00:00Z"}\n' \
    "$(hostname)" "$alive" > .plinth/default.state.json.lock
expect_rc 1 $P plan
grep -q "locked by .*pid $alive" last.err || fail "live holder not named: $(cat last.err)"
expect_rc 1 $P state unlock wrong-id
expect_rc 0 $P state unlock 0b4c2a4e-aaaa-4a55-9c5e-0123456789ab
kill $alive; wait $alive 2>/dev/null
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
reqcheck_log
echo "engine_lock: ok"
