-- util: input checking shared by the modules.
--   util.inputs(module, given, spec) -> table of inputs with defaults applied.
--   spec maps input name -> { type = "string"|"number"|"boolean"|"table", default = v, required = bool }
-- A missing required input or a wrong type is an error naming the module and the input.
local util = {}

function util.inputs(module, given, spec)
  local out = {}
  for k in pairs(given) do
    if k ~= "source" and spec[k] == nil then
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
    out[name] = v
  end
  return out
end

return util
