#!/bin/sh
# gcp_api_resource.sh: gcp.api_resource manages resources of three APIs no
# typed resource covers (Cloud Workflows: ID in workflowId, long-running
# operations; Cloud Scheduler and Cloud Tasks: ID in the body's name)
# against plinth-emulator's generic handler: validation against the API
# definitions (unknown collection, misspelt body field, missing id),
# apply, re-plan "No changes", an update sent as PATCH with an updateMask
# of the changed fields only, import by API/COLLECTION/NAME, destroy; every
# request valid per the API definitions (reqcheck).
. "$(dirname "$0")/lib/emu.sh"
[ -x "$PLINTH" ] || fail "$PLINTH not built"
emu_start --op-scale 0.02
export GOOGLE_OAUTH_ACCESS_TOKEN=test-token
case "$PLINTH" in /*) ;; *) PLINTH=$(pwd)/$PLINTH ;; esac
pl() { (cd "$WORK" && timeout 60 "$PLINTH" --spec "$WORK/spec.lua" "$@"); }

# ---- validation: no request is sent for a bad body ----
cat > "$WORK/spec.lua" <<'LUA'
provider "gcp" { project = "ar-proj", region = "europe-west1" }
gcp.api_resource "bad_coll" { api = "workflows", collection = "projects.locations.workflowz", id = "x", body = {} }
gcp.api_resource "bad_field" {
  api = "cloudtasks", collection = "projects.locations.queues", id = "q",
  body = { rateLimit = { maxDispatchesPerSecond = 5 } },
}
gcp.api_resource "no_id" { api = "workflows", collection = "projects.locations.workflows", body = {} }
LUA
expect_rc 1 pl plan
grep -q "spec.lua:2: .*workflows has no collection projects.locations.workflowz" "$WORK/last.err" ||
    fail "unknown collection not reported with file:line: $(cat "$WORK/last.err")"
grep -q "spec.lua:3: .*body.rateLimit: unknown field.*did you mean 'rateLimits'" "$WORK/last.err" ||
    fail "misspelt body field not reported: $(cat "$WORK/last.err")"
grep -q "id is required (workflows.projects.locations.workflows.create takes workflowId)" "$WORK/last.err" ||
    fail "missing id not reported: $(cat "$WORK/last.err")"

# ---- three APIs, end to end ----
cat > "$WORK/spec.lua" <<'LUA'
provider "gcp" { project = "ar-proj", region = "europe-west1" }
local desc = var("desc", { default = "nightly" })
gcp.api_resource "retrain" {
  api = "workflows", collection = "projects.locations.workflows", id = "retrain",
  body = { description = desc, sourceContents = "main:\n  steps:\n    - done:\n        return: ok\n" },
}
gcp.api_resource "nightly" {
  api = "cloudscheduler", collection = "projects.locations.jobs", id = "nightly",
  body = { schedule = "0 3 * * *", timeZone = "Etc/UTC", description = desc,
           httpTarget = { uri = "https://example.com/retrain", httpMethod = "POST" } },
}
gcp.api_resource "queue" {
  api = "cloudtasks", collection = "projects.locations.queues", id = "inference",
  body = { rateLimits = { maxDispatchesPerSecond = 5 } },
}
LUA
expect_rc 0 pl apply --auto-approve
grep -q "Apply complete: 3 added" "$WORK/last.out" || fail "apply: $(cat "$WORK/last.out")"
expect_rc 0 pl plan --detailed-exitcode
grep -q "No changes" "$WORK/last.out" || fail "re-plan not empty: $(cat "$WORK/last.out")"
expect_rc 0 pl state show gcp.api_resource.retrain
grep -q '"id": "workflows/projects.locations.workflows/projects/ar-proj/locations/europe-west1/workflows/retrain"' \
    "$WORK/last.out" || fail "workflow ID: $(cat "$WORK/last.out")"

# update: only the changed resources, PATCH with the changed fields' mask
: > "$PLINTH_HTTP_LOG.upd"
expect_rc 0 pl --http-log "$PLINTH_HTTP_LOG.upd" apply --auto-approve --var desc=weekly
grep -q "2 changed" "$WORK/last.out" || fail "update: $(cat "$WORK/last.out")"
grep -q '"method":"PATCH","url":"[^"]*/workflows/retrain?updateMask=description"' "$PLINTH_HTTP_LOG.upd" ||
    fail "no PATCH with updateMask=description: $(grep PATCH "$PLINTH_HTTP_LOG.upd")"
grep -q '"method":"PATCH","url":"[^"]*/jobs/nightly?updateMask=description"' "$PLINTH_HTTP_LOG.upd" || fail "no PATCH of the job"
grep -q '"method":"PATCH","url":"[^"]*/queues/' "$PLINTH_HTTP_LOG.upd" && fail "the unchanged queue was patched"
cat "$PLINTH_HTTP_LOG.upd" >> "$PLINTH_HTTP_LOG"
expect_rc 0 pl plan --detailed-exitcode --var desc=weekly

# import by API/COLLECTION/NAME
expect_rc 0 pl state rm gcp.api_resource.queue
expect_rc 0 pl import gcp.api_resource.queue cloudtasks/projects.locations.queues/projects/ar-proj/locations/europe-west1/queues/inference
expect_rc 0 pl plan --detailed-exitcode --var desc=weekly

expect_rc 0 pl destroy --auto-approve --var desc=weekly
grep -q "3 destroyed" "$WORK/last.out" || fail "destroy: $(cat "$WORK/last.out")"
expect_rc 1 pl import gcp.api_resource.queue cloudtasks/projects.locations.queues/projects/ar-proj/locations/europe-west1/queues/inference
grep -q "does not exist" "$WORK/last.err" "$WORK/last.out" || fail "queue not gone"
reqcheck_log
echo "gcp_api_resource: ok"
