#!/bin/sh
# gcp_types_matrix.sh: every GCP resource type through its whole lifecycle
# against plinth-emulator (issue 4, acceptance 1).  For each type, a small
# spec tests/fixtures/types/<type>.lua declares the resource under test
# (plus what it needs), parameterised with two plinth vars: "label" (a field
# that changes in place) and "immutable" (a field in the type's immutable
# list).  Each type runs in its own --env (own state) and its own project, in
# parallel background jobs against one emulator:
#   1 apply                       -> 0
#   2 plan --detailed-exitcode    -> 0 ("No changes.")
#   3 plan with label changed     -> 2, "<addr> will be updated in-place",
#                                    "Plan: 0 to create, 1 to update, ..."; apply; re-plan -> 0
#   4 plan with immutable changed -> 2, "<addr> must be replaced (<field> ...)";
#                                    apply; re-plan -> 0
#   5 state rm + import <short ID form> -> 0, same ID as before, plan -> 0
#   6 destroy -> 0, state list empty, and the resource is gone (import fails)
# MATRIX_TYPES="a b" runs only those types.  KEEP_WORK=1 keeps the outputs.
# The checks are eval'ed strings, expanded when they run:
# shellcheck disable=SC2016
set -u
# shellcheck source=tests/integration/lib/emu.sh
. tests/integration/lib/emu.sh

for b in "$PLINTH" "$BIN/plinth-emulator"; do [ -x "$b" ] || fail "$b not built"; done
case "$PLINTH" in /*) ;; *) PLINTH=$(pwd)/$PLINTH ;; esac
export GOOGLE_OAUTH_ACCESS_TOKEN=test-token
FIX=$(pwd)/tests/fixtures/types
[ -d "$FIX" ] || fail "no $FIX (run from the repository root)"

# The types are the X(...) list of providers/gcp/gcp_types.h (the same list
# the provider registers); each needs a fixture and a describe() entry.
ALL_TYPES=$(sed -n 's/^ *X(\([a-z0-9_]*\)).*/\1/p' providers/gcp/gcp_types.h | tr '\n' ' ')
[ -n "$ALL_TYPES" ] || fail "no types found in providers/gcp/gcp_types.h"
TYPES=${MATRIX_TYPES:-$ALL_TYPES}

