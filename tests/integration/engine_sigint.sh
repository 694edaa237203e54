#!/bin/sh
# engine_sigint.sh: the first SIGINT stops starting new work, lets in-flight
# operations finish, saves state, releases the lock and exits non-zero; the
# next apply picks up where it stopped (issue 2: Apply).
. "$(dirname "$0")/lib/emu.sh"
emu_start --latency 100 --op-scale 0.2
cp -r tests/fixtures/engine/. "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --spec fifty.lua --no-color --parallelism 4"

$P apply --auto-approve > first.out 2> first.err &
pid=$!
i=0
while ! grep -q "Creation complete" first.out 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
rc=$?
[ "$rc" != 0 ] || fail "interrupted apply exited 0"
grep -q "Interrupt received" first.err || fail "no interrupt message: $(cat first.err)"
[ -f .plinth/default.state.json.lock ] && fail "lock left behind after SIGINT"
done_before=$(python3 -c 'import json; print(len([r for r in json.load(open(".plinth/default.state.json"))["resources"] if not r["pending"]]))')
[ "$done_before" -gt 0 ] && [ "$done_before" -lt 50 ] || fail "expected a partial apply, state has $done_before finished resources"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
reqcheck_log
echo "engine_sigint: ok ($done_before of 50 done before the interrupt)"
