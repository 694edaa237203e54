#!/bin/sh
# run-all.sh: the whole suite, as `make test` runs it: unit tests (normal,
# ASan/UBSan and ThreadSanitizer builds), lint, then every integration
# script in tests/integration/.  Prints one line per suite and closes with
# one line alone: "suites: N passed, N failed, N skipped"; exits 1 if
# anything failed.
#
# A suite that exits 77 could not run (see tests/integration/lib/skip.sh)
# and is counted as skipped, never as ok.  A skip whose reason is
# "needs X, which make deps installs" / "which make builds" is counted as
# a failure: `make test` ran `make deps` and `make all` first, so X missing
# means the set-up is broken, and the test must not silently not run.
cd "$(dirname "$0")/.." || exit 1
pass=0; fail=0; skipped=0; failed=""; skips=""
run() {
    name=$1; shift
    start=$(date +%s)
    "$@" > "build/log-$name.txt" 2>&1
    rc=$?
    took="$(( $(date +%s) - start ))s"
    if [ "$rc" -eq 0 ]; then
        pass=$((pass + 1)); echo "ok   $name ($took)"
    elif [ "$rc" -eq 77 ] && ! grep -q 'SKIP (needs ' "build/log-$name.txt"; then
        skipped=$((skipped + 1)); skips="$skips $name"
        echo "SKIP $name ($took): $(grep -m1 'SKIP' "build/log-$name.txt")"
    else
        fail=$((fail + 1)); failed="$failed $name"
        [ "$rc" -eq 77 ] && echo "FAIL $name: skipped although make deps / make all provide what it needs:"
        echo "FAIL $name ($took) -- last lines of build/log-$name.txt:"
        tail -n 40 "build/log-$name.txt" | sed 's/^/    /'
    fi
}
mkdir -p build
run unit tests/run-unit.sh build/tests
run unit-asan make -s asan
run unit-tsan make -s tsan
run lint make -s lint
for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    run "$(basename "$t" .sh)" sh "$t"
done
# Show the cmocka summaries so CI can read them.
grep -h -E '^\[  (PASSED|FAILED|SKIPPED)  \]' build/log-unit.txt build/log-unit-asan.txt \
    build/log-unit-tsan.txt 2>/dev/null | sort | uniq -c
[ -n "$failed" ] && echo "failed:$failed"
[ -n "$skips" ] && echo "skipped:$skips"
echo "suites: $pass passed, $fail failed, $skipped skipped"
[ "$fail" -eq 0 ]
