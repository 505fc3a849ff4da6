/**
 * The escape corpus: hostile scripts against the sandbox (docs/sandbox.md). Each attempt must
 * be refused, and the host must still run a command and print afterwards (onHost checks).
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { onHost, failure } from "../helpers/sandbox-host.js";
import { tempDir } from "../helpers/cli.js";
import { FENGARI, NATIVE_WHAT, onWasmoon, onFengari } from "../helpers/engine.js";
import { Host } from "../../src/index.js";

const T = 30_000;

/** Internals a script must never hold: the natives table and the host API table. */
const WALK = `
local seen, found, n = {}, {}, 0
local function mark(v, path)
  local t = type(v)
  if (t ~= "table" and t ~= "function" and t ~= "thread" and t ~= "userdata") or seen[v] then return end
  seen[v] = true; n = n + 1
  if t == "table" then
    for _, key in ipairs({"module_source", "AWAIT", "load_plugin", "hook_dispatch", "set_script_hook", "builtin_sources"}) do
      if rawget(v, key) ~= nil then found[#found + 1] = path .. "." .. key end
    end
    for k, x in next, v do mark(k, path .. "[key]"); mark(x, path .. "." .. tostring(k)) end
  end
  if t == "function" then
    for i = 1, 255 do
      local name, x = debug.getupvalue(v, i)
      if name == nil then break end
      mark(x, path .. "^" .. name)
    end
  end
  mark(debug.getmetatable(v), path .. "<mt>")
end
`;

describe("debug: the issue's escapes", () => {
  it("require('debug') is the safe debug, and its sethook() does not switch off the time limit", async () => {
    await onHost(
      `local d = require("debug"); assert(d == debug and package.loaded.debug == debug)
       assert(d.getregistry == nil and d.debug == nil)
       d.sethook(); assert(d.gethook() == nil)
       while true do end`,
      (o) => {
        expect(failure(o)).toContain("time limit of 2s exceeded");
        expect(o.ms).toBeLessThan(9000); // 2 s limit; slack for a loaded machine
      },
      { timeLimit: 2 },
    );
  }, T);

  it("debug.getupvalue(load, i) hands out nothing, so load(string.dump(f)) stays refused", async () => {
    await onHost(
      `for i = 1, 20 do assert(debug.getupvalue(load, i) == nil, i) end
       assert(debug.getinfo(load).what == "${NATIVE_WHAT}" and debug.getinfo(load).nups == 0)
       local f, err = load(string.dump(function() return 1 end)); print(f, err)`,
      (o) => expect(o.stdout).toMatch(/^nil\tattempt to load a binary chunk \(mode is 't'\): moonexec loads no bytecode/),
    );
  }, T);

  it("nothing reachable from _G, metatables, exec objects or upvalues is a host internal", async () => {
    await onHost(
      WALK +
        `local exec, task = require("exec"), require("task")
         local sh = exec.get("t:sh"); local p = sh:exec({"true"}); p:start(); local s = p:stdout_stream(); p:wait()
         local _, e = exec.get("t:nope")
         mark(_G, "_G"); mark(""); mark(sh, "sh"); mark(p, "p"); mark(s, "s"); mark(e, "err"); mark(task.spawn(type), "task")
         mark(coroutine.running(), "main")
         print(#found == 0 and "none" or table.concat(found, " "), n > 100)`,
      (o) => expect(o.stdout).toBe("none\ttrue\n"),
    );
  }, T);
});

