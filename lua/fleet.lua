-- Fan-out: exec.list, exec.each and exec.print_lines (docs/fleet.md).
-- lua/exec.lua calls the function this chunk returns with the `exec` table: the functions
-- below are added to it, and `exec` here becomes that table.
local N, settle, new_error = ...
local type, pairs, ipairs, tostring, getmetatable, xpcall = type, pairs, ipairs, tostring, getmetatable, xpcall
local pack = table.pack
local write = N.write

local exec = {}

-- exec.list([pattern]) → sorted ids: a glob ("fleet:*"), a fleet's id (its members), or one id.
function exec.list(pattern)
  return settle(N.exec_list(pattern))
end

local OPTIONS = { concurrency = true, fail_fast = true }
local DEFAULT_CONCURRENCY = 10

local function invalid(message) return nil, new_error("INVALID", "exec.each: " .. message) end

-- The ids to run on: a list as given, or what a pattern matches (a pattern matching
-- nothing is an error: a typo must not pass for a fleet with no members).
local function targets(what)
  if type(what) == "string" then
    local ids, err = exec.list(what)
    if ids == nil then return nil, err end
    if #ids == 0 then
      local all = exec.list()
      return nil, new_error("NOT_FOUND", ("exec.each: no executor matches '%s' (configured: %s)"):format(what, #all > 0 and table.concat(all, ", ") or "none"))
    end
    return ids
  end
  if type(what) ~= "table" then return invalid("ids must be a list of executor ids or a pattern like \"fleet:*\", got " .. type(what)) end
  local ids, seen = {}, {}
  for i = 1, #what do
    local id = what[i]
    if type(id) ~= "string" then return invalid(("ids[%d] must be a string, got %s"):format(i, type(id))) end
    if seen[id] then return invalid(("ids[%d]: '%s' is listed twice"):format(i, id)) end
    seen[id] = true
    ids[i] = id
  end
  return ids
end

local function options(opts)
  if opts == nil then return { concurrency = DEFAULT_CONCURRENCY, fail_fast = false } end
  if type(opts) ~= "table" then return invalid("opts must be a table, got " .. type(opts)) end
  for k in pairs(opts) do
    if not OPTIONS[k] then return invalid(("unknown option '%s' (known: concurrency, fail_fast)"):format(tostring(k))) end
  end
  local c = opts.concurrency
  if c == nil then c = DEFAULT_CONCURRENCY end
  if math.type(c) == "float" and c == math.floor(c) then c = math.tointeger(c) end
  if math.type(c) ~= "integer" or c < 1 then return invalid("opts.concurrency must be an integer ≥ 1, got " .. tostring(c)) end
  local ff = opts.fail_fast
  if ff ~= nil and type(ff) ~= "boolean" then return invalid("opts.fail_fast must be true or false, got " .. type(ff)) end
  return { concurrency = c, fail_fast = ff == true }
end

-- What a failed function leaves: exec errors as they are, anything else as TASK_FAILED.
local function as_error(e)
  if type(e) == "table" and e.kind ~= nil and e.message ~= nil then return e end
  return new_error("TASK_FAILED", tostring(e))
end

-- exec.each(ids_or_pattern, fn, opts) → results, errors
-- Runs fn(executor, id) for every id, at most opts.concurrency at a time, each in its own
-- task with its own executor (released when fn returns). results: one record per id, in id
-- order, {id, ok, value, err}; errors: the failed records, or nil when none failed.
function exec.each(what, fn, opts)
  local ids, err = targets(what)
  if ids == nil then return nil, err end
  if type(fn) ~= "function" then return invalid("fn must be a function(executor, id), got " .. type(fn)) end
  local o
  o, err = options(opts)
  if o == nil then return nil, err end
  local task = require("task")

  local results, by_id = {}, {}
  for i, id in ipairs(ids) do
    results[i] = { id = id, ok = false }
    by_id[id] = results[i]
  end
  local next_index, cancel, running = 1, nil, {}

  local function finish(rec, ok, value, e)
    if rec.done then return end
    rec.done = true
    if cancel and rec.cancelled then ok, e = false, cancel end
    rec.ok = ok
    if ok then rec.value = value else rec.err = e end
    if not ok and o.fail_fast and cancel == nil then
      cancel = new_error("CANCELLED", ("cancelled: %s failed and fail_fast is set"):format(rec.id))
      -- Stop the others now: releasing an executor kills its commands.
      for id, ex in pairs(running) do
        by_id[id].cancelled = true
        ex:release()
      end
    end
  end

  local function worker()
    while cancel == nil and next_index <= #ids do
      local rec = results[next_index]
      next_index = next_index + 1
      local ex, gerr = exec.get(rec.id)
      if ex == nil then
        finish(rec, false, nil, gerr)
      elseif cancel ~= nil then
        ex:release()
      else
        running[rec.id] = ex
        local r = pack(xpcall(fn, function(e) return e end, ex, rec.id))
        running[rec.id] = nil
        ex:release()
        if not r[1] then
          finish(rec, false, nil, as_error(r[2]))
        elseif r[2] == nil and r[3] ~= nil then -- the Lua convention: nil, err
          finish(rec, false, nil, as_error(r[3]))
        else
          finish(rec, true, r[2])
        end
      end
    end
  end

  local workers = {}
  for i = 1, math.min(o.concurrency, #ids) do
    local t, serr = task.spawn(worker)
    if t == nil then return nil, serr end
    workers[i] = t
  end
  local lost
  for _, t in ipairs(workers) do
    local _, werr = task.wait(t)
    lost = lost or werr
  end

  local errors
  for _, rec in ipairs(results) do
    -- Never started: cancelled by fail_fast, or its worker died (out of memory).
    if not rec.done then rec.err = cancel or lost or new_error("INTERNAL", "exec.each: " .. rec.id .. " did not run") end
    rec.done, rec.cancelled = nil, nil
    if not rec.ok then
      errors = errors or {}
      errors[#errors + 1] = rec
    end
  end
  return results, errors
end

-- Copy a stream to fd line by line, each line with its prefix in one write: lines from
-- concurrent tasks never interleave within a line.
local function pump(stream, fd, prefix)
  while true do
    local line, err = stream:read_line()
    if err then return nil, err end
    if line == nil then return true end
    local ok, werr = settle(write(fd, prefix .. line .. "\n"))
    if ok == nil then return nil, werr end
  end
end

-- exec.print_lines(proc_or_stream, prefix) → true | nil, err
-- A process: its stdout lines to stdout and its stderr lines to stderr, read side by side;
-- a stream: its lines to stdout. Returns when the output ends.
function exec.print_lines(source, prefix)
  if prefix == nil then prefix = "" end
  if type(prefix) ~= "string" then return nil, new_error("INVALID", "exec.print_lines: prefix must be a string, got " .. type(prefix)) end
  local mt = getmetatable(source)
  if mt == "exec.stream" then return pump(source, 1, prefix) end
  if mt ~= "exec.process" then return nil, new_error("INVALID", "exec.print_lines: source must be a process or a stream, got " .. type(source)) end
  local out, err = source:stdout_stream()
  if out == nil then return nil, err end
  local errs
  errs, err = source:stderr_stream()
  if errs == nil then return nil, err end
  local task = require("task")
  local t, serr = task.spawn(pump, errs, 2, prefix)
  if t == nil then return nil, serr end
  local ok1, e1 = pump(out, 1, prefix)
  local ok2, e2 = task.wait(t)
  if ok1 == nil then return nil, e1 end
  if ok2 == nil then return nil, e2 end
  return true
end

local installed = false
return function(module)
  if installed then return end -- once: the exec module's own table, never a script's
  installed = true
  for k, v in pairs(exec) do module[k] = v end
  exec = module
end
