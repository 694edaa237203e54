-- mlflow: experiment tracking and model registry, backed by Cloud SQL for
-- PostgreSQL (private IP, backups, deletion protection outside dev) and a GCS
-- artifact bucket, served from the GKE cluster.
--
-- Cloud side: the instance (IAM database authentication on), the "mlflow"
-- database, a built-in admin user "mlflow" whose password is generated once
-- and lives only in Secret Manager (plinth's state keeps a hash), the
-- artifact bucket, and a Google service account that reaches the bucket and
-- logs in to Cloud SQL as an IAM database user (no password anywhere in
-- Kubernetes or in plinth's state), bound through workload identity to the
-- Kubernetes service account <namespace>/mlflow.
--
-- Cluster side (when `cluster` is given): the namespace; the ServiceAccount
-- "mlflow" annotated with the Google service account; a Deployment
-- "mlflow" with the MLflow server and the Cloud SQL Auth Proxy sidecar
-- (--auto-iam-authn --private-ip, 127.0.0.1:5432); a Service mlflow:5000.
--
-- PostgreSQL 15 gives a new IAM user no CREATE on schema public: once, as
-- the admin user (password in the Secret Manager secret `password_secret`),
-- run  GRANT ALL ON SCHEMA public TO "<iam_user>";  before MLflow's first
-- start (its migrations create the tables).
-- The official ghcr.io/mlflow/mlflow image has neither psycopg2 nor
-- google-cloud-storage: the server installs `pip_packages` at start; with
-- your own image (e.g. built into the artifact_registry module's
-- repository) set pip_packages = {}.
--
-- Inputs:  project, name, region, network (selfLink), psa (the private
--          services connection, waited for), workload_pool (the gke
--          module's output) (required);
--          cluster (the gcp.container_cluster: the gke module's `cluster`;
--          without it only the cloud side is declared),
--          tier ("db-custom-1-3840"), availability ("ZONAL" | "REGIONAL"),
--          deletion_protection (true), bucket_location ("EU"),
--          namespace ("mlflow"), image ("ghcr.io/mlflow/mlflow:v2.22.0"),
--          pip_packages ({ "psycopg2-binary==2.9.10", "google-cloud-storage==2.19.0" }),
--          proxy_image ("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1"),
--          replicas (1), cpu ("500m"), memory ("1Gi")
-- Outputs: connection_name, database, user (admin), iam_user, password_secret,
--          bucket, service_account (email), namespace, tracking_url
local util = require("util")

return function(args)
  local i = util.inputs("mlflow", args, {
    project = { type = "string", required = true },
    workload_pool = { required = true },
    name = { type = "string", required = true },
    region = { type = "string", required = true },
    network = { required = true },
    psa = { required = true },
    cluster = {},
    tier = { type = "string", default = "db-custom-1-3840" },
    availability = { type = "string", default = "ZONAL", one_of = { "ZONAL", "REGIONAL" } },
    deletion_protection = { type = "boolean", default = true },
    bucket_location = { type = "string", default = "EU" },
    namespace = { type = "string", default = "mlflow" },
    image = { type = "string", default = "ghcr.io/mlflow/mlflow:v2.22.0" },
    pip_packages = { type = "table", default = { "psycopg2-binary==2.9.10", "google-cloud-storage==2.19.0" } },
    proxy_image = { type = "string", default = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1" },
    replicas = { type = "number", default = 1, min = 0 },
    cpu = { type = "string", default = "500m" },
    memory = { type = "string", default = "1Gi" },
  })

  local db = gcp.sql_instance "db" {
    name = i.name .. "-mlflow", region = i.region, databaseVersion = "POSTGRES_15",
    settings = {
      tier = i.tier, availabilityType = i.availability,
      deletionProtectionEnabled = i.deletion_protection,
      ipConfiguration = { ipv4Enabled = false, privateNetwork = i.network },
      backupConfiguration = { enabled = true, startTime = "03:00", pointInTimeRecoveryEnabled = true },
      databaseFlags = { { name = "cloudsql.iam_authentication", value = "on" } },
      userLabels = { app = "mlflow" },
    },
    depends_on = { i.psa },
  }
  local database = gcp.sql_database "db" { instance = db.name, name = "mlflow" }

  local secret = gcp.secret "db_password" {
    secretId = i.name .. "-mlflow-db-password", replication = { automatic = {} },
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
  local account_id = i.name .. "-mlflow"
  local sa = gcp.service_account "mlflow" {
    accountId = account_id, displayName = "MLflow tracking server",
  }
  local member = "serviceAccount:" .. sa.email
  gcp.storage_bucket_iam_member "artifacts" { bucket = bucket.name, role = "roles/storage.objectAdmin", member = member }
  gcp.project_iam_member "mlflow_sql" { role = "roles/cloudsql.client", member = member }
  gcp.project_iam_member "mlflow_sql_login" { role = "roles/cloudsql.instanceUser", member = member }
  gcp.service_account_iam_member "mlflow_wi" {
    service_account = sa.name, role = "roles/iam.workloadIdentityUser",
    member = fmt("serviceAccount:%s[%s/mlflow]", i.workload_pool, i.namespace),
  }
  -- A PostgreSQL IAM user is the service account's email without
  -- ".gserviceaccount.com".
  local iam_user = account_id .. "@" .. i.project .. ".iam"
  local db_user = gcp.sql_user "mlflow_iam" {
    instance = db.name, name = iam_user, type = "CLOUD_IAM_SERVICE_ACCOUNT",
    depends_on = { sa },
  }

  local tracking_url = string.format("http://mlflow.%s.svc.cluster.local:5000", i.namespace)
  if i.cluster ~= nil then
    local ns = i.namespace
    local labels = { ["app.kubernetes.io/name"] = "mlflow", ["app.kubernetes.io/component"] = "tracking-server" }
    k8s.namespace "mlflow" { cluster = i.cluster, metadata = { name = ns } }
    k8s.object "service_account" {
      cluster = i.cluster, apiVersion = "v1", kind = "ServiceAccount",
      metadata = { name = "mlflow", namespace = ns, labels = labels,
                   annotations = { ["iam.gke.io/gcp-service-account"] = sa.email } },
    }
    local server = {
      "server", "--host", "0.0.0.0", "--port", "5000",
      -- The proxy logs in as the IAM user (--auto-iam-authn): no password.
      "--backend-store-uri", string.format("postgresql://%s@127.0.0.1:5432/mlflow", (iam_user:gsub("@", "%%40"))),
      "--artifacts-destination", "gs://" .. bucket.name,
    }
    local command = { "mlflow" }
    if #i.pip_packages > 0 then
      command = { "sh", "-c", "pip install --no-cache-dir " .. table.concat(i.pip_packages, " ")
                              .. ' && exec mlflow "$@"', "mlflow" }
    end
    k8s.object "deployment" {
      cluster = i.cluster, apiVersion = "apps/v1", kind = "Deployment",
      metadata = { name = "mlflow", namespace = ns, labels = labels },
      spec = {
        replicas = i.replicas,
        selector = { matchLabels = labels },
        template = {
          metadata = { labels = labels },
          spec = {
            serviceAccountName = "mlflow",
            containers = {
              {
                name = "mlflow", image = i.image, command = command, args = server,
                ports = { { name = "http", containerPort = 5000 } },
                resources = {
                  requests = { cpu = i.cpu, memory = i.memory },
                  limits = { memory = i.memory },
                },
                startupProbe = { httpGet = { path = "/health", port = "http" },
                                 periodSeconds = 10, failureThreshold = 30 },
                readinessProbe = { httpGet = { path = "/health", port = "http" },
                                   periodSeconds = 10, failureThreshold = 3 },
                livenessProbe = { httpGet = { path = "/health", port = "http" },
                                  periodSeconds = 30, failureThreshold = 3 },
              },
              {
                name = "cloud-sql-proxy", image = i.proxy_image,
                args = { "--auto-iam-authn", "--private-ip", "--port=5432", "--address=127.0.0.1",
                         "--structured-logs", "--health-check", "--http-address=0.0.0.0",
                         "--http-port=9090", db.connectionName },
                ports = { { name = "proxy-health", containerPort = 9090 } },
                resources = {
                  requests = { cpu = "100m", memory = "128Mi" },
                  limits = { memory = "256Mi" },
                },
                startupProbe = { httpGet = { path = "/startup", port = "proxy-health" },
                                 periodSeconds = 1, failureThreshold = 60 },
                readinessProbe = { httpGet = { path = "/readiness", port = "proxy-health" },
                                   periodSeconds = 10, failureThreshold = 3 },
                securityContext = { runAsNonRoot = true, allowPrivilegeEscalation = false },
              },
            },
          },
        },
      },
      depends_on = { db_user, database },
    }
    k8s.object "service" {
      cluster = i.cluster, apiVersion = "v1", kind = "Service",
      metadata = { name = "mlflow", namespace = ns, labels = labels },
      spec = {
        type = "ClusterIP", selector = labels,
        ports = { { name = "http", port = 5000, targetPort = "http", protocol = "TCP" } },
      },
    }
  end

  return {
    connection_name = db.connectionName, database = database.name, user = user.name,
    iam_user = db_user.name, password_secret = secret.name, bucket = bucket.name,
    service_account = sa.email, namespace = i.namespace, tracking_url = tracking_url,
  }
end
