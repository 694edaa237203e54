#!/bin/sh
# emulator_gcloud_apis.sh: the real gcloud CLI drives plinth-emulator's GKE,
# Cloud SQL, IAM (+ the OAuth2 token endpoint through a created key),
# Resource Manager, Artifact Registry and Secret Manager APIs: create,
# describe, list and delete each, as a user would; then reqcheck --responses
# checks the emulator's answers against the API definitions.  Skips (exit 77)
# when gcloud is not installed.
. "$(dirname "$0")/lib/emu.sh"
want_cmd gcloud
emu_start --op-scale 0.05 --log "$WORK/emu-http.log"

U="$EMU_URL"
export CLOUDSDK_CONFIG="$WORK/gcloud"
export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1
export CLOUDSDK_CORE_PROJECT=test-proj
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
export CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API=false
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="$U/container/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL="$U/sqladmin/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM="$U/iam/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY="$U/artifactregistry/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER="$U/secretmanager/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER="$U/cloudresourcemanager/"
# gcloud container asks Service Usage whether the API is enabled first.
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE="$U/serviceusage/"
export KUBECONFIG="$WORK/kubeconfig"

g() { expect_rc 0 timeout 120 gcloud "$@"; }
has() { grep -q -- "$1" "$WORK/last.out" "$WORK/last.err" || fail "expected '$1' from gcloud: $(cat "$WORK/last.out" "$WORK/last.err")"; }

# ---- GKE --------------------------------------------------------------------
Z="--zone=europe-west1-b"
g container clusters create c1 $Z --num-nodes=1
has "RUNNING"
g container clusters describe c1 $Z --format='value(status,endpoint,masterAuth.clusterCaCertificate)'
has "RUNNING"
g container node-pools create np1 --cluster=c1 $Z --num-nodes=2
g container node-pools describe np1 --cluster=c1 $Z --format='value(status,config.machineType)'
has "RUNNING"
g container node-pools list --cluster=c1 $Z
has "np1"
g container clusters resize c1 --node-pool=np1 --num-nodes=3 $Z
g container clusters update c1 $Z --update-labels=env=dev
g container clusters describe c1 $Z --format='value(resourceLabels.env,currentNodeCount)'
has "dev"
g container clusters list
has "c1"
g container node-pools delete np1 --cluster=c1 $Z
g container clusters delete c1 $Z
g container clusters list
grep -q "c1" "$WORK/last.out" && fail "cluster still listed after delete"

# ---- Cloud SQL ----------------------------------------------------------------
g sql instances create pg1 --database-version=POSTGRES_16 --tier=db-f1-micro --region=europe-west1
has "RUNNABLE"
g sql databases create app --instance=pg1
g sql users create svc --instance=pg1 --password=never-shown
g sql users list --instance=pg1
has "svc"
grep -q "never-shown" "$WORK/last.out" && fail "password returned"
g sql databases list --instance=pg1
has "app"
g sql instances describe pg1 --format='value(state,connectionName,settings.settingsVersion)'
has "test-proj:europe-west1:pg1"
g sql instances patch pg1 --deletion-protection
expect_rc 1 timeout 60 gcloud sql instances delete pg1
has "deletion protection"
g sql instances patch pg1 --no-deletion-protection
g sql users delete svc --instance=pg1
g sql databases delete app --instance=pg1
g sql instances delete pg1
g sql instances list
grep -q "pg1" "$WORK/last.out" && fail "instance still listed after delete"

# ---- IAM, OAuth2, Resource Manager ---------------------------------------------
SA=builder@test-proj.iam.gserviceaccount.com
g iam service-accounts create builder --display-name=Builder
g iam service-accounts describe "$SA" --format='value(email,displayName)'
has "Builder"
g iam service-accounts list
has "$SA"
g iam service-accounts keys create "$WORK/key.json" --iam-account="$SA"
grep -q '"token_uri"' "$WORK/key.json" || fail "key file has no token_uri"
# The key's token_uri is the emulator: gcloud signs a JWT with the key and
# exchanges it for an access token there (a separate gcloud config).
(
    unset CLOUDSDK_AUTH_DISABLE_CREDENTIALS
    export CLOUDSDK_CONFIG="$WORK/gcloud-sa"
    expect_rc 0 timeout 60 gcloud auth activate-service-account --key-file="$WORK/key.json"
    expect_rc 0 timeout 60 gcloud auth print-access-token
    grep -q "^ya29.emu-" "$WORK/last.out" || fail "no emulator token: $(cat "$WORK/last.out")"
) || exit 1
g projects add-iam-policy-binding test-proj --member="serviceAccount:$SA" --role=roles/viewer
g projects get-iam-policy test-proj
has "serviceAccount:$SA"
g iam service-accounts delete "$SA"
g iam service-accounts list
grep -q "$SA" "$WORK/last.out" && fail "service account still listed"

# ---- Artifact Registry ------------------------------------------------------------
g artifacts repositories create r1 --repository-format=docker --location=europe-west1
g artifacts repositories describe r1 --location=europe-west1
has "europe-west1-docker.pkg.dev/test-proj/r1"
g artifacts repositories list --location=europe-west1
has "r1"
g artifacts repositories delete r1 --location=europe-west1
expect_rc 1 timeout 60 gcloud artifacts repositories describe r1 --location=europe-west1

# ---- Secret Manager -----------------------------------------------------------------
printf 'hunter2' > "$WORK/secret.txt"
g secrets create s1 --data-file="$WORK/secret.txt"
g secrets versions access latest --secret=s1
[ "$(cat "$WORK/last.out")" = "hunter2" ] || fail "secret payload: $(cat "$WORK/last.out")"
printf 'v2' > "$WORK/v2.txt"
g secrets versions add s1 --data-file="$WORK/v2.txt"
g secrets versions disable 2 --secret=s1
expect_rc 1 timeout 60 gcloud secrets versions access latest --secret=s1
has "DISABLED"
g secrets describe s1
has "automatic"
g secrets versions list s1
g secrets list
has "s1"
g secrets delete s1
g secrets list
grep -q "s1" "$WORK/last.out" && fail "secret still listed"

# Every request gcloud made is valid for the real API, and every successful
# response the emulator gave uses only real fields, types and enum values.
need_built "$TOOLS/reqcheck"
"$TOOLS/reqcheck" --responses "$WORK/emu-http.log" > "$WORK/reqcheck.out" 2>&1 ||
    fail "emulator responses not valid for the real API: $(tail -20 "$WORK/reqcheck.out")"

echo "PASS: emulator_gcloud_apis"
