-- moonexec quick start: run a command on the built-in native executor.
local exec = require("exec")

local shell, err = exec.get("local:shell")
assert(shell, err)

local proc = assert(shell:exec("uname -s"))
assert(proc:start())
local out = proc:stdout_stream():read_all()
local code = proc:wait()
print(("hello from moonexec: %s (exit %d)"):format((out:gsub("\n$", "")), code))
shell:release()
