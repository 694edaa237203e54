#!/bin/sh
# toolchain_local.sh: the local cloud that stays up (issue 16).
# `plinth local status` says none runs (exit 1); `plinth local up` starts one
# for the spec's directory (URL, exports for gcloud and kubectl) and a
# second `up` finds it; `--local` apply and plan use it (its pid does not
# change, the state and data are under .plinth/local/); after the command
# the emulator still answers: gcloud lists the cluster, kubectl (kubeconfig
# from `plinth --local kubeconfig`) lists the namespaces; `plinth local
# down` stops it and kubectl then gets connection refused; a later --local
# plan starts a temporary emulator on the same data and finds no changes;
# a stale pid file is not taken for a running cloud.
. "$(dirname "$0")/lib/emu.sh"
need_cmd kubectl
mkdir -p "$WORK/p" && cp platform.lua "$WORK/p/" && cp -r modules "$WORK/p/"
cd "$WORK/p" || exit 1
export HOME="$WORK"
unset PLINTH_GCP_ENDPOINT
P="$PLINTH --no-color"
L=$WORK/p/.plinth/local
trap '$P local down > /dev/null 2>&1; cleanup' EXIT INT TERM
# Running: not gone, and not a zombie waiting for its reaper (the emulator
# is not this shell's child).
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }

expect_rc 1 $P local status
grep -q "No local cloud is running for $L" "$WORK/last.out" || fail "status when down: $(cat "$WORK/last.out")"
expect_rc 0 $P local up
url=$(sed -n 's/^The local cloud is up: \(http:[^ ]*\) (pid \([0-9]*\).*/\1/p' "$WORK/last.out")
pid=$(sed -n 's/^The local cloud is up: http:[^ ]* (pid \([0-9]*\).*/\1/p' "$WORK/last.out")
[ -n "$url" ] && [ -n "$pid" ] || fail "up: $(cat "$WORK/last.out")"
grep -q "export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER=$url/container/" "$WORK/last.out" || fail "gcloud exports: $(cat "$WORK/last.out")"
grep -q "plinth --local kubeconfig > $L/kubeconfig && export KUBECONFIG=$L/kubeconfig" "$WORK/last.out" ||
    fail "kubectl exports: $(cat "$WORK/last.out")"
[ "$(cat "$L/emulator.url")" = "$url" ] && [ "$(cat "$L/emulator.pid")" = "$pid" ] || fail "pid/url files"
expect_rc 0 $P local up
grep -q "already up" "$WORK/last.out" && grep -q "$url (pid $pid," "$WORK/last.out" || fail "second up: $(cat "$WORK/last.out")"

expect_rc 0 $P --local apply --auto-approve
grep -q "Apply complete" "$WORK/last.out" || fail "apply: $(tail -5 "$WORK/last.out")"
[ -f "$L/default.state.json" ] && [ -d "$L/emulator" ] || fail "state and data not under .plinth/local: $(ls -R "$L")"
expect_rc 0 $P --local plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "re-plan: $(tail -5 "$WORK/last.out")"
alive "$pid" || fail "the local cloud stopped with the command"
expect_rc 0 $P local status
grep -q "$url (pid $pid," "$WORK/last.out" || fail "status: $(cat "$WORK/last.out")"

# Still up after the commands: gcloud and kubectl reach it.
if command -v gcloud > /dev/null; then
    export CLOUDSDK_CONFIG="$WORK/gcloud" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1 CLOUDSDK_CORE_DISABLE_PROMPTS=1
    export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="$url/container/"
    expect_rc 0 gcloud container clusters list --project plinth-demo --format='value(name,status)'
    grep -q "^ml-dev	RUNNING" "$WORK/last.out" || fail "gcloud: $(cat "$WORK/last.out")"
fi
expect_rc 0 $P --local kubeconfig
cp "$WORK/last.out" "$L/kubeconfig"
export KUBECONFIG="$L/kubeconfig"
expect_rc 0 kubectl --request-timeout=10s get ns
grep -q "^argo " "$WORK/last.out" || fail "kubectl: $(cat "$WORK/last.out")"

expect_rc 0 $P local down
grep -q "The local cloud is down" "$WORK/last.out" || fail "down: $(cat "$WORK/last.out")"
alive "$pid" && fail "the emulator (pid $pid) still runs after down"
[ -e "$L/emulator.pid" ] && fail "pid file left"
expect_rc 1 kubectl --request-timeout=10s get ns
grep -q "connection to the server .* was refused" "$WORK/last.err" || fail "kubectl after down: $(cat "$WORK/last.err")"
expect_rc 0 $P local down
grep -q "No local cloud is running" "$WORK/last.out" || fail "second down: $(cat "$WORK/last.out")"

# A temporary emulator on the same data: nothing to change.
expect_rc 0 $P --local plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "plan on a temporary emulator: $(tail -5 "$WORK/last.out")"
# A stale pid file (a process that is no emulator) is not a running cloud.
echo $$ > "$L/emulator.pid"
echo "$url" > "$L/emulator.url"
expect_rc 1 $P local status
expect_rc 0 $P --local plan --detailed-exitcode
grep -q "No changes." "$WORK/last.out" || fail "plan with a stale pid file: $(tail -5 "$WORK/last.out")"
echo "toolchain_local: ok"
