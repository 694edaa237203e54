-- network: a custom-mode VPC for a GKE-based ML platform.
-- Creates: the VPC; a regional subnet for nodes with secondary ranges for
-- pods and services; a Cloud Router with Cloud NAT (private nodes reach the
-- internet); a reserved range and the private services access connection
-- Cloud SQL private IP needs.
-- Inputs:  name (string, required), region (string, required),
--          nodes_cidr ("10.0.0.0/20"), pods_cidr ("10.4.0.0/14"),
--          services_cidr ("10.8.0.0/20"), psa_prefix_length (16)
-- Outputs: network (selfLink), network_name, subnetwork (selfLink),
--          pods_range, services_range (secondary range names),
--          psa (the service networking connection, for depends_on)
local util = require("util")

return function(args)
  local i = util.inputs("network", args, {
    name = { type = "string", required = true },
    region = { type = "string", required = true },
    nodes_cidr = { type = "string", default = "10.0.0.0/20" },
    pods_cidr = { type = "string", default = "10.4.0.0/14" },
    services_cidr = { type = "string", default = "10.8.0.0/20" },
    psa_prefix_length = { type = "number", default = 16 },
  })
  local net = gcp.compute_network "vpc" {
    name = i.name, autoCreateSubnetworks = false,
    routingConfig = { routingMode = "REGIONAL" },
  }
  local sub = gcp.compute_subnetwork "nodes" {
    name = i.name .. "-nodes", region = i.region, network = net.selfLink,
    ipCidrRange = i.nodes_cidr, privateIpGoogleAccess = true,
    secondaryIpRanges = {
      { rangeName = "pods", ipCidrRange = i.pods_cidr },
      { rangeName = "services", ipCidrRange = i.services_cidr },
    },
  }
  gcp.compute_router "router" {
    name = i.name .. "-router", region = i.region, network = net.selfLink,
    nats = { {
      name = i.name .. "-nat",
      natIpAllocateOption = "AUTO_ONLY",
      sourceSubnetworkIpRangesToNat = "ALL_SUBNETWORKS_ALL_IP_RANGES",
    } },
  }
  local range = gcp.compute_global_address "psa" {
    name = i.name .. "-psa", purpose = "VPC_PEERING", addressType = "INTERNAL",
    prefixLength = i.psa_prefix_length, network = net.selfLink,
  }
  local psa = gcp.service_networking_connection "psa" {
    network = net.selfLink, reservedPeeringRanges = { range.name },
  }
  return {
    network = net.selfLink, network_name = i.name, subnetwork = sub.selfLink,
    pods_range = "pods", services_range = "services", psa = psa,
  }
end
