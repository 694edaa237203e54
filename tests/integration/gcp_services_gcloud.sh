#!/bin/sh
# gcp_services_gcloud.sh: examples/platform-services.lua (regional address,
# private DNS zone and record sets, Pub/Sub topic and subscription,
# log-based metrics and a log sink, KMS key ring, key and grant, monitoring channel, alert policies, uptime
# checks, workload identity pool and provider, secret and repository
# grants, a workflow through gcp.api_resource) applies against plinth-emulator,
# re-plans to "No changes", and the real gcloud CLI lists and describes
# what plinth created (gcloud compute, dns, pubsub, logging); one resource
# is imported back after `state rm`; destroy leaves nothing; every request
# is valid per the API definitions (reqcheck).  Exits 77 without gcloud.
. "$(dirname "$0")/lib/emu.sh"
command -v gcloud > /dev/null 2>&1 || { echo "gcp_services_gcloud: SKIP (gcloud not installed)"; exit 77; }
[ -x "$PLINTH" ] || fail "$PLINTH not built"
emu_start --op-scale 0.02
export GOOGLE_OAUTH_ACCESS_TOKEN=test-token
P=svc-proj
cp examples/platform-services.lua "$WORK/spec.lua"
case "$PLINTH" in /*) ;; *) PLINTH=$(pwd)/$PLINTH ;; esac
MODS=$(pwd)/modules
pl() { (cd "$WORK" && PLINTH_MODULES="$MODS" timeout 120 "$PLINTH" --spec "$WORK/spec.lua" --var project=$P "$@"); }

expect_rc 0 pl apply --auto-approve
grep -q "Apply complete" "$WORK/last.out" || fail "apply did not complete: $(cat "$WORK/last.out")"
expect_rc 0 pl plan --detailed-exitcode
grep -q "No changes" "$WORK/last.out" || fail "re-plan is not empty: $(cat "$WORK/last.out")"

U="$EMU_URL"
export CLOUDSDK_CONFIG="$WORK/gcloud" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1 CLOUDSDK_CORE_PROJECT=$P
export CLOUDSDK_CORE_DISABLE_PROMPTS=1 CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1 CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API=false
export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="$U/compute/compute/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_DNS="$U/dns/dns/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="$U/pubsub/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_LOGGING="$U/logging/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDKMS="$U/cloudkms/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING="$U/monitoring/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM="$U/iam/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER="$U/secretmanager/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_WORKFLOWS="$U/workflows/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_AIPLATFORM="$U/aiplatform/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDBUILD="$U/cloudbuild/"
g() { expect_rc 0 timeout 120 gcloud "$@"; }
has() { grep -q -- "$1" "$WORK/last.out" || fail "expected '$1' from gcloud $2: $(cat "$WORK/last.out" "$WORK/last.err")"; }

g compute addresses list --regions=europe-west1 --format='value(name,addressType,labels.platform)'
has "platform-ingress" "compute addresses list"
has "ml" "compute addresses list"
g compute routers nats list --router=services --region=europe-west1 --format='value(name,natIpAllocateOption)'
has "services-egress" "compute routers nats list"
g dns managed-zones list --format='value(name,dnsName,visibility)'
has "platform-internal" "dns managed-zones list"
has "private" "dns managed-zones list"
g dns record-sets list --zone=platform-internal --format='value(name,type,rrdatas)'
has "mlflow.platform.internal." "dns record-sets list"
has "10.0.0.11" "dns record-sets list"
g dns record-sets describe argo.platform.internal. --type=A --zone=platform-internal --format='value(ttl)'
has "300" "dns record-sets describe"
g pubsub topics list --format='value(name)'
has "projects/$P/topics/platform-alerts" "pubsub topics list"
g pubsub subscriptions describe platform-alert-workers --format='value(topic,ackDeadlineSeconds)'
has "60" "pubsub subscriptions describe"
g logging metrics list --format='value(name)'
has "platform-argo-errors" "logging metrics list"
g logging sinks describe platform-errors --format='value(writerIdentity)'
has "gcp-sa-logging" "logging sinks describe"

g kms keys list --keyring=platform --location=europe-west1 --format='value(name,purpose)'
has "cryptoKeys/artifacts" "kms keys list"
g kms keys describe artifacts --keyring=platform --location=europe-west1 --format='value(primary.state,rotationPeriod)'
has "ENABLED" "kms keys describe"
g kms keys get-iam-policy artifacts --keyring=platform --location=europe-west1 --format=json
has "group:ml-platform@example.com" "kms keys get-iam-policy"

g beta monitoring channels list --format='value(displayName,type)'
has "platform on call" "beta monitoring channels list"
g alpha monitoring policies list --format='value(displayName)'
has "platform: argo errors" "alpha monitoring policies list"
has "platform: ray errors" "alpha monitoring policies list"
g monitoring uptime list-configs --format='value(displayName)'
has "platform mlflow" "monitoring uptime list-configs"

g iam workload-identity-pools list --location=global --format='value(name)'
has "workloadIdentityPools/platform-ci" "iam workload-identity-pools list"
g iam workload-identity-pools providers describe github --workload-identity-pool=platform-ci --location=global \
    --format='value(oidc.issuerUri,attributeCondition)'
has "token.actions.githubusercontent.com" "iam workload-identity-pools providers describe"
has "refs/heads/main" "iam workload-identity-pools providers describe"
g iam service-accounts get-iam-policy platform-ci-deploy@$P.iam.gserviceaccount.com --format=json
has "principalSet://iam.googleapis.com/projects/$P/locations/global/workloadIdentityPools/platform-ci/attribute.repository/example-org/ml-platform" \
    "iam service-accounts get-iam-policy"
g secrets get-iam-policy registry_token --format=json
has "platform-ci-deploy@" "secrets get-iam-policy"
g workflows describe nightly-retrain --location=europe-west1 --format='value(state,description)'
has "ACTIVE" "workflows describe"

g ai tensorboards list --region=europe-west1 --format='value(displayName)'
has "platform experiments" "ai tensorboards list"
g ai endpoints describe serving --region=europe-west1 --format='value(displayName)'
has "model serving" "ai endpoints describe"
g builds triggers list --region=europe-west1 --format='value(name,filename)'
has "platform-images" "builds triggers list"
# BigQuery through its REST API (as the bq tool calls it)
expect_rc 0 curl -sf "$U/bigquery/bigquery/v2/projects/$P/datasets"
has "training_data" "bigquery datasets.list"
expect_rc 0 curl -sf "$U/bigquery/bigquery/v2/projects/$P/datasets/training_data"
has '"location": "EU"' "bigquery datasets.get"

# import after state rm gives the same resource and an empty plan
expect_rc 0 pl state rm gcp.pubsub_subscription.alert_workers
expect_rc 0 pl import gcp.pubsub_subscription.alert_workers platform-alert-workers
expect_rc 0 pl plan --detailed-exitcode

expect_rc 0 pl destroy --auto-approve
g dns managed-zones list --format='value(name)'
grep -q platform-internal "$WORK/last.out" && fail "zone left after destroy"
g pubsub topics list --format='value(name)'
grep -q platform-alerts "$WORK/last.out" && fail "topic left after destroy"
# the key ring and the key stay (KMS never deletes them): the key's versions are destroyed
g kms keys describe artifacts --keyring=platform --location=europe-west1 --format='value(primary.state)'
has "DESTROY_SCHEDULED" "kms keys describe after destroy"
reqcheck_log
echo "gcp_services_gcloud: ok"