# Per type: the resource under test, the in-place change (var=value, or
# empty with the reason there is none), the immutable change and the field
# the replace must name, and an import ID in a short form the type accepts
# (valid after steps 3 and 4 applied; @id: the ID in state, for types the
# server names).
describe() {
    UPD="label=b" UPD_WHY="" IMM="immutable=b" IMPORT_ID="" KEPT=""
    case $1 in
    project_service)
        # Service Usage has nothing to update (service and project are
        # immutable); disable_on_destroy is plinth's own and changes in place.
        ADDR=gcp.project_service.api UPD="label=true" IMM="immutable=compute" IMM_FIELD=service
        IMPORT_ID=compute.googleapis.com ;;
    compute_network)
        ADDR=gcp.compute_network.net UPD="label=1500" IMM_FIELD=description IMPORT_ID=net ;;
    compute_subnetwork)
        ADDR=gcp.compute_subnetwork.sub UPD="label=19" IMM_FIELD=description IMPORT_ID=europe-west1/sub ;;
    compute_firewall)
        ADDR=gcp.compute_firewall.fw UPD="label=10.0.0.0/8" IMM_FIELD=network IMPORT_ID=fw ;;
    compute_router)
        ADDR=gcp.compute_router.nat UPD="label=128" IMM_FIELD=network IMPORT_ID=europe-west1/nat ;;
    compute_global_address)
        ADDR=gcp.compute_global_address.psa IMM="immutable=20" IMM_FIELD=prefixLength IMPORT_ID=mx-address/psa ;;
    service_networking_connection)
        ADDR=gcp.service_networking_connection.psa UPD="label=two" IMM_FIELD=network
        IMPORT_ID=net-b:servicenetworking.googleapis.com ;;
    compute_instance)
        ADDR=gcp.compute_instance.vm IMM="immutable=e2-medium" IMM_FIELD=machineType
        IMPORT_ID=europe-west1-b/vm ;;
    compute_address)
        ADDR=gcp.compute_address.ip IMM_FIELD=description IMPORT_ID=europe-west1/ip ;;
    container_cluster)
        ADDR=gcp.container_cluster.gke IMM_FIELD=description IMPORT_ID=europe-west1/gke ;;
    container_node_pool)
        ADDR=gcp.container_node_pool.pool IMM="immutable=2" IMM_FIELD=initialNodeCount
        IMPORT_ID=europe-west1/gke/pool ;;
    sql_instance)
        ADDR=gcp.sql_instance.db IMM="immutable=europe-west4" IMM_FIELD=region IMPORT_ID=mx-sqlinst-europe-west4 ;;
    sql_database)
        ADDR=gcp.sql_database.app UPD="label=unicode_ci" IMM_FIELD=name IMPORT_ID=mx-sqldb-db/app-b ;;
    sql_user)
        ADDR=gcp.sql_user.app IMM_FIELD=name IMPORT_ID=mx-sqluser-db/app-b ;;
    storage_bucket)
        ADDR=gcp.storage_bucket.b IMM="immutable=EU" IMM_FIELD=location IMPORT_ID=gs://mx-matrix-bucket ;;
    storage_bucket_iam_member)
        ADDR=gcp.storage_bucket_iam_member.viewer UPD=""
        UPD_WHY="every field (bucket, role, member, condition) is immutable"
        IMM="immutable=bob" IMM_FIELD=member
        IMPORT_ID="b/mx-matrix-iam-bucket roles/storage.objectViewer user:bob@example.com" ;;
    service_account)
        ADDR=gcp.service_account.sa IMM_FIELD=accountId IMPORT_ID=mx-sa-b@mx-account.iam.gserviceaccount.com ;;
    service_account_iam_member)
        ADDR=gcp.service_account_iam_member.user UPD=""
        UPD_WHY="every field (service_account, role, member, condition) is immutable"
        IMM="immutable=serviceAccountTokenCreator" IMM_FIELD=role
        IMPORT_ID="projects/mx-accountiam/serviceAccounts/mx-sa-iam@mx-accountiam.iam.gserviceaccount.com roles/iam.serviceAccountTokenCreator user:ann@example.com" ;;
    project_iam_member)
        ADDR=gcp.project_iam_member.viewer UPD=""
        UPD_WHY="every field (project, role, member, condition) is immutable"
        IMM="immutable=bob" IMM_FIELD=member IMPORT_ID="mx-projiam roles/viewer user:bob@example.com" ;;
    artifact_registry_repository)
        ADDR=gcp.artifact_registry_repository.images IMM="immutable=PYTHON" IMM_FIELD=format
        IMPORT_ID=europe-west1/images ;;
    secret)
        ADDR=gcp.secret.token IMM="immutable=regional" IMM_FIELD=replication IMPORT_ID=token ;;
    secret_version)
        ADDR=gcp.secret_version.token UPD="label=off" IMM="immutable=two" IMM_FIELD=secret_data
        IMPORT_ID=token/2 ;;
    pubsub_topic)
        ADDR=gcp.pubsub_topic.events IMM_FIELD=name IMPORT_ID=events-b ;;
    pubsub_subscription)
        ADDR=gcp.pubsub_subscription.workers IMM_FIELD=filter IMPORT_ID=mx-subscription/workers ;;
    logging_metric)
        ADDR=gcp.logging_metric.failed IMM_FIELD=name IMPORT_ID=failed-workflows-b ;;
    logging_project_sink)
        ADDR=gcp.logging_project_sink.audit IMM_FIELD=name IMPORT_ID=mx-logsink/audit-b ;;
    dns_managed_zone)
        ADDR=gcp.dns_managed_zone.internal IMM_FIELD=dnsName IMPORT_ID=internal ;;
    dns_record_set)
        ADDR=gcp.dns_record_set.mlflow IMM_FIELD=name IMPORT_ID=internal/mlflow-b.platform.internal./A ;;
    kms_key_ring)
        # Key rings cannot be deleted: destroy forgets the ring (KEPT: it
        # is still there to import, and its name is in the state again).
        ADDR=gcp.kms_key_ring.ring UPD="" UPD_WHY="a key ring has no updatable field" IMM_FIELD=name
        IMPORT_ID=europe-west1/ring-b KEPT=keyRings/ring-b ;;
    kms_crypto_key)
        # Crypto keys cannot be deleted: destroy destroys the versions.
        ADDR=gcp.kms_crypto_key.key IMM_FIELD=name IMPORT_ID=europe-west1/ring/key-b KEPT=DESTROY_SCHEDULED ;;
    kms_crypto_key_iam_member)
        ADDR=gcp.kms_crypto_key_iam_member.user UPD=""
        UPD_WHY="every field (crypto_key_id, role, member, condition) is immutable"
        IMM="immutable=bob" IMM_FIELD=member
        IMPORT_ID="projects/mx-kmsiam/locations/europe-west1/keyRings/ring/cryptoKeys/key roles/cloudkms.cryptoKeyEncrypterDecrypter user:bob@example.com" ;;
    monitoring_notification_channel)
        # Server-named types import by the ID they were given (@id).
        ADDR=gcp.monitoring_notification_channel.oncall IMM_FIELD=type IMPORT_ID=@id ;;
    monitoring_alert_policy)
        ADDR=gcp.monitoring_alert_policy.errors IMM_FIELD=project IMPORT_ID=@id ;;
    monitoring_uptime_check_config)
        ADDR=gcp.monitoring_uptime_check_config.mlflow IMM_FIELD=monitoredResource IMPORT_ID=@id ;;
    api_resource)
        ADDR=gcp.api_resource.wf IMM_FIELD=id
        IMPORT_ID=workflows/projects.locations.workflows/projects/mx-apires/locations/europe-west1/workflows/wf-b ;;
    iam_workload_identity_pool)
        ADDR=gcp.iam_workload_identity_pool.ci IMM_FIELD=workloadIdentityPoolId IMPORT_ID=ci-b ;;
    iam_workload_identity_pool_provider)
        ADDR=gcp.iam_workload_identity_pool_provider.github IMM_FIELD=workloadIdentityPoolProviderId
        IMPORT_ID=ci/github-b ;;
    secret_manager_secret_iam_member)
        ADDR=gcp.secret_manager_secret_iam_member.reader UPD=""
        UPD_WHY="every field (secret_id, role, member, condition) is immutable"
        IMM="immutable=bob" IMM_FIELD=member
        IMPORT_ID="projects/mx-secretiam/secrets/token roles/secretmanager.secretAccessor user:bob@example.com" ;;
    artifact_registry_repository_iam_member)
        ADDR=gcp.artifact_registry_repository_iam_member.puller UPD=""
        UPD_WHY="every field (repository, role, member, condition) is immutable"
        IMM="immutable=bob" IMM_FIELD=member
        IMPORT_ID="projects/mx-repoiam/locations/europe-west1/repositories/images roles/artifactregistry.reader user:bob@example.com" ;;
    compute_router_nat)
        ADDR=gcp.compute_router_nat.nat UPD="label=128" IMM_FIELD=name IMPORT_ID=europe-west1/router/nat-b ;;
    cloud_run_v2_service)
        ADDR=gcp.cloud_run_v2_service.serve IMM_FIELD=name IMPORT_ID=europe-west1/model-b ;;
    vertex_ai_endpoint)
        ADDR=gcp.vertex_ai_endpoint.serve IMM_FIELD=name IMPORT_ID=europe-west1/serve-b ;;
    vertex_ai_tensorboard)
        ADDR=gcp.vertex_ai_tensorboard.experiments IMM_FIELD=location IMPORT_ID=@id ;;
    workbench_instance)
        ADDR=gcp.workbench_instance.notebook IMM_FIELD=name IMPORT_ID=europe-west1-b/notebook-b ;;
    bigquery_dataset)
        ADDR=gcp.bigquery_dataset.training IMM_FIELD=location IMPORT_ID=mx-bigquery:training_data ;;
    cloudbuild_trigger)
        ADDR=gcp.cloudbuild_trigger.images IMM_FIELD=name IMPORT_ID=europe-west1/images-b ;;
    *) return 1 ;;
    esac
}

