-- The `task` module: run functions concurrently inside one script.
--   local t = task.spawn(fn, ...)      start fn(...) as a task; returns at once
--   task.wait(t [, timeout])           → fn's return values, or nil, err
--   task.wait_all(list)                → results (first value of each), errors (nil when none failed)
--   task.select(items [, timeout])     → index of the first ready stream/process/task, or nil, err
--   task.sleep(seconds)
-- Tasks run while others wait on commands; they end with the script's run.
local N, settle, new_error = ...
local pack, unpack, type, getmetatable, setmetatable = table.pack, table.unpack, type, getmetatable, setmetatable
local traceback = debug.traceback

local Task = { __name = "task" }
Task.__index = Task
Task.__tostring = function(t) return "task " .. tostring(t.id) .. (t.done and " (done)" or "") end

local task = {}

local function handler(e)
  if type(e) == "string" then return traceback(e, 2) end
  return e
end

function task.spawn(fn, ...)
  if type(fn) ~= "function" then return nil, new_error("INVALID", "task.spawn: fn must be a function") end
  local t = setmetatable({ done = false }, Task)
  local args = pack(...)
  local id, err = settle(N.task_spawn(function()
    local r = pack(xpcall(fn, handler, unpack(args, 1, args.n)))
    if r[1] then t.results = r else t.err = r[2] end
    t.done = true
  end))
  if id == nil then return nil, err end
  t.id = id
  return t
end

local function is_task(t) return getmetatable(t) == Task end

local function failure(t)
  local e = t.err
  if type(e) == "table" and e.kind and e.message then return e end
  return new_error("TASK_FAILED", tostring(e))
end

function task.wait(t, timeout)
  if not is_task(t) then return nil, new_error("INVALID", "task.wait: t is not a task") end
  if not t.done then
    local ok, err = settle(N.task_wait(t.id, timeout))
    if ok == nil then return nil, err end
  end
  if t.err ~= nil then return nil, failure(t) end
  return unpack(t.results, 2, t.results.n)
end

function task.wait_all(list)
  if type(list) ~= "table" then return nil, new_error("INVALID", "task.wait_all: list must be a table of tasks") end
  local results, errors = {}, nil
  for i = 1, #list do
    local t = list[i]
    local v, err = task.wait(t)
    if err and (v == nil) and (not is_task(t) or t.err ~= nil or not t.done) then
      errors = errors or {}
      errors[i] = err
    else
      results[i] = v
    end
  end
  return results, errors
end

local function describe(item)
  if is_task(item) then return { kind = "task", h = item.id } end
  local mt = getmetatable(item)
  if type(item) == "table" and mt == "exec.stream" then return { kind = "stream", h = item._h } end
  if type(item) == "table" and mt == "exec.process" then return { kind = "process", h = item._h } end
  return { kind = "unknown" }
end

function task.select(items, timeout)
  if type(items) ~= "table" then return nil, new_error("INVALID", "task.select: items must be a list") end
  local described = {}
  for i = 1, #items do described[i] = describe(items[i]) end
  return settle(N.task_select(described, timeout))
end

function task.sleep(seconds)
  return settle(N.sleep(seconds))
end

return task
