-- The `exec` module: executors, processes and streams as Lua objects.
-- Every call returns value, err (nil, err on failure). Objects hold a host handle
-- number; all work happens in the host (src/lua/types/executor.ts, proc.ts, stream.ts).
local N, settle, new_error = ...
local setmetatable = setmetatable

local Executor = { __name = "exec.executor" }
Executor.__index = Executor
local Process = { __name = "exec.process" }
Process.__index = Process
local Stream = { __name = "exec.stream" }
Stream.__index = Stream
-- getmetatable gives the name, never the table: a script that could reach these could swap
-- their __gc, which Lua runs with every hook off (beyond the time limit and Ctrl-C).
Executor.__metatable, Process.__metatable, Stream.__metatable = Executor.__name, Process.__name, Stream.__name
-- What each object is, by identity (a table can claim any __metatable name).
local kind_of = setmetatable({}, { __mode = "k" })

-- Methods called with '.' instead of ':' get a clear error instead of a crash.
local function method(mt, name, native)
  return function(self, ...)
    if kind_of[self] ~= mt then
      return nil, new_error("INVALID", name .. ": self is not an " .. mt.__name .. " (call it with ':')")
    end
    return settle(native(self._h, ...))
  end
end

local exec = {}

-- A new object for handle h. Each holds host objects Lua's collector cannot weigh (see
-- Handles.collectDue), so the host says when to collect before more pile up.
local collect_due, collectgarbage = N.collect_due, collectgarbage
local function object(mt, h, id)
  if settle(collect_due()) then collectgarbage() end
  local o = setmetatable({ _h = h, id = id }, mt)
  kind_of[o] = mt
  return o
end

function exec.get(id)
  local h, err = settle(N.exec_get(id))
  if h == nil then return nil, err end
  return object(Executor, h, id)
end

local raw_exec = method(Executor, "executor:exec", N.executor_exec)
function Executor:exec(cmd, opts)
  local h, err = raw_exec(self, cmd, opts)
  if h == nil then return nil, err end
  return object(Process, h)
end
Executor.release = method(Executor, "executor:release", N.executor_release)
Executor.processes = method(Executor, "executor:processes", N.executor_processes)
Executor.kill = method(Executor, "executor:kill", N.executor_kill)
local raw_attach = method(Executor, "executor:attach", N.executor_attach)
function Executor:attach(selector)
  local h, err = raw_attach(self, selector)
  if h == nil then return nil, err end
  return object(Process, h)
end
Executor.push_file = method(Executor, "executor:push_file", N.executor_push_file)
Executor.pull_file = method(Executor, "executor:pull_file", N.executor_pull_file)
Executor.__tostring = function(e) return "exec.executor(" .. e.id .. ")" end

Process.start = method(Process, "proc:start", N.proc_start)
Process.pid = method(Process, "proc:pid", N.proc_pid)
Process.signal = method(Process, "proc:signal", N.proc_signal)
Process.kill = method(Process, "proc:kill", N.proc_kill)
Process.write_stdin = method(Process, "proc:write_stdin", N.proc_write_stdin)
Process.close_stdin = method(Process, "proc:close_stdin", N.proc_close_stdin)
Process.close = method(Process, "proc:close", N.proc_close)
Process.resize = method(Process, "proc:resize", N.proc_resize)
Process.signal_name = method(Process, "proc:signal_name", N.proc_signal_name)
Process.info = method(Process, "proc:info", N.proc_info)

local raw_wait = method(Process, "proc:wait", N.proc_wait)
-- wait → exit_code; a timeout gives exit_code plus err (kind TIMEOUT), as the host built it
-- (src/process/ending.ts): only the error object is made here.
function Process:wait()
  local code, kind, message = raw_wait(self)
  if code == nil then return nil, kind end -- kind is the error here
  if kind ~= nil then return code, new_error(kind, message) end
  return code
end

local function stream_getter(which)
  local raw = method(Process, "proc:" .. which .. "_stream", N.proc_stream)
  return function(self)
    local cached = type(self) == "table" and rawget(self, which)
    if cached then return cached end
    local h, err = raw(self, which)
    if h == nil then return nil, err end
    local s = object(Stream, h)
    self[which] = s
    return s
  end
end
Process.stdout_stream = stream_getter("stdout")
Process.stderr_stream = stream_getter("stderr")

Stream.read = method(Stream, "stream:read", N.stream_read)
Stream.read_line = method(Stream, "stream:read_line", N.stream_read_line)
Stream.read_all = method(Stream, "stream:read_all", N.stream_read_all)
Stream.close = method(Stream, "stream:close", N.stream_close)

-- stream:expect(pattern, timeout): the host waits for output (src/lua/types/stream.ts); the
-- match is string.find's own, so patterns mean exactly what they mean in Lua.
local raw_peek = method(Stream, "stream:expect", N.stream_expect_peek)
local skip = N.stream_expect_skip
local find, sub, pcall, tostring, type = string.find, string.sub, pcall, tostring, type
local function matched(self, text, s, e, ...)
  settle(skip(self._h, e))
  return sub(text, s, e), ...
end
local function bad_pattern(err) return nil, new_error("INVALID", "stream:expect: pattern: " .. tostring(err)) end
function Stream:expect(pattern, timeout)
  if type(pattern) == "string" then
    local ok, err = pcall(find, "", pattern) -- a malformed pattern is refused before any wait
    if not ok then return bad_pattern(err) end
  end
  local seen, deadline = -1, nil
  while true do
    local text, d, arrived = raw_peek(self, pattern, timeout, seen, deadline)
    if text == nil then return nil, d end
    deadline, seen = d, arrived
    local ok, s = pcall(find, text, pattern)
    if not ok then return bad_pattern(s) end
    if s then return matched(self, text, find(text, pattern)) end
  end
end

-- for line in stream:lines() do ... end  (errors are raised, not returned)
function Stream:lines()
  if kind_of[self] ~= Stream then
    error(tostring(new_error("INVALID", "stream:lines: self is not an " .. Stream.__name .. " (call it with ':')")), 2)
  end
  return function()
    local line, err = self:read_line()
    if err then error(tostring(err), 2) end
    return line
  end
end

-- Dropping a Lua object frees its host handle (not the process or executor behind it:
-- those end by wait/kill/release or when the host stops).
local free = N.free
local function gc(self) free(rawget(self, "_h")) end
Executor.__gc, Process.__gc, Stream.__gc = gc, gc, gc

require("exec.fleet")(exec) -- exec.list, exec.each, exec.print_lines (lua/fleet.lua)
return exec