# Steps known to fail because of a bug in a resource type or the emulator
# (reported, being fixed elsewhere): "type:check" words, a check being one
# of 1-apply 2-replan 3-plan 3-apply 3-replan 4-plan 4-apply 4-replan 5-rm
# 5-import 5-id 5-replan 6-destroy 6-list 6-gone.  Such a failure prints
# KNOWN and does not fail the script; remove the word once fixed.
#  (none at the moment)
KNOWN=""
# shellcheck disable=SC2086,SC2116
KNOWN=$(echo $KNOWN) # one line, words separated by single spaces

emu_start --op-scale 0.02

# ---- one type's lifecycle (runs in a background job) ----
# Results go to $D/result, one "ok|FAIL|SKIP|KNOWN type step: detail" line each.
t="" D="" VARS=""
res() { echo "$1 $t $2" >> "$D/result"; }
# plinth ARGS...: plinth on this type's spec and env with the current vars;
# output in $D/out (and appended to $D/all), exit code in $rc.
plinth() {
    echo "\$ plinth $VARS $*" >> "$D/all"
    # shellcheck disable=SC2086
    (cd "$D" && timeout 120 "$PLINTH" --spec "$D/spec.lua" --env "$t" $VARS "$@") > "$D/out" 2>&1
    rc=$?
    cat "$D/out" >> "$D/all"
}
# check STEP COND-DESCRIPTION: true when the step is fine so far; records a
# failure (or KNOWN) otherwise.  Usage: check STEP "what" TEST...
check() {
    step=$1 what=$2
    shift 2
    if "$@"; then return 0; fi
    case " $KNOWN " in
    *" $t:$step "*)
        res KNOWN "$step: $what"
        return 1 ;;
    esac
    res FAIL "$step: $what"
    { echo "---- FAIL $t $step: $what"; tail -n 40 "$D/out"; } >> "$D/fail"
    return 1
}
rc_is() { [ "$rc" = "$1" ]; }
has() { grep -qF -- "$1" "$D/out"; }
addr_line() { grep -F -- "# $ADDR $1" "$D/out"; }
state_id() { plinth state show "$ADDR" && sed -n 's/^  "id": "\(.*\)",$/\1/p' "$D/out"; }

