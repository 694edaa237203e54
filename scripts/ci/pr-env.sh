#!/bin/sh
# pr-env.sh: the pull-request flow the CI pipelines in this folder run.
#   pr-env.sh plan    PR   plan the environment pr-PR; writes pr-PR.plan (the
#                          saved plan) and pr-PR.plan.txt (to publish on the PR);
#                          exits 0 whether or not there are changes, 1 on error
#   pr-env.sh apply   PR   applies exactly the saved plan (refused if the spec
#                          or the state changed since it was made)
#   pr-env.sh destroy PR   destroys the environment when the PR closes
# Environment: PLINTH (default: plinth on PATH), SPEC (default platform.lua),
# and the usual credentials (GOOGLE_APPLICATION_CREDENTIALS, ...).
set -u
cmd=${1:?usage: pr-env.sh plan|apply|destroy PR}
pr=${2:?usage: pr-env.sh plan|apply|destroy PR}
PLINTH=${PLINTH:-plinth}
SPEC=${SPEC:-platform.lua}
env="pr-$pr"
case "$cmd" in
plan)
    $PLINTH --spec "$SPEC" --env "$env" --no-color plan --detailed-exitcode --out "$env.plan" > "$env.plan.txt"
    rc=$?
    cat "$env.plan.txt"
    [ "$rc" = 0 ] && echo "No changes for $env."
    [ "$rc" = 2 ] && echo "Changes planned for $env: saved to $env.plan."
    [ "$rc" = 1 ] && exit 1
    exit 0
    ;;
apply)
    exec $PLINTH --spec "$SPEC" --env "$env" --no-color apply "$env.plan"
    ;;
destroy)
    exec $PLINTH --spec "$SPEC" --env "$env" --no-color destroy --auto-approve
    ;;
*)
    echo "usage: pr-env.sh plan|apply|destroy PR" >&2
    exit 1
    ;;
esac
