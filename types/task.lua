---@meta task
-- LuaLS definitions for moonexec's `task` module (require("task")): run functions
-- concurrently inside one script, e.g. many commands at once with their streams read in
-- parallel. (added with background processes and concurrency, issue 5)
-- Definitions only: the implementation is lua/task.lua in the package.

---A running or finished task from `task.spawn`.
---@class task.Task
---@field id integer
---@field done boolean true once the function returned or raised

---Something `task.select` can wait on.
---@alias task.Selectable exec.Stream|exec.Process|task.Task

---@class task
local task = {}

---Start `fn(...)` as a task and return at once. Tasks run while others wait on commands;
---they end with the script's run.
---@param fn fun(...): ...
---@param ... any arguments for fn
---@return task.Task? t
---@return exec.Error? err
function task.spawn(fn, ...) end

---Wait for a task; returns what its function returned, or nil plus its error.
---@param t task.Task
---@param timeout? number seconds; TIMEOUT error when the task is still running then
---@return any ...
function task.wait(t, timeout) end

---Wait for every task of the list: results[i] is the first value of task i; errors is nil when none failed, else errors[i] per failed task.
---@param list task.Task[]
---@return any[] results
---@return table<integer, exec.Error>? errors
function task.wait_all(list) end

---Wait until one item is ready (a stream has data or ended, a process exited, a task finished).
---@param items task.Selectable[]
---@param timeout? number seconds; nil plus a TIMEOUT error when nothing got ready
---@return integer? index the first ready item
---@return exec.Error? err
function task.select(items, timeout) end

---Pause this task (other tasks go on).
---@param seconds number
---@return true? ok
---@return exec.Error? err
function task.sleep(seconds) end

return task
