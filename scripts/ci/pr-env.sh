#!/bin/sh
# pr-env.sh: the environment flow every CI pipeline in this folder runs.
#   pr-env.sh plan    NAME  plans environment ENV and writes ENV.plan (the saved
#                           plan), ENV.plan.txt (the plan as printed),
#                           ENV.plan.md (the pull-request comment: the Plan: line
#                           first, the full plan in a collapsed block) and
#                           ENV.plan.json (`plinth show --json`, Terraform's plan
#                           format, for policy checks and summaries);
#                           exits 0 with or without changes, 1 on error
#   pr-env.sh apply   NAME  applies exactly ENV.plan (refused when the spec or
#                           the state changed since it was made)
#   pr-env.sh destroy NAME  destroys the environment, from any runner
# NAME is a pull-request number (ENV = pr-NAME) or an environment name
# (ENV = NAME: main, staging, ...).
#
# The state must be shared between runners: set PLINTH_STATE_BUCKET (the
# specs declare backend "gcs" {} and plinth completes it from there) or pass
# the bucket in PLINTH_ARGS="--backend-config bucket=B".  Without one this
# script refuses to run (a fresh runner would see an empty local state and
# destroy nothing), unless PLINTH_LOCAL_STATE=1 says local state is meant.
# Environment: PLINTH (default plinth on PATH), SPEC (default platform.lua),
# PLINTH_ARGS (more global options), PLINTH_TTL (apply: --ttl, e.g. 72h), and
# the credentials (GOOGLE_OAUTH_ACCESS_TOKEN from workload identity
# federation, the metadata server, ...).  Works under sh -e and bash -e.
set -eu
usage="usage: pr-env.sh plan|apply|destroy NAME"
cmd=${1:?$usage}
name=${2:?$usage}
PLINTH=${PLINTH:-plinth}
SPEC=${SPEC:-platform.lua}
case "$name" in
*[!0-9]*) env=$name ;;
*) env="pr-$name" ;;
esac
case "$env" in
*[!A-Za-z0-9_.-]* | .* | "") echo "pr-env.sh: bad environment name '$env'" >&2; exit 1 ;;
esac
if [ -z "${PLINTH_STATE_BUCKET:-}" ] && [ "${PLINTH_LOCAL_STATE:-}" != 1 ]; then
    case " ${PLINTH_ARGS:-} " in
    *" bucket="*) ;;
    *)
        echo "pr-env.sh: no state bucket: set PLINTH_STATE_BUCKET (or PLINTH_LOCAL_STATE=1 for local state)" >&2
        exit 1
        ;;
    esac
fi
# shellcheck disable=SC2086 # PLINTH_ARGS is a list of options
run() { $PLINTH --spec "$SPEC" --env "$env" --no-color ${PLINTH_ARGS:-} "$@"; }

# The PR comment: what changes first, the whole plan folded below it.
write_md() {
    summary=$(grep -E '^(Plan:|No changes\.)' "$env.plan.txt" | head -n 1 || true)
    {
        echo "${summary:-The plan did not print a summary: see below.}"
        echo
        echo "plinth environment \`$env\`"
        echo
        echo "<details><summary>Plan for $env</summary>"
        echo
        echo '```'
        cat "$env.plan.txt"
        echo '```'
        echo
        echo "</details>"
    } > "$env.plan.md"
}

case "$cmd" in
plan)
    rc=0
    run plan --detailed-exitcode --out "$env.plan" > "$env.plan.txt" || rc=$?
    cat "$env.plan.txt"
    case $rc in
    0) echo "No changes for $env." ;;
    2) echo "Changes planned for $env: saved to $env.plan." ;;
    *) exit 1 ;;
    esac
    write_md
    run show --json "$env.plan" > "$env.plan.json"
    ;;
apply)
    if [ ! -f "$env.plan" ]; then
        echo "pr-env.sh: $env.plan not found: download the plan step's artefact first" >&2
        exit 1
    fi
    if [ -n "${PLINTH_TTL:-}" ]; then
        run apply --ttl "$PLINTH_TTL" "$env.plan"
    else
        run apply "$env.plan"
    fi
    ;;
destroy)
    run destroy --auto-approve
    ;;
*)
    echo "$usage" >&2
    exit 1
    ;;
esac
