#!/bin/sh
# emulator_gcloud_core.sh: the real gcloud CLI against plinth-emulator:
# compute networks/subnets, storage buckets/objects and service enabling,
# checking what gcloud prints.  Skips (exit 77) when gcloud is not installed.
set -u
BIN=${PLINTH_BIN:-bin}
EMU=$BIN/plinth-emulator
. "$(dirname "$0")/lib/skip.sh"
want_cmd gcloud
[ -x "$EMU" ] || { echo "FAIL: $EMU not built"; exit 1; }

TMP=$(mktemp -d /tmp/plinth-gcloud-core.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$EMU" --port 0 --op-scale 0.1 --data "$TMP/data" --log "$TMP/http.log" > "$TMP/url" 2> "$TMP/emu.err" &
PID=$!
i=0
while [ ! -s "$TMP/url" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n 1 "$TMP/url")
case "$URL" in http://127.0.0.1:*) ;; *) echo "FAIL: no base URL from emulator"; cat "$TMP/emu.err"; exit 1 ;; esac

export CLOUDSDK_CONFIG="$TMP/gcloud"
export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1
export CLOUDSDK_CORE_PROJECT=test-proj
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="$URL/compute/compute/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE="$URL/storage/storage/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE="$URL/serviceusage/"

fails=0
check() { # check NAME EXPECTED-SUBSTRING OUTPUT
    case "$3" in
    *"$2"*) echo "ok   $1" ;;
    *) echo "FAIL $1: expected '$2' in:"; echo "$3" | sed 's/^/    /'; fails=$((fails + 1)) ;;
    esac
}
run() { gcloud "$@" 2>&1; }

# --- compute -----------------------------------------------------------------
out=$(run compute networks create n1 --subnet-mode=custom)
check "networks create" "Created [https://www.googleapis.com/compute/v1/projects/test-proj/global/networks/n1]" "$out"
out=$(run compute networks describe n1 --format='value(autoCreateSubnetworks,mtu,routingConfig.routingMode)')
check "networks describe" "False	1460	REGIONAL" "$out"
out=$(run compute networks create n1 --subnet-mode=custom)
check "networks create duplicate" "already exists" "$out"
out=$(run compute networks subnets create s1 --network=n1 --region=us-central1 --range=10.0.0.0/20 --secondary-range=pods=10.4.0.0/14)
check "subnets create" "Created [https://www.googleapis.com/compute/v1/projects/test-proj/regions/us-central1/subnetworks/s1]" "$out"
out=$(run compute networks subnets describe s1 --region=us-central1 --format='value(gatewayAddress,secondaryIpRanges[0].rangeName,network)')
check "subnets describe" "10.0.0.1	pods	https://www.googleapis.com/compute/v1/projects/test-proj/global/networks/n1" "$out"
out=$(run compute networks subnets list --format='value(name,region)')
check "subnets list (aggregated)" "s1	us-central1" "$out"
out=$(run compute networks subnets update s1 --region=us-central1 --enable-private-ip-google-access)
out=$(run compute networks subnets describe s1 --region=us-central1 --format='value(privateIpGoogleAccess)')
check "subnets update private access" "True" "$out"
out=$(run compute networks delete n1)
check "network in use" "resourceInUseByAnotherResource" "$out$(grep -o resourceInUseByAnotherResource "$TMP/http.log" | head -n 1)"
out=$(run compute networks subnets delete s1 --region=us-central1)
check "subnets delete" "Deleted [https://www.googleapis.com/compute/v1/projects/test-proj/regions/us-central1/subnetworks/s1]" "$out"
out=$(run compute networks delete n1)
check "networks delete" "Deleted [https://www.googleapis.com/compute/v1/projects/test-proj/global/networks/n1]" "$out"
out=$(run compute networks list --format='value(name)')
check "networks list empty" "" "$out"
[ -z "$out" ] || { echo "FAIL networks list not empty: $out"; fails=$((fails + 1)); }

