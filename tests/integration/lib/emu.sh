# emu.sh: shared helpers for integration tests (sourced, POSIX sh).
#   emu_start [ARGS...]   starts plinth-emulator on a free port, sets EMU_URL,
#                         EMU_PID and exports PLINTH_GCP_ENDPOINT
#   emu_stop              stops it (also done by the EXIT trap)
#   fail MSG              prints MSG and exits 1
#   expect_rc N CMD...    runs CMD (output in $WORK/last.out, last.err), fails unless it exits N
#   WORK                  a fresh temporary directory removed at exit
#   skip, need_cmd, want_cmd, need_built   see lib/skip.sh
. "${PLINTH_TEST_LIB:-$(dirname "$0")/lib}/skip.sh"
BIN=${PLINTH_BIN:-$(pwd)/bin}
PLINTH="$BIN/plinth"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/plinth-test.XXXXXX")
EMU_PID=""
# Every request plinth sends in a test is logged and checked against the
# Google Cloud CLI's API definitions (reqcheck_log).
export PLINTH_HTTP_LOG="$WORK/plinth-http.log"
# The tools of the same build as the binaries (build/tools beside bin/).
TOOLS=${PLINTH_TOOLS:-$(dirname "$BIN")/tools}
[ -x "$TOOLS/reqcheck" ] || TOOLS="$(pwd)/build/tools"

cleanup() {
    [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

emu_start() {
    rm -f "$WORK/emu.fifo"
    mkfifo "$WORK/emu.fifo"
    "$BIN/plinth-emulator" --port 0 "$@" > "$WORK/emu.fifo" 2> "$WORK/emu.err" &
    EMU_PID=$!
    exec 9< "$WORK/emu.fifo"
    read -r EMU_URL <&9 || fail "emulator did not start: $(cat "$WORK/emu.err")"
    export PLINTH_GCP_ENDPOINT="$EMU_URL"
}

emu_stop() {
    [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null && wait "$EMU_PID" 2>/dev/null
    EMU_PID=""
}

expect_rc() {
    [ -n "${TIMING:-}" ] && echo "$(date +%s.%N | cut -c1-14) $*" >&2
    want=$1
    shift
    "$@" > "$WORK/last.out" 2> "$WORK/last.err"
    rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$WORK/last.out" "$WORK/last.err" >&2
        fail "expected exit $want, got $rc: $*"
    fi
}

# reqcheck_log: every request in the test's HTTP log is valid for the real API.
reqcheck_log() {
    [ -s "$PLINTH_HTTP_LOG" ] || return 0
    "$TOOLS/reqcheck" "$PLINTH_HTTP_LOG" > "$WORK/reqcheck.out" 2>&1 ||
        fail "requests not valid for the real API: $(tail -20 "$WORK/reqcheck.out")"
}
