-- ci_identity: keyless CI deploys through workload identity federation: a
-- pool, an OIDC provider for GitHub Actions or GitLab CI that only accepts
-- tokens of one repository (and, optionally, one branch), and a deploy
-- service account that the repository's workflows may impersonate.
-- Creates: the pool; the provider; the deploy service account; the
-- workloadIdentityUser grant of the repository's principal set on it.
-- Inputs:  name (string, required: pool ID, also the account's prefix),
--          repository (string, required: "org/repo" or "group/project"),
--          ci ("github" | "gitlab", default "github"),
--          branch (string: only this branch may deploy; default: any)
-- Outputs: pool (the pool's name), provider (the provider's name, for the
--          CI's auth step), service_account (the deploy account's email)
local util = require("util")

local issuers = {
  github = { uri = "https://token.actions.githubusercontent.com", repo = "assertion.repository",
             ref = "assertion.ref", ref_prefix = "refs/heads/" },
  gitlab = { uri = "https://gitlab.com", repo = "assertion.project_path", ref = "assertion.ref", ref_prefix = "" },
}

return function(args)
  local i = util.inputs("ci_identity", args, {
    name = { type = "string", required = true },
    repository = { type = "string", required = true },
    ci = { type = "string", default = "github", one_of = { "github", "gitlab" } },
    branch = { type = "string" },
  })
  local iss = issuers[i.ci]
  local pool = gcp.iam_workload_identity_pool "pool" {
    workloadIdentityPoolId = i.name, displayName = "CI " .. i.name, description = "keyless deploys from " .. i.ci,
  }
  local cond = iss.repo .. ' == "' .. i.repository .. '"'
  if i.branch then cond = cond .. " && " .. iss.ref .. ' == "' .. iss.ref_prefix .. i.branch .. '"' end
  local provider = gcp.iam_workload_identity_pool_provider "provider" {
    workloadIdentityPoolId = pool.workloadIdentityPoolId, workloadIdentityPoolProviderId = i.ci,
    displayName = i.ci, attributeCondition = cond,
    attributeMapping = { ["google.subject"] = "assertion.sub", ["attribute.repository"] = iss.repo },
    oidc = { issuerUri = iss.uri },
  }
  local sa = gcp.service_account "deploy" { accountId = i.name .. "-deploy", displayName = "CI deploys" }
  gcp.service_account_iam_member "ci_deploys" {
    service_account = sa.email, role = "roles/iam.workloadIdentityUser",
    member = "principalSet://iam.googleapis.com/" .. pool.name .. "/attribute.repository/" .. i.repository,
  }
  return { pool = pool.name, provider = provider.name, service_account = sa.email }
end
