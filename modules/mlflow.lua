-- mlflow: experiment tracking and model registry, backed by Cloud SQL for
-- PostgreSQL (private IP, backups, deletion protection outside dev) and a GCS
-- artifact bucket.  The database password is generated once and lives only
-- in Secret Manager (plinth's state keeps a hash).  A Google service account
-- reaches the bucket and Cloud SQL, bound through workload identity to the
-- Kubernetes service account mlflow/mlflow.
-- Inputs:  project, name, region, network (selfLink), psa (the private
--          services connection, waited for), workload_pool (the gke
--          module's output) (required);
--          tier ("db-custom-1-3840"), availability ("ZONAL"),
--          deletion_protection (true), bucket_location ("EU"),
--          namespace ("mlflow")
-- Outputs: connection_name, database, user, password_secret, bucket,
--          service_account (email), tracking_url
local util = require("util")

return function(args)
  local i = util.inputs("mlflow", args, {
    project = { type = "string", required = true },
    workload_pool = { required = true },
    name = { type = "string", required = true },
    region = { type = "string", required = true },
    network = { required = true },
    psa = { required = true },
    tier = { type = "string", default = "db-custom-1-3840" },
    availability = { type = "string", default = "ZONAL" },
    deletion_protection = { type = "boolean", default = true },
    bucket_location = { type = "string", default = "EU" },
    namespace = { type = "string", default = "mlflow" },
  })

  local db = gcp.sql_instance "db" {
    name = i.name .. "-mlflow", region = i.region, databaseVersion = "POSTGRES_15",
    settings = {
      tier = i.tier, availabilityType = i.availability,
      deletionProtectionEnabled = i.deletion_protection,
      ipConfiguration = { ipv4Enabled = false, privateNetwork = i.network },
      backupConfiguration = { enabled = true, startTime = "03:00", pointInTimeRecoveryEnabled = true },
      userLabels = { app = "mlflow" },
    },
    depends_on = { i.psa },
  }
  local database = gcp.sql_database "db" { instance = db.name, name = "mlflow" }

  local secret = gcp.secret "db_password" {
    name = i.name .. "-mlflow-db-password", replication = { automatic = {} },
    labels = { app = "mlflow" },
  }
  local password = gcp.secret_version "db_password" {
    secret = secret.name, generate = { length = 32 },
  }
  local user = gcp.sql_user "mlflow" {
    instance = db.name, name = "mlflow", password = password.secret_data,
  }

  local bucket = gcp.storage_bucket "artifacts" {
    name = i.project .. "-" .. i.name .. "-mlflow-artifacts", location = i.bucket_location,
    iamConfiguration = { uniformBucketLevelAccess = { enabled = true } },
    versioning = { enabled = true },
    labels = { app = "mlflow" },
  }
  local sa = gcp.service_account "mlflow" {
    accountId = i.name .. "-mlflow", displayName = "MLflow tracking server",
  }
  local member = "serviceAccount:" .. sa.email
  gcp.storage_bucket_iam_member "artifacts" { bucket = bucket.name, role = "roles/storage.objectAdmin", member = member }
  gcp.project_iam_member "mlflow_sql" { role = "roles/cloudsql.client", member = member }
  gcp.service_account_iam_member "mlflow_wi" {
    service_account = sa.name, role = "roles/iam.workloadIdentityUser",
    member = fmt("serviceAccount:%s[%s/mlflow]", i.workload_pool, i.namespace),
  }

  return {
    connection_name = db.connectionName, database = database.name, user = user.name,
    password_secret = secret.name, bucket = bucket.name, service_account = sa.email,
    tracking_url = string.format("http://mlflow.%s.svc.cluster.local:5000", i.namespace),
  }
end
