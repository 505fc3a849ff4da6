-- moonexec + Docker: a command on a terminal (pty = true), driven from a script.
--   moonexec run --config examples/docker.yaml examples/docker-terminal.lua
local exec = require("exec")

local box = assert(exec.get("sandbox:box"))

-- Read the terminal until its output so far contains `text`.
local function upto(stream, text)
  local seen = ""
  while not seen:find(text, 1, true) do
    seen = seen .. assert(stream:read())
  end
  return seen
end

-- A prompt: the program asks, the script answers (the terminal echoes what is typed).
local p = assert(box:exec({"sh", "-c", "tty; stty size; printf 'name? '; read n; echo \"hello $n\""}, {pty = true, rows = 30, cols = 100}))
assert(p:start())
local out = p:stdout_stream()
io.write((upto(out, "name? "):gsub("\r", "")), "\n")
p:write_stdin("moon\n")
io.write((out:read_all():gsub("\r", "")))
print("exit: " .. p:wait())

-- Resize: the program gets SIGWINCH and sees the new size; ^C interrupts it.
local w = assert(box:exec({"sh", "-c", "trap 'stty size' WINCH; echo ready; while :; do sleep 0.1; done"}, {pty = true}))
assert(w:start())
upto(w:stdout_stream(), "ready")
w:resize(40, 120)
print("after resize: " .. upto(w:stdout_stream(), "40 120"):gsub("%s+$", ""))
w:write_stdin("\3")
print("after ^C: exit " .. w:wait())

box:release()
