/**
 * Limits on every thread: the time limit, host.cancel() and SIGINT/SIGTERM to the CLI stop a
 * CPU loop wherever it runs — main chunk, coroutines, pcall/xpcall, error handlers,
 * metamethods, __close, tasks — within a second, and the host (or REPL) stays usable.
 */
import { describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { BIN, ROOT, startCli, tempDir } from "../helpers/cli.js";
import { gone, running } from "../helpers/procs.js";
import { FENGARI, describeOnWasmoon } from "../helpers/engine.js";

/** Lua 5.3 (fengari) has no to-be-closed variables (a syntax error there, see lua-standard): those cases are 5.4 only. */
function forEngine(cases: Record<string, string>): Record<string, string> {
  return FENGARI ? Object.fromEntries(Object.entries(cases).filter(([, src]) => !src.includes("<close>"))) : cases;
}

/** CPU loops that yield to the scheduler where Lua allows it (cancel reaches them too). */
const YIELDABLE: Record<string, string> = forEngine({
  "main chunk": `while true do end`,
  "a for loop with calls": `local x = 0; for i = 1, math.huge do x = x + math.abs(i) end`,
  "coroutine.wrap": `coroutine.wrap(function() while true do end end)()`,
  "coroutine.create/resume": `local co = coroutine.create(function() while true do end end); print(coroutine.resume(co))`,
  "nested coroutines": `coroutine.wrap(function()
      local co = coroutine.create(function() coroutine.wrap(function() while true do end end)() end)
      print(coroutine.resume(co))
    end)()`,
  "pcall loop in a coroutine": `coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()`,
  "pcall loop in nested coroutines": `coroutine.wrap(function() while true do
      pcall(coroutine.wrap(function() while true do pcall(function() while true do end end) end end))
    end end)()`,
  "resuming fresh looping coroutines": `while true do coroutine.resume(coroutine.create(function() while true do end end)) end`,
  "xpcall loop": `while true do xpcall(function() while true do end end, function(e) return e end) end`,
  "__index metamethod": `local t = setmetatable({}, {__index = function() while true do end end}); local _ = t.x`,
  "__add metamethod in a coroutine": `local v = setmetatable({}, {__add = function() while true do end end})
    print(coroutine.resume(coroutine.create(function() return v + 1 end)))`,
  "__close": `do local x <close> = setmetatable({}, {__close = function() while true do end end}) end`,
  "task": `local task = require("task"); local t = task.spawn(function() while true do end end); print(task.wait(t))`,
  "pcall loop in a task": `local task = require("task")
    local t = task.spawn(function() while true do pcall(function() while true do end end) end end)
    print(task.wait(t))`,
  "coroutine in a task": `local task = require("task")
    print(task.wait(task.spawn(function() coroutine.wrap(function() while true do end end)() end)))`,
});

/** Loops where Lua cannot yield (a C function calls back into Lua): the time limit stops them. */
const NOT_YIELDABLE: Record<string, string> = forEngine({
  "error handler": `xpcall(function() error("x") end, function(e) while true do end end)`,
  "error handler of a stopped loop": `xpcall(function() while true do end end, function(e) while true do end end)`,
  "pcall loop in an error handler": `xpcall(function() error("x") end, function(e) while true do pcall(function() while true do end end) end end)`,
  "__close while unwinding an error": `pcall(function()
      local x <close> = setmetatable({}, {__close = function() while true do end end})
      error("e")
    end)`,
  "table.sort comparator": `table.sort({3, 2, 1}, function(a, b) while true do end end)`,
  "gsub callback with pcall": `("x"):gsub(".", function() while true do pcall(function() while true do end end) end end)`,
  "__tostring through tostring": `tostring(setmetatable({}, {__tostring = function() while true do end end}))`,
});

const ALL = { ...YIELDABLE, ...NOT_YIELDABLE };

const CHILD = join(ROOT, "test/helpers/limit-child.mjs");

/** Run `source` on a fresh library Host in a child process; killed (and failed) after 10 s. */
function inChild(mode: "time" | "cancel" | "memory", source: string): Promise<{ kind: string; message?: string; ms: number; after: unknown }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, mode, source], { timeout: 10_000, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.killed ? "hung (killed after 10 s)" : err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split("\n").pop()!));
    });
  });
}

describe("time limit", () => {
  for (const [name, source] of Object.entries(ALL)) {
    it(`stops a CPU loop: ${name}`, async () => {
      const r = await inChild("time", source);
      expect(r.kind).toBe("time-limit");
      expect(r.message).toBe("time limit of 0.5s exceeded");
      expect(r.ms).toBeLessThan(500 + 1000);
      expect(r.after).toEqual([500500]); // the host goes on: the next run has its own deadline
    });
  }
});

