#!/bin/sh
# harden_lost.sh: lost answers (issue 13).  The emulator's --lost-rate mode
# carries a mutation out and then loses its answer (a 503 or a dropped
# connection); plinth recognises its own create behind the following 409
# (same natural ID, agreeing with what it sent, created during this call)
# and adopts it, so an apply of fifty resources with a third of the answers
# to its changes lost succeeds on its first try, converges, and leaves no
# duplicates.
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.02 --lost-rate 1 --seed 7
cd "$WORK" || exit 1
# The fault mode itself: the bucket is made though the answer is lost.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"name":"lost-probe"}' "$EMU_URL/storage/storage/v1/b?project=lost-proj")
[ "$code" = 503 ] || [ "$code" = 000 ] || fail "lost-rate 1 answered $code"
curl -sf "$EMU_URL/storage/storage/v1/b/lost-probe" > /dev/null || fail "the lost create was not carried out"
emu_stop

emu_start --op-scale 0.02 --lost-rate 0.3 --seed 11 --log "$WORK/emu.log"
cp -r "$OLDPWD/tests/fixtures/engine/." "$WORK/"
P="$PLINTH --spec fifty.lua --no-color"
expect_rc 0 $P apply --auto-approve
grep -q "Apply complete" last.out || fail "apply: $(tail -5 last.out)"
lost=$(grep -c '"status": *\(0\|503\)' emu.log)
[ "$lost" -ge 5 ] || fail "only $lost answers were lost: the test tested nothing"
echo "apply succeeded with $lost answers lost"
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "re-plan: $(grep -E '^ *[#~+-]' last.out | head)"
# no duplicates: one of each name in the emulator
curl -sf "$EMU_URL/storage/storage/v1/b?project=engine-test" |
    python3 -c 'import json,sys; n=[b["name"] for b in json.load(sys.stdin).get("items",[])]; assert len(n)==len(set(n)), n' ||
    fail "duplicate buckets"
reqcheck_log
echo "harden_lost: ok"
