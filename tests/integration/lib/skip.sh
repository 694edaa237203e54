# skip.sh: how an integration test says it cannot run (source it).
#
#   skip REASON        something optional is missing (gcloud, the shared
#                      testdata): prints "NAME: SKIP (REASON)" and exits 77,
#                      which tests/run-all.sh counts as skipped, never as ok.
#   need_cmd CMD       CMD (a path or a command name) is something `make deps`
#                      installs (kubectl, sshd, python3, ...): missing, the test
#                      skips with "NAME: SKIP (needs CMD, which make deps
#                      installs)", which run-all.sh counts as a failure.
#   need_built PATH    a tool `make all` builds (build/tools/reqcheck): missing,
#                      the test skips with "needs PATH, which make builds",
#                      also counted as a failure.
#   want_cmd CMD       an optional tool: skip when it is missing.
# run-all.sh treats every skip whose reason starts with "needs " as a failure:
# `make test` runs `make deps` and `make all` first, so it cannot happen there.
SKIP_NAME=$(basename "$0" .sh)

skip() {
    echo "$SKIP_NAME: SKIP ($*)"
    exit 77
}

have_cmd() {
    case $1 in
    /*) [ -x "$1" ] ;;
    *) command -v "$1" > /dev/null 2>&1 ;;
    esac
}

need_cmd() {
    have_cmd "$1" || skip "needs $1, which make deps installs"
}

want_cmd() {
    have_cmd "$1" || skip "$1 not installed"
}

need_built() {
    [ -x "$1" ] || skip "needs $1, which make builds"
}
