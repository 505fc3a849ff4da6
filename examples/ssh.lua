-- moonexec + SSH: run commands on servers over SSH (see examples/ssh.yaml, docs/ssh.md).
--   sudo bash scripts/ssh-setup.sh      # once: 10 loopback sshd, a user and keys
--   moonexec run --config examples/ssh.yaml examples/ssh.lua
local exec = require("exec")
local task = require("task")

local web1 = assert(exec.get("lab:web1"))
local web2 = assert(exec.get("lab:web2"))

-- Run a command and return its stdout (without the last newline) and exit code.
local function run(ex, cmd, opts)
  local p = assert(ex:exec(cmd, opts))
  assert(p:start())
  local out = p:stdout_stream():read_all():gsub("\n$", "")
  return out, (p:wait())
end

print("user: " .. run(web1, "id -un"))
print("cwd: " .. run(web1, "pwd"))
print("env: " .. run(web1, {"sh", "-c", "echo $GREETING"}))

-- stdout and stderr stay apart (no pty), and exit codes come through.
local p = assert(web1:exec({"sh", "-c", "echo to-out; echo to-err >&2; exit 7"}))
assert(p:start())
local out, errout = p:stdout_stream():read_all(), p:stderr_stream():read_all()
print(("streams: out=%s err=%s exit=%d"):format(out:gsub("\n", ""), (errout:gsub("\n", "")), p:wait()))

-- stdin with EOF.
local sort = assert(web1:exec("sort", {stdin = "pear\napple\nfig\n"}))
assert(sort:start())
print("sorted: " .. sort:stdout_stream():read_all():gsub("\n", " "))

-- A timeout kills the whole remote process tree.
local slow = assert(web1:exec({"sh", "-c", "sleep 60 & sleep 60"}, {timeout = 1}))
assert(slow:start())
local code, err = slow:wait()
print(("timeout: exit %d (%s)"):format(code, err and err.kind or "none"))

-- Files over SFTP.
assert(web1:push_file("moonexec was here\n", "/tmp/moonexec-ssh-note.txt", {mode = "0640"}))
print("stat: " .. run(web1, {"stat", "-c", "%a %s bytes", "/tmp/moonexec-ssh-note.txt"}))
print("pulled: " .. web1:pull_file("/tmp/moonexec-ssh-note.txt"):gsub("\n", ""))
run(web1, {"rm", "-f", "/tmp/moonexec-ssh-note.txt"})

-- Twelve commands at once on one executor: past OpenSSH's 10 sessions a second
-- connection opens by itself.
local tasks = {}
for i = 1, 12 do
  tasks[i] = task.spawn(function() return (run(web1, {"sh", "-c", "sleep 1; echo " .. i})) end)
end
local results = assert(task.wait_all(tasks))
print("parallel: " .. table.concat(results, " "))

-- Through the jump host.
print("via jump: " .. run(web2, {"sh", "-c", "echo reached web2"}))

web1:release()
web2:release()
