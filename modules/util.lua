-- util: helpers shared by the modules.
--   util.inputs(module, given, spec) -> table of inputs with defaults applied.
--   spec maps input name -> { type = "string"|"number"|"boolean"|"table", default = v,
--   required = bool, one_of = { ... } }
--   A missing required input, a wrong type or a value outside one_of is an
--   error naming the module and the input.
--   util.manifest(module, input, v) -> the YAML text of a manifest input: v
--   is the YAML itself (anything with a newline, e.g. file("x.yaml") in the
--   caller) or the path of a file (absolute; a relative path is relative to
--   the modules directory).
--   util.yaml_docs(text) -> list of { text, kind, name } per YAML document.
--   util.drop_objects(text, { "Kind/name", ... }) -> the YAML text without
--   the documents of those objects.
--   util.version_at_least(v, min) -> whether a GKE version ("1.31",
--   "1.30.5-gke.1014001", "latest") is at least min ("1.30.0-gke.1747000"),
--   comparing the components v gives ("1.30" stands for its newest patch).
local util = {}

-- Whether name is within 3 edits of a key of names (see util.inputs).
function util.close_to_any(name, names)
  for other in pairs(names) do
    local a, b = name, other
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      local cur = { [0] = i }
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev = cur
    end
    if prev[#b] <= 3 then return true end
  end
  return false
end

function util.inputs(module, given, spec)
  local out = {}
  -- An input close to a known one is a typo that plinth reports itself,
  -- with "did you mean" and without stopping the load (it sees which inputs
  -- the module never read); anything else is an error here.
  for k in pairs(given) do
    if k ~= "source" and spec[k] == nil and not util.close_to_any(k, spec) then
      error(string.format("module %s: unknown input '%s'", module, k), 4)
    end
  end
  for name, s in pairs(spec) do
    local v = given[name]
    if v == nil then v = s.default end
    if v == nil and s.required then
      error(string.format("module %s: input '%s' is required", module, name), 4)
    end
    if v ~= nil and s.type and type(v) ~= s.type and type(v) ~= "userdata" then
      error(string.format("module %s: input '%s' must be a %s, got %s", module, name, s.type, type(v)), 4)
    end
    if v ~= nil and s.one_of and type(v) ~= "userdata" then
      local ok = false
      for _, o in ipairs(s.one_of) do ok = ok or o == v end
      if not ok then
        local names = {}
        for n, o in ipairs(s.one_of) do names[n] = tostring(o) end
        error(string.format("module %s: input '%s' must be one of %s, got '%s'", module, name,
                            table.concat(names, ", "), tostring(v)), 4)
      end
    end
    if v ~= nil and s.min and type(v) == "number" and v < s.min then
      error(string.format("module %s: input '%s' must be at least %s, got %s", module, name, s.min, v), 4)
    end
    out[name] = v
  end
  return out
end

function util.manifest(module, input, v)
  if type(v) ~= "string" or v == "" then
    error(string.format("module %s: input '%s' must be a path or YAML text, got %s", module, input, type(v)), 4)
  end
  if v:find("\n", 1, true) then return v end
  local ok, text = pcall(file, v)
  if not ok then
    error(string.format("module %s: input '%s': cannot read '%s' (give an absolute path, or the YAML "
                        .. "itself: file(\"...\") in your spec)", module, input, v), 4)
  end
  return text
end

local function unquote(s)
  return s and (s:match('^"(.*)"$') or s:match("^'(.*)'$") or s)
end

function util.yaml_docs(text)
  local docs, cur = {}, {}
  local function flush()
    local t = table.concat(cur, "\n")
    cur = {}
    local content = false
    for line in (t .. "\n"):gmatch("(.-)\n") do
      if not line:match("^%s*$") and not line:match("^%s*#") then content = true end
    end
    if not content then return end
    local kind = unquote(t:match("^kind:%s*(%S+)") or t:match("\nkind:%s*(%S+)"))
    local meta = t:match("^metadata:%s*\n(.-)\n%S") or t:match("\nmetadata:%s*\n(.-)\n%S")
                 or t:match("\nmetadata:%s*\n(.*)$") or t:match("^metadata:%s*\n(.*)$") or ""
    local name = unquote(("\n" .. meta):match("\n  name:%s*(%S+)"))
    docs[#docs + 1] = { text = t, kind = kind, name = name }
  end
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    if line:match("^%-%-%-%s*$") then flush() else cur[#cur + 1] = line end
  end
  flush()
  return docs
end

function util.drop_objects(text, drop)
  local skip = {}
  for _, k in ipairs(drop) do skip[k] = true end
  local keep = {}
  for _, d in ipairs(util.yaml_docs(text)) do
    if not skip[(d.kind or "") .. "/" .. (d.name or "")] then keep[#keep + 1] = d.text end
  end
  return table.concat(keep, "\n---\n") .. "\n"
end

function util.version_at_least(v, min)
  if v == "latest" or v == "-" then return true end
  local function parts(s)
    local out = {}
    for n in s:gsub("%-gke%.", "."):gmatch("%d+") do out[#out + 1] = tonumber(n) end
    return out
  end
  local a, b = parts(v), parts(min)
  for k = 1, #a do
    if b[k] == nil or a[k] ~= b[k] then return b[k] == nil or a[k] > b[k] end
  end
  return true
end

return util
