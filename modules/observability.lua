-- observability: log-based signals for the ML platform's services.
-- Creates: an alerts Pub/Sub topic; log-based metrics counting failed Argo
-- workflows and errors of MLflow and Ray; a project log sink sending the
-- platform's error logs to the topic.
-- (Notification channels, alert policies and a dashboard need the
-- monitoring types, which plinth does not have yet.)
-- Inputs:  name (string, required: prefix of the resource names),
--          namespaces (table: service -> Kubernetes namespace,
--                      { argo = "argo", mlflow = "mlflow", ray = "ray" })
-- Outputs: topic (the alerts topic's name), metrics (service -> metric name),
--          writer (the sink's writer identity, to grant on the topic)
local util = require("util")

return function(args)
  local i = util.inputs("observability", args, {
    name = { type = "string", required = true },
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
  local metrics = {}
  for _, svc in ipairs({ "argo", "mlflow", "ray" }) do
    local m = gcp.logging_metric(svc .. "_errors") {
      name = i.name .. "-" .. svc .. "-errors", filter = filters[svc],
      description = "errors of " .. svc .. " on " .. i.name,
    }
    metrics[svc] = m.name
  end
  local sink = gcp.logging_project_sink "errors" {
    name = i.name .. "-errors",
    destination = "pubsub.googleapis.com/" .. topic.name,
    filter = 'resource.type="k8s_container" AND severity>=ERROR',
  }
  return { topic = topic.name, metrics = metrics, writer = sink.writerIdentity }
end
