#!/bin/sh
# plan_validate.sh: every error of a load comes together, each with
# file:line (issue 11): a reference to an attribute the type does not have
# (net.selfLinkk, "did you mean selfLink?"), a duplicate address that no
# longer hides the rest, a body typo, an ssh.exec typo, a module input typo
# and a module output typo (both with "did you mean").  plan stops before
# any API call.
. "$(dirname "$0")/lib/emu.sh"
FIX=$(cd "$(dirname "$0")/../fixtures/plan" && pwd)
cd "$WORK" || exit 1
cp -r "$FIX"/mistakes.lua "$FIX"/modules .
expect_rc 1 "$PLINTH" --spec mistakes.lua --no-color validate
for want in \
    "mistakes.lua:6: gcp.compute_subnetwork.sub: gcp.compute_network.main has no attribute 'selfLinkk' (did you mean selfLink?)" \
    "mistakes.lua:8: duplicate resource gcp.storage_bucket.b (first declared at mistakes.lua:7)" \
    "mistakes.lua:9: gcp.storage_bucket.c: locaton: unknown field 'locaton' (did you mean 'location'?)" \
    "mistakes.lua:10: ssh.exec.s: scrpt: unknown field of ssh.exec" \
    "mistakes.lua:11: module \"store\": unknown input 'nmae' (did you mean 'name'?)" \
    "mistakes.lua:12: module \"store\" has no output 'bucktt'; did you mean 'bucket'?" \
    "6 errors."; do
    grep -qF "$want" last.err || fail "missing: $want
got: $(cat last.err)"
done
emu_start
rm -f "$PLINTH_HTTP_LOG"
expect_rc 1 "$PLINTH" --spec mistakes.lua --no-color plan
[ -s "$PLINTH_HTTP_LOG" ] && fail "plan of an invalid spec made requests: $(head -3 "$PLINTH_HTTP_LOG")"
# the shipped modules' inputs get the same check
cat > typo.lua <<'L'
provider "gcp" { project = "v", region = "europe-west1" }
local p = module "platform" { source = "ml_platform", project = "v", region = "europe-west1", env = "dev", gpuu = true }
output("x", p.cluster_endpoitn)
L
expect_rc 1 "$PLINTH" --spec typo.lua --no-color validate
grep -qF "typo.lua:2: module \"platform\": unknown input 'gpuu' (did you mean 'gpu'?)" last.err || fail "input typo: $(cat last.err)"
grep -qF "typo.lua:3: module \"platform\" has no output 'cluster_endpoitn'; did you mean 'cluster_endpoint'?" last.err ||
    fail "output typo: $(cat last.err)"
echo "plan_validate: ok"
