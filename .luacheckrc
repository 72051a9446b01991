-- luacheck for the generated module: only Lua's standard library common to
-- 5.1–5.4 ("min") and the two globals of Prosody's module environment.
std = "min"
read_globals = { "module", "prosody" }
max_line_length = false
-- Boilerplate of TypeScriptToLua's bundle: each file's chunk takes `...`,
-- `for ____, x in ipairs(t)` names the unused index, and the bundle's
-- require() initialises `value` before assigning it.
ignore = { "212/...", "213/____", "311/value" }
