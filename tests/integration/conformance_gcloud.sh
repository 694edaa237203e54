#!/bin/sh
# conformance_gcloud.sh: the real gcloud CLI against the emulator, through
# the commands a platform engineer runs to build a GKE + Cloud SQL platform
# (network, subnets with secondary ranges, firewall, NAT, private services
# access, service accounts and IAM, buckets, secrets, registry, clusters,
# node pools, SQL); each must behave as on Google Cloud, failing cases with
# the real error.  Prints the number of gcloud commands run.
. "$(dirname "$0")/lib/emu.sh"
. "$(dirname "$0")/lib/skip.sh"
want_cmd gcloud
emu_start --op-scale 0.02
U="$EMU_URL"
export CLOUDSDK_CONFIG="$WORK/gcloud"
export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1
export CLOUDSDK_CORE_PROJECT=conf-proj
export CLOUDSDK_CORE_DISABLE_PROMPTS=1
export CLOUDSDK_CORE_SHOULD_PROMPT_TO_ENABLE_API=false
export CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
export CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1
export CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE="$U/compute/compute/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE="$U/storage/storage/v1/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CONTAINER="$U/container/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SQL="$U/sqladmin/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM="$U/iam/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_ARTIFACTREGISTRY="$U/artifactregistry/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER="$U/secretmanager/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER="$U/cloudresourcemanager/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICEUSAGE="$U/serviceusage/"
export CLOUDSDK_API_ENDPOINT_OVERRIDES_SERVICENETWORKING="$U/servicenetworking/"
export KUBECONFIG="$WORK/kubeconfig"
cd "$WORK" || exit 1

# Three independent groups run side by side (gcloud is slow to start);
# each counts its commands and failures in its own files.
# ok ARGS... [-- WANT]: gcloud ARGS exits 0 (and prints WANT when given).
# no WANT ARGS...: gcloud ARGS fails and prints WANT (the real error).
ok() {
    echo x >> "$G.n"
    want=
    for a in "$@"; do shift; [ "$a" = "--" ] && { want=$1; shift; break; }; set -- "$@" "$a"; done
    timeout 120 gcloud "$@" > "$G.out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || { [ -n "$want" ] && ! grep -qF -- "$want" "$G.out"; }; then
        echo "FAIL: gcloud $* (rc $rc, want '$want'):" | cut -c1-300; head -c 1500 "$G.out" | sed 's/^/    /'
        echo x >> "$G.fail"
    fi
}
no() {
    echo x >> "$G.n"
    want=$1
    shift
    if timeout 120 gcloud "$@" > "$G.out" 2>&1; then
        echo "FAIL: gcloud $* succeeded:" | cut -c1-300; head -c 1500 "$G.out" | sed 's/^/    /'; echo x >> "$G.fail"
    elif ! grep -qF -- "$want" "$G.out"; then
        echo "FAIL: gcloud $* lacks '$want':" | cut -c1-300; head -c 1500 "$G.out" | sed 's/^/    /'; echo x >> "$G.fail"
    fi
}
R=--region=europe-west1
Z=--zone=europe-west1-b

group_platform() {
G=platform
ok services enable compute.googleapis.com container.googleapis.com sqladmin.googleapis.com
ok compute regions list --format='value(name)' -- "europe-west1"
ok compute zones list --filter='region:europe-west1' --format='value(name)' -- "europe-west1-b"

# ---- network --------------------------------------------------------------------------
ok compute networks create vpc --subnet-mode=custom -- "Created [https://www.googleapis.com/compute/v1/projects/conf-proj/global/networks/vpc]"
no "already exists" compute networks create vpc --subnet-mode=custom
no "Invalid value for field 'resource.name'" compute networks create Bad_Name --subnet-mode=custom
ok compute networks subnets create nodes --network=vpc $R --range=10.0.0.0/20 \
    --secondary-range=pods=10.4.0.0/14,svc=10.8.0.0/20 --enable-private-ip-google-access
no "conflicts with existing subnetwork 'nodes'" compute networks subnets create clash --network=vpc --region=us-central1 --range=10.0.8.0/21
no "was not found" compute networks subnets create orphan --network=nope $R --range=10.9.0.0/24
ok compute networks subnets describe nodes $R --format='value(gatewayAddress,secondaryIpRanges[1].rangeName)' -- "10.0.0.1	svc"
ok compute networks subnets update nodes $R --add-secondary-ranges=extra=10.12.0.0/20
no "conflicts with" compute networks subnets update nodes $R --add-secondary-ranges=dup=10.0.4.0/22
ok compute networks subnets expand-ip-range nodes $R --prefix-length=19
ok compute firewall-rules create allow-iap --network=vpc --allow=tcp:22 --source-ranges=35.235.240.0/20
ok compute firewall-rules update allow-iap --allow=tcp:22,tcp:3389
ok compute firewall-rules describe allow-iap --format='value(allowed[].ports.flatten())' -- "3389"
no "was not found" compute firewall-rules create lost --network=nope --allow=tcp:80
ok compute routers create nat-router --network=vpc $R
ok compute routers nats create nat --router=nat-router $R --auto-allocate-nat-external-ips --nat-all-subnet-ip-ranges
ok compute addresses create psa-range --global --purpose=VPC_PEERING --prefix-length=16 --network=vpc --addresses=10.100.0.0
ok compute addresses describe psa-range --global --format='value(address,prefixLength,purpose)' -- "10.100.0.0	16	VPC_PEERING"
ok compute addresses list --format='value(name)' -- "psa-range"
no "is already being used by" compute networks delete vpc
ok compute operations list --format='value(operationType)' -- "insert"

}

