provider "gcp" { project = "p", region = "europe-west1" }
local n = var("n", { default = 2, type = "number" })
local net = gcp.compute_network "main" { autoCreateSubnetworks = false }
for i = 1, n do
  gcp.compute_subnetwork("s" .. i) { network = net.selfLink, region = "europe-west1", ipCidrRange = "10." .. i .. ".0.0/20" }
end
local t = file("f.txt"):gsub("%s+$", "")
output("t", t .. net.name)
local x = ("a,b,c"):gmatch("[^,]+")