describe("host.cancel()", () => {
  for (const [name, source] of Object.entries(YIELDABLE)) {
    it(`stops a CPU loop: ${name}`, async () => {
      const r = await inChild("cancel", source);
      expect(r.kind).toBe("interrupted");
      expect(r.ms).toBeLessThan(300 + 1000);
      expect(r.after).toEqual([500500]);
    });
  }
});

// fengari takes no memory limit (refused before anything runs: sandbox-escape, engines tests).
describeOnWasmoon("memory limit", () => {
  const GROW = `local t = {} while true do t[#t + 1] = ("x"):rep(1000) .. #t end`;
  for (const [name, source] of Object.entries({
    "main chunk": GROW,
    "nested coroutines": `coroutine.wrap(function() coroutine.wrap(function() ${GROW} end)() end)()`,
    task: `local task = require("task"); local t = task.spawn(function() ${GROW} end); assert(task.wait(t))`,
  })) {
    it(`ends the run with a memory error, and the host goes on: ${name}`, async () => {
      const r = await inChild("memory", source);
      expect(r.kind).toBe("error");
      expect(r.message).toContain("not enough memory");
      expect(r.after).toEqual([500500]);
    });
  }

  it("a pcall loop that keeps catching it is stopped by the time limit", async () => {
    const r = await inChild("memory", `while true do pcall(function() ${GROW} end) end`);
    expect(r.kind).toBe("time-limit");
    expect(r.ms).toBeLessThan(5000 + 1000);
    expect(r.after).toEqual([500500]);
  });
});

