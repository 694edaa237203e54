-- artifact_registry: a Docker repository for ML images.  Reader access for
-- the GKE nodes comes from the gke module's node service account role
-- (roles/artifactregistry.reader).
-- Inputs:  name (string, required), location (string, required),
--          description ("ML images"), keep_recent (10: cleanup keeps this many versions)
-- Outputs: repository (name), url (registry URI)
local util = require("util")

return function(args)
  local i = util.inputs("artifact_registry", args, {
    name = { type = "string", required = true },
    location = { type = "string", required = true },
    description = { type = "string", default = "ML images" },
    keep_recent = { type = "number", default = 10 },
  })
  local repo = gcp.artifact_registry_repository "images" {
    repositoryId = i.name, location = i.location, format = "DOCKER",
    description = i.description,
    cleanupPolicies = {
      ["keep-recent"] = { id = "keep-recent", action = "KEEP",
                          mostRecentVersions = { keepCount = i.keep_recent } },
    },
  }
  return { repository = repo.name, url = repo.registryUri }
end
