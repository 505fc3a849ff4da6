-- The Lua side of `moonexec repl`, loaded once into the host as package.loaded["moonexec.repl"]:
-- compile a chunk (as an expression first, like lua.c), run it under a traceback handler,
-- and format its results. Formatting runs in Lua so tables keep their identity: cycles are
-- marked, depth and item counts are bounded, metatables with __tostring/__name are honoured.
local M = { max_depth = 4, max_items = 50, width = 72 }
local load, xpcall, pcall, type, tostring, next, ipairs = load, xpcall, pcall, type, tostring, next, ipairs
local getmetatable, rawget = getmetatable, rawget
local fmt, concat, sort, pack = string.format, table.concat, table.sort, table.pack
local traceback, mtype = debug.traceback, math.type

local keywords = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while"):gmatch("%a+") do
  keywords[w] = true
end

local function quote(s)
  -- %q continues a newline with a backslash line break; show it as \n on one line
  return (fmt("%q", s):gsub("\\\n", "\\n"))
end

-- tostring that never raises (a __tostring may fail or return a non-string)
local function safe_tostring(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "<" .. type(v) .. ": __tostring failed>"
end

local function meta(v, field)
  local mt = getmetatable(v)
  if type(mt) == "string" then
    -- A protected metatable (exec objects) shows only its name; tostring still honours its
    -- __tostring, and without one gives "name: 0x...".
    if field == "__name" then return mt end
    if field == "__tostring" then
      local s = tostring(v)
      return s:sub(1, #mt + 2) ~= mt .. ": " or nil
    end
    return nil
  end
  if type(mt) ~= "table" then return nil end
  return rawget(mt, field)
end

local key_rank = { number = 1, string = 2, boolean = 3 }
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (key_rank[ta] or 9) < (key_rank[tb] or 9) end
  if ta == "number" or ta == "string" then return a < b end
  return safe_tostring(a) < safe_tostring(b)
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k] then return k end
  if type(k) == "string" then return "[" .. quote(k) .. "]" end
  if type(k) == "number" or type(k) == "boolean" then return "[" .. tostring(k) .. "]" end
  return "[" .. safe_tostring(k) .. "]"
end

local show

local function show_table(t, depth, indent, seen)
  if meta(t, "__tostring") then return safe_tostring(t) end
  local name = meta(t, "__name")
  local prefix = type(name) == "string" and (name .. " ") or ""
  if seen[t] then return "<cycle>" end
  if next(t) == nil then return prefix .. "{}" end
  if depth >= M.max_depth then return prefix .. "{...}" end
  seen[t] = true
  local items, total, inner = {}, 0, indent .. "  "
  local n = 0
  while rawget(t, n + 1) ~= nil do
    n = n + 1
    total = total + 1
    if total <= M.max_items then items[#items + 1] = show(rawget(t, n), depth + 1, inner, seen) end
  end
  local keys = {}
  for k in next, t do
    if not (mtype(k) == "integer" and k >= 1 and k <= n) then
      total = total + 1
      if #keys + n < M.max_items then keys[#keys + 1] = k end
    end
  end
  sort(keys, key_less)
  for _, k in ipairs(keys) do
    if #items >= M.max_items then break end
    items[#items + 1] = key_text(k) .. " = " .. show(rawget(t, k), depth + 1, inner, seen)
  end
  seen[t] = nil -- only ancestors count: a table shared by two fields is not a cycle
  if total > #items then items[#items + 1] = "... (" .. (total - #items) .. " more)" end
  local one_line = prefix .. "{ " .. concat(items, ", ") .. " }"
  if #one_line + #indent <= M.width and not one_line:find("\n", 1, true) then return one_line end
  return prefix .. "{\n" .. inner .. concat(items, ",\n" .. inner) .. ",\n" .. indent .. "}"
end

function show(v, depth, indent, seen)
  local tv = type(v)
  if tv == "string" then return quote(v) end
  if tv == "table" then return show_table(v, depth, indent, seen) end
  return safe_tostring(v)
end

--- One value as the REPL prints it; top-level strings print raw, as lua.c does.
function M.show(v, top)
  if top and type(v) == "string" then return v end
  return show(v, 0, "", {})
end

local function message_of(e)
  if type(e) == "string" then return e end
  if meta(e, "__tostring") then return safe_tostring(e) end
  return "(error object is a " .. type(e) .. " value)"
end

-- The traceback of the user's code only: cut where the REPL's own frames begin.
local function handler(e)
  local tb = traceback(message_of(e), 2)
  local out = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("in function 'xpcall'", 1, true) or line:find("[moonexec repl]", 1, true) then break end
    out[#out + 1] = line
  end
  if out[#out] == "stack traceback:" then out[#out] = nil end
  return concat(out, "\n")
end

--- Compile src: "return <src>" first so expressions print, then as statements.
--- Returns f | nil, "incomplete", msg | nil, "syntax", msg.
function M.compile(src)
  local f = load("return " .. src, "=stdin", "t")
  if f then return f end
  local g, err = load(src, "=stdin", "t")
  if g then return g end
  if err:sub(-5) == "<eof>" then return nil, "incomplete", err end
  return nil, "syntax", err
end

--- Run one chunk. Returns "ok"[, text] | "incomplete", msg | "error", msg.
function M.eval(src)
  local f, why, msg = M.compile(src)
  if not f then
    if why == "incomplete" then return "incomplete", msg end
    return "error", msg
  end
  local r = pack(xpcall(f, handler))
  if not r[1] then return "error", r[2] end
  if r.n == 1 then return "ok" end
  local parts = {}
  for i = 2, r.n do parts[#parts + 1] = M.show(r[i], true) end
  return "ok", concat(parts, "\t")
end

package.loaded["moonexec.repl"] = M
exec = require("exec")
