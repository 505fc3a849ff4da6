/** Background processes (issue 5) and the task API, on the native backend through the CLI and library. */
import { describe, expect, it } from "vitest";
import { gone, running } from "../helpers/procs.js";
import { Host } from "../../src/index.js";
import { runLua, tempDir, runCli } from "../helpers/cli.js";

const prologue = `local exec = require("exec")\nlocal task = require("task")\nlocal sh = assert(exec.get("local:shell"))\n`;


describe("tasks", () => {
  it("64 concurrent processes each writing 10 MB: every byte accounted for", async () => {
    const r = await runLua(
      prologue +
        `
      local tasks = {}
      for i = 1, 64 do
        tasks[i] = task.spawn(function()
          local p = assert(sh:exec({"head", "-c", "10000000", "/dev/zero"}))
          assert(p:start())
          local s, n = p:stdout_stream(), 0
          while true do
            local chunk, err = s:read()
            assert(not err, tostring(err))
            if not chunk then break end
            n = n + #chunk
          end
          assert(p:wait() == 0)
          return n
        end)
      end
      local results, errors = task.wait_all(tasks)
      assert(errors == nil)
      local total, exact = 0, 0
      for i, n in ipairs(results) do total = total + n; if n == 10000000 then exact = exact + 1 end end
      print(#results, exact, total)`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(`64\t64\t${64 * 10_000_000}\n`);
  }, 120_000);

  it("results come back in order; errors are returned by wait, not raised", async () => {
    const r = await runLua(
      prologue +
        `
      local ts = {}
      for i = 1, 5 do ts[i] = task.spawn(function(n) task.sleep((5 - n) * 0.05) if n == 3 then error("three") end return n * 10 end, i) end
      local results, errors = task.wait_all(ts)
      print(results[1], results[2], results[3], results[4], results[5], errors[3].kind, errors[3].message:match("three") ~= nil)
      print(task.wait(task.spawn(function() return 1, 2, nil, 4 end)))
      local slow = task.spawn(function() task.sleep(5) end)
      print(task.wait(slow, 0.05))
      print(task.spawn(42))`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(
      "10\t20\tnil\t40\t50\tTASK_FAILED\ttrue\n1\t2\tnil\t4\nnil\tTIMEOUT: task.wait: task still running after 0.05s\nnil\tINVALID: task.spawn: fn must be a function\n",
    );
  });

  it("select waits over streams and processes with a timeout", async () => {
    const r = await runLua(
      prologue +
        `
      local a = sh:exec({"sh", "-c", "sleep 0.5; echo slow"}); a:start()
      local b = sh:exec({"sh", "-c", "sleep 0.05; echo fast"}); b:start()
      local i = task.select({a:stdout_stream(), b:stdout_stream()}, 5)
      print(i, ({a, b})[i]:stdout_stream():read_line())
      print(task.select({a}, 0.01))
      print(task.select({a}, 5), a:wait())`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("2\tfast\nnil\tTIMEOUT: task.select: nothing ready within 0.01s\n1\t0\n");
  });

  it("waits with a timeout leave no timer behind once answered (the library's event loop can end)", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const host = await Host.create();
    try {
      const before = timers();
      const [out] = await host.runString(`
        local task = require("task")
        local quick = task.spawn(function() return 1 end)
        local slow = task.spawn(function() task.sleep(0.2) end)
        local got = {}
        got[#got + 1] = tostring(task.wait(quick, 60))
        got[#got + 1] = tostring(task.select({slow, task.spawn(function() end)}, 60))
        for i = 1, 50 do local ok, err = task.wait(slow, 0) got[#got + 1] = err and err.kind end
        task.wait(slow)
        return table.concat(got, " ", 1, 3)`);
      expect(out).toBe("1 2 TIMEOUT");
      expect(timers()).toBeLessThanOrEqual(before); // a 60 s timer each for wait and select, before the fix
    } finally {
      await host.dispose();
    }
  });

  it("blocking calls inside tasks also work inside their own coroutines and pcall", async () => {
    const r = await runLua(
      prologue +
        `
      local t = task.spawn(function()
        local co = coroutine.wrap(function() local p = sh:exec("echo inner"); p:start(); return p:stdout_stream():read_line() end)
        local ok, v = pcall(co)
        return v
      end)
      print(task.wait(t))`,
    );
    expect(r.stdout.toString()).toBe("inner\n");
  });
});

describe("background processes", () => {
  it("start at once, are listed, killed by tag and by pid, with unique default tags", async () => {
    const r = await runLua(
      prologue +
        `
      local a = assert(sh:exec("sleep 104.25", {background = true, tag = "web"}))
      local b = assert(sh:exec("sleep 104.25", {background = true}))
      print(a:pid() ~= nil, b:info().tag:match("^proc%-%x%x%x%x%x%x%x%x$") ~= nil)
      print(sh:exec("sleep 1", {background = true, tag = "web"}))
      print(sh:exec("sleep 1", {tag = "fg"}))
      local list = sh:processes()
      table.sort(list, function(x, y) return x.tag < y.tag end)
      print(#list, list[2].tag, list[2].cmd, list[2].backend, type(list[2].started_at))
      assert(sh:kill("web"))
      print("web", a:wait())
      assert(sh:kill(b:pid(), "KILL"))
      print("pid", b:wait())
      print(sh:kill("web"))
      print(#sh:processes())`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(
      [
        "true\ttrue",
        "nil\tINVALID: opts.tag: 'web' is already used by a running process of local:shell",
        "nil\tINVALID: opts.tag: only background processes have tags",
        "2\tweb\tsleep 104.25\texec.native\tstring",
        "web\t143",
        "pid\t137",
        "nil\tNOT_FOUND: no running process tagged 'web' in local:shell",
        "0",
        "",
      ].join("\n"),
    );
  });

  it("attach after 1 MB of output replays the tail, then follows live output", async () => {
    const r = await runLua(
      prologue +
        `
      local p = assert(sh:exec({"sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo \\"line $i\\"; done; echo done-bulk; while true; do echo live; sleep 0.05; done"}, {background = true, tag = "gen", ring_size = 65536}))
      -- wait (through the original handle) until the bulk is out
      local s = p:stdout_stream()
      while true do local l = s:read_line(); if l == "done-bulk" then break end end
      local at = assert(sh:attach("gen"))
      local o = at:stdout_stream()
      local first_full, saw_done, live = nil, false, 0
      o:read_line() -- the ring may start mid-line
      while live < 3 do
        local l = assert(o:read_line())
        if l == "done-bulk" then saw_done = true
        elseif l == "live" then live = live + 1
        elseif not first_full then first_full = tonumber(l:match("line (%d+)")) end
      end
      print(first_full > 90000, saw_done, live)
      sh:kill("gen")`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("true\ttrue\t3\n");
  });

  it("unread background output never stalls the process", async () => {
    const r = await runLua(
      prologue +
        `
      local p = assert(sh:exec({"sh", "-c", "head -c 50000000 /dev/zero; echo end"}, {background = true}))
      print((p:wait()))
      local tail = p:stdout_stream():read_all()
      print(#tail <= 1048576 + 65536, tail:sub(-4))`,
    );
    expect(r.stdout.toString()).toBe("0\ntrue\tend\n\n");
  });

  it("survive the chunk that started them while the host lives, and stop with the host", async () => {
    const host = await Host.create();
    await host.runString(`local sh = require("exec").get("local:shell"); sh:exec("sleep 104.5", {background = true, tag = "keep"})`);
    await new Promise((r) => setTimeout(r, 200));
    expect(running("sleep 104.5").length).toBe(1);
    const [n] = await host.runString(`local sh = require("exec").get("local:shell"); return #sh:processes()`);
    expect(n).toBe(0); // a new executor instance has its own processes
    await host.dispose();
    expect(await gone("sleep 104.5")).toEqual([]);
  });

  it("nothing is left running after the CLI's script ends", async () => {
    const dir = tempDir({ "s.lua": prologue + `sh:exec("sleep 104.75", {background = true}); sh:exec({"sh", "-c", "sleep 104.75 & sleep 104.75"}, {background = true}); print("started")` });
    const r = await runCli(["run", "s.lua"], { cwd: dir });
    expect(r.stdout.toString()).toBe("started\n");
    expect(await gone("sleep 104.75")).toEqual([]);
  });
});
