-- pr-env.lua: an ephemeral per-pull-request environment, cheap enough to
-- create on every PR: a bucket for the PR's artifacts and a service account
-- for its jobs.  Use with --env pr-N (scripts/ci/pr-env.sh): each PR gets
-- its own state and its own resource names.
local pr = plinth.env
backend "gcs" {} -- CI completes it: --backend-config bucket=... or PLINTH_STATE_BUCKET; else local state
provider "gcp" { project = var("project", { default = "plinth-demo" }), region = "europe-west1" }

local b = gcp.storage_bucket "artifacts" {
  name = "plinth-demo-" .. pr .. "-artifacts", location = "EU",
  labels = { env = pr },
}
local sa = gcp.service_account "jobs" { accountId = pr .. "-jobs", displayName = "Jobs of " .. pr }
gcp.storage_bucket_iam_member "jobs" { bucket = b.name, role = "roles/storage.objectAdmin",
                                       member = "serviceAccount:" .. sa.email }
output("bucket", b.name)
