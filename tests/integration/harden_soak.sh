#!/bin/sh
# harden_soak.sh: the crash-consistency soak (tests/soak/run.sh) at a small
# size: applies with slow operations (Cloud SQL, GKE) killed with SIGKILL at
# random moments on the local and GCS backends converge on the next run
# with no duplicates, no orphans and no `state unlock`.  The fault soak
# (lost answers) runs in `make soak`; lost answers are covered here by
# harden_lost.sh.
cd "$(dirname "$0")/../.." || exit 1
SOAK_LOCAL=2 SOAK_GCS=1 SOAK_FAULT=0 sh tests/soak/run.sh
