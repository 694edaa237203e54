# sshd_ctl.sh: start and stop a throwaway sshd (lib/sshd.sh) from a test
# (sourced, after lib/emu.sh; HERE is the tests/integration directory).
#   start_sshd DIR [SSHD_BINARY]   sets PORT and SSHD_PID; retries, since
#                                  sshd may lose its free port to another
#                                  process before it binds
#   stop_sshd                      stops it
SSHD_PID=""
listening() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; }
stop_sshd() { [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null; SSHD_PID=""; }
start_sshd() {
    SSHD_DIR=$1
    PORT=""
    for attempt in 1 2 3; do
        rm -f "$SSHD_DIR/port" "$SSHD_DIR/sshd.log"
        SSHD="${2:-/usr/sbin/sshd}" sh "$HERE/lib/sshd.sh" "$SSHD_DIR" > "$WORK/sshd.out" 2>&1 &
        SSHD_PID=$!
        i=0
        while [ ! -s "$SSHD_DIR/port" ] && kill -0 "$SSHD_PID" 2>/dev/null && [ $i -lt 300 ]; do
            i=$((i + 1)); sleep 0.1
        done
        p=$(cat "$SSHD_DIR/port" 2>/dev/null)
        i=0
        while [ -n "$p" ] && kill -0 "$SSHD_PID" 2>/dev/null && [ $i -lt 100 ]; do
            listening "$p" && { PORT=$p; break; }
            grep -q 'Cannot bind' "$SSHD_DIR/sshd.log" 2>/dev/null && break
            i=$((i + 1)); sleep 0.1
        done
        [ -n "$PORT" ] && break
        stop_sshd
    done
    [ -n "$PORT" ] || fail "sshd did not start: $(cat "$WORK/sshd.out" "$SSHD_DIR/sshd.log" 2>/dev/null)"
}
