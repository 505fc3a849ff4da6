-- Run a command in 10 places at once and print the results in order.
-- Each task blocks on its own command; the others keep running meanwhile.
local exec = require("exec")
local task = require("task")

local shell = assert(exec.get("local:shell"))

local places = {}
for i = 1, 10 do places[i] = "site-" .. i end

local tasks = {}
for i, place in ipairs(places) do
  tasks[i] = task.spawn(function()
    -- stands in for e.g. `ssh place uptime`: takes a random while, then answers
    local proc = assert(shell:exec({ "sh", "-c", "sleep 0.$((RANDOM % 9)); echo \"$1 is up\"", "sh", place }))
    assert(proc:start())
    local answer = proc:stdout_stream():read_line()
    local code = proc:wait()
    if code ~= 0 then error(place .. " exited " .. code) end
    return answer
  end)
end

local started = os.time()
local results, errors = task.wait_all(tasks)
for i, place in ipairs(places) do
  if errors and errors[i] then
    print(place, "FAILED", tostring(errors[i]))
  else
    print(place, results[i])
  end
end
print(("all %d done in about %ds"):format(#places, os.time() - started))
shell:release()
