-- Run a command in 10 places at once and print the results in order.
-- Each task blocks on its own command; the others keep running meanwhile, so the whole run
-- takes about as long as the slowest command, not as long as all of them one after another.
local exec = require("exec")
local task = require("task")

local shell = assert(exec.get("local:shell"))

local places, delays, total = {}, {}, 0
for i = 1, 10 do
  places[i] = "site-" .. i
  delays[i] = math.random(1, 4) / 2 -- 0.5 to 2 seconds, chosen here: sh has no $RANDOM
  total = total + delays[i]
end

local started = os.time()
local tasks = {}
for i, place in ipairs(places) do
  tasks[i] = task.spawn(function()
    -- stands in for e.g. `ssh place uptime`: takes a while, then answers
    local delay = ("%.1f"):format(delays[i])
    local proc = assert(shell:exec({ "sh", "-c", 'sleep "$1"; echo "$2 is up after $1 s"', "sh", delay, place }))
    assert(proc:start())
    local answer = proc:stdout_stream():read_line()
    local code = proc:wait()
    if code ~= 0 then error(place .. " exited " .. code) end
    return answer
  end)
end

local results, errors = task.wait_all(tasks)
for i, place in ipairs(places) do
  if errors and errors[i] then
    print(place, "FAILED", tostring(errors[i]))
  else
    print(place, results[i])
  end
end
print(("all %d done in about %d s; one after another they would take %.1f s"):format(#places, os.time() - started, total))
shell:release()
