#!/bin/sh
# run-all.sh: the whole suite, as `make test` runs it: unit tests (normal and
# ASan/UBSan builds), then every integration script in tests/integration/.
# Prints one line per suite and a closing "N passed, N failed" line; exits 1
# if anything failed.
cd "$(dirname "$0")/.." || exit 1
pass=0; fail=0; failed=""
run() {
    name=$1; shift
    start=$(date +%s)
    if "$@" > "build/log-$name.txt" 2>&1; then
        pass=$((pass + 1)); echo "ok   $name ($(( $(date +%s) - start ))s)"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "FAIL $name ($(( $(date +%s) - start ))s) -- last lines of build/log-$name.txt:"
        tail -n 40 "build/log-$name.txt" | sed 's/^/    /'
    fi
}
mkdir -p build
run unit tests/run-unit.sh build/tests
run unit-asan make -s asan
run lint make -s lint
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    run "$(basename "$t" .sh)" sh "$t"
done
# Show the cmocka summaries so CI can read them.
grep -h -E '^\[  (PASSED|FAILED)  \]' build/log-unit.txt build/log-unit-asan.txt 2>/dev/null | sort | uniq -c
[ -n "$failed" ] && echo "failed:$failed"
echo "suites: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
