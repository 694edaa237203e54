#!/bin/sh
# emulator_invalid.sh: requests the real API refuses are refused the same
# way: an unknown field, a wrong enum value, a change to an immutable field
# -> 400 INVALID_ARGUMENT naming the field, in Google's error shape
# (issue 3, acceptance 2).
. "$(dirname "$0")/lib/emu.sh"
emu_start --op-scale 0
cd "$WORK" || exit 1
C="$EMU_URL/compute/compute/v1/projects/inv-proj"

# check NAME METHOD URL BODY FIELD: expects 400 INVALID_ARGUMENT mentioning FIELD
check() {
    code=$(curl -s -o resp.json -w '%{http_code}' -X "$2" -H 'Content-Type: application/json' -d "$4" "$3")
    [ "$code" = 400 ] || fail "$1: HTTP $code: $(cat resp.json)"
    python3 - "$5" <<'PY' || fail "$1: $(cat resp.json)"
import json, sys
e = json.load(open("resp.json"))["error"]
assert e["code"] == 400 and e["status"] == "INVALID_ARGUMENT", e
assert sys.argv[1] in e["message"], e["message"]
assert e["errors"][0]["reason"], e
PY
    echo "ok   $1"
}

check "unknown field" POST "$C/global/networks" '{"name":"n1","autoCreateSubnetworkz":false}' autoCreateSubnetworkz
check "wrong enum value" POST "$C/global/firewalls" \
    '{"name":"fw","network":"global/networks/n1","direction":"SIDEWAYS","allowed":[{"IPProtocol":"tcp"}]}' direction
check "wrong type" POST "$C/global/networks" '{"name":"n2","autoCreateSubnetworks":"no"}' autoCreateSubnetworks
curl -sf -X POST -H 'Content-Type: application/json' -d '{"name":"n3","autoCreateSubnetworks":false}' \
    "$C/global/networks" > /dev/null || fail "create n3"
sleep 0.2
check "immutable field on patch" PATCH "$C/global/networks/n3" '{"autoCreateSubnetworks":true}' autoCreateSubnetworks
S="$EMU_URL/secretmanager/v1/projects/inv-proj/secrets"
curl -sf -X POST -H 'Content-Type: application/json' -d '{"replication":{"automatic":{}}}' "$S?secretId=s1" > /dev/null ||
    fail "create secret"
check "immutable replication" PATCH "$S/s1?updateMask=replication" \
    '{"replication":{"userManaged":{"replicas":[{"location":"europe-west1"}]}}}' replication
echo "emulator_invalid: ok"
