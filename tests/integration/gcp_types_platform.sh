#!/bin/sh
# gcp_types_platform.sh: bin/plinth drives every GCP resource family
# (services, compute, GKE, Cloud SQL, storage, IAM, Artifact Registry,
# Secret Manager) against plinth-emulator: apply, a second plan with no
# changes (normalization), in-place updates, a secret replace, import of
# resources removed from state, destroy; secrets never in the HTTP log or
# the state.
set -u
BIN=${PLINTH_BIN:-bin}
PLINTH=$BIN/plinth
EMU=$BIN/plinth-emulator
for b in "$PLINTH" "$EMU"; do [ -x "$b" ] || { echo "FAIL: $b not built"; exit 1; }; done
case "$PLINTH" in /*) ;; *) PLINTH=$(pwd)/$PLINTH ;; esac

TMP=$(mktemp -d /tmp/plinth-gcp-types.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

"$EMU" --port 0 --op-scale 0.02 > "$TMP/url" 2> "$TMP/emu.err" &
PID=$!
i=0
while [ ! -s "$TMP/url" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n 1 "$TMP/url")
case "$URL" in http://127.0.0.1:*) ;; *) echo "FAIL: no base URL from emulator"; cat "$TMP/emu.err"; exit 1 ;; esac
export PLINTH_GCP_ENDPOINT="$URL"
export GOOGLE_OAUTH_ACCESS_TOKEN=test-token
unset PLINTH_HTTP_LOG

fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; [ -f "$2" ] && sed 's/^/    /' "$2" | tail -n 30; fails=$((fails + 1)); }
# expect NAME WANT_RC [ARGS...]: runs plinth, output in $TMP/out
expect() {
    name=$1 want=$2
    shift 2
    (cd "$TMP" && timeout 120 "$PLINTH" --http-log "$TMP/http.log" "$@") > "$TMP/out" 2>&1
    rc=$?
    if [ "$rc" -eq "$want" ]; then ok "$name"; else bad "$name (exit $rc, want $want)" "$TMP/out"; fi
}
has() { if grep -q -- "$2" "$TMP/out"; then ok "$1"; else bad "$1: no '$2' in output" "$TMP/out"; fi; }

write_spec() { # write_spec LABEL SECRET CIDR
    cat > "$TMP/platform.lua" <<EOF
provider "gcp" { project = "types-it", region = "europe-west1" }
gcp.project_service "container" { service = "container.googleapis.com" }
local net = gcp.compute_network "vpc" {}
local sub = gcp.compute_subnetwork "gke" {
  network = net.selfLink, ipCidrRange = "$3",
  secondaryIpRanges = { { rangeName = "pods", ipCidrRange = "10.4.0.0/14" }, { rangeName = "svc", ipCidrRange = "10.8.0.0/20" } },
}
gcp.compute_firewall "iap-ssh" { network = net.selfLink, sourceRanges = { "35.235.240.0/20" },
  allowed = { { IPProtocol = "tcp", ports = { "22" } } } }
gcp.compute_router "nat" { network = net.selfLink, nats = { { name = "nat", natIpAllocateOption = "AUTO_ONLY",
  sourceSubnetworkIpRangesToNat = "ALL_SUBNETWORKS_ALL_IP_RANGES" } } }
local psa = gcp.compute_global_address "psa" { purpose = "VPC_PEERING", addressType = "INTERNAL", prefixLength = 16,
  network = net.selfLink }
local conn = gcp.service_networking_connection "psa" { network = net.selfLink, reservedPeeringRanges = { psa.name } }
local gke = gcp.container_cluster "ml" {
  network = net.selfLink, subnetwork = sub.selfLink, initialNodeCount = 1,
  ipAllocationPolicy = { useIpAliases = true, clusterSecondaryRangeName = "pods", servicesSecondaryRangeName = "svc" },
  workloadIdentityConfig = { workloadPool = "types-it.svc.id.goog" },
  releaseChannel = { channel = "REGULAR" }, resourceLabels = { env = "$1" },
}
gcp.container_node_pool "cpu" { cluster = gke.name, initialNodeCount = 1,
  autoscaling = { enabled = true, minNodeCount = 1, maxNodeCount = 3 },
  config = { machineType = "e2-standard-4", workloadMetadataConfig = { mode = "GKE_METADATA" } } }
local db = gcp.sql_instance "db" { name = "types-it-db", databaseVersion = "POSTGRES_16", depends_on = { conn },
  settings = { tier = "db-custom-2-7680", userLabels = { env = "$1" },
               ipConfiguration = { ipv4Enabled = false, privateNetwork = net.selfLink } } }
gcp.sql_database "mlflow" { instance = db.name }
gcp.sql_user "mlflow" { instance = db.name, password = "db-pw-$2" }
local sa = gcp.service_account "mlflow" { displayName = "MLflow $1" }
gcp.service_account_iam_member "wi" { service_account = sa.email, role = "roles/iam.workloadIdentityUser",
  member = "serviceAccount:types-it.svc.id.goog[mlflow/mlflow]", depends_on = { gke } }
gcp.project_iam_member "sql" { role = "roles/cloudsql.client",
  member = "serviceAccount:mlflow@types-it.iam.gserviceaccount.com", depends_on = { sa } }
local b = gcp.storage_bucket "art" { name = "types-it-artifacts", location = "europe-west1", labels = { env = "$1" } }
gcp.storage_bucket_iam_member "viewer" { bucket = b.name, role = "roles/storage.objectViewer", member = "user:ann@example.com" }
gcp.artifact_registry_repository "images" { format = "DOCKER", labels = { env = "$1" } }
local s = gcp.secret "token" {}
gcp.secret_version "token" { secret = s.name, secret_data = "tok-$2" }
output("network", net.selfLink)
EOF
}

write_spec dev s3cr3t-one 10.0.0.0/20
expect "apply creates every type" 0 apply --auto-approve
has "apply reports creations" "Apply complete"
expect "second plan finds no changes" 0 plan --detailed-exitcode
has "no-change plan says so" "No changes"

write_spec prod s3cr3t-one 10.0.0.0/19
expect "plan after label/CIDR changes shows changes" 2 plan --detailed-exitcode
has "labels update in place" "updated in-place"
if grep -q "must be replaced" "$TMP/out"; then bad "label/CIDR changes must not replace" "$TMP/out"; else ok "no replacement for in-place changes"; fi
expect "apply updates in place" 0 apply --auto-approve
expect "plan after update finds no changes" 0 plan --detailed-exitcode

write_spec prod s3cr3t-two 10.0.0.0/19
expect "plan after secret change" 2 plan --detailed-exitcode
has "secret version is replaced" "gcp.secret_version.token must be replaced"
expect "apply replaces the secret version and updates the password" 0 apply --auto-approve
expect "plan after secret change finds no changes" 0 plan --detailed-exitcode

expect "state rm network" 0 state rm gcp.compute_network.vpc
expect "state rm bucket member" 0 state rm gcp.storage_bucket_iam_member.viewer
expect "import network by short name" 0 import gcp.compute_network.vpc vpc
expect "import bucket member by Terraform-style ID" 0 import gcp.storage_bucket_iam_member.viewer \
    "b/types-it-artifacts roles/storage.objectViewer user:ann@example.com"
expect "plan after import finds no changes" 0 plan --detailed-exitcode

# destroy: the connection is deleted once the SQL instance using it is gone,
# then the network.
(cd "$TMP" && timeout 120 "$PLINTH" --http-log "$TMP/http.log" destroy --auto-approve) > "$TMP/out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    ok "destroy removes everything"
else
    bad "destroy (exit $rc)" "$TMP/out"
fi

for s in s3cr3t-one s3cr3t-two; do
    if grep -rq -- "$s" "$TMP/http.log" "$TMP/.plinth" 2>/dev/null; then
        bad "secret $s leaked into the HTTP log or state" /dev/null
    else
        ok "secret $s not in HTTP log or state"
    fi
done
# base64 of "tok-s3cr3t-one" (the secret version payload as sent)
if grep -q "dG9rLXMzY3IzdC1vbmU" "$TMP/http.log"; then bad "secret payload leaked (base64)" /dev/null; else ok "secret payload redacted"; fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all gcp type checks passed"
