#!/bin/sh
# apply_buckets.sh: apply and destroy of N new buckets (default 1,000) with
# the emulator at 50 ms latency and --parallelism 16 (issue 15, goal 1).
# Ideal wall time: N*L/P (every worker always waiting on one request);
# goals: wall <= 1.3x ideal, plinth CPU <= 100 us per resource.  Prints the
# figures, the ratios and the emulator's share of the CPU; never fails on
# a figure (no timed assertions).
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=tests/integration/lib && . tests/integration/lib/emu.sh
. tests/bench/lib/common.sh
N=${N:-1000}
L=${L:-50}
PAR=${PAR:-16}
unset PLINTH_HTTP_LOG # as users run it: no HTTP log
cp tests/fixtures/bench/buckets.lua "$WORK/"
emu_start --data "$WORK/emu-data" --latency "$L"
cd "$WORK" || exit 1
ideal=$(calc "$N * $L / 1000 / $PAR")

report() { # report WHAT WALL CPU EMU
    calc "f'$1 of $N buckets at $L ms, parallelism $PAR: wall {$2:.2f} s = {$2/$ideal:.2f} x ideal N*L/P {$ideal:.2f} s (goal <= 1.3); plinth CPU {$3*1000:.0f} ms = {$3/$N*1e6:.0f} us per resource (goal <= 100); emulator CPU {$4*1000:.0f} ms ({$4/max($2,1e-9)*100:.0f}% of wall)'"
}

for what in apply destroy; do
    e0=$(emu_cpu)
    t0=$(now)
    cpu_run cpu.out --spec buckets.lua --no-color --var n="$N" --parallelism "$PAR" "$what" --auto-approve ||
        { tail -n 5 run.out; fail "$what"; }
    t1=$(now)
    e1=$(emu_cpu)
    report "$what" "$(calc "$t1 - $t0")" "$(cat cpu.out)" "$(calc "$e1 - $e0")"
done
