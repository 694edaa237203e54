#!/bin/sh
# engine_kill.sh: plinth killed with SIGKILL at several points of an apply,
# then run again: it converges, no resource is created twice, and the
# state file is valid JSON at every moment (issue 2, acceptance 4).
. "$(dirname "$0")/lib/emu.sh"
emu_start --latency 40 --op-scale 0.2 --log "$WORK/emu-http.log"
cp -r tests/fixtures/engine/. "$WORK/"
cd "$WORK" || exit 1
P="$PLINTH --spec fifty.lua --no-color"

# Watcher: parses the state file continuously while applies run.
( while [ ! -f stop-watch ]; do
      if [ -f .plinth/default.state.json ]; then
          python3 -c 'import json,sys; json.load(open(sys.argv[1]))' .plinth/default.state.json 2>/dev/null ||
              echo "invalid state seen" >> watch.err
      fi
      sleep 0.02
  done ) &
watcher=$!

for delay in 0.4 0.9 1.5 2.5; do
    $P apply --auto-approve > "apply-$delay.out" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    lock=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' .plinth/default.state.json.lock 2>/dev/null | head -1)
    [ -n "$lock" ] && $P state unlock "$lock" > /dev/null 2>&1
done
touch stop-watch
wait $watcher
[ -f watch.err ] && fail "state file was invalid at some moment"

expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
grep -q "No changes." last.out || fail "did not converge: $(cat last.out)"
# No resource created twice: no create was ever answered 409 (already exists).
python3 - "$WORK/emu-http.log" <<'PY' || fail "a resource was created twice"
import json, sys, collections
made = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] == "POST" and r["status"] == 409:
        print("409 on", r["url"]); sys.exit(1)
    if r["method"] == "POST" and r["status"] == 200 and "/b?" in r["url"]:
        made[r["resp_body"]["name"]] += 1
dups = [k for k, v in made.items() if v > 1]
if dups: print("created twice:", dups); sys.exit(1)
PY
n=$(curl -s "$EMU_URL/storage/storage/v1/b?project=engine-test&maxResults=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("items",[])))')
[ "$n" = 20 ] || fail "expected 20 buckets, found $n"
reqcheck_log
echo "engine_kill: ok"
