#!/bin/sh
# emulator_faults.sh: plinth-emulator under load and injected faults:
# 500 simultaneous connections (curl --parallel), fault/throttle/reset
# rates roughly as configured, the emulator still serving afterwards, a
# clean SIGTERM shutdown that keeps the data, and (when valgrind is
# installed) a short session under valgrind with no leaks.
set -u
BIN=${PLINTH_BIN:-bin}
EMU=$BIN/plinth-emulator
[ -x "$EMU" ] || { echo "FAIL: $EMU not built"; exit 1; }

TMP=$(mktemp -d /tmp/plinth-emu-faults.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

start() { # start ARGS...: sets PID and URL
    rm -f "$TMP/url"
    "$@" > "$TMP/url" 2> "$TMP/emu.err" &
    PID=$!
    i=0
    while [ ! -s "$TMP/url" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    URL=$(head -n 1 "$TMP/url")
    case "$URL" in http://127.0.0.1:*) ;; *) echo "FAIL: no base URL"; cat "$TMP/emu.err"; exit 1 ;; esac
}
stop() { # stop: SIGTERM, expect exit 0
    kill -TERM "$PID"
    wait "$PID"
    rc=$?
    PID=
    [ "$rc" -eq 0 ] || fail "emulator exit code $rc after SIGTERM"
}

# --- 500 concurrent connections with faults ------------------------------------
start "$EMU" --port 0 --data "$TMP/data" --fault-rate 0.1 --throttle-rate 0.05 --reset-rate 0.05 --seed 7
N=3000
# curl's "next" resets options, so every transfer carries its own; a
# trailing "next" would add an empty transfer that aborts the others.  No
# connection reuse: curl silently retries a request whose reused
# connection was dropped, which would hide the injected resets.
COMMON='output = "/dev/null"
header = "Connection: close"
write-out = "%{http_code}\\n"
max-time = 30
'
: > "$TMP/curl.cfg"
i=0
while [ $i -lt $N ]; do
    [ $i -gt 0 ] && echo next >> "$TMP/curl.cfg"
    if [ $((i % 3)) -eq 0 ]; then
        printf 'url = "%s/storage/upload/storage/v1/b/load/o?uploadType=media&name=o%d"\nrequest = "POST"\ndata = "x"\n%s' "$URL" $((i % 50)) "$COMMON" >> "$TMP/curl.cfg"
    else
        printf 'url = "%s/compute/compute/v1/projects/p/global/networks"\n%s' "$URL" "$COMMON" >> "$TMP/curl.cfg"
    fi
    i=$((i + 1))
done
curl -s "$URL/storage/storage/v1/b?project=p" -H 'Content-Type: application/json' \
    -d '{"name":"load"}' -o /dev/null --retry 5 --retry-all-errors 2>/dev/null
start_s=$(date +%s)
curl -s --parallel --parallel-immediate --parallel-max 500 -K "$TMP/curl.cfg" \
    > "$TMP/codes" 2>/dev/null
echo "load: $N requests, 500 parallel, $(( $(date +%s) - start_s ))s"
total=$(wc -l < "$TMP/codes")
c200=$(grep -c '^200$' "$TMP/codes")
c503=$(grep -c '^503$' "$TMP/codes")
c429=$(grep -c '^429$' "$TMP/codes")
c000=$(grep -c '^000$' "$TMP/codes")
echo "codes: 200=$c200 503=$c503 429=$c429 reset=$c000 total=$total"
[ "$total" -eq $N ] || fail "expected $N results, got $total"
[ $((c200 + c503 + c429 + c000)) -eq "$total" ] || fail "unexpected status codes: $(sort "$TMP/codes" | uniq -c | tr '\n' ' ')"
# Expected 10% / 5% / 5% of 3000 = 300 / 150 / 150; allow generous bands.
[ "$c503" -ge 200 ] && [ "$c503" -le 400 ] || fail "503 count $c503 not near 300"
[ "$c429" -ge 90 ] && [ "$c429" -le 210 ] || fail "429 count $c429 not near 150"
[ "$c000" -ge 90 ] && [ "$c000" -le 210 ] || fail "reset count $c000 not near 150"
kill -0 "$PID" 2>/dev/null || fail "emulator died under load"
stop

# --- latency does not serialise: 500 parallel requests at 200 ms each ----------
start "$EMU" --port 0 --latency 200
: > "$TMP/lat.cfg"
i=0
while [ $i -lt 500 ]; do
    [ $i -gt 0 ] && echo next >> "$TMP/lat.cfg"
    printf 'url = "%s/compute/compute/v1/projects/p/global/networks"\n%s' "$URL" "$COMMON" >> "$TMP/lat.cfg"
    i=$((i + 1))
done
start_s=$(date +%s)
curl -s --parallel --parallel-immediate --parallel-max 500 -K "$TMP/lat.cfg" > "$TMP/lat.codes" 2>/dev/null
took=$(( $(date +%s) - start_s ))
ok=$(grep -c '^200$' "$TMP/lat.codes")
echo "latency: 500 requests at 200 ms, 500 parallel: ${took}s, $ok ok"
[ "$ok" -eq 500 ] || fail "latency run: only $ok of 500 answered 200"
[ "$took" -le 10 ] || fail "latency run took ${took}s: requests were serialised"
stop

# --- restart: data kept, no faults, a clean answer -------------------------------
start "$EMU" --port 0 --data "$TMP/data"
code=$(curl -s -o "$TMP/list.json" -w '%{http_code}' "$URL/storage/storage/v1/b/load/o")
[ "$code" = 200 ] || fail "list after restart: HTTP $code"
grep -q '"name": "o' "$TMP/list.json" || fail "objects written under load were not persisted"
stop

# --- valgrind: a short session, then SIGTERM --------------------------------------
if command -v valgrind >/dev/null 2>&1; then
    start valgrind --leak-check=full --errors-for-leak-kinds=definite --log-file="$TMP/vg.txt" \
        "$EMU" --port 0 --data "$TMP/vgdata" --log "$TMP/vg-http.log" --op-scale 0.01 --latency 20
    J='Content-Type: application/json'
    curl -s -o /dev/null -H "$J" -d '{"name":"n","autoCreateSubnetworks":false}' "$URL/compute/compute/v1/projects/p/global/networks"
    curl -s -o /dev/null "$URL/compute/compute/v1/projects/p/global/networks/n"
    curl -s -o /dev/null -H "$J" -d '{"name":"b1"}' "$URL/storage/storage/v1/b?project=p"
    curl -s -o /dev/null -H 'Content-Type: text/plain' -d 'data' "$URL/storage/upload/storage/v1/b/b1/o?uploadType=media&name=x&ifGenerationMatch=0"
    curl -s -o /dev/null "$URL/storage/storage/v1/b/b1/o/x?alt=media"
    curl -s -o /dev/null -H "$J" -d '{}' "$URL/serviceusage/v1/projects/p/services/compute.googleapis.com:enable"
    curl -s -o /dev/null -H "$J" -d '{bad' "$URL/compute/compute/v1/projects/p/global/networks"
    curl -s -o /dev/null "$URL/nothing/here"
    sleep 1
    stop
    if grep -q -E 'definitely lost: [1-9]|indirectly lost: [1-9]' "$TMP/vg.txt"; then
        fail "valgrind reports leaks:"; grep -E 'lost:' "$TMP/vg.txt"
    elif grep -q -E 'no leaks are possible|definitely lost: 0 bytes' "$TMP/vg.txt"; then
        echo "ok   valgrind: no leaks"
    else
        fail "valgrind summary missing"; tail -n 20 "$TMP/vg.txt"
    fi
    grep -q 'ERROR SUMMARY: 0 errors' "$TMP/vg.txt" || { fail "valgrind errors"; grep 'ERROR SUMMARY' "$TMP/vg.txt"; }
fi

echo "emulator_faults: $fails failure(s)"
[ "$fails" -eq 0 ]
