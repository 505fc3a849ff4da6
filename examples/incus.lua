-- moonexec + Incus: run commands in an Incus instance (see examples/incus.yaml).
--   sudo bash scripts/incus-setup.sh      # once: Incus, the test instance, HTTPS
--   moonexec run --config examples/incus.yaml examples/incus.lua
local exec = require("exec")

local box = assert(exec.get("lab:box"))

-- Run a command and return its stdout, stderr and exit code.
local function run(ex, cmd, opts)
  local p = assert(ex:exec(cmd, opts))
  assert(p:start())
  local out = p:stdout_stream():read_all()
  local err = p:stderr_stream():read_all()
  return out, err, (p:wait())
end

print("hostname: " .. run(box, "cat /etc/hostname"):gsub("\n", ""))
print("cwd: " .. run(box, "pwd"):gsub("\n", ""))
print("env: " .. run(box, {"sh", "-c", "echo $GREETING"}):gsub("\n", ""))
print("work_dir: " .. run(box, "pwd", {work_dir = "/etc"}):gsub("\n", ""))

-- A missing command is exit code 127, not an error.
local _, _, code = run(box, "no-such-command")
print("missing command: exit " .. code)

-- stdin: feed lines, close, read the sorted result line by line.
local sort = assert(box:exec("sort"))
assert(sort:start())
sort:write_stdin("pear\napple\nfig\n")
sort:close_stdin()
local fruit = {}
for line in sort:stdout_stream():lines() do fruit[#fruit + 1] = line end
sort:wait()
print("sorted: " .. table.concat(fruit, ", "))

-- Files: push bytes with a mode and owner, read them back.
assert(box:push_file("moonexec was here\n", "/tmp/moonexec-note.txt", {mode = "0640", uid = 1000, gid = 1000}))
print("stat: " .. run(box, {"stat", "-c", "%a %u:%g %s bytes", "/tmp/moonexec-note.txt"}):gsub("\n", ""))
print("pulled: " .. assert(box:pull_file("/tmp/moonexec-note.txt")):gsub("\n", ""))
run(box, "rm /tmp/moonexec-note.txt")

-- Legacy encodings: CP949 bytes written by the instance, decoded to UTF-8.
print("cp949: " .. run(box, {"printf", "\\307\\321\\261\\333\\n"}, {encoding = "cp949"}):gsub("\n", ""))

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

box:release() -- kills whatever still runs; nothing is left in the instance

-- The same instance over HTTPS, as an unprivileged user.
local remote, err = exec.get("lab:remote")
if remote then
  print("https: " .. run(remote, "id"):gsub("\n", ""))
  remote:release()
else
  print("https: not available (" .. tostring(err) .. ")")
end
