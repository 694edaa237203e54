#!/bin/sh
# serve_browser.sh: the web page of `plinth serve` in Debian's headless
# Chromium, driven through the DevTools protocol (tests/tools/cdp.py):
# catalogue, the module's form, the plan, approval by another user, applied
# with outputs, destroy (issue 19, acceptance 2).  Screenshots land in
# build/serve-*.png.
. "$(dirname "$0")/lib/emu.sh"
. "$(dirname "$0")/lib/skip.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
need_cmd "$CHROMIUM"
need_cmd python3
emu_start --op-scale 0.05
ANA=ana-token-0123456789
BO=bo-token-0123456789ab
cat > "$WORK/users.json" << EOF2
{"users": [{"name": "ana", "token": "$ANA", "roles": ["requester"]},
           {"name": "bo", "token": "$BO", "roles": ["approver"]}]}
EOF2
mkfifo "$WORK/srv.fifo"
"$PLINTH" serve --listen 127.0.0.1:0 --users "$WORK/users.json" --data "$WORK/data" \
    --var project=plinth-demo > "$WORK/srv.fifo" 2> "$WORK/srv.err" &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; wait $SRV_PID 2>/dev/null; cleanup' EXIT INT TERM
exec 8< "$WORK/srv.fifo"
read -r line <&8 || fail "serve did not start: $(cat "$WORK/srv.err")"
URL=${line##* }
mkdir -p build
CHROMIUM="$CHROMIUM" timeout 300 python3 tests/tools/serve_browser.py "$URL" "$ANA" "$BO" build ||
    fail "browser test failed; server log: $(tail -20 "$WORK/srv.err")"
for f in serve-catalog serve-plan serve-applied serve-destroyed; do
    [ -s "build/$f.png" ] || fail "no screenshot build/$f.png"
done
echo "serve_browser: ok"