run_type() {
    t=$1 D=$WORK/$1
    mkdir -p "$D"
    : > "$D/result"
    cp "$FIX/$t.lua" "$D/spec.lua"
    export PLINTH_HTTP_LOG="$D/http.log"
    describe "$t" || { res FAIL "setup: no description of type $t"; return; }
    VARS=""

    # 1: create
    plinth apply --auto-approve
    check 1-apply "apply exits 0 (got $rc)" rc_is 0 || return
    res ok "1-apply: created"

    # 2: no changes
    plinth plan --detailed-exitcode
    check 2-replan "plan after create exits 0 with No changes (got $rc)" eval 'rc_is 0 && has "No changes."' &&
        res ok "2-replan: No changes."

    # 3: in-place update
    if [ -z "$UPD" ]; then
        res SKIP "3-update: no updatable field: $UPD_WHY"
    else
        VARS="--var $UPD"
        plinth plan --detailed-exitcode
        if check 3-plan "plan with $UPD exits 2 and updates $ADDR in place only (got $rc)" eval \
            'rc_is 2 && addr_line "will be updated in-place" >/dev/null &&
             has "Plan: 0 to create, 1 to update, 0 to replace, 0 to destroy."'; then
            plinth apply --auto-approve
            if check 3-apply "apply of $UPD exits 0 (got $rc)" rc_is 0; then
                plinth plan --detailed-exitcode
                check 3-replan "plan after the update exits 0 (got $rc)" eval 'rc_is 0 && has "No changes."' &&
                    res ok "3-update: $UPD in place"
            fi
        fi
    fi

    # 4: replace on an immutable change (keeping the step 3 change)
    VARS="$VARS --var $IMM"
    plinth plan --detailed-exitcode
    if check 4-plan "plan with $IMM exits 2 and replaces $ADDR naming $IMM_FIELD (got $rc)" eval \
        'rc_is 2 && addr_line "must be replaced" | grep -qF -- "$IMM_FIELD" &&
         has "Plan: 0 to create, 0 to update, 1 to replace, 0 to destroy."'; then
        plinth apply --auto-approve
        if check 4-apply "apply of $IMM exits 0 (got $rc)" rc_is 0; then
            plinth plan --detailed-exitcode
            check 4-replan "plan after the replace exits 0 (got $rc)" eval 'rc_is 0 && has "No changes."' &&
                res ok "4-replace: $IMM replaces ($IMM_FIELD)"
        fi
    fi

    # 5: import by a short ID form
    id_before=$(state_id)
    [ "$IMPORT_ID" = "@id" ] && IMPORT_ID=$id_before
    plinth state rm "$ADDR"
    if check 5-rm "state rm exits 0 (got $rc)" rc_is 0; then
        plinth import "$ADDR" "$IMPORT_ID"
        if check 5-import "import $ADDR '$IMPORT_ID' exits 0 (got $rc)" rc_is 0; then
            id_after=$(state_id)
            if check 5-id "imported ID '$id_after' is the created one '$id_before'" \
                eval '[ -n "$id_before" ] && [ "$id_before" = "$id_after" ]'; then
                plinth plan --detailed-exitcode
                check 5-replan "plan after import exits 0 with No changes (got $rc)" eval 'rc_is 0 && has "No changes."' &&
                    res ok "5-import: '$IMPORT_ID'"
            fi
        fi
    fi

    # 6: destroy; the resource is gone (importing it again fails), or for
    # a type the API never deletes (KEPT) it is forgotten: importing it
    # again works and its state shows KEPT.
    plinth destroy --auto-approve
    if check 6-destroy "destroy exits 0 (got $rc)" rc_is 0; then
        plinth state list
        if check 6-list "state list empty after destroy" eval 'rc_is 0 && [ ! -s "$D/out" ]'; then
            plinth import "$ADDR" "$IMPORT_ID"
            if [ -n "$KEPT" ]; then
                if check 6-kept "import after destroy works: the API keeps the resource (got $rc)" rc_is 0; then
                    plinth state show "$ADDR"
                    check 6-kept "state after re-import shows $KEPT" has "$KEPT" && res ok "6-destroy: forgotten ($KEPT)"
                fi
            else
                check 6-gone "import after destroy fails because the resource is gone (got $rc)" eval \
                    'rc_is 1 && { has "does not exist" || has "is not in the policy"; }' &&
                    res ok "6-destroy: gone"
            fi
        fi
    fi
}