describe("debug on host functions", () => {
  const hostFns = ["print", "load", "package.searchpath", "setmetatable", "coroutine.wrap", "coroutine.resume", "coroutine.yield", "io.write", "io.stdout.write", "os.exit", "debug.getinfo", "debug.sethook", "package.searchers[2]", 'require("exec").get', 'require("task").spawn'];

  it.each(hostFns)("%s: no upvalues, no setupvalue, no upvaluejoin either way", async (name) => {
    await onHost(
      `local f = ${name}
       assert(select("#", debug.getupvalue(f, 1)) == 0, "getupvalue")
       assert(select("#", debug.setupvalue(f, 1, 42)) == 0, "setupvalue")
       assert(debug.upvalueid(f, 1) == nil, "upvalueid")
       local x = 1; local function mine() return x end
       print(pcall(debug.upvaluejoin, mine, 1, f, 1))
       print(pcall(debug.upvaluejoin, f, 1, mine, 1))
       print(debug.getinfo(f, "S").what, pcall(string.dump, f))`,
      (o) => {
        const lines = o.stdout.split("\n");
        expect(lines[0]).toMatch(/^false\t.*bad argument #4 to 'debug.upvaluejoin' \(invalid upvalue index\)/);
        expect(lines[1]).toMatch(/^false\t.*bad argument #2 to 'debug.upvaluejoin'/);
        expect(lines[2]).toMatch(new RegExp(`^${NATIVE_WHAT}\tfalse\t.*unable to dump given function`));
      },
    );
  }, T);

  it("print survives upvaluejoin/setupvalue attempts and still prints", async () => {
    await onHost(`pcall(debug.upvaluejoin, print, 1, function() return x end, 1); debug.setupvalue(print, 1, nil); print("still")`, (o) =>
      expect(o.stdout).toBe("still\n"),
    );
  }, T);

  it("C functions' upvalues cannot be replaced (a gmatch iterator trusts its state)", async () => {
    await onHost(`local it = ("a b"):gmatch("%a"); print(pcall(debug.setupvalue, it, 3, io.stdout))`, (o) =>
      expect(o.stdout).toMatch(/^false\t.*does not change the upvalues of C functions.*docs\/sandbox\.md/),
    );
  }, T);

  it("getlocal in an error handler sees no host frame's locals (error raised inside io.write)", async () => {
    await onHost(
      WALK +
        `xpcall(io.write, function()
           for level = 1, 30 do
             local info = debug.getinfo(level, "Sf")
             if not info then break end
             if info.func then mark(info.func, "frame" .. level) end
             for i = -5, 60 do local name, v = debug.getlocal(level, i); if name then mark(v, "local" .. level .. ":" .. i) end end
           end
         end, {})
         print(#found == 0 and "none" or table.concat(found, " "))`,
      (o) => expect(o.stdout).toBe("none\n"),
    );
  }, T);

  it("getlocal on a waiting task's thread shows no host locals", async () => {
    await onHost(
      WALK +
        `local task = require("task")
         local th
         local t = task.spawn(function() th = coroutine.running(); task.sleep(0.2) end)
         task.sleep(0.05)
         for level = 0, 10 do for i = -3, 30 do
           local ok, name, v = pcall(debug.getlocal, th, level, i)
           if ok and name then mark(v, "l" .. level .. ":" .. i) end
         end end
         task.wait(t)
         print(#found == 0 and "none" or table.concat(found, " "))`,
      (o) => expect(o.stdout).toBe("none\n"),
    );
  }, T);

  it("debug.getinfo of a host frame looks like a C function", async () => {
    await onHost(
      `local seen = {}
       coroutine.wrap(function() for l = 1, 10 do local i = debug.getinfo(l, "S"); if not i then break end; seen[#seen+1] = i.source end end)()
       print(table.concat(seen, " "))`,
      (o) => {
        expect(o.stdout).not.toContain("moonexec");
        expect(o.stdout).toContain("=attempt");
      },
    );
  }, T);

  it("debug.getregistry and debug.debug are removed", async () => {
    await onHost(`print(debug.getregistry, debug.debug, require("debug").getregistry)`, (o) => expect(o.stdout).toBe("nil\tnil\tnil\n"));
  }, T);
});

describe("bytecode: string.dump + load in every mode and env", () => {
  const cases: Array<[string, string]> = [];
  for (const mode of ["nil", '"t"', '"b"', '"bt"', '"tb"', '""']) for (const env of ["", ", _G", ", nil", ", {}"]) cases.push([mode, env]);
  it.each(cases)("load(dump, name, %s%s) is refused", async (mode, env) => {
    await onHost(
      `local f, err = load(string.dump(function() return "ran" end), "=x", ${mode}${env})
       print(f == nil, err)`,
      (o) => expect(o.stdout).toMatch(/^true\tattempt to load a (binary chunk \(mode is 't'\): moonexec loads no bytecode|text chunk)/),
    );
  }, T);

  it("a reader function that returns bytecode in pieces is refused", async () => {
    await onHost(
      `local d = string.dump(function() return "ran" end); local i = 0
       print(load(function() i = i + 1; return d:sub(i, i) ~= "" and d:sub(i, i) or nil end, "r", "b"))`,
      (o) => expect(o.stdout).toMatch(/^nil\tattempt to load a binary chunk/),
    );
  }, T);

  it("chunk names of host code are reserved, so a script cannot make its functions look like the host's", async () => {
    await onHost(`print(pcall(load, "return 1", "=[moonexec prelude]"))`, (o) => expect(o.stdout).toMatch(/^false\t.*reserved.*docs\/sandbox\.md/));
  }, T);

  it("a custom package.searchers entry or package.preload loader cannot load bytecode", async () => {
    await onHost(
      `local d = string.dump(function() return "ran" end)
       table.insert(package.searchers, 1, function(name) if name == "evil" then return assert(load(d, "=e", "b")) end end)
       print(pcall(require, "evil"))
       package.preload.evil2 = function() return assert(load(d)) end
       print(pcall(require, "evil2"))`,
      (o) => {
        const lines = o.stdout.split("\n");
        expect(lines[0]).toMatch(/^false\t.*attempt to load a binary chunk/);
        expect(lines[1]).toMatch(/^false\t.*attempt to load a binary chunk/);
      },
    );
  }, T);

  it("require of a bytecode file (.lua or through package.path ?.luac) is refused", async () => {
    const { LuaFactory } = createRequire(import.meta.url)("wasmoon") as typeof import("wasmoon");
    const engine = await new LuaFactory().createEngine();
    const bytecode = Buffer.from(engine.doStringSync(`return string.dump(function() return "ran" end)`) as string, "latin1");
    engine.global.close();
    const dir = tempDir();
    writeFileSync(join(dir, "bc.lua"), bytecode);
    writeFileSync(join(dir, "bc2.luac"), bytecode);
    writeFileSync(join(dir, "main.lua"), `print(pcall(require, "bc")); package.path = package.path .. ";${dir}/?.luac"; print(pcall(require, "bc2"))`);
    await onHost("", (o) => {
      expect(o.stdout).toMatch(/^false\terror loading module 'bc' from file '.*bc\.lua':\n\t.*attempt to load a binary chunk/);
      expect(o.stdout).toMatch(/\nfalse\terror loading module 'bc2' from file '.*bc2\.luac':\n\t.*attempt to load a binary chunk/);
      expect(o.stdout).not.toContain("ran");
    }, { file: join(dir, "main.lua") });
  }, T);
});

describe("files and native code", () => {
  it("require('../../etc/passwd') finds nothing and shows nothing of the file", async () => {
    await onHost(`print(pcall(require, "../../etc/passwd"))`, (o) => {
      expect(o.stdout).toMatch(/^false\tmodule '..\/..\/etc\/passwd' not found:/);
      expect(o.stdout).not.toContain("root:");
    });
  }, T);

  it("package.path pointing outside the module directories is refused, with the reason", async () => {
    await onHost(`package.path = "/etc/?"; print(pcall(require, "passwd")); print(package.searchpath("passwd", "/etc/?;/etc/?.conf"))`, (o) => {
      expect(o.stdout).toContain("no file '/etc/passwd' (outside the module directories, see docs/sandbox.md)");
      // Lua 5.3's searchpath starts each entry on a line of its own (fengari).
      expect(o.stdout).toMatch(/\nnil\t(\n\t)?no file '\/etc\/passwd' \(outside[^\n]*\n\tno file '\/etc\/passwd.conf' \(outside/);
      expect(o.stdout).not.toContain("root:");
    });
  }, T);

  it("a path through a symlinked directory is checked as written: .. cannot climb out of the module directories", async () => {
    const dir = tempDir({ "main.lua": `print(pcall(require, "sub/../../../etc/passwd")); print(package.searchpath("x", "./sub/../../x.lua"))` });
    symlinkSync("/etc", join(dir, "sub"));
    await onHost("", (o) => {
      expect(o.stdout).not.toContain("root:");
      expect(o.stdout).toContain("(outside the module directories");
    }, { file: join(dir, "main.lua") });
  }, T);

  it("relative paths with .. in package.path cannot climb out either", async () => {
    const dir = tempDir({ "main.lua": `package.path = "${"../".repeat(12)}etc/?"; print(pcall(require, "passwd"))` });
    await onHost("", (o) => {
      expect(o.stdout).toContain("(outside the module directories");
      expect(o.stdout).not.toContain("root:");
    }, { file: join(dir, "main.lua") });
  }, T);

  it("package.loadlib, C modules through package.cpath, dofile, loadfile, io.open are refused naming docs/sandbox.md", async () => {
    await onHost(
      `package.cpath = "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;/lib/x86_64-linux-gnu/?.so"
       print(pcall(package.loadlib, "libc.so.6", "system"))
       print((select(2, pcall(require, "libc")):gsub("\\n", " ")))
       for _, f in ipairs({dofile, loadfile, io.open, io.lines, io.read}) do print(pcall(f, "/etc/passwd")) end
       print(os.getenv("PATH"), os.getenv("HOME"))`,
      (o) => {
        const lines = o.stdout.trim().split("\n");
        expect(lines[0]).toMatch(/^false\t.*package.loadlib is disabled in moonexec.*docs\/sandbox\.md/);
        expect(lines[1]).toMatch(/^module 'libc' not found:\s*no field package.preload\['libc'\]\s+no file '[^']*libc.lua'\s+no file '[^']*libc\/init.lua'$/);
        for (const l of lines.slice(2, 7)) expect(l).toMatch(/^false\t.*is disabled in moonexec.*docs\/sandbox\.md/);
        expect(lines[7]).toBe("nil\tnil"); // the host's environment stays out of sight
      },
    );
  }, T);

  it("io.stdin is gone and io.read does not block", async () => {
    await onHost(`print(io.stdin, pcall(io.read, "l"))`, (o) => {
      expect(o.stdout).toMatch(/^nil\tfalse\t.*io.read/);
      expect(o.ms).toBeLessThan(2000);
    });
  }, T);
});

describe("hooks", () => {
  it("a hook set inside a coroutine cannot switch off the time limit, even with a huge count", async () => {
    await onHost(
      `coroutine.wrap(function() debug.sethook(function() end, "", 1 << 30); while true do end end)()`,
      (o) => {
        expect(failure(o)).toContain("time limit of 2s exceeded");
        expect(o.ms).toBeLessThan(9000); // 2 s limit; slack for a loaded machine
      },
      { timeLimit: 2 },
    );
  }, T);

  it("clearing hooks on every thread it can reach does not switch off the time limit", async () => {
    await onHost(
      `debug.sethook(); debug.sethook((coroutine.running())); local co = coroutine.create(function() while true do end end); debug.sethook(co); assert(coroutine.resume(co))`,
      (o) => expect(failure(o)).toContain("time limit of 2s exceeded"),
      { timeLimit: 2 },
    );
  }, T);

  it("gethook shows the script's hook, never the host's", async () => {
    await onHost(
      `print(debug.gethook())
       local function h() end
       debug.sethook(h, "c", 7); local f, m, c = debug.gethook(); print(f == h, m, c)
       print(coroutine.wrap(function() return debug.gethook() end)())
       debug.sethook(); print(debug.gethook())`,
      (o) => expect(o.stdout).toBe("nil\ntrue\tc\t7\nnil\tc\t7\nnil\n"), // a new coroutine: the mask, no function (as in Lua)
      { timeLimit: 5 },
    );
  }, T);

  it("a line hook sees only the script's own code, not the prelude's wrappers", async () => {
    await onHost(
      `local srcs = {}
       local co = coroutine.wrap(function() coroutine.yield(1) end)
       debug.sethook(function(ev, line) srcs[debug.getinfo(2, "S").source] = true end, "lcr")
       print("x"); io.write(""); co(); pcall(require, "nope"); local t = require("task")
       debug.sethook()
       local list = {}; for s in pairs(srcs) do list[#list+1] = s end; table.sort(list); print(table.concat(list, " "))`,
      (o) => {
        expect(o.stdout).not.toContain("moonexec");
        expect(o.stdout).toContain("=attempt");
      },
    );
  }, T);

  it("a hook that errors raises in the script (catchable), and the host goes on", async () => {
    await onHost(
      `print(pcall(function()
         debug.sethook(function() error("from hook") end, "l")
         local x = 1
       end))
       debug.sethook()`,
      (o) => expect(o.stdout).toMatch(/^false\t.*from hook/),
    );
  }, T);

  it("a count hook that loops forever is still stopped by the time limit", async () => {
    await onHost(
      `debug.sethook(function() while true do end end, "", 1000); local x = 0; for i = 1, 1e6 do x = x + i end`,
      (o) => expect(failure(o)).toContain("time limit of 2s exceeded"),
      { timeLimit: 2 },
    );
  }, T);
});

describe("metatables, _ENV and the standard tables", () => {
  it("string metatable games (debug.getmetatable('')) do not break the host", async () => {
    await onHost(
      `local mt = debug.getmetatable("")
       mt.__index = function() error("trapped") end; mt.__concat = function() error("trapped") end
       mt.__name = "evil"`,
      (o) => expect(o.error).toBeUndefined(),
    );
  }, T);

  it("debug.setmetatable on nil, numbers, booleans and functions does not break the host", async () => {
    await onHost(
      `local trap = { __index = function() error("trapped") end, __call = function() error("trapped") end, __concat = function() error("trapped") end }
       debug.setmetatable(nil, trap); debug.setmetatable(0, trap); debug.setmetatable(true, trap); debug.setmetatable(print, trap)`,
      (o) => expect(o.error).toBeUndefined(),
    );
  }, T);

  it("setmetatable(_G, ...) traps do not reach the host", async () => {
    await onHost(
      `setmetatable(_G, { __index = function(_, k) error("trapped " .. tostring(k)) end, __newindex = function() error("trapped") end })`,
      (o) => expect(o.error).toBeUndefined(),
    );
  }, T);

  it("_ENV games find no host internals", async () => {
    await onHost(
      `local _ENV = setmetatable({}, { __index = _G })
       print(N, AWAIT, host, settle, raw_load, _G.N, rawget(_G, "N"))
       local f = load("return N, settle, host", "=x", "t", setmetatable({}, { __index = _G })); print(f())`,
      (o) => expect(o.stdout).toBe("nil\tnil\tnil\tnil\tnil\tnil\tnil\nnil\tnil\tnil\n"),
    );
  }, T);

  it("rawset and removal on the sandbox tables only change the script's own view", async () => {
    await onHost(
      `rawset(package, "searchers", nil); print(pcall(require, "x"))
       rawset(io, "write", nil); rawset(_G, "debug", nil); rawset(string, "rep", nil)`,
      (o) => expect(o.stdout).toMatch(/^false\t.*'package.searchers' must be a table/),
      { healthy: false },
    );
    await onHost(`print(type(io.write), type(debug.getinfo), #string.rep("x", 3))`, (o) => expect(o.stdout).toBe("function\tfunction\t3\n"));
  }, T);

  it("swapping package.loaded.exec fools only the script itself; the natives stay the host's", async () => {
    await onHost(
      `package.loaded.exec = { get = function() return "fake" end }; print(require("exec").get("t:sh"))
       package.loaded.exec = nil; print(type(require("exec").get("t:sh")))`,
      (o) => expect(o.stdout).toBe("fake\ntable\n"),
    );
  }, T);

  it("forged handles in exec objects give errors, not other objects", async () => {
    await onHost(
      `local exec = require("exec"); local sh = exec.get("t:sh"); local p = sh:exec({"true"})
       local forged = setmetatable({ _h = sh._h }, { __index = function(_, k) return p[k] end }); print(forged:start())
       rawset(sh, "_h", 123456); print(sh:exec({"true"}))
       print(p.start(sh))`,
      (o) => {
        const lines = o.stdout.split("\n");
        expect(lines[0]).toMatch(/^nil\tINVALID: proc:start: self is not an exec.process/);
        expect(lines[1]).toMatch(/^nil\tCLOSED: executor is no longer valid/);
        expect(lines[2]).toMatch(/^nil\tINVALID: proc:start: self is not an exec.process/);
      },
    );
  }, T);

  it("the exec metatables are out of reach, so a fresh host is untouched", async () => {
    await onHost(
      `local ex = require("exec").get("t:sh"); print(getmetatable(ex), debug.getmetatable(ex))
       print(pcall(function() getmetatable(ex).exec = function() error("hijacked") end end))`,
      (o) => {
        const lines = o.stdout.split("\n");
        expect(lines[0]).toBe("exec.executor\texec.executor");
        expect(lines[1]).toMatch(/^false\t.*attempt to index a string value/);
      },
    );
    await onHost(`print("fresh")`, (o) => expect(o.stdout).toBe("fresh\n"));
  }, T);
});

describe("threads", () => {
  it("top-level coroutine.yield is the error Lua gives, catchable, and the script goes on", async () => {
    await onHost(`print(pcall(coroutine.yield, 1)); print(coroutine.isyieldable(), select(2, coroutine.running()))`, (o) =>
      expect(o.stdout).toBe("false\tattempt to yield from outside a coroutine\nfalse\ttrue\n"),
    );
  }, T);

  it("the host's threads (main chunk, tasks) cannot be resumed or closed by the script", async () => {
    await onHost(
      `local task = require("task"); local main = coroutine.running(); local th
       local t = task.spawn(function() th = coroutine.running(); print("task resume main", coroutine.resume(main, "x")); task.sleep(0.2) end)
       task.sleep(0.05)
       print("main resume task", coroutine.resume(th, true, "forged answer"))
       print("close task", pcall(coroutine.close, th))
       print("wait", task.wait(t))`,
      (o) => {
        expect(o.stdout).toContain("task resume main\tfalse\tcannot resume non-suspended coroutine");
        expect(o.stdout).toContain("main resume task\tfalse\tcannot resume non-suspended coroutine");
        // Lua 5.3 (fengari) has no coroutine.close: calling it is an error, never a close.
        expect(o.stdout).toMatch(FENGARI ? /close task\tfalse\t.*attempt to call a nil value/ : /close task\tfalse\t.*cannot close a normal coroutine/);
        expect(o.stdout).toContain("wait\n");
      },
    );
  }, T);

  it("a forged host-wait yield from a coroutine ends in an error, not in someone else's answer", async () => {
    await onHost(
      `local co = coroutine.wrap(function() coroutine.yield("\\0moonexec.await", 1) end)
       print(pcall(co))`,
      (o) => expect(o.error?.message ?? o.stdout).toMatch(/unknown host wait|false/),
    );
  }, T);
});

describe("errors, finalizers, memory and exit", () => {
  it("an error object whose __tostring errors is reported, not fatal", async () => {
    await onHost(`error(setmetatable({}, { __tostring = function() error("boom") end }))`, (o) =>
      expect(failure(o)).toBe("(error object is a table value)"),
    );
  }, T);

  it("an error object whose __tostring never returns is stopped by the time limit", async () => {
    await onHost(
      `error(setmetatable({}, { __tostring = function() while true do end end }))`,
      (o) => {
        expect(failure(o)).toMatch(/time limit|error object/);
        expect(o.ms).toBeLessThan(9000); // 2 s limit; slack for a loaded machine
      },
      { timeLimit: 2 },
    );
  }, T);

  it("an error object whose __tostring yields or waits is described without hanging", async () => {
    await onHost(`error(setmetatable({}, { __tostring = function() require("task").sleep(1); return "x" end }))`, (o) =>
      expect(failure(o)).toMatch(/error object/),
    );
  }, T);

  it("a finalizer that would loop forever (hooks are off in __gc) never runs: collect and dispose finish", async () => {
    const t0 = Date.now();
    await onHost(
      `setmetatable({}, { __gc = function() while true do end end })
       debug.setmetatable({}, { __gc = function() while true do end end })
       local mt = { __gc = true }; setmetatable({}, mt); mt.__gc = function() while true do end end
       collectgarbage(); collectgarbage(); print("collected", mt.__gc ~= nil)`,
      // fengari has no collector to call and runs no __gc: collectgarbage is an error.
      (o) => (FENGARI ? expect(failure(o)).toMatch(/lua_gc not implemented/) : expect(o.stdout).toBe("collected\ttrue\n")),
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, T);

  it("finalizers that raise errors or call os.exit do not take the host down", async () => {
    await onHost(
      `for i = 1, 50 do setmetatable({}, { __gc = function() error("gc " .. i) end }) end
       setmetatable({}, { __gc = function() pcall(os.exit, 9) end }); pcall(collectgarbage); pcall(collectgarbage); print("after")`,
      (o) => expect(o.stdout).toContain("after"),
      { healthy: false },
    );
  }, T);

  onFengari("fengari refuses a memory limit before anything runs, naming the engine (it cannot count its heap)", async () => {
    await expect(Host.create({ memoryLimit: 64 * 1024 * 1024 })).rejects.toThrow(/memoryLimit: the fengari engine cannot count the Lua heap/);
  });

  onWasmoon("collectgarbage abuse: stopped collector and huge steps end at the memory limit or finish", async () => {
    await onHost(
      `collectgarbage("stop"); collectgarbage("generational"); collectgarbage("incremental", 1000, 1000)
       print(collectgarbage("step", 1 << 30)); local t = {} for i = 1, 1e7 do t[i] = {} end`,
      (o) => expect(failure(o)).toMatch(/not enough memory|memory limit/),
      { memoryLimit: 64 * 1024 * 1024 },
    );
  }, T);

  onWasmoon("a huge string.rep fails with a memory error inside the limit, and pcall sees it", async () => {
    await onHost(`print(pcall(string.rep, "x", 1 << 40)); print(pcall(string.rep, "abc", 40 * 1024 * 1024))`, (o) => {
      const lines = o.stdout.split("\n");
      expect(lines[0]).toMatch(/^false\t.*(too large|not enough memory)/);
      expect(lines[1]).toMatch(/^false\tnot enough memory/);
    }, { memoryLimit: 64 * 1024 * 1024 });
  }, T);

  it("deep recursion is a stack overflow error, not a crash", async () => {
    await onHost(`local function f() return 1 + f() end; print(pcall(f))`, (o) => expect(o.stdout).toMatch(/^false\t.*stack overflow/));
  }, T);

  it.each([
    ["os.exit()", 0],
    ["os.exit(true)", 0],
    ["os.exit(false)", 1],
    ["os.exit(3)", 3],
    ['os.exit("4")', 4],
    ["os.exit(5, true)", 5],
    ["pcall(os.exit, 6)", 6],
    ["coroutine.wrap(function() pcall(os.exit, 7) end)()", 7],
  ])("%s ends the run with its code and nothing after it runs", async (call, code) => {
    await onHost(`${call}; print("after")`, (o) => {
      expect(o.error?.kind).toBe("exit");
      expect(o.error?.exitCode).toBe(code);
      expect(o.stdout).toBe("");
    }, { healthy: false });
  }, T);

  it("os.exit with a bad code is a clear error naming the argument", async () => {
    await onHost(`print(pcall(os.exit, {}))`, (o) => expect(o.stdout).toMatch(/^false\t.*bad argument #1 to 'exit'/));
  }, T);
});

describe("modules in allowed directories still work", () => {
  it("a module directory given as a module path is readable; a sibling directory is not", async () => {
    const root = tempDir();
    mkdirSync(join(root, "lib"));
    mkdirSync(join(root, "secret"));
    mkdirSync(join(root, "app"));
    writeFileSync(join(root, "lib", "m.lua"), "return 'lib ok'");
    writeFileSync(join(root, "secret", "s.lua"), "return 'leaked'");
    writeFileSync(join(root, "app", "main.lua"), `print((require("m"))); package.path = package.path .. ";${root}/secret/?.lua"; print(pcall(require, "s"))`);
    await onHost("", (o) => {
      expect(o.stdout).toMatch(/^lib ok\nfalse\t[\s\S]*secret\/s\.lua' \(outside the module directories/);
      expect(o.stdout).not.toContain("leaked");
    }, { file: join(root, "app", "main.lua"), modulePaths: [join(root, "lib")] });
  }, T);
});