/** Milliseconds from now until `cli` has written `text` to stderr (the stop, before teardown). */
async function stderrAfter(cli: ReturnType<typeof startCli>, text: string): Promise<number> {
  const t0 = Date.now();
  while (!cli.stderr().includes(text) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  return Date.now() - t0;
}

/** Loops for the CLI: each prints "spinning" first, so the signal lands inside the loop. */
const CLI_CASES: Record<string, string> = forEngine({
  "main chunk": `while true do end`,
  "coroutine.wrap": `coroutine.wrap(function() while true do end end)()`,
  "pcall loop in a coroutine": `coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()`,
  "task": `local task = require("task"); task.wait(task.spawn(function() while true do end end))`,
  "error handler": `xpcall(function() error("x") end, function(e) while true do end end)`,
  "table.sort comparator": `table.sort({3, 2, 1}, function(a, b) while true do end end)`,
  "__close while unwinding an error": `pcall(function()
      local x <close> = setmetatable({}, {__close = function() while true do end end})
      error("e")
    end)`,
});

describe("SIGINT to `moonexec run`", () => {
  for (const limit of [[], ["--time-limit", "60"]]) {
    for (const [name, source] of Object.entries(CLI_CASES)) {
      it(`stops a CPU loop within 1 s${limit.length ? " (with --time-limit)" : ""}: ${name}`, async () => {
        const dir = tempDir({ "s.lua": `io.stdout:write("spinning\\n")\n${source}\nprint("not reached")` });
        const cli = startCli(["run", ...limit, "s.lua"], { cwd: dir });
        const kill = setTimeout(() => cli.child.kill("SIGKILL"), 15_000);
        try {
          await cli.waitFor("spinning");
          await new Promise((r) => setTimeout(r, 200)); // well inside the loop
          const t0 = Date.now();
          cli.child.kill("SIGINT");
          expect(await stderrAfter(cli, "interrupted")).toBeLessThan(1000);
          expect(await cli.exited).toBe(130);
          expect(Date.now() - t0).toBeLessThan(5000); // with releasing and process exit
          expect(cli.stdout()).toBe("spinning\n");
          expect(cli.stderr()).toBe("moonexec: interrupted\n");
        } finally {
          clearTimeout(kill);
        }
      });
    }
  }
});

describe("SIGTERM to `moonexec run`", () => {
  // No listener during a run: SIGTERM's default action applies, the process dies by the signal
  // at once wherever Lua is, and the host-death guards clean up (docs/limits.md).
  for (const limit of [[], ["--time-limit", "60"]]) {
    for (const name of ["main chunk", "pcall loop in a coroutine", "table.sort comparator"]) {
      it(`stops a CPU loop within 1 s${limit.length ? " (with --time-limit)" : ""}: ${name}`, async () => {
        const dir = tempDir({ "s.lua": `io.stdout:write("spinning\\n")\n${CLI_CASES[name]}\nprint("not reached")` });
        const cli = startCli(["run", ...limit, "s.lua"], { cwd: dir });
        const kill = setTimeout(() => cli.child.kill("SIGKILL"), 15_000);
        try {
          await cli.waitFor("spinning");
          await new Promise((r) => setTimeout(r, 200)); // well inside the loop
          const t0 = Date.now();
          cli.child.kill("SIGTERM");
          expect(await cli.exited).toBe("SIGTERM");
          expect(Date.now() - t0).toBeLessThan(1000);
          expect(cli.stdout()).toBe("spinning\n");
        } finally {
          clearTimeout(kill);
        }
      });
    }
  }

  for (const [name, wait] of [
    ["in a CPU loop", "while true do end"],
    ["while it waits for the command", "p:wait()"],
  ]) {
    it(`leaves no process behind when it ends a run ${name} (the native watchdog cleans up)`, async () => {
      const marker = "103.75";
      const dir = tempDir({
        "s.lua": `local sh = require("exec").get("local:shell")
          local task = require("task")
          for i = 1, 200 do task.sleep(0) end -- a busy stretch of resumes just before
          local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}'"); p:start()
          io.stdout:write("started\\n")
          ${wait}`,
      });
      const cli = startCli(["run", "s.lua"], { cwd: dir });
      const kill = setTimeout(() => cli.child.kill("SIGKILL"), 15_000);
      try {
        await cli.waitFor("started");
        expect(running(marker).length).toBeGreaterThan(0);
        await new Promise((r) => setTimeout(r, 100));
        cli.child.kill("SIGTERM");
        expect(await cli.exited).toBe("SIGTERM");
        expect(await gone(marker)).toEqual([]);
      } finally {
        clearTimeout(kill);
        cli.child.kill("SIGKILL");
      }
    });
  }
});

describe("signals while a script waits on the host again and again", () => {
  // The SIGINT watchdog is held for the whole run (src/lua/resume-signals.ts): a SIGINT that
  // lands between two resumes is recorded and must still end the run. One signal, never resent,
  // at a different moment each time.
  for (const [sig, how] of [["SIGINT", 130], ["SIGTERM", "SIGTERM"]] as const) {
    it(`one ${sig} ends the run (${how === 130 ? "exit 130" : "death by SIGTERM"}), wherever it lands`, async () => {
      const dir = tempDir({ "s.lua": `local task = require("task")\nio.stdout:write("busy\\n")\nwhile true do task.sleep(0) end` });
      for (const delay of [0, 7, 19, 37, 61, 89, 113, 163, 211, 251]) {
        const cli = startCli(["run", "s.lua"], { cwd: dir });
        const kill = setTimeout(() => cli.child.kill("SIGKILL"), 15_000);
        try {
          await cli.waitFor("busy");
          await new Promise((r) => setTimeout(r, delay));
          const t0 = Date.now();
          cli.child.kill(sig);
          expect(await cli.exited).toBe(how);
          expect(Date.now() - t0).toBeLessThan(5000);
          if (sig === "SIGINT") expect(cli.stderr()).toBe("moonexec: interrupted\n");
        } finally {
          clearTimeout(kill);
        }
      }
    });
  }
});

describe("after an interrupted CPU loop", () => {
  it("`moonexec run` leaves no process behind (the VM is given up, the commands are not)", async () => {
    const marker = "103.25";
    const dir = tempDir({
      "s.lua": `local sh = require("exec").get("local:shell")
        local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}'"); p:start()
        io.stdout:write("spinning\\n")
        coroutine.wrap(function() while true do end end)()`,
    });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("spinning");
    expect(running(marker).length).toBeGreaterThan(0);
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(130);
    expect(await gone(marker)).toEqual([]);
  });

  it("the REPL cancels a CPU loop in a coroutine and goes on", async () => {
    const child = spawn(process.execPath, [BIN, "repl"], { cwd: tempDir(), stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 150 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(cond()).toBe(true);
    };
    try {
      child.stdin.write(`io.stdout:write("spinning\\n") coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()\n`);
      await until(() => out.includes("spinning"));
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      child.kill("SIGINT");
      await until(() => err.includes("interrupted"));
      expect(Date.now() - t0).toBeLessThan(1000);
      child.stdin.write("print('after', 1 + 1)\n");
      await until(() => out.includes("after\t2"));
      child.stdin.end();
      expect(await new Promise((r) => child.on("close", r))).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
