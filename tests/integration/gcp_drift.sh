#!/bin/sh
# gcp_drift.sh: a change made behind plinth's back (with the real gcloud CLI
# against the emulator) shows in the next plan as drift, and apply restores
# the spec (issue 4, acceptance 5).
. "$(dirname "$0")/lib/emu.sh"
command -v gcloud > /dev/null || fail "gcloud is not installed"
emu_start --op-scale 0.05
cd "$WORK" || exit 1
cat > drift.lua <<'LUA'
provider "gcp" { project = "drift-proj", region = "europe-west1" }
gcp.compute_network "main" { autoCreateSubnetworks = false, routingConfig = { routingMode = "REGIONAL" } }
LUA
P="$PLINTH --spec drift.lua --no-color"
expect_rc 0 $P apply --auto-approve

export CLOUDSDK_CONFIG="$WORK/gcloud" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1 CLOUDSDK_CORE_PROJECT=drift-proj
export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="$EMU_URL/compute/compute/v1/"
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
gcloud compute networks update main --bgp-routing-mode=global > gcloud.out 2>&1 || fail "gcloud update: $(cat gcloud.out)"

expect_rc 2 $P plan --detailed-exitcode
grep -q "changed outside of plinth" last.out || fail "drift not reported: $(cat last.out)"
grep -q 'routingConfig.routingMode = "GLOBAL" -> "REGIONAL"' last.out || fail "change not shown: $(cat last.out)"
expect_rc 0 $P apply --auto-approve
expect_rc 0 $P plan --detailed-exitcode
mode=$(gcloud compute networks describe main --format='value(routingConfig.routingMode)' 2> gcloud.err) || fail "describe: $(cat gcloud.err)"
[ "$mode" = REGIONAL ] || fail "apply did not restore the routing mode: $mode"
reqcheck_log
echo "gcp_drift: ok"
