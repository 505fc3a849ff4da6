-- Answer a password prompt on a terminal: the program reads the password from /dev/tty with echo
-- off, as passwd, ssh and sudo do, so only pty = true and stream:expect can drive it.
local exec = require("exec")
local sh = assert(exec.get("local:shell"))

local prog = [[
printf 'login: '; read user
printf 'Password: ' >/dev/tty; stty -echo </dev/tty; read pw </dev/tty; stty echo </dev/tty; echo
echo "welcome $user ($(printf %s "$pw" | wc -c) characters, never echoed)"
]]
local p = assert(sh:exec({"sh", "-c", prog}, {pty = true, rows = 24, cols = 80}))
assert(p:start())
local out = p:stdout_stream()

assert(out:expect("login: $", 10))
assert(p:write_stdin("alice\n"))
assert(out:expect("[Pp]assword: $", 10))
assert(p:write_stdin("correct horse\n"))
local _, who, n = assert(out:expect("welcome (%a+) %((%d+) characters", 10))
print(("logged in as %s with a %d-character password; exit %d"):format(who, tonumber(n), p:wait()))

-- A prompt that never comes: a TIMEOUT error that shows what the program printed last.
local q = assert(sh:exec({"sh", "-c", "printf 'Continue? [y/N] '; sleep 5"}, {pty = true}))
assert(q:start())
local ok, err = q:stdout_stream():expect("%(yes/no%)", 0.5)
print(ok, err.kind, err.message)
q:kill()
sh:release()
