-- argo_workflows: Argo Workflows with its artifact repository on GCS through
-- workload identity.
--
-- Cloud side: a GCS bucket and a Google service account with objectAdmin on
-- it, bound through workload identity to the Kubernetes service account
-- <namespace>/argo-workflow.
-- Cluster side (when `cluster` is given): the namespace; the upstream
-- install (CRDs, workflow controller, Argo server, their RBAC) from
-- `install_manifest` when given (plinth ships no copy of it: download the
-- release's install.yaml); the ServiceAccount "argo-workflow" annotated with
-- the Google service account, with the Role/RoleBinding an Argo executor
-- needs (workflowtaskresults); the ConfigMap "artifact-repositories" whose
-- default repository is the bucket, with no serviceAccountKeySecret (the
-- pod's identity is the Google service account).  Workflows run as
-- `serviceAccountName: argo-workflow`.
-- Without install_manifest the namespace, ServiceAccount, RBAC and
-- ConfigMap are still declared (an Argo installed another way finds them).
-- A ConfigMap "artifact-repositories" inside install_manifest (the
-- quick-start's, pointing at its demo minio) is left out: this module's
-- replaces it.
--
-- Inputs:  project, name, workload_pool (the gke module's output) (required);
--          cluster (the gcp.container_cluster: the gke module's `cluster`;
--          without it only the cloud side is declared),
--          install_manifest (path of the upstream install YAML, absolute,
--          or the YAML text itself; default none), bucket_location ("EU"),
--          namespace ("argo"), key_format
--          ("{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}"),
--          archive_logs (true)
-- Outputs: bucket, service_account (email), namespace, workflow_service_account
local util = require("util")

return function(args)
  local i = util.inputs("argo_workflows", args, {
    project = { type = "string", required = true },
    workload_pool = { required = true },
    name = { type = "string", required = true },
    cluster = {},
    install_manifest = { type = "string" },
    bucket_location = { type = "string", default = "EU" },
    namespace = { type = "string", default = "argo" },
    key_format = { type = "string", default = "{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}" },
    archive_logs = { type = "boolean", default = true },
  })
  if i.install_manifest and i.cluster == nil then
    error("module argo_workflows: input 'install_manifest' needs input 'cluster'", 3)
  end
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

  if i.cluster ~= nil then
    local ns, cl = i.namespace, i.cluster
    local labels = { ["app.kubernetes.io/part-of"] = "argo-workflows", ["app.kubernetes.io/managed-by"] = "plinth" }
    k8s.namespace "argo" { cluster = cl, metadata = { name = ns } }
    if i.install_manifest then
      local yaml = util.manifest("argo_workflows", "install_manifest", i.install_manifest)
      k8s.manifest "install" {
        cluster = cl, namespace = ns,
        yaml = util.drop_objects(yaml, { "ConfigMap/artifact-repositories" }),
      }
    end
    k8s.object "workflow_service_account" {
      cluster = cl, apiVersion = "v1", kind = "ServiceAccount",
      metadata = { name = "argo-workflow", namespace = ns, labels = labels,
                   annotations = { ["iam.gke.io/gcp-service-account"] = sa.email } },
    }
    k8s.object "workflow_role" {
      cluster = cl, apiVersion = "rbac.authorization.k8s.io/v1", kind = "Role",
      metadata = { name = "argo-workflow", namespace = ns, labels = labels },
      rules = { { apiGroups = { "argoproj.io" }, resources = { "workflowtaskresults" },
                  verbs = { "create", "patch" } } },
    }
    k8s.object "workflow_role_binding" {
      cluster = cl, apiVersion = "rbac.authorization.k8s.io/v1", kind = "RoleBinding",
      metadata = { name = "argo-workflow", namespace = ns, labels = labels },
      roleRef = { apiGroup = "rbac.authorization.k8s.io", kind = "Role", name = "argo-workflow" },
      subjects = { { kind = "ServiceAccount", name = "argo-workflow", namespace = ns } },
    }
    k8s.object "artifact_repositories" {
      cluster = cl, apiVersion = "v1", kind = "ConfigMap",
      metadata = { name = "artifact-repositories", namespace = ns, labels = labels,
                   annotations = { ["workflows.argoproj.io/default-artifact-repository"] = "gcs" } },
      data = {
        gcs = "archiveLogs: " .. tostring(i.archive_logs) .. "\ngcs:\n  bucket: " .. bucket.name
              .. "\n  keyFormat: \"" .. i.key_format .. "\"\n",
      },
    }
  end
  return { bucket = bucket.name, service_account = sa.email, namespace = i.namespace,
           workflow_service_account = "argo-workflow" }
end
