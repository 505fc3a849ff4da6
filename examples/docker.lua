-- moonexec + Docker: run commands in a locked-down container (see examples/docker.yaml).
--   moonexec run --config examples/docker.yaml examples/docker.lua
local exec = require("exec")

local box = assert(exec.get("sandbox:box"))

-- Run a command and return its stdout, stderr and exit code.
local function run(cmd, opts)
  local p = assert(box:exec(cmd, opts))
  assert(p:start())
  local out = p:stdout_stream():read_all()
  local err = p:stderr_stream():read_all()
  return out, err, (p:wait())
end

print("user: " .. run("id -u"):gsub("\n", ""))
print("network: " .. run({"sh", "-c", "ls /sys/class/net | tr '\\n' ' '"}):gsub(" $", ""))
print("cwd: " .. run("pwd"):gsub("\n", ""))

-- The root filesystem is read-only; the tmpfs is not.
local _, err, code = run("touch /etc/x")
print(("write to /etc: exit %d (%s)"):format(code, err:gsub("\n", "")))
print("write to /scratch: exit " .. select(3, run({"sh", "-c", "echo hi > note.txt && cat note.txt"})))

-- stdin: feed lines, close, read the sorted result line by line.
local sort = assert(box:exec("sort"))
assert(sort:start())
sort:write_stdin("pear\napple\nfig\n")
sort:close_stdin()
local fruit = {}
for line in sort:stdout_stream():lines() do fruit[#fruit + 1] = line end
sort:wait()
print("sorted: " .. table.concat(fruit, ", "))

-- A timeout kills the command and everything it started.
local p = assert(box:exec({"sh", "-c", "sleep 100 & sleep 100"}, {timeout = 0.5}))
assert(p:start())
local c, e = p:wait()
print(("timeout: exit %d, %s"):format(c, e and e.kind or "no error"))

-- Signals reach the command's process group.
local s = assert(box:exec({"sh", "-c", "echo ready; sleep 60"}))
assert(s:start())
s:stdout_stream():read_line()
s:signal("TERM")
print(("signal: exit %d (%s)"):format(s:wait(), s:signal_name()))

box:release() -- removes the container
