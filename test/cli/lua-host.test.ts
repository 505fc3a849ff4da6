/** The Lua host itself: blocking calls everywhere, errors, sandbox, limits, require, CLI exit codes. */
import { describe, expect, it } from "vitest";
import { onWasmoon, onFengari } from "../helpers/engine.js";
import { runCli, runLua, tempDir } from "../helpers/cli.js";

const prologue = `local exec = require("exec")\nlocal sh = assert(exec.get("local:shell"))\n`;

describe("blocking calls", () => {
  it("work in the main chunk, inside pcall and inside user coroutines", async () => {
    const r = await runLua(
      prologue +
        `
      local function run(cmd)
        local p = assert(sh:exec(cmd)); assert(p:start())
        local line = p:stdout_stream():read_line(); p:wait(); return line
      end
      print("main", run("echo a"))
      print("pcall", pcall(run, "echo b"))
      local co = coroutine.create(function(x)
        local got = run("echo " .. x)
        local y = coroutine.yield("yielded " .. got)   -- a user yield still works
        return "returned " .. run("echo " .. y)
      end)
      print("resume", coroutine.resume(co, "c"))
      print("status", coroutine.status(co))
      print("resume", coroutine.resume(co, "d"))
      print("status", coroutine.status(co))
      local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(run("echo w" .. i)) end end)
      print("wrap", gen(), gen(), gen())
      -- nested coroutines, blocking two levels down
      local outer = coroutine.wrap(function()
        local inner = coroutine.wrap(function() return run("echo deep") end)
        return inner()
      end)
      print("nested", outer())
      print("isyieldable", coroutine.isyieldable())`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(
      [
        "main\ta",
        "pcall\ttrue\tb",
        "resume\ttrue\tyielded c",
        "status\tsuspended",
        "resume\ttrue\treturned d",
        "status\tdead",
        "wrap\tw1\tw2\tw3",
        "nested\tdeep",
        "isyieldable\tfalse",
        "",
      ].join("\n"),
    );
  });

  it("propagates errors raised inside wrapped coroutines", async () => {
    const r = await runLua(`local f = coroutine.wrap(function() error("inner boom") end)\nprint(pcall(f))`);
    expect(r.stdout.toString()).toMatch(/^false\t.*main\.lua:1: inner boom\n$/);
  });
});

describe("errors", () => {
  it("every call returns value, err with kind and message; tostring(err) is readable", async () => {
    const r = await runLua(
      prologue +
        `
      local ex, err = exec.get("nope:missing")
      print(ex, err.kind, tostring(err))
      local p, e2 = sh:exec({"true"}, {timeout = "soon"})
      print(p, e2.kind, e2.message)
      print(sh:exec(42))
      print(sh:exec("echo 'unterminated"))
      local q = assert(sh:exec("true"))
      print(q:wait())
      assert(q:start())
      print(q:start())
      print(q:signal("NOPE"))
      print(q:stdout_stream():read(-1))`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString().split("\n")).toEqual([
      "nil\tNOT_FOUND\tNOT_FOUND: no executor 'nope:missing' (configured: local:shell)",
      "nil\tINVALID\topts.timeout: must be a positive number of seconds, got string \"soon\"",
      "nil\tINVALID: cmd: must be a string or a non-empty list of strings, got number",
      "nil\tINVALID: command: unterminated single quote at position 6",
      "nil\tSTATE: process not started: call proc:start() first",
      "nil\tSTATE: process already started",
      'nil\tINVALID: proc:signal: unknown signal "NOPE" (use a number or a name like "TERM")',
      "nil\tINVALID: stream:read: size must be a positive integer",
      "",
    ]);
  });

  it("a method called with '.' instead of ':' says so", async () => {
    const r = await runLua(prologue + `print(sh.exec("true"))\nprint(assert(sh:exec("true")).start())`);
    expect(r.stdout.toString()).toBe(
      "nil\tINVALID: executor:exec: self is not an exec.executor (call it with ':')\n" +
        "nil\tINVALID: proc:start: self is not an exec.process (call it with ':')\n",
    );
  });

  it("a Lua error prints file:line and a traceback, exit 1", async () => {
    const r = await runLua(`local function f()\n  error("boom")\nend\nf()\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("main.lua:2: boom");
    expect(r.stderr).toContain("stack traceback:");
    expect(r.stderr).toMatch(/main\.lua:4: in main chunk/);
  });

  it("a syntax error names the file and line", async () => {
    const r = await runLua(`print("ok")\nlocal x = = 1\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("main.lua:2:");
    expect(r.stdout.toString()).toBe("");
  });
});

describe("CLI", () => {
  it("passes arguments as arg and ... and exits with os.exit's code", async () => {
    const r = await runLua(`print(arg[0], arg[1], arg[2], select("#", ...), ...)\nos.exit(7)\nprint("not reached")`, { args: ["one", "two words"] });
    expect(r.stdout.toString()).toBe("main.lua\tone\ttwo words\t2\tone\ttwo words\n");
    expect(r.code).toBe(7);
  });

  it("os.exit works from inside coroutines and pcall", async () => {
    const r = await runLua(`pcall(function() coroutine.wrap(function() os.exit(true) end)() end)\nprint("not reached")`);
    expect(r.stdout.toString()).toBe("");
    expect(r.code).toBe(0);
    const r2 = await runLua(`pcall(os.exit, 3)\nprint("not reached")`);
    expect(r2.code).toBe(3);
  });

  it("print and io.write are binary-safe", async () => {
    const r = await runLua(`io.write("a\\0b\\255\\254", 12, "\\n")\nprint(nil, true, 1.5)\nio.stderr:write("to stderr")`);
    expect([...r.stdout]).toEqual([...Buffer.from("a\0b\xff\xfe12\n", "latin1"), ...Buffer.from("nil\ttrue\t1.5\n")]);
    expect(r.stderr).toBe("to stderr");
  });

  it("a script waiting on something that can never happen is stopped with a clear error", async () => {
    const r = await runLua(prologue + `local p = sh:exec("true")\nrequire("task").select({p})\nprint("not reached")`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the script waits for something that can never happen");
    expect(r.stdout.toString()).toBe("");
  });

  it("reports a missing script and bad flags clearly", async () => {
    const r = await runCli(["run", "/nonexistent/x.lua"]);
    expect(r.code).toBe(2); // a usage error, like a bad flag
    expect(r.stderr).toBe("moonexec: run: cannot open /nonexistent/x.lua: no such file\n");
    const d = await runCli(["run", "examples"]);
    expect([d.code, d.stderr]).toEqual([2, "moonexec: run: cannot open examples: it is a directory\n"]);
    const u = await runCli(["run", "--time-limit", "soon", "x.lua"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('--time-limit: expected a positive number of seconds, got "soon"');
  });
});

describe("require", () => {
  it("finds modules next to the script and in -I paths; exec is built in", async () => {
    const lib = tempDir({ "shared.lua": `return { name = "shared" }` });
    const r = await runLua(`local m = require("util.helper")\nlocal s = require("shared")\nprint(m.hello(), s.name, type(require("exec").get))`, {
      files: { "util.lua": "" },
      cliArgs: ["-I", lib],
    }).catch((e) => e);
    // util/helper.lua must be in a subdirectory; write it and run again
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("module 'util.helper' not found");
    const dir = tempDir({ "main.lua": `local m = require("util.helper")\nlocal s = require("shared")\nprint(m.hello(), s.name, type(require("exec").get))` });
    const { mkdirSync, writeFileSync } = await import("node:fs");
    mkdirSync(`${dir}/util`);
    writeFileSync(`${dir}/util/helper.lua`, `return { hello = function() return "hi" end }`);
    const ok = await runCli(["run", "-I", lib, "main.lua"], { cwd: dir });
    expect(ok.stderr).toBe("");
    expect(ok.stdout.toString()).toBe("hi\tshared\tfunction\n");
  });

  it("module errors carry the module's file name", async () => {
    const r = await runLua(`require("bad")`, { files: { "bad.lua": "local x = nil\nreturn x.field\n" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad.lua:2:");
  });
});

describe("sandbox", () => {
  it("disables process and file access outside exec", async () => {
    const r = await runLua(`
      for _, name in ipairs({"os.execute", "io.popen", "io.open", "os.remove", "os.rename", "dofile", "loadfile", "io.lines"}) do
        local f = load("return " .. name)()
        local ok, err = pcall(f, "/etc/passwd")
        print(name, ok, err)
      end
      print(load(string.dump(function() end)))`);
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe('os.execute\tfalse\tos.execute is disabled in moonexec: run commands with require("exec") (see docs/sandbox.md)');
    expect(lines[2]).toBe('io.open\tfalse\tio.open is disabled in moonexec: run commands with require("exec") (see docs/sandbox.md)');
    for (const l of lines.slice(0, 8)) expect(l).toContain("\tfalse\t");
    expect(lines[8]).toMatch(/^nil\tattempt to load a binary chunk/);
  });

  it("stops an endless loop at the time limit, even one that pcall would swallow", async () => {
    const t0 = Date.now();
    const r = await runLua(`while true do pcall(function() while true do end end) end`, { cliArgs: ["--time-limit", "1"] });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("time limit of 1s exceeded");
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("stops a script blocked on a command at the time limit and kills the command", async () => {
    const r = await runLua(prologue + `local p = sh:exec("sleep 30"); p:start(); p:wait()`, { cliArgs: ["--time-limit", "1"] });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("time limit of 1s exceeded");
  });

  onFengari("--memory-limit on fengari is a usage error naming the flag and the engine, before anything runs", async () => {
    const r = await runLua(`print("ran")`, { cliArgs: ["--memory-limit", "64M"] });
    expect(r.stdout.toString()).toBe("");
    expect(r.stderr).toContain("--memory-limit: the fengari engine cannot count the Lua heap");
    expect(r.code).toBe(2);
  });

  onWasmoon("stops an allocation bomb at the memory limit and survives", async () => {
    const r = await runLua(`local t = {} local s = "x" while true do s = s .. s t[#t+1] = s end`, { cliArgs: ["--memory-limit", "64M"] });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not enough memory");
  });

  onWasmoon("a script can catch running out of memory and carry on", async () => {
    const r = await runLua(`local ok, err = pcall(function() local s = "x" while true do s = s .. s end end)\ncollectgarbage()\nprint(ok, err)`, {
      cliArgs: ["--memory-limit", "64M"],
    });
    expect(r.stdout.toString()).toBe("false\tnot enough memory\n");
    expect(r.code).toBe(0);
  });
});
