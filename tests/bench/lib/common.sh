# common.sh: shared helpers for the benchmarks (sourced after emu.sh).
#   now                      seconds since the epoch, as a float
#   cpu_run OUT ARGS...      runs `plinth ARGS`, writes its CPU seconds
#                            (perf task-clock; /usr/bin/time otherwise) to OUT
#   emu_cpu                  CPU seconds the running emulator has used so far
#   calc EXPR                prints a Python expression's value
# Benchmarks print figures and ratios; they never fail on a figure.

now() { python3 -c 'import time; print(time.time())'; }

calc() { python3 -c "print($1)"; }

cpu_run() { # cpu_run OUT ARGS...: CPU seconds of one `plinth ARGS` into OUT; its rc
    out=$1
    shift
    rm -f "$WORK/cpu.txt"
    if command -v perf > /dev/null 2>&1; then
        perf stat -x, -e task-clock -o "$WORK/cpu.txt" $PLINTH "$@" > "$WORK/run.out" 2>&1
        rc=$?
        if grep -q task-clock "$WORK/cpu.txt" 2> /dev/null; then
            awk -F, '/task-clock/ { print $1 / 1000 }' "$WORK/cpu.txt" > "$out"
            return $rc
        fi
    fi
    /usr/bin/time -f "%U %S" -o "$WORK/cpu.txt" $PLINTH "$@" > "$WORK/run.out" 2>&1
    rc=$?
    tail -n 1 "$WORK/cpu.txt" | awk '{ print $1 + $2 }' > "$out"
    return $rc
}

emu_cpu() { # user+sys of the emulator in seconds, from /proc
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$EMU_PID/stat"
}
