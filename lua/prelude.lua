-- moonexec prelude: runs once per host before any script.
-- Sets up blocking calls (that also work inside user coroutines), the sandbox,
-- binary-safe output, and `require` for modules next to the script.
--
-- Every function defined here (and in the builtin modules) is a "host function": its
-- chunk name starts with HOST_PREFIX, which scripts cannot use. The script's `debug`
-- (built below) shows host functions as C functions without upvalues or locals, so
-- the values they close over (N, raw_load, settle, the host API) stay out of reach.
-- docs/sandbox.md has the threat model.
local N = ...
local AWAIT = N.AWAIT
local yield, raw_resume, raw_status, raw_create, raw_close, raw_running, raw_isyieldable =
  coroutine.yield, coroutine.resume, coroutine.status, coroutine.create, coroutine.close, coroutine.running,
  coroutine.isyieldable
local pack, unpack, concat = table.pack, table.unpack, table.concat
local select, type, error, tostring, tonumber, setmetatable, pairs, rawequal, pcall =
  select, type, error, tostring, tonumber, setmetatable, pairs, rawequal, pcall
local getmetatable = getmetatable
local sub, format, gsub, gmatch, byte, find = string.sub, string.format, string.gsub, string.gmatch, string.byte, string.find
local raw_load, raw_dump = load, string.dump
local raw_debug = debug
local raw_getinfo = raw_debug.getinfo
local package_t, loaded = package, package.loaded

local HOST_PREFIX = "=[moonexec "
local DOC = " (see docs/sandbox.md)"

---------------------------------------------------------------- host functions
-- C closures the host made (its host functions): their upvalues are host indexes.
local host_c = setmetatable({}, { __mode = "k" })
for _, v in pairs(N) do
  if type(v) == "function" then host_c[v] = true end
end

