#!/bin/sh
# run-unit.sh DIR: runs every cmocka test binary in DIR; exits 1 if any
# fails.  A test that skips because something `make deps` installs is
# missing (it prints "SKIP (needs X, which make deps installs)", see
# tests/support/skip.h) counts as a failure; other skips are counted and
# reported on the closing line "unit: N binaries, N failed, N tests skipped".
dir=${1:-build/tests}
fail=0; n=0; skipped=0
out=$(mktemp)
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    n=$((n + 1))
    "$t" > "$out" 2>&1
    rc=$?
    cat "$out"
    [ "$rc" -eq 0 ] || { echo "FAILED: $t"; fail=$((fail + 1)); continue; }
    if grep -q 'SKIP (needs ' "$out"; then
        echo "FAILED: $t skipped tests although make deps installs what they need:"
        grep 'SKIP (needs ' "$out" | sed 's/^/    /'
        fail=$((fail + 1))
    fi
    s=$(grep -c '^\[  SKIPPED \]' "$out")
    skipped=$((skipped + s))
done
rm -f "$out"
echo "unit: $n binaries, $fail failed, $skipped tests skipped"
[ "$fail" -eq 0 ]
