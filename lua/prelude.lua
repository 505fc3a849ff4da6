-- moonexec prelude: runs once per host before any script.
-- Sets up blocking calls (that also work inside user coroutines), the sandbox,
-- binary-safe output, and `require` for modules next to the script.
local N = ...
local AWAIT = N.AWAIT
local yield, raw_resume, raw_status, raw_create = coroutine.yield, coroutine.resume, coroutine.status, coroutine.create
local pack, unpack, select, type, error, tostring, setmetatable = table.pack, table.unpack, select, type, error, tostring, setmetatable

---------------------------------------------------------------- errors
local Error = { __name = "exec.error" }
Error.__index = Error
Error.__tostring = function(e) return tostring(e.kind) .. ": " .. tostring(e.message) end
local function new_error(kind, message)
  return setmetatable({ kind = kind, message = message }, Error)
end

-- Native calls answer (true, values...) | (false, kind, message) | (AWAIT, id).
-- AWAIT is passed up with a yield; the host resumes us with the final answer.
local function settle(ok, ...)
  if ok == true then return ... end
  if ok == AWAIT then return settle(yield(AWAIT, (...))) end
  return nil, new_error(...)
end

---------------------------------------------------------------- coroutines
-- A host wait inside a user coroutine must not surface as the coroutine's own yield:
-- pass it up to whoever resumed us (ultimately the host), then resume the coroutine
-- with the answer, until the coroutine yields a value of its own or ends.
-- A coroutine that ran for a whole time slice pauses (a hook yield, no values) so the host
-- sees signals and cancel(): pass the pause up as SLICE where we can, and go on.
local SLICE, took_slice, isyieldable = N.SLICE, N.took_slice, coroutine.isyieldable
local function resume(co, ...)
  local r = pack(raw_resume(co, ...))
  while r[1] and raw_status(co) == "suspended" do
    local v = r[2]
    if v == AWAIT then
      r = pack(raw_resume(co, yield(AWAIT, r[3])))
    elseif v == SLICE or (r.n == 1 and select(2, took_slice())) then
      if isyieldable() then yield(SLICE) end
      r = pack(raw_resume(co))
    else
      break
    end
  end
  return unpack(r, 1, r.n)
end

local function wrap(f)
  local co = raw_create(f)
  return function(...)
    local r = pack(resume(co, ...))
    if r[1] then return unpack(r, 2, r.n) end
    coroutine.close(co)
    error(r[2], 2) -- like the C wrap: string errors get the caller's position

  end
end
coroutine.resume = resume
coroutine.wrap = wrap

---------------------------------------------------------------- output
local write = N.write
local concat = table.concat

local function write_all(fd, ...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    local t = type(v)
    if t ~= "string" and t ~= "number" then
      error(("bad argument #%d to 'write' (string expected, got %s)"):format(i, t), 3)
    end
    parts[i] = v
  end
  local ok, err = settle(write(fd, concat(parts)))
  if ok == nil then error(tostring(err), 3) end
end

function print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  local ok, err = settle(write(1, concat(parts, "\t") .. "\n"))
  if ok == nil then error(tostring(err), 2) end
end

local function file(fd, name)
  local f = {}
  f.write = function(self, ...) write_all(fd, ...) return self end
  f.flush = function(self) return self end
  f.setvbuf = function() return true end
  f.close = function() return nil, "cannot close standard file" end
  return setmetatable(f, { __name = "FILE*", __tostring = function() return "file (" .. name .. ")" end })
end
io.stdout = file(1, "stdout")
io.stderr = file(2, "stderr")
io.write = function(...) write_all(1, ...) return io.stdout end

---------------------------------------------------------------- sandbox
local function disabled(name, hint)
  return function() error(name .. " is disabled in moonexec" .. (hint or ""), 2) end
end
local use_exec = ": run commands with require(\"exec\")"
os.execute = disabled("os.execute", use_exec)
io.popen = disabled("io.popen", use_exec)
os.remove = disabled("os.remove", use_exec)
os.rename = disabled("os.rename", use_exec)
os.tmpname = disabled("os.tmpname")
io.open = disabled("io.open", use_exec)
io.lines = disabled("io.lines", use_exec)
io.input = disabled("io.input")
io.output = disabled("io.output")
io.tmpfile = disabled("io.tmpfile")
dofile = disabled("dofile", ": use require")
loadfile = disabled("loadfile", ": use require")
package.loadlib = disabled("package.loadlib")
package.cpath = ""
-- debug.sethook would remove the time limit; keep only the read-only helpers.
debug = { traceback = debug.traceback, getinfo = debug.getinfo }

-- Text chunks only: crafted bytecode can corrupt the VM.
local raw_load = load
load = function(chunk, name, mode, ...)
  if select("#", ...) == 0 then return raw_load(chunk, name, "t") end -- keep the global _ENV
  return raw_load(chunk, name, "t", (...))
end

os.exit = function(code)
  settle(N.exit(code))
end

---------------------------------------------------------------- require
local preload = package.preload
package.searchers = {
  function(name)
    local loader = preload[name]
    if loader then return loader, ":preload:" end
    return "\n\tno field package.preload['" .. name .. "']"
  end,
  function(name)
    local src, where = settle(N.find_module(name))
    if src == nil then return tostring(where) end
    local chunk, err = raw_load(src, "@" .. where, "t")
    if not chunk then error(err, 0) end
    return chunk, where
  end,
}
package.path = N.module_path

-- Built-in modules, compiled on first require.
for name, source in pairs(N.builtin_sources) do
  preload[name] = function()
    return assert(raw_load(source, "=[moonexec " .. name .. "]", "t"))(N, settle, new_error)
  end
end

---------------------------------------------------------------- host API (library embedding)
-- Functions the TypeScript host calls; scripts never see this table.
local plugins = {}
local host = {}

function host.load_plugin(chunk, ...)
  local exported = chunk(...)
  plugins[#plugins + 1] = exported
  return #plugins
end

function host.call_plugin(id, name, ...)
  local exported = plugins[id]
  local f = type(exported) == "table" and exported[name]
  if type(f) ~= "function" then error("plugin has no exported function '" .. tostring(name) .. "'", 0) end
  return f(...)
end

-- A module written in TypeScript: each native answers in the settle convention.
function host.register_module(name, natives)
  local module = {}
  for fname, native in pairs(natives) do
    module[fname] = function(...) return settle(native(...)) end
  end
  preload[name] = function() return module end
end

return host