local function host_source(src)
  return sub(src, 1, #HOST_PREFIX) == HOST_PREFIX
end

local function is_host(f)
  if type(f) ~= "function" then return false end
  if host_c[f] then return true end
  return host_source(raw_getinfo(f, "S").source)
end

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
-- Coroutines the script made. The threads the host runs (the main chunk, tasks) are not
-- among them: to the script they are main threads, which cannot yield or be resumed.
local user_threads = setmetatable({}, { __mode = "k" })

local inherit -- set with the script hooks below

local function create(f)
  local co = raw_create(f)
  user_threads[co] = true
  inherit(co)
  return co
end

-- A host wait inside a user coroutine must not surface as the coroutine's own yield:
-- pass it up to whoever resumed us (ultimately the host), then resume the coroutine
-- with the answer, until the coroutine yields a value of its own or ends.
-- A coroutine that ran for a whole time slice pauses (a hook yield, no values) so the host
-- sees signals and cancel(): pass the pause up as SLICE where we can, and go on.
local SLICE, took_slice, isyieldable = N.SLICE, N.took_slice, coroutine.isyieldable
local function resume(co, ...)
  if type(co) == "thread" and not user_threads[co] then
    return false, raw_status(co) == "dead" and "cannot resume dead coroutine" or "cannot resume non-suspended coroutine"
  end
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
  local co = create(f)
  return function(...)
    local r = pack(resume(co, ...))
    if r[1] then return unpack(r, 2, r.n) end
    local err = r[2]
    if raw_close and raw_status(co) == "dead" then -- Lua 5.3 (fengari): no coroutine.close
      -- Close its to-be-closed variables; an error from a __close replaces the body's.
      local ok, cerr = raw_close(co)
      if not ok then err = cerr end
    end
    if type(err) == "string" then error(err, 2) end -- like the C wrap: the caller's position
    error(err, 0)
  end
end

coroutine.create = create
coroutine.resume = resume
coroutine.wrap = wrap
coroutine.yield = function(...)
  if not user_threads[raw_running()] then error("attempt to yield from outside a coroutine", 0) end
  return yield(...)
end
coroutine.running = function()
  local co = raw_running()
  return co, not user_threads[co]
end
coroutine.isyieldable = function(co)
  if co == nil then co = raw_running() end
  if type(co) ~= "thread" then return raw_isyieldable(co) end -- its own argument error
  return user_threads[co] == true and raw_isyieldable(co)
end
coroutine.close = raw_close and function(co)
  if type(co) == "thread" and not user_threads[co] and co ~= raw_running() then
    error("cannot close a normal coroutine", 2)
  end
  return raw_close(co)
end

---------------------------------------------------------------- output
local write = N.write

local function write_all(fd, ...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do
    local v = select(i, ...)
    local t = type(v)
    if t ~= "string" and t ~= "number" then
      error(format("bad argument #%d to 'write' (string expected, got %s)", i, t), 3)
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
  f.read = function() return nil, "reading " .. name .. " is not possible" end
  f.lines = function() error("reading " .. name .. " is not possible", 2) end
  f.seek = function() return nil, "cannot seek on " .. name end
  return setmetatable(f, { __name = "FILE*", __tostring = function() return "file (" .. name .. ")" end })
end
local stdout, stderr = file(1, "stdout"), file(2, "stderr")
local raw_iotype = io.type
io.stdout = stdout
io.stderr = stderr
io.write = function(...) write_all(1, ...) return stdout end
io.type = function(x)
  if rawequal(x, stdout) or rawequal(x, stderr) then return "file" end
  return raw_iotype(x)
end
io.flush = function() return true end
io.close = function() return nil, "cannot close standard file" end

---------------------------------------------------------------- sandbox
local function disabled(name, hint)
  local msg = name .. " is disabled in moonexec" .. (hint or "") .. DOC
  return function() error(msg, 2) end
end
local use_exec = ": run commands with require(\"exec\")"
os.execute = disabled("os.execute", use_exec)
io.popen = disabled("io.popen", use_exec)
os.remove = disabled("os.remove", use_exec)
os.rename = disabled("os.rename", use_exec)
os.tmpname = disabled("os.tmpname")
-- The host's environment may hold secrets: scripts see every variable as unset.
os.getenv = function(name)
  if type(name) ~= "string" then error("bad argument #1 to 'getenv' (string expected, got " .. type(name) .. ")", 2) end
  return nil
end
io.open = disabled("io.open", use_exec)
io.lines = disabled("io.lines", use_exec)
io.input = disabled("io.input")
io.output = disabled("io.output")
io.tmpfile = disabled("io.tmpfile")
io.read = disabled("io.read: there is no standard input")
io.stdin = nil
dofile = disabled("dofile", ": use require")
loadfile = disabled("loadfile", ": use require")
package_t.loadlib = disabled("package.loadlib")
package_t.cpath = ""

-- Text chunks only: crafted bytecode can corrupt the VM (and every host in the process
-- shares one wasm memory). Chunk names of host code are reserved (see is_host).
local function check_chunkname(name)
  if type(name) == "string" and host_source(name) then
    error("bad argument #2 to 'load' (chunk names starting with '" .. HOST_PREFIX .. "' are reserved)" .. DOC, 3)
  end
end
load = function(chunk, name, mode, ...)
  check_chunkname(name)
  local env_given = select("#", ...) > 0
  local f, err
  if env_given then f, err = raw_load(chunk, name, "t", (...)) else f, err = raw_load(chunk, name, "t") end
  if mode ~= nil and type(mode) ~= "string" then
    error("bad argument #3 to 'load' (string expected, got " .. type(mode) .. ")", 2)
  end
  if mode ~= nil and not find(mode, "t", 1, true) then
    -- A binary chunk is refused anyway; a text chunk breaks the caller's mode.
    if f or not find(err, "attempt to load a binary chunk", 1, true) then
      return nil, "attempt to load a text chunk (mode is '" .. mode .. "')"
    end
  end
  if not f and find(err, "attempt to load a binary chunk", 1, true) then
    return nil, err .. ": moonexec loads no bytecode" .. DOC
  end
  return f, err
end

string.dump = function(f, strip)
  if is_host(f) then error("unable to dump given function", 2) end
  return raw_dump(f, strip)
end

os.exit = function(code)
  if type(code) == "string" then code = tonumber(code) or code end
  local ok, err = settle(N.exit(code))
  if ok == nil then error("bad argument #1 to 'exit' (" .. tostring(err.message) .. ")", 2) end
end

---------------------------------------------------------------- debug
-- What libraries use, minus what reaches the host: host functions look like C functions
-- (no upvalues, no locals), C functions' upvalues cannot be changed (some hold raw state
-- their C code trusts), the registry is not handed out, and hooks are the script's own
-- (the host keeps its own count hook; see src/lua/script-hooks.ts).
local sdebug = {}
local raw_getlocal, raw_setlocal = raw_debug.getlocal, raw_debug.setlocal
local raw_getupvalue, raw_setupvalue = raw_debug.getupvalue, raw_debug.setupvalue
local raw_upvalueid, raw_upvaluejoin = raw_debug.upvalueid, raw_debug.upvaluejoin

-- ([thread,] rest...) -> th, rest... ; th is nil for the running thread. Levels then count
-- from the caller of these Lua wrappers, as they do from the C functions.
local function thread_args(...)
  local th = ...
  if type(th) == "thread" then
    if th == raw_running() then th = nil end
    return th, select(2, ...)
  end
  return nil, ...
end

-- How the engine shows its native functions: C on wasmoon, JS ("J", "[JS]") on fengari.
local NATIVE = raw_getinfo(pcall, "S")

local function as_c(info)
  info.source, info.short_src, info.what = NATIVE.source, NATIVE.short_src, NATIVE.what
  info.linedefined, info.lastlinedefined, info.currentline = -1, -1, -1
  info.nups, info.nparams, info.isvararg = 0, 0, true
  info.activelines = nil
  return info
end

local function host_info(info)
  return info ~= nil and (host_c[info.func] or host_source(info.source))
end

-- Lua 5.3 (fengari) has no 'r' (transfer) option.
local ALL_INFO = _VERSION == "Lua 5.3" and "flnStu" or "flnSrtu"

function sdebug.getinfo(...)
  local th, where, what = thread_args(...)
  if what ~= nil and type(what) ~= "string" then
    error("bad argument #" .. (th and 3 or 2) .. " to 'debug.getinfo' (string expected, got " .. type(what) .. ")", 2)
  end
  what = what or ALL_INFO
  if type(where) == "number" and not th then where = where + 1 end -- skip this wrapper
  local info
  if th then info = raw_getinfo(th, where, what .. "Sf") else info = raw_getinfo(where, what .. "Sf") end
  if info == nil then return nil end
  if host_info(info) then as_c(info) end
  if not find(what, "S", 1, true) then
    info.source, info.short_src, info.what, info.linedefined, info.lastlinedefined = nil, nil, nil, nil, nil
  end
  if not find(what, "f", 1, true) then info.func = nil end
  return info
end

-- Locals of host frames are not shown (nor settable): as for a C function, there are none.
function sdebug.getlocal(...)
  local th, where, n = thread_args(...)
  if type(where) == "function" then
    if is_host(where) then return nil end
    return raw_getlocal(where, n)
  end
  if type(where) ~= "number" then return raw_getlocal(where, n) end -- its own argument error
  if th then
    if host_info(raw_getinfo(th, where, "Sf")) then return nil end
    return raw_getlocal(th, where, n)
  end
  if host_info(raw_getinfo(where + 1, "Sf")) then return nil end
  return raw_getlocal(where + 1, n)
end

function sdebug.setlocal(...)
  local th, where, n, value = thread_args(...)
  if type(where) ~= "number" then
    error("bad argument #" .. (th and 2 or 1) .. " to 'debug.setlocal' (number expected, got " .. type(where) .. ")", 2)
  end
  if th then
    if host_info(raw_getinfo(th, where, "Sf")) then return nil end
    return raw_setlocal(th, where, n, value)
  end
  if host_info(raw_getinfo(where + 1, "Sf")) then return nil end
  return raw_setlocal(where + 1, n, value)
end

function sdebug.getupvalue(f, n)
  if is_host(f) then return end
  return raw_getupvalue(f, n)
end

local function no_c_upvalues(f, fname)
  if type(f) == "function" and raw_getinfo(f, "S").what == NATIVE.what then
    error("bad argument #1 to 'debug." .. fname .. "' (moonexec does not change the upvalues of C functions)" .. DOC, 3)
  end
end

function sdebug.setupvalue(f, n, value)
  if is_host(f) then return end
  no_c_upvalues(f, "setupvalue")
  return raw_setupvalue(f, n, value)
end

function sdebug.upvalueid(f, n)
  if is_host(f) then return nil end
  return raw_upvalueid(f, n)
end

function sdebug.upvaluejoin(f1, n1, f2, n2)
  if is_host(f1) then error("bad argument #2 to 'debug.upvaluejoin' (invalid upvalue index)", 2) end
  if is_host(f2) then error("bad argument #4 to 'debug.upvaluejoin' (invalid upvalue index)", 2) end
  return raw_upvaluejoin(f1, n1, f2, n2)
end

sdebug.traceback = raw_debug.traceback
-- Metatables whose __gc is a host function (exec objects) stay hidden, as getmetatable
-- hides them: a script must not swap what Lua runs as their finalizer.
local raw_getfield = rawget
local function host_mt(mt) return type(mt) == "table" and is_host(raw_getfield(mt, "__gc")) end
function sdebug.getmetatable(v)
  local mt = raw_debug.getmetatable(v)
  if host_mt(mt) then return getmetatable(v) end
  return mt
end
sdebug.getuservalue = raw_debug.getuservalue
sdebug.setuservalue = raw_debug.setuservalue
sdebug.setcstacklimit = raw_debug.setcstacklimit

---------------------------------------------------------------- script hooks
-- The script's hooks, per thread as in Lua. The host's single C hook calls dispatch for
-- every event; events inside host functions are not shown to the script.
local script_hooks = setmetatable({}, { __mode = "k" })
local inherited = setmetatable({}, { __mode = "k" })
local set_script_hook = N.set_script_hook
local EVENT_MASK = { call = "c", ["tail call"] = "c", ["return"] = "r", line = "l" }

local function dispatch(event, line, step)
  local h = script_hooks[raw_running()]
  if h == nil then return end
  if event == "count" then
    if h.count <= 0 then return end
    h.due = h.due - step
    if h.due > 0 then return end
    h.due = h.count
  elseif not find(h.mask, EVENT_MASK[event], 1, true) then
    return
  end
  local info = raw_getinfo(2, "S") -- the hooked function: the script sees no host Lua code run
  if info and info.what ~= NATIVE.what and host_source(info.source) then return end
  return h.fn(event, line) -- a tail call: in the hook, level 2 is the hooked function
end

function sdebug.sethook(...)
  local th = ...
  local args
  if type(th) == "thread" then args = pack(select(2, ...)) else th, args = raw_running(), pack(...) end
  local fn, mask, count = args[1], args[2], args[3]
  inherited[th] = nil
  if fn == nil or args.n == 0 then
    script_hooks[th] = nil
    settle(set_script_hook(th, "", 0))
    return
  end
  if type(fn) ~= "function" then error("bad argument #1 to 'debug.sethook' (function expected)", 2) end
  if mask == nil then mask = "" end
  if type(mask) ~= "string" then error("bad argument #2 to 'debug.sethook' (string expected, got " .. type(mask) .. ")", 2) end
  count = count == nil and 0 or tonumber(count)
  if count == nil or count ~= count // 1 then error("bad argument #3 to 'debug.sethook' (number has no integer representation)", 2) end
  local keep = gsub(mask, "[^crl]", "")
  if keep == "" and count <= 0 then
    script_hooks[th] = nil
    settle(set_script_hook(th, "", 0))
    return
  end
  script_hooks[th] = { fn = fn, mask = keep, count = count > 0 and count or 0, due = count }
  local ok, err = settle(set_script_hook(th, keep, count > 0 and count or 0))
  if ok == nil then error(tostring(err), 2) end
end

-- A new coroutine gets its creator's mask and count but no hook function, as in Lua.
inherit = function(co)
  local h = script_hooks[raw_running()] or inherited[raw_running()]
  if h then inherited[co] = { mask = h.mask, count = h.count } end
end

function sdebug.gethook(th)
  if th == nil then th = raw_running() end
  local h = script_hooks[th]
  if h == nil then
    local i = inherited[th]
    if i == nil then return nil end
    return nil, i.mask, i.count
  end
  return h.fn, h.mask, h.count
end

-- Finalizers: Lua runs __gc with every hook off, where no limit (time, Ctrl-C) can stop
-- it, so a script's objects are not made finalizable: a metatable's __gc is set aside
-- while it is attached, unless it is a host function (exec objects free their handles).
local rawget, rawset = rawget, rawset
local function without_gc(set)
  return function(t, mt)
    if type(mt) ~= "table" or rawget(mt, "__gc") == nil or is_host(rawget(mt, "__gc")) then
      local r = set(t, mt)
      return r
    end
    local gc = rawget(mt, "__gc")
    rawset(mt, "__gc", nil)
    local ok, r = pcall(set, t, mt)
    rawset(mt, "__gc", gc)
    if not ok then error(r, 0) end
    return r
  end
end
_ENV.setmetatable = without_gc(setmetatable)
local raw_dsetmetatable = without_gc(raw_debug.setmetatable)
function sdebug.setmetatable(v, mt)
  if host_mt(raw_debug.getmetatable(v)) or host_mt(mt) then error("cannot change a protected metatable", 2) end
  return raw_dsetmetatable(v, mt)
end

debug = sdebug
loaded.debug = sdebug

---------------------------------------------------------------- require
-- Lua's own require over package.searchers; the file searcher reads only below the
-- script's directory and the module paths (the host checks every file it reads).
local preload = package_t.preload
local module_file, module_source = N.module_file, N.module_source

local function plain_gsub(s, from, to)
  if from == "" then return s end
  return (gsub(s, gsub(from, "%p", "%%%0"), function() return to end))
end

-- Lua 5.3's require joins the searchers' messages as they are: each starts its own line.
local LIST_START = _VERSION == "Lua 5.3" and "\n\t" or ""

local function searchpath(name, path, sep, rep)
  if type(name) ~= "string" then error("bad argument #1 to 'searchpath' (string expected, got " .. type(name) .. ")", 2) end
  if type(path) ~= "string" then error("bad argument #2 to 'searchpath' (string expected, got " .. type(path) .. ")", 2) end
  sep, rep = sep or ".", rep or "/"
  name = plain_gsub(name, sep, rep)
  local tried, pos = {}, 1
  repeat -- every template, empty ones too (as in Lua's message)
    local stop = find(path, ";", pos, true)
    local filename = gsub(sub(path, pos, stop and stop - 1 or -1), "%?", function() return name end)
    local found, why = settle(module_file(filename))
    if found == true then return filename end
    tried[#tried + 1] = "no file '" .. filename .. "'" .. (found == false and why or "")
    pos = stop and stop + 1
  until not stop
  return nil, LIST_START .. concat(tried, "\n\t")
end
package_t.searchpath = searchpath

local function searcher_preload(name)
  local loader = preload[name]
  if loader == nil then return LIST_START .. format("no field package.preload['%s']", name) end
  return loader, ":preload:"
end

local function searcher_lua(name)
  local path = package_t.path
  if type(path) ~= "string" then error("'package.path' must be a string", 0) end
  local filename, err = searchpath(name, path)
  if filename == nil then return err end
  local src, serr = settle(module_source(filename))
  local chunk, lerr
  if src == nil then lerr = tostring(serr) else chunk, lerr = raw_load(src, "@" .. filename, "t") end
  if not chunk then error(format("error loading module '%s' from file '%s':\n\t%s", name, filename, lerr), 0) end
  return chunk, filename
end

package_t.searchers = { searcher_preload, searcher_lua }
local default_path = N.module_path
package_t.path = default_path

-- Built-in modules, compiled on first require, see the globals as they are now: a script
-- that replaced a global (rawget, say, which exec's finalizer calls with every hook off)
-- must not have it run as host code.
local host_env = {}
for k, v in pairs(_G) do
  if type(v) == "table" and v ~= _G and k ~= "package" then
    local copy = {}
    for k2, v2 in pairs(v) do copy[k2] = v2 end
    v = copy
  end
  host_env[k] = v
end
host_env._G = host_env
for name, source in pairs(N.builtin_sources) do
  preload[name] = function()
    return assert(raw_load(source, HOST_PREFIX .. name .. "]", "t", host_env))(N, settle, new_error)
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
    host_c[native] = true
    module[fname] = function(...) return settle(native(...)) end
  end
  preload[name] = function() return module end
end

-- The script's directory changed (a new script file): follow it unless the script set its own path.
function host.set_module_path(path)
  if package_t.path == default_path then package_t.path = path end
  default_path = path
end

-- A script's error value as text, for the host's report; runs with the limits on.
function host.describe_error(e)
  if type(e) == "string" or type(e) == "number" then return tostring(e) end
  local ok, s = pcall(tostring, e)
  if ok and type(s) == "string" then return s end
  return "(error object is a " .. type(e) .. " value)"
end

host.hook_dispatch = dispatch

return host
