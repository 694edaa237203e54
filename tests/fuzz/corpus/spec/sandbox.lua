local s = string.rep("a", 100)
local x = s:find(".-.-b")
os.getenv("HOME")
