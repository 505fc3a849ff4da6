-- A background process keeps running while the script goes on; attach to it later
-- to see its recent output and follow what it prints next.
local exec = require("exec")
local task = require("task")

local shell = assert(exec.get("local:shell"))

local ticker = assert(shell:exec({ "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done" },
  { background = true, tag = "ticker" }))
print("started ticker, pid " .. ticker:pid())

task.sleep(1) -- do other work meanwhile

for _, p in ipairs(shell:processes()) do
  print(("running: %s (pid %d) %s"):format(p.tag, p.pid, p.cmd))
end

local view = assert(shell:attach("ticker"))
local out = view:stdout_stream()
for _ = 1, 7 do print("attached saw: " .. out:read_line()) end -- replayed lines, then live ones

assert(shell:kill("ticker"))
print("ticker stopped with exit code " .. ticker:wait() .. " (" .. tostring(ticker:signal_name()) .. ")")
shell:release()