group_identity() {
G=identity
# ---- identity -------------------------------------------------------------------------
ok iam service-accounts create deployer --display-name=Deployer
ok iam service-accounts describe deployer@conf-proj.iam.gserviceaccount.com --format='value(email)' -- "deployer@conf-proj.iam.gserviceaccount.com"
no "already exists" iam service-accounts create deployer
ok projects add-iam-policy-binding conf-proj --member=serviceAccount:deployer@conf-proj.iam.gserviceaccount.com --role=roles/container.developer
no "does not exist" projects add-iam-policy-binding conf-proj --member=serviceAccount:ghost@conf-proj.iam.gserviceaccount.com --role=roles/viewer
ok projects get-iam-policy conf-proj --format=json -- "roles/container.developer"
ok iam roles describe roles/container.developer --format='value(name)' -- "roles/container.developer"

}

group_data() {
G=data
# ---- storage, secrets, registry ----------------------------------------------------------
printf 'hello platform\n' > obj.txt
ok storage buckets create gs://conf-proj-artifacts --location=europe-west1 --uniform-bucket-level-access
no "you already own it" storage buckets create gs://conf-proj-artifacts --location=europe-west1
no "Invalid" storage buckets create gs://conf-proj-cold --location=europe-west1 --default-storage-class=FROZEN
ok storage cp obj.txt gs://conf-proj-artifacts/a/obj.txt
ok storage cp gs://conf-proj-artifacts/a/obj.txt gs://conf-proj-artifacts/b/copy.txt
ok storage cat gs://conf-proj-artifacts/b/copy.txt -- "hello platform"
ok storage buckets update gs://conf-proj-artifacts --default-storage-class=NEARLINE
ok storage buckets describe gs://conf-proj-artifacts --format='value(default_storage_class)' -- "NEARLINE"
printf 's3cret' > pw.txt
ok secrets create db-password --data-file=pw.txt --replication-policy=automatic
ok secrets versions access latest --secret=db-password -- "s3cret"
no "NOT_FOUND" secrets versions access latest --secret=no-such-secret
ok artifacts repositories create images --repository-format=docker --location=europe-west1

}

group_gke() {
G=platform
# ---- GKE ----------------------------------------------------------------------------------
ok container get-server-config $Z --format='value(defaultClusterVersion)' -- "1."
ok container clusters create ml $Z --network=vpc --subnetwork=nodes --enable-ip-alias \
    --cluster-secondary-range-name=pods --services-secondary-range-name=svc --num-nodes=1 --cluster-version=1.30
ok container clusters describe ml $Z --format='value(status,servicesIpv4Cidr,clusterIpv4Cidr)' -- "RUNNING	10.8.0.0/20	10.4.0.0/14"
no "secondary range \"nope\" not found" container clusters create bad $Z --network=vpc --subnetwork=nodes --enable-ip-alias \
    --cluster-secondary-range-name=pods --services-secondary-range-name=nope --num-nodes=1
ok container node-pools create gpu --cluster=ml $Z --machine-type=g2-standard-8 --accelerator=type=nvidia-l4,count=1 --num-nodes=1
no "machine type" container node-pools create odd --cluster=ml $Z --machine-type=e2-imaginary-9 --num-nodes=1
ok container clusters update ml $Z --update-labels=team=ml
ok container clusters resize ml --node-pool=gpu --num-nodes=2 $Z
ok container clusters describe ml $Z --format='value(resourceLabels.team,currentNodeCount)' -- "ml"
no "downgrade" container clusters upgrade ml $Z --master --cluster-version=1.29
ok container operations list $Z --format='value(operationType)' -- "CREATE_CLUSTER"
ok container node-pools delete gpu --cluster=ml $Z

}

group_sql() {
G=identity
# ---- Cloud SQL ------------------------------------------------------------------------------
no "Invalid" sql instances create pg-bad --database-version=POSTGRES_16 --tier=db-imaginary --region=europe-west1
ok sql instances create pg $R --database-version=POSTGRES_16 --tier=db-custom-1-3840 -- "RUNNABLE"
ok sql databases create app --instance=pg
ok sql instances patch pg --database-flags=max_connections=200
ok sql instances describe pg --format='value(settings.databaseFlags[0].value)' -- "200"

ok sql instances delete pg
}

group_teardown() {
G=platform
# ---- teardown: a cluster in ERROR still holds its subnetwork until deleted -------------------
ok container clusters delete ml $Z
ok container clusters delete bad $Z
}

( group_identity; group_sql ) > identity.log 2>&1 &
IDP=$!
( group_data ) > data.log 2>&1 &
DP=$!
( group_platform; group_gke; group_teardown ) > platform.log 2>&1
wait $IDP $DP
cat platform.log identity.log data.log
n=$(cat ./*.n | wc -l)
fails=$(cat ./*.fail 2>/dev/null | wc -l)
echo "conformance_gcloud: $n gcloud commands, $fails failed"
[ "$fails" -eq 0 ] || exit 1
echo "conformance_gcloud: ok"
