#!/bin/sh
# run-unit.sh DIR: runs every cmocka test binary in DIR; exits 1 if any fails.
dir=${1:-build/tests}
fail=0
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    "$t" || { echo "FAILED: $t"; fail=1; }
done
exit $fail