# --- services ----------------------------------------------------------------
out=$(run services enable container.googleapis.com)
check "services enable" "finished successfully" "$out"
out=$(run services list --enabled --format='value(config.name)')
check "services list enabled" "container.googleapis.com" "$out"
check "services dependency enabled" "compute.googleapis.com" "$out"
out=$(run services enable container.googleapis.com)
case "$out" in *ERROR*) echo "FAIL services re-enable: $out"; fails=$((fails + 1)) ;; *) echo "ok   services re-enable (noop)" ;; esac

# --- storage -----------------------------------------------------------------
out=$(run storage buckets create gs://plinth-core-bkt --location=europe-west1)
check "buckets create" "Creating gs://plinth-core-bkt/" "$out"
out=$(run storage buckets describe gs://plinth-core-bkt --format='value(location,default_storage_class)')
check "buckets describe" "EUROPE-WEST1	STANDARD" "$out"
out=$(run storage buckets create gs://plinth-core-bkt --location=europe-west1)
check "buckets create duplicate" "already own it" "$out"
echo "hello emulator" > "$TMP/obj.txt"
out=$(run storage cp "$TMP/obj.txt" gs://plinth-core-bkt/dir/obj.txt)
out=$(run storage cat gs://plinth-core-bkt/dir/obj.txt)
check "objects upload + download" "hello emulator" "$out"
out=$(run storage ls gs://plinth-core-bkt/dir/)
check "objects list" "gs://plinth-core-bkt/dir/obj.txt" "$out"
# A bigger file goes through a resumable upload (/resumable/upload/...).
head -c 12000000 /dev/urandom > "$TMP/big.bin"
out=$(run storage cp "$TMP/big.bin" gs://plinth-core-bkt/big.bin)
out=$(run storage cp gs://plinth-core-bkt/big.bin "$TMP/big2.bin")
if cmp -s "$TMP/big.bin" "$TMP/big2.bin"; then echo "ok   resumable upload round trip"; else echo "FAIL resumable upload round trip: $out"; fails=$((fails + 1)); fi
grep -q 'uploadType=resumable' "$TMP/http.log" || { echo "FAIL no resumable upload seen"; fails=$((fails + 1)); }
out=$(run storage rm gs://plinth-core-bkt/big.bin)
out=$(run storage buckets list --format='value(name)')
check "buckets list" "plinth-core-bkt" "$out"
out=$(run storage rm gs://plinth-core-bkt/dir/obj.txt)
out=$(run storage buckets delete gs://plinth-core-bkt)
out=$(run storage buckets list --format='value(name)')
case "$out" in *plinth-core-bkt*) echo "FAIL buckets delete: $out"; fails=$((fails + 1)) ;; *) echo "ok   buckets delete" ;; esac

# The log never holds credentials and every line is JSON.
if grep -qi authorization "$TMP/http.log"; then echo "FAIL log mentions Authorization"; fails=$((fails + 1)); fi
if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$TMP/http.log" \
        || { echo "FAIL http log is not JSON lines"; fails=$((fails + 1)); }
fi

# Every request gcloud made and every answer we gave fit the real API.
TOOLS=${PLINTH_TOOLS:-$(dirname "$BIN")/tools}
[ -x "$TOOLS/reqcheck" ] || TOOLS=build/tools
if [ -x "$TOOLS/reqcheck" ]; then
    if "$TOOLS/reqcheck" --responses "$TMP/http.log" > "$TMP/reqcheck.out" 2>&1; then
        echo "ok   reqcheck --responses: $(tail -n 1 "$TMP/reqcheck.out")"
    else
        echo "FAIL reqcheck:"; tail -n 20 "$TMP/reqcheck.out" | sed 's/^/    /'; fails=$((fails + 1))
    fi
else
    echo "FAIL reqcheck not built (make all builds it)"; fails=$((fails + 1))
fi

kill -0 "$PID" 2>/dev/null || { echo "FAIL emulator died"; fails=$((fails + 1)); }
echo "emulator_gcloud_core: $fails failure(s)"
[ "$fails" -eq 0 ]
