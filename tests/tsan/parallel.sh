#!/bin/sh
# parallel.sh: the ThreadSanitizer run of `make tsan`: with binaries built
# -fsanitize=thread (PLINTH_BIN=build-tsan/bin), applies the 50-resource
# engine fixture and the GKE + Kubernetes fixture with --parallelism 8
# against a TSan-built emulator, then plans both again (no changes) and
# destroys.  TSAN_OPTIONS makes any report fatal (exit 66), so a race
# fails the step that hit it.
PLINTH_TEST_LIB="$(dirname "$0")/../integration/lib"
. "$PLINTH_TEST_LIB/emu.sh"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 exitcode=66 second_deadlock_stack=1}"
unset PLINTH_HTTP_LOG
emu_start --op-scale 0.02
cp -r tests/fixtures/engine/. tests/fixtures/k8s/platform.lua "$WORK/"
cd "$WORK" || exit 1
for spec in fifty.lua platform.lua; do
    P="$PLINTH --spec $spec --no-color --parallelism 8"
    expect_rc 0 $P apply --auto-approve
    expect_rc 0 $P plan --detailed-exitcode
    grep -q "No changes." last.out || fail "$spec: re-plan not clean: $(tail -5 last.out)"
    expect_rc 0 $P destroy --auto-approve
done
kill -0 "$EMU_PID" 2> /dev/null || fail "the emulator died: $(tail -30 "$WORK/emu.err")"
grep -q ThreadSanitizer "$WORK/emu.err" && fail "emulator: $(cat "$WORK/emu.err")"
echo "tsan parallel: ok (apply, plan, destroy of fifty.lua and platform.lua, no reports)"
