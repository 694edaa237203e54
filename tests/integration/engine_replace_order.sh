#!/bin/sh
# engine_replace_order.sh: a replace deletes first, then creates; with
# lifecycle.create_before_destroy it creates the new resource first, then
# deletes the old one (by the old ID: this test caught the new one being
# deleted); dependents follow the new one (issue 2: Diff).
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0.05
cd "$WORK" || exit 1
cat > r.lua <<'LUA'
provider "gcp" { project = "order-proj", region = "europe-west1" }
local suffix = var("suffix", { default = "a" })
local cbd = gcp.storage_bucket "cbd" { name = "order-cbd-" .. suffix, location = "EU",
                                       lifecycle = { create_before_destroy = true } }
gcp.storage_bucket "plain" { name = "order-plain-" .. suffix, location = "EU" }
gcp.storage_bucket_iam_member "reader" { bucket = cbd.name, role = "roles/storage.objectViewer",
                                         member = "user:ann@example.com" }
LUA
P="$PLINTH --spec r.lua --no-color"
expect_rc 0 $P apply --auto-approve
rm -f "$PLINTH_HTTP_LOG"
expect_rc 2 $P --var suffix=b plan --detailed-exitcode
grep -q "# gcp.storage_bucket.cbd must be replaced (name cannot be changed in place)" last.out ||
    fail "replace not planned: $(cat last.out)"
expect_rc 0 $P --var suffix=b apply --auto-approve
python3 - "$PLINTH_HTTP_LOG" <<'PY' || fail "wrong order"
import json, sys
ev = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    u = r["url"].split("?")[0]
    if r["method"] == "POST" and u.endswith("/b") and r["status"] == 200:
        ev.append(("create", r["resp_body"]["name"]))
    if r["method"] == "DELETE" and "/b/order-" in u and r["status"] in (200, 204):
        ev.append(("delete", u.rsplit("/", 1)[1]))
pos = {e: i for i, e in enumerate(ev)}
# create_before_destroy: the new bucket exists before the old one goes
assert pos[("create", "order-cbd-b")] < pos[("delete", "order-cbd-a")], ev
# default: the old bucket goes first, then the new one is created
assert pos[("delete", "order-plain-a")] < pos[("create", "order-plain-b")], ev
PY
expect_rc 0 $P --var suffix=b plan --detailed-exitcode

# The old one cannot be deleted (not empty): it stays in state as deposed,
# the next plan destroys it once it can be.
curl -sf -X POST --data-binary 'x' "$EMU_URL/storage/upload/storage/v1/b/order-cbd-b/o?uploadType=media&name=keep" \
    > /dev/null || fail "upload"
expect_rc 1 $P --var suffix=c apply --auto-approve
expect_rc 0 $P state list
grep -q "^gcp.storage_bucket.cbd#deposed$" last.out || fail "no deposed entry: $(cat last.out)"
expect_rc 2 $P --var suffix=c plan --detailed-exitcode
grep -q "# gcp.storage_bucket.cbd#deposed will be destroyed" last.out || fail "deposed not planned: $(cat last.out)"
curl -sf -X DELETE "$EMU_URL/storage/storage/v1/b/order-cbd-b/o/keep" > /dev/null || fail "delete object"
expect_rc 0 $P --var suffix=c apply --auto-approve
expect_rc 0 $P --var suffix=c plan --detailed-exitcode
curl -s -o /dev/null -w '%{http_code}' "$EMU_URL/storage/storage/v1/b/order-cbd-b" | grep -q 404 || fail "old bucket left"
reqcheck_log
echo "engine_replace_order: ok"
