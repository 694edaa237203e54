-- dns: a private Cloud DNS zone for the platform's internal names, visible
-- only from the platform's VPC, with one A record per internal service.
-- Creates: the managed zone; a record set per entry of records.
-- Inputs:  name (string, required: the zone's resource name),
--          domain (string, required: "platform.internal." -- trailing dot),
--          network (string, required: the VPC's selfLink),
--          records (table: host -> IP address, {}), ttl (300)
-- Outputs: zone (the zone's name), domain, names (host -> full DNS name)
local util = require("util")

return function(args)
  local i = util.inputs("dns", args, {
    name = { type = "string", required = true },
    domain = { type = "string", required = true },
    network = { type = "string", required = true },
    records = { type = "table", default = {} },
    ttl = { type = "number", default = 300 },
  })
  local zone = gcp.dns_managed_zone "zone" {
    name = i.name, dnsName = i.domain, visibility = "private",
    description = "internal names of the platform",
    privateVisibilityConfig = { networks = { { networkUrl = i.network } } },
  }
  local names = {}
  local hosts = {}
  for host in pairs(i.records) do hosts[#hosts + 1] = host end
  table.sort(hosts)
  for _, host in ipairs(hosts) do
    names[host] = host .. "." .. i.domain
    gcp.dns_record_set(host) {
      managed_zone = zone.name, name = names[host], type = "A", ttl = i.ttl,
      rrdatas = { i.records[host] },
    }
  end
  return { zone = zone.name, domain = i.domain, names = names }
end
