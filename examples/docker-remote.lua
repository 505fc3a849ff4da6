-- moonexec + remote Docker daemons: the same commands over tcp+TLS and over ssh://.
--   moonexec run --config examples/docker-remote.yaml examples/docker-remote.lua
local exec = require("exec")

for _, id in ipairs({"remote:tls", "remote:ssh"}) do
  local box = assert(exec.get(id))
  local p = assert(box:exec({"sh", "-c", "echo \"$(id -un) in $(hostname | cut -c1-12), $(ls /sys/class/net | tr '\\n' ' ')\"; exit 3"}))
  assert(p:start())
  local out = p:stdout_stream():read_all()
  local code = p:wait()
  io.write(("%s: %s"):format(id, out:gsub(" \n$", "\n")), ("  exit %d\n"):format(code))
  box:release()
end
