#!/bin/sh
# harden_fuzz.sh: a short pass of every fuzz target over its committed
# corpus (tests/fuzz/corpus/, which holds every crash found) plus
# deterministic mutations, built with ASan/UBSan (make fuzz-replay): no
# crash, leak, hang or sanitizer report.  `make fuzz` runs the same targets
# under libFuzzer for longer.
cd "$(dirname "$0")/../.." || exit 1
make -s fuzz-replay > build/fuzz-replay.log 2>&1 || { tail -20 build/fuzz-replay.log; echo "FAIL: fuzz-replay build"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
n=0
for t in build-asan/fuzz/fuzz_*; do
    name=${t##*/fuzz_}
    case $name in spec|creds) m=40 ;; *) m=400 ;; esac
    out=$(FUZZ_MUTATIONS=$m timeout 120 "$t" "tests/fuzz/corpus/$name" 2>&1) || {
        echo "$out" | tail -30; echo "FAIL: fuzz_$name"; exit 1; }
    echo "fuzz_$name: $(echo "$out" | tail -1)"
    n=$((n + 1))
done
[ $n -ge 9 ] || { echo "FAIL: only $n fuzz targets"; exit 1; }
echo "harden_fuzz: ok ($n targets)"
