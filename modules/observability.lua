-- observability: log-based signals for the ML platform's services.
-- Creates: an alerts Pub/Sub topic; log-based metrics counting failed Argo
-- workflows and errors of MLflow and Ray; a project log sink sending the
-- platform's error logs to the topic; an e-mail notification channel and
-- one alert policy per metric; an uptime check per public URL.
-- (A dashboard needs gcp.monitoring_dashboard, which plinth does not have yet.)
-- Inputs:  name (string, required: prefix of the resource names),
--          project (string, required: the project the URLs are checked from),
--          email (string, required: where alerts go),
--          namespaces (table: service -> Kubernetes namespace,
--                      { argo = "argo", mlflow = "mlflow", ray = "ray" }),
--          urls (table: service -> public host name to check, {})
-- Outputs: topic (the alerts topic's name), metrics (service -> metric name),
--          writer (the sink's writer identity, to grant on the topic),
--          channel (the notification channel's name)
local util = require("util")

return function(args)
  local i = util.inputs("observability", args, {
    name = { type = "string", required = true },
    project = { type = "string", required = true },
    email = { type = "string", required = true },
    urls = { type = "table", default = {} },
    namespaces = { type = "table", default = { argo = "argo", mlflow = "mlflow", ray = "ray" } },
  })
  local topic = gcp.pubsub_topic "alerts" { name = i.name .. "-alerts", labels = { platform = i.name } }
  local ns = i.namespaces
  local filters = {
    argo = 'resource.type="k8s_container" AND resource.labels.namespace_name="' .. ns.argo
      .. '" AND jsonPayload.msg:"workflow failed"',
    mlflow = 'resource.type="k8s_container" AND resource.labels.namespace_name="' .. ns.mlflow
      .. '" AND severity>=ERROR',
    ray = 'resource.type="k8s_container" AND resource.labels.namespace_name="' .. ns.ray
      .. '" AND severity>=ERROR',
  }
  local channel = gcp.monitoring_notification_channel "oncall" {
    type = "email", displayName = i.name .. " on call", labels = { email_address = i.email },
  }
  local metrics = {}
  for _, svc in ipairs({ "argo", "mlflow", "ray" }) do
    local m = gcp.logging_metric(svc .. "_errors") {
      name = i.name .. "-" .. svc .. "-errors", filter = filters[svc],
      description = "errors of " .. svc .. " on " .. i.name,
    }
    metrics[svc] = m.name
    gcp.monitoring_alert_policy(svc .. "_errors") {
      displayName = i.name .. ": " .. svc .. " errors", combiner = "OR",
      notificationChannels = { channel.name },
      conditions = { {
        displayName = svc .. " errors",
        conditionThreshold = {
          filter = 'metric.type="logging.googleapis.com/user/' .. i.name .. "-" .. svc .. '-errors"'
            .. ' AND resource.type="k8s_container"',
          comparison = "COMPARISON_GT", thresholdValue = 0, duration = "60s",
        },
      } },
      depends_on = { m },
    }
  end
  local hosts = {}
  for svc in pairs(i.urls) do hosts[#hosts + 1] = svc end
  table.sort(hosts)
  for _, svc in ipairs(hosts) do
    gcp.monitoring_uptime_check_config(svc) {
      displayName = i.name .. " " .. svc, period = "300s", timeout = "10s",
      httpCheck = { path = "/", port = 443, useSsl = true },
      monitoredResource = { type = "uptime_url", labels = { project_id = i.project, host = i.urls[svc] } },
    }
  end
  local sink = gcp.logging_project_sink "errors" {
    name = i.name .. "-errors",
    destination = "pubsub.googleapis.com/" .. topic.name,
    filter = 'resource.type="k8s_container" AND severity>=ERROR',
  }
  return { topic = topic.name, metrics = metrics, writer = sink.writerIdentity, channel = channel.name }
end
