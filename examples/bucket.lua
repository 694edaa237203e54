-- bucket.lua: the smallest useful spec: one versioned bucket.
--   plinth --spec examples/bucket.lua --local apply
backend "gcs" {} -- CI completes it: --backend-config bucket=... or PLINTH_STATE_BUCKET; else local state
provider "gcp" { project = var("project", { default = "plinth-demo" }), region = "europe-west1" }

local b = gcp.storage_bucket "data" {
  name = var("bucket", { default = "plinth-demo-data" }),
  location = "EU",
  versioning = { enabled = true },
  iamConfiguration = { uniformBucketLevelAccess = { enabled = true } },
  labels = { team = "ml" },
}
output("bucket", b.selfLink)
