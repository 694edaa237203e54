#!/bin/sh
# plan_scale.sh: no-op plan cost from 1,000 to 100,000 buckets at zero
# latency (issue 15, goal 3): CPU per resource at 1,000 (goal <= 60 us),
# the marginal cost per resource at each size against that at 1,000 (goal:
# within 1.2x at 100,000: linear), and peak RSS (goal <= 1 GB at 100,000).
# The states and the emulator's data are made by copying one applied
# bucket (an apply of 100,000 would measure apply, not plan).  SIZES
# overrides the sizes.  Prints the figures; never fails on them.
cd "$(dirname "$0")/../.." || exit 1
PLINTH_TEST_LIB=tests/integration/lib && . tests/integration/lib/emu.sh
. tests/bench/lib/common.sh
SIZES=${SIZES:-"1000 10000 100000"}
unset PLINTH_HTTP_LOG
cp tests/fixtures/bench/buckets.lua "$WORK/"
cd "$WORK" || exit 1
# the spec of every run (its state in .plinth-run/ beside it); the seed
# state is written by it too, so the copies belong to it
sed "s|^provider|backend \"local\" { path = \".plinth-run/default.state.json\" }\nprovider|" buckets.lua > scale.lua
emu_start --data "$WORK/seed-emu"
$PLINTH --spec scale.lua --no-color --var n=1 apply --auto-approve > seed.out 2>&1 || { cat seed.out; fail "seed apply"; }
emu_stop
cp .plinth-run/default.state.json seed.state.json

# make N: emulator data and state for buckets 1..N, copies of bucket 1
make_size() {
    python3 - "$1" <<'PY'
import json, sys, os
n = int(sys.argv[1])
emu = json.load(open("seed-emu/emulator.json"))
seed_key = "storage/buckets/bench-bucket-0001"
seed_doc = json.dumps(emu["docs"][seed_key])
st = json.load(open("seed.state.json"))
seed_res = json.dumps([r for r in st["resources"] if r["addr"] == "gcp.storage_bucket.b1"][0])
docs = {k: v for k, v in emu["docs"].items() if not k.startswith("storage/buckets/")}
res = []
for i in range(1, n + 1):
    name = "bench-bucket-%04d" % i
    d = json.loads(seed_doc.replace("bench-bucket-0001", name))
    d["labels"]["index"] = str(i)
    docs["storage/buckets/" + name] = d
    r = json.loads(seed_res.replace("bench-bucket-0001", name))
    r["addr"] = "gcp.storage_bucket.b%d" % i
    for part in ("attrs", "applied"):
        if r.get(part) and "labels" in r[part]: r[part]["labels"]["index"] = str(i)
    res.append(r)
os.makedirs("emu-%d" % n, exist_ok=True)
json.dump({"version": 1, "docs": docs, "counters": emu.get("counters", {})}, open("emu-%d/emulator.json" % n, "w"))
st["resources"] = res
os.makedirs("state-%d" % n, exist_ok=True)
with open("state-%d/default.state.json" % n, "w") as f:
    f.write(json.dumps({k: v for k, v in st.items() if k != "resources"})[:-1] + ',\n  "resources": [\n')
    f.write(",\n".join("    " + json.dumps(r, separators=(",", ":"), sort_keys=True) for r in res))
    f.write("\n  ]\n}\n")
PY
}

base_us=""
for n in $SIZES; do
    make_size "$n" || fail "make $n"
    rm -rf .plinth-run && mkdir -p .plinth-run
    cp "state-$n/default.state.json" .plinth-run/
    emu_start --data "$WORK/emu-$n"
    P="--spec scale.lua --no-color --var n=$n"
    $PLINTH $P plan --detailed-exitcode > plan.out 2>&1 || { tail -n 5 plan.out; fail "plan of $n not clean"; }
    best=1e9
    for r in 1 2; do
        cpu_run cpu.out $P plan
        best=$(calc "min($(cat cpu.out), $best)")
    done
    /usr/bin/time -f "%M" -o rss.txt $PLINTH $P plan > /dev/null 2>&1
    rss=$(tail -n 1 rss.txt)
    one=$(calc "0")
    [ -z "$base_us" ] && first_n=$n && first_cpu=$best
    e0=$(emu_cpu)
    cpu_run cpu.out $P plan
    e1=$(emu_cpu)
    if [ -z "$base_us" ]; then
        base_us=$(calc "$best / $n * 1e6")
        calc "f'no-op plan of $n buckets: CPU {$best*1000:.0f} ms = {$best/$n*1e6:.1f} us per resource (goal <= 60); peak RSS {$rss/1024:.0f} MB; emulator CPU {($e1-$e0)*1000:.0f} ms for the same plan'"
    else
        calc "f'no-op plan of $n buckets: CPU {$best*1000:.0f} ms = {$best/$n*1e6:.1f} us per resource; marginal {($best-$first_cpu)/($n-$first_n)*1e6:.1f} us per resource above $first_n = {($best-$first_cpu)/($n-$first_n)*1e6/$base_us:.2f} x the cost at $first_n (goal <= 1.2); peak RSS {$rss/1024:.0f} MB (goal <= 1024); emulator CPU {($e1-$e0)*1000:.0f} ms'"
    fi
    emu_stop
    [ -n "${KEEP_DATA:-}" ] || rm -rf "emu-$n" "state-$n"
done
