#!/bin/sh
# plan_noop.sh: figures for a no-op plan of 1,000 buckets.
#  1. engine CPU time per resource (user+sys of plinth) with the emulator at
#     zero latency; goal: at most 60 us per resource (issue 15, goal 3).
#  2. wall time and request count with the emulator at 50 ms latency; goal:
#     under 0.5 s (issue 4); the ideal is one list round trip per page.
# plan_scale.sh measures the same from 1,000 to 100,000 buckets.
# Prints the figures; never fails on them (no timed assertions).
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=tests/integration/lib && . tests/integration/lib/emu.sh
N=${N:-1000}
# The figures are for plinth as users run it: no HTTP log (emu.sh turns one
# on for tests; writing it re-serialises every answer).
unset PLINTH_HTTP_LOG
cp tests/fixtures/bench/buckets.lua "$WORK/"
emu_start --data "$WORK/emu-data"
cd "$WORK" || exit 1
P="$PLINTH --spec buckets.lua --no-color --var n=$N --parallelism 32"
$P apply --auto-approve > apply.out 2>&1 || { tail apply.out; fail "apply"; }
$P plan --detailed-exitcode > plan.out 2>&1 || { tail plan.out; fail "plan not clean"; }

# CPU: best of 3 runs, the CPU time of plinth as the kernel counts it
# (perf's task-clock, in ms; /usr/bin/time's 10 ms resolution otherwise).
# Not measured from Python: a child forked from Python is charged the cost
# of copying the interpreter's pages, which doubled the figure.
cpu_of() { # cpu_of ARGS...: seconds of CPU of one `plinth ARGS`
    if perf stat -x, -e task-clock -o cpu.txt $PLINTH "$@" > /dev/null 2>&1 || [ -s cpu.txt ] &&
       grep -q task-clock cpu.txt; then
        awk -F, '/task-clock/ { print $1 / 1000 }' cpu.txt
    else
        /usr/bin/time -f "%U %S" -o cpu.txt $PLINTH "$@" > /dev/null 2>&1
        tail -n 1 cpu.txt | awk '{ print $1 + $2 }'
    fi
}
best=1e9; one=1e9
for r in 1 2 3; do
    t=$(cpu_of --spec buckets.lua --no-color --var n=$N plan)
    best=$(python3 -c "print(min($t, $best))")
    # the same for one resource: the fixed cost of a run (Lua, schema, process)
    t=$(cpu_of --spec buckets.lua --no-color --var n=1 --env one plan)
    one=$(python3 -c "print(min($t, $one))")
done
python3 -c "n=$N; t=$best; print(f'no-op plan, {n} resources, zero latency: CPU {t*1000:.1f} ms total, {t/n*1e6:.1f} us per resource (goal <= 60 us)')"
python3 -c "n=$N; t=$best; o=$one; print(f'fixed cost of a run: {o*1000:.1f} ms; marginal CPU per resource: {(t-o)/(n-1)*1e6:.1f} us')"

emu_stop
emu_start --data "$WORK/emu-data" --latency 50
rm -f http.log
start=$(python3 -c 'import time; print(time.time())')
$P --http-log http.log plan > /dev/null 2>&1 || fail "plan at 50 ms"
end=$(python3 -c 'import time; print(time.time())')
reqs=$(wc -l < http.log)
python3 -c "print(f'no-op plan, $N buckets, 50 ms latency: wall {($end-$start):.2f} s (goal < 0.5 s), {$reqs} requests (ideal: {($N+999)//1000} list pages)')"
