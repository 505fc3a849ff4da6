-- One thing on many machines: facts from every host, then a deploy two hosts at a time with
-- live output prefixed by host, one host failing without stopping the others, and a summary.
--   moonexec run --config examples/fleet.yaml examples/fleet.lua
local exec = require("exec")

local hosts = exec.list("fleet:web") -- the fleet's members, sorted: fleet:web1 .. fleet:web5
print(("fleet:web has %d hosts: %s"):format(#hosts, table.concat(hosts, " ")))

-- 1. Facts: a short command everywhere, five at a time. Results come back in id order.
local facts = exec.each(hosts, function(ex)
  local p = assert(ex:exec("uname -s"))
  assert(p:start())
  local out = p:stdout_stream():read_all()
  p:wait()
  return (out:gsub("\n$", ""))
end, { concurrency = 5 })
for _, r in ipairs(facts) do print(r.id, r.ok and r.value or tostring(r.err)) end

-- 2. Deploy, two hosts at a time, each line of output shown as it comes, "[id] " first.
--    fleet:web3 stands in for a broken host: its deploy fails, the others carry on.
local deploy = [[
echo "deploying release 42"
sleep 0.2
if [ "$0" = fleet:web3 ]; then echo "disk full" >&2; exit 1; fi
echo "release 42 live"
]]
local results, failed = exec.each("fleet:web", function(ex, id)
  local p = assert(ex:exec({ "sh", "-c", deploy, id }))
  assert(p:start())
  assert(exec.print_lines(p, "[" .. id .. "] ")) -- stdout lines to stdout, stderr lines to stderr
  local code = p:wait()
  if code ~= 0 then return nil, ("deploy exited with %d"):format(code) end -- counts as this host's failure
  return "deployed"
end, { concurrency = 2 })

print(("%d of %d hosts deployed"):format(#results - (failed and #failed or 0), #results))
for _, r in ipairs(failed or {}) do print("FAILED", r.id, r.err.message) end
if failed then os.exit(1) end -- like any deploy script: non-zero when a host failed
