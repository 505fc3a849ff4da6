-- A plugin that runs commands through the host's executors (here the native `demo:sh`).
local exec = require("exec")
local app = require("app")

local sh = assert(exec.get("demo:sh"))

-- Run a command and return its trimmed stdout and exit code.
local function run(cmd, opts)
  local proc, err = sh:exec(cmd, opts)
  if not proc then return nil, err end
  assert(proc:start())
  local out = proc:stdout_stream():read_all()
  local code = proc:wait()
  return (out:gsub("%s+$", "")), code
end

local M = {}

function M.kernel()
  return run("uname -s")
end

-- stdin is fed to the command; the whitelist allows exactly "wc -w".
function M.count_words(text)
  local out, code = run("wc -w", { stdin = text })
  app.log("wc -w exited " .. tostring(code))
  return tonumber(out), code
end

-- Not whitelisted: comes back as nil plus an error, nothing is spawned.
function M.forbidden()
  local out, err = run("rm -rf /tmp/nothing-here")
  return out == nil and (err.kind .. ": " .. err.message) or "ran?!"
end

return M
