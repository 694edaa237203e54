-- argo_workflows: the cloud side of Argo Workflows' artifact repository: a
-- GCS bucket and a Google service account bound through workload identity
-- to the Kubernetes service account <namespace>/argo-workflow.
-- Inputs:  project, name, workload_pool (the gke module's output) (required); bucket_location ("EU"), namespace ("argo")
-- Outputs: bucket, service_account (email)
local util = require("util")

return function(args)
  local i = util.inputs("argo_workflows", args, {
    project = { type = "string", required = true },
    workload_pool = { required = true },
    name = { type = "string", required = true },
    bucket_location = { type = "string", default = "EU" },
    namespace = { type = "string", default = "argo" },
  })
  local bucket = gcp.storage_bucket "artifacts" {
    name = i.project .. "-" .. i.name .. "-argo-artifacts", location = i.bucket_location,
    iamConfiguration = { uniformBucketLevelAccess = { enabled = true } },
    labels = { app = "argo-workflows" },
  }
  local sa = gcp.service_account "argo" {
    accountId = i.name .. "-argo", displayName = "Argo Workflows artifacts",
  }
  gcp.storage_bucket_iam_member "artifacts" {
    bucket = bucket.name, role = "roles/storage.objectAdmin", member = "serviceAccount:" .. sa.email,
  }
  gcp.service_account_iam_member "argo_wi" {
    service_account = sa.name, role = "roles/iam.workloadIdentityUser",
    member = fmt("serviceAccount:%s[%s/argo-workflow]", i.workload_pool, i.namespace),
  }
  return { bucket = bucket.name, service_account = sa.email }
end
