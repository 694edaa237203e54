#!/bin/sh
# drift-all.sh: `plinth drift` over every environment in the state bucket
# (`plinth env list --json`), each with the spec it was last applied from.
# Prints one line per environment and exits 0 when none drifted, 2 when
# some did (so a scheduled job turns red), 1 when a check failed.
# Environment: PLINTH, SPEC (the spec naming the backend; default
# platform.lua), PLINTH_STATE_BUCKET, PLINTH_ARGS, credentials.
set -eu
PLINTH=${PLINTH:-plinth}
SPEC=${SPEC:-platform.lua}
# shellcheck disable=SC2086
list=$($PLINTH --spec "$SPEC" --no-color ${PLINTH_ARGS:-} env list --json)
envs=$(printf '%s' "$list" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if e["resources"] > 0:
        print(e["name"], e["spec"] or "-")')
drifted=0 failed=0 n=0
printf '%s\n' "$envs" | {
    while read -r name spec; do
        [ -n "$name" ] || continue
        [ "$spec" != - ] && [ -f "$spec" ] || spec=$SPEC
        n=$((n + 1))
        rc=0
        # shellcheck disable=SC2086
        $PLINTH --spec "$spec" --env "$name" --no-color ${PLINTH_ARGS:-} drift > "drift-$name.txt" 2>&1 || rc=$?
        case $rc in
        0) echo "$name: no drift" ;;
        2) echo "$name: DRIFTED"; sed 's/^/    /' "drift-$name.txt"; drifted=$((drifted + 1)) ;;
        *) echo "$name: drift check failed"; sed 's/^/    /' "drift-$name.txt"; failed=$((failed + 1)) ;;
        esac
    done
    echo "$n environments checked: $drifted drifted, $failed failed"
    [ $failed = 0 ] || exit 1
    [ $drifted = 0 ] || exit 2
}
