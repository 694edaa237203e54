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
-- "mlflow": the MLflow server (--backend-store-uri through the proxy,
-- --artifacts-destination gs://<bucket>/mlflow, --allowed-hosts for its
-- Service names and `ingress_host`, /health probes) with the Cloud SQL Auth
-- Proxy as a native sidecar (--auto-iam-authn --private-ip, 127.0.0.1:5432,
-- health endpoints on 9801); a Service mlflow:5000 (also /metrics:
-- --expose-prometheus).
--
-- PostgreSQL 15 gives a new IAM user no CREATE on schema public, which
-- MLflow's first migrations need: the Job "mlflow-db-grant" (before the
-- Deployment; apply waits for it) logs in as the admin user through its own
-- proxy and runs GRANT ALL ON SCHEMA public TO the IAM user.  Its password
-- goes from Secret Manager (read by a Google service account allowed only
-- that secret) to a memory volume of the Job's pod: never to Kubernetes nor
-- plinth's state.
-- The default image (ghcr.io/mlflow/mlflow:<v>-full) has the PostgreSQL
-- driver and google-cloud-storage; with a core image list them in
-- pip_packages (installed at start).
--
-- Inputs:  project, name, region, network (selfLink), psa (the private
--          services connection, waited for), workload_pool (the gke
--          module's output) (required);
--          cluster (the gcp.container_cluster: the gke module's `cluster`;
--          without it only the cloud side is declared),
--          tier ("db-custom-1-3840"), availability ("ZONAL" | "REGIONAL"),
--          deletion_protection (true), bucket_location ("EU"),
--          namespace ("mlflow"), image ("ghcr.io/mlflow/mlflow:v3.15.2-full"),
--          pip_packages ({}), ingress_host (none: a host name allowed besides the Service's),
--          proxy_image ("gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.25.3"),
--          cli_image ("gcr.io/google.com/cloudsdktool/google-cloud-cli:slim": the
--          Job's password fetch), psql_image ("postgres:16-alpine": the Job's grant),
--          replicas (1), cpu ("500m"), memory ("1Gi")
-- Outputs: connection_name, database, user (admin), iam_user, password_secret,
--          bucket, service_account (email), namespace, tracking_url and
--          metrics_port (5000) (both nil without a cluster)
local util = require("util")

-- The identity of the database-grant Job: a Google service account that
-- reads only the admin password's secret and connects to the instance.
local function grant_identity(i, db, secret)
  local sa = gcp.service_account "db_init" {
    accountId = i.name .. "-mlflow-init", displayName = "MLflow database grant (Job)",
  }
  local member = "serviceAccount:" .. sa.email
  gcp.project_iam_member "db_init_sql" { role = "roles/cloudsql.client", member = member }
  gcp.project_iam_member "db_init_secret" {
    role = "roles/secretmanager.secretAccessor", member = member,
    condition = {
      title = "mlflow-db-password-only",
      expression = fmt('resource.name == "%s" || resource.name.startsWith("%s/")', secret.name, secret.name),
    },
  }
  gcp.service_account_iam_member "db_init_wi" {
    service_account = sa.name, role = "roles/iam.workloadIdentityUser",
    member = fmt("serviceAccount:%s[%s/mlflow-db-init]", i.workload_pool, i.namespace),
  }
  return sa
end

local function proxy_container(i, db, port, iam)
  local args = { "--private-ip", "--structured-logs", "--port=" .. port, "--address=127.0.0.1",
                 "--health-check", "--http-address=0.0.0.0", "--http-port=9801", "--exit-zero-on-sigterm" }
  if iam then table.insert(args, 1, "--auto-iam-authn") end
  args[#args + 1] = db.connectionName
  local function probe(path, period, failures)
    return { httpGet = { path = path, port = "proxy-health" }, periodSeconds = period, failureThreshold = failures }
  end
  return {
    name = "cloud-sql-proxy", image = i.proxy_image, args = args,
    -- A native sidecar: started before the app, stopped after it.
    restartPolicy = "Always",
    ports = { { name = "proxy-health", containerPort = 9801 } },
    resources = { requests = { cpu = "100m", memory = "128Mi" }, limits = { memory = "256Mi" } },
    startupProbe = probe("/startup", 1, 60),
    livenessProbe = probe("/liveness", 10, 3),
    readinessProbe = probe("/readiness", 10, 3),
    securityContext = { runAsNonRoot = true, allowPrivilegeEscalation = false, readOnlyRootFilesystem = true,
                        capabilities = { drop = { "ALL" } } },
  }
end

-- The Job that gives the IAM user the schema (PostgreSQL 15 gives a new
-- user no CREATE on schema public), as the admin user through the proxy;
-- the password goes from Secret Manager to a memory volume of the pod.
local function grant_job(i, o, ns, labels)
  local quoted = o.iam_user:gsub('"', '""')
  local sql = 'GRANT ALL ON SCHEMA public TO "' .. quoted .. '"; GRANT ALL ON DATABASE mlflow TO "' .. quoted .. '";'
  local restricted = { runAsNonRoot = true, allowPrivilegeEscalation = false, capabilities = { drop = { "ALL" } } }
  return k8s.object "db_grant" {
    cluster = i.cluster, apiVersion = "batch/v1", kind = "Job",
    metadata = { name = "mlflow-db-grant", namespace = ns, labels = labels },
    spec = {
      backoffLimit = 6, activeDeadlineSeconds = 900,
      template = {
        metadata = { labels = { ["app.kubernetes.io/name"] = "mlflow", ["app.kubernetes.io/component"] = "db-grant" } },
        spec = {
          serviceAccountName = "mlflow-db-init", restartPolicy = "Never",
          securityContext = { runAsNonRoot = true, runAsUser = 65532, runAsGroup = 65532, fsGroup = 65532 },
          volumes = { { name = "secret", emptyDir = { medium = "Memory", sizeLimit = "1Mi" } },
                      { name = "tmp", emptyDir = {} } },
          initContainers = {
            {
              name = "read-secret", image = i.cli_image,
              command = { "sh", "-c", fmt('gcloud secrets versions access latest --secret=%s --project=%s'
                                          .. ' --out-file=/run/secret/password', o.secret_id, i.project) },
              env = { { name = "CLOUDSDK_CONFIG", value = "/tmp/gcloud" } },
              volumeMounts = { { name = "secret", mountPath = "/run/secret" }, { name = "tmp", mountPath = "/tmp" } },
              securityContext = restricted,
            },
            proxy_container(i, o.db, 5432, false),
          },
          containers = { {
            name = "grant", image = i.psql_image,
            command = { "sh", "-c", 'PGPASSWORD="$(cat /run/secret/password)" exec psql -v ON_ERROR_STOP=1 '
                                    .. '"host=127.0.0.1 port=5432 dbname=mlflow user=mlflow" -c "$GRANT_SQL"' },
            env = { { name = "GRANT_SQL", value = sql }, { name = "HOME", value = "/tmp" } },
            volumeMounts = { { name = "secret", mountPath = "/run/secret", readOnly = true },
                             { name = "tmp", mountPath = "/tmp" } },
            resources = { requests = { cpu = "50m", memory = "64Mi" }, limits = { memory = "128Mi" } },
            securityContext = restricted,
          } },
        },
      },
    },
    depends_on = o.waits,
  }
end

local function allowed_hosts(i, ns)
  local hosts = {}
  for _, h in ipairs({ "mlflow", "mlflow." .. ns, "mlflow." .. ns .. ".svc", "mlflow." .. ns .. ".svc.cluster.local",
                       "localhost", i.ingress_host }) do
    hosts[#hosts + 1] = h
    hosts[#hosts + 1] = h .. ":5000"
  end
  return table.concat(hosts, ",")
end

local function cluster_side(i, o)
  local ns, cl = i.namespace, i.cluster
  local labels = { ["app.kubernetes.io/name"] = "mlflow", ["app.kubernetes.io/component"] = "tracking-server" }
  k8s.namespace "mlflow" { cluster = cl, metadata = { name = ns } }
  k8s.object "service_account" {
    cluster = cl, apiVersion = "v1", kind = "ServiceAccount",
    metadata = { name = "mlflow", namespace = ns, labels = labels,
                 annotations = { ["iam.gke.io/gcp-service-account"] = o.sa.email } },
  }
  k8s.object "init_service_account" {
    cluster = cl, apiVersion = "v1", kind = "ServiceAccount",
    metadata = { name = "mlflow-db-init", namespace = ns, labels = labels,
                 annotations = { ["iam.gke.io/gcp-service-account"] = o.init_sa.email } },
  }
  local job = grant_job(i, o, ns, labels)
  local server = {
    "server", "--host", "0.0.0.0", "--port", "5000",
    -- The proxy logs in as the IAM user (--auto-iam-authn): no password.
    "--backend-store-uri", string.format("postgresql+psycopg2://%s@127.0.0.1:5432/mlflow",
                                         (o.iam_user:gsub("@", "%%40"))),
    "--artifacts-destination", "gs://" .. o.bucket.name .. "/mlflow", "--serve-artifacts",
    -- Since MLflow 3.5 a Host header outside this list gets 403.
    "--allowed-hosts", allowed_hosts(i, ns),
    -- /metrics on the same port, for Prometheus (the ml_platform module's PodMonitoring).
    "--expose-prometheus", "/tmp/prometheus",
  }
  local command = { "mlflow" }
  if #i.pip_packages > 0 then
    command = { "sh", "-c", "pip install --no-cache-dir " .. table.concat(i.pip_packages, " ")
                            .. ' && exec mlflow "$@"', "mlflow" }
  end
  local function health(period, failures)
    return { httpGet = { path = "/health", port = "http", httpHeaders = { { name = "Host", value = "localhost" } } },
             periodSeconds = period, failureThreshold = failures }
  end
  k8s.object "deployment" {
    cluster = cl, apiVersion = "apps/v1", kind = "Deployment",
    metadata = { name = "mlflow", namespace = ns, labels = labels },
    spec = {
      replicas = i.replicas,
      selector = { matchLabels = labels },
      template = {
        metadata = { labels = labels },
        spec = {
          serviceAccountName = "mlflow",
          securityContext = { runAsNonRoot = true, runAsUser = 1000, runAsGroup = 1000 },
          initContainers = { proxy_container(i, o.db, 5432, true) },
          volumes = { { name = "tmp", emptyDir = {} } },
          containers = { {
            name = "mlflow", image = i.image, command = command, args = server,
            env = { { name = "HOME", value = "/tmp" } },
            ports = { { name = "http", containerPort = 5000 } },
            volumeMounts = { { name = "tmp", mountPath = "/tmp" } },
            resources = { requests = { cpu = i.cpu, memory = i.memory }, limits = { memory = i.memory } },
            startupProbe = health(10, 30), readinessProbe = health(10, 3), livenessProbe = health(30, 3),
            securityContext = { allowPrivilegeEscalation = false, capabilities = { drop = { "ALL" } } },
          } },
        },
      },
    },
    depends_on = { job },
  }
  k8s.object "service" {
    cluster = cl, apiVersion = "v1", kind = "Service",
    metadata = { name = "mlflow", namespace = ns, labels = labels },
    spec = {
      type = "ClusterIP", selector = labels,
      ports = { { name = "http", port = 5000, targetPort = "http", protocol = "TCP" } },
    },
  }
end


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
    image = { type = "string", default = "ghcr.io/mlflow/mlflow:v3.15.2-full" },
    pip_packages = { type = "table", default = {} },
    proxy_image = { type = "string", default = "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.25.3" },
    cli_image = { type = "string", default = "gcr.io/google.com/cloudsdktool/google-cloud-cli:slim" },
    psql_image = { type = "string", default = "postgres:16-alpine" },
    ingress_host = { type = "string" },
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

  local tracking_url = nil
  if i.cluster ~= nil then
    tracking_url = string.format("http://mlflow.%s.svc.cluster.local:5000", i.namespace)
    local init = grant_identity(i, db, secret)
    cluster_side(i, {
      sa = sa, db = db, bucket = bucket, iam_user = iam_user, init_sa = init,
      secret_id = i.name .. "-mlflow-db-password",
      waits = { db_user, database, user, password },
    })
  end

  return {
    connection_name = db.connectionName, database = database.name, user = user.name,
    iam_user = db_user.name, password_secret = secret.name, bucket = bucket.name,
    service_account = sa.email, namespace = i.namespace, tracking_url = tracking_url,
    metrics_port = i.cluster and 5000 or nil,
  }
end
