#!/bin/sh
# plan_noop.sh: figures for a no-op plan of 1,000 buckets.
#  1. engine CPU time per resource (user+sys of plinth) with the emulator at
#     zero latency; goal: at most 100 us per resource (issue 2).
#  2. wall time and request count with the emulator at 50 ms latency; goal:
#     under 0.5 s (issue 4); the ideal is one list round trip per page.
# Prints the figures; never fails on them (no timed assertions).
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/emu.sh
N=${N:-1000}
cp tests/fixtures/bench/buckets.lua "$WORK/"
emu_start --data "$WORK/emu-data"
cd "$WORK" || exit 1
P="$PLINTH --spec buckets.lua --no-color --var n=$N --parallelism 32"
$P apply --auto-approve > apply.out 2>&1 || { tail apply.out; fail "apply"; }
$P plan --detailed-exitcode > plan.out 2>&1 || { tail plan.out; fail "plan not clean"; }

# CPU: best of 3 runs, measured by the kernel (utime + stime of the child).
best=""
for r in 1 2 3; do
    t=$(python3 - "$PLINTH" "$N" <<'PY'
import os, resource, subprocess, sys
subprocess.run([sys.argv[1], "--spec", "buckets.lua", "--no-color", "--var", "n=" + sys.argv[2], "plan"],
               stdout=subprocess.DEVNULL, check=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_utime + u.ru_stime)
PY
)
    best=$(python3 -c "print(min(float('$t'), float('${best:-1e9}')))")
done
python3 -c "n=$N; t=$best; print(f'no-op plan, {n} resources, zero latency: CPU {t*1000:.1f} ms total, {t/n*1e6:.1f} us per resource (goal <= 100 us)')"
# The same for one resource: the fixed cost of a run (Lua, schema, process),
# so the marginal cost per resource can be told apart from it.
one=$(python3 - "$PLINTH" <<'PY'
import resource, subprocess, sys
best = 1e9
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.argv[1], "--spec", "buckets.lua", "--no-color", "--var", "n=1", "--env", "one", "plan"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    best = min(best, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
print(best)
PY
)
python3 -c "n=$N; t=$best; o=$one; print(f'fixed cost of a run: {o*1000:.1f} ms; marginal CPU per resource: {(t-o)/(n-1)*1e6:.1f} us')"

emu_stop
emu_start --data "$WORK/emu-data" --latency 50
rm -f http.log
start=$(python3 -c 'import time; print(time.time())')
$P --http-log http.log plan > /dev/null 2>&1 || fail "plan at 50 ms"
end=$(python3 -c 'import time; print(time.time())')
reqs=$(wc -l < http.log)
python3 -c "print(f'no-op plan, $N buckets, 50 ms latency: wall {($end-$start):.2f} s (goal < 0.5 s), {$reqs} requests (ideal: {($N+999)//1000} list pages)')"