start=$(date +%s)
pids=""
for t in $TYPES; do
    (run_type "$t") &
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
t=""

# ---- report ----
fails=0 known=0 skips=0 oks=0
for t in $TYPES; do
    D=$WORK/$t
    if [ ! -s "$D/result" ]; then echo "FAIL $t: no result"; fails=$((fails + 1)); continue; fi
    cat "$D/result"
    [ -s "$D/fail" ] && sed 's/^/    /' "$D/fail"
    oks=$((oks + $(grep -c '^ok ' "$D/result")))
    skips=$((skips + $(grep -c '^SKIP ' "$D/result")))
    known=$((known + $(grep -c '^KNOWN ' "$D/result")))
    fails=$((fails + $(grep -c '^FAIL ' "$D/result")))
    [ -f "$D/http.log" ] && cat "$D/http.log" >> "$PLINTH_HTTP_LOG"
done
echo "gcp types matrix: $(echo "$TYPES" | wc -w) types, $oks ok, $skips skipped, $known known failures, $fails failed ($(($(date +%s) - start)) s)"
[ -s "$PLINTH_HTTP_LOG" ] || fail "no request was logged to $PLINTH_HTTP_LOG"
reqcheck_log
echo "reqcheck: every request valid for the real API"
[ "$fails" -eq 0 ] || fail "$fails step(s) failed"
echo "all gcp type lifecycle checks passed"
