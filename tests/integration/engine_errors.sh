#!/bin/sh
# engine_errors.sh: a spec with five different mistakes reports all five
# with file:line, exits 1, and sends no request (issue 2, acceptance 3).
. "$(dirname "$0")/lib/emu.sh"
emu_start
cp -r tests/fixtures/engine/. "$WORK/"
cd "$WORK" || exit 1
expect_rc 1 $PLINTH --spec mistakes.lua --no-color --http-log http.log plan
for want in "mistakes.lua:3:.*autoCreateSubnetwork" "mistakes.lua:4:.*SIDEWAYS" "mistakes.lua:6:.*enabled" \
            "mistakes.lua:7:.*compute_netwrk" "mistakes.lua:8:.*gcp.compute_network.nope"; do
    grep -q "$want" last.err || fail "missing error /$want/ in: $(cat last.err)"
done
[ -s http.log ] && fail "requests were sent: $(cat http.log)"
expect_rc 1 $PLINTH --spec mistakes.lua --no-color validate
reqcheck_log
echo "engine_errors: ok"
