/**
 * Standard Lua behaviour, as lua5.4 does it. Each script's expected output is written out;
 * where Debian's lua5.4 is installed (scripts/lua-setup.sh) the same script must also
 * print the same under it, so the expectation is Lua's and not ours.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir, BIN } from "../helpers/cli.js";
import { FENGARI, NATIVE_SRC, NATIVE_WHAT, onWasmoon, onFengari } from "../helpers/engine.js";

const T = 30_000;
/** The reference interpreter: lua5.4 for wasmoon; fengari is Lua 5.3, where its expectations are written out. */
const LUA = FENGARI ? undefined : ["/usr/bin/lua5.4"].find((p) => existsSync(p));

/** Run main.lua (plus files) under moonexec, and under lua5.4 when there; both must print `want`. */
async function same(files: Record<string, string | Buffer>, want: string, opts: { code?: number } = {}): Promise<void> {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  const r = await runCli(["run", "main.lua"], { cwd: dir });
  expect(r.stdout.toString(), r.stderr).toBe(want);
  expect(r.code).toBe(opts.code ?? 0);
  if (LUA) {
    let out: string;
    try {
      out = execFileSync(LUA, ["main.lua"], { cwd: dir, encoding: "latin1", env: { ...process.env, LUA_PATH: "./?.lua;./?/init.lua", LUA_PATH_5_4: "./?.lua;./?/init.lua" } });
    } catch (e) {
      out = (e as { stdout: string }).stdout;
    }
    expect(Buffer.from(out, "latin1").toString(), "lua5.4 prints the same").toBe(want);
  }
}

describe("source files", () => {
  it("a #! first line is skipped, line numbers stay", async () => {
    await same({ "main.lua": "#!/usr/bin/env lua\nprint('ran')\nprint(debug.getinfo(1, 'l').currentline)\n" }, "ran\n3\n");
  }, T);

  it("a UTF-8 BOM is skipped, also before #!", async () => {
    await same({ "main.lua": "\uFEFF#!/bin/lua\nprint('bom ok')\n" }, "bom ok\n");
    await same({ "main.lua": "\uFEFFprint('bom only')\n" }, "bom only\n");
  }, T);

  it("required modules skip #! and BOM too", async () => {
    await same({ "main.lua": "print((require('m')), (require('n')))", "m.lua": "#!/x\nreturn 'm'", "n.lua": "\uFEFFreturn 'n'" }, "m\tn\n");
  }, T);

  it("a `#!/usr/bin/env moonexec` script runs as a program", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "bin"));
    symlinkSync(BIN, join(dir, "bin", "moonexec"));
    const script = join(dir, "hello");
    writeFileSync(script, "#!/usr/bin/env moonexec\nprint('hello from ' .. arg[1])\nos.exit(3)\n");
    chmodSync(script, 0o755);
    let code = 0;
    let out = "";
    try {
      out = execFileSync(script, ["there"], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${join(dir, "bin")}:${process.env.PATH}` } });
    } catch (e) {
      code = (e as { status: number }).status;
      out = (e as { stdout: string }).stdout;
    }
    expect(out).toBe("hello from there\n");
    expect(code).toBe(3);
  }, T);
});

describe("require", () => {
  it("honours edits of package.path", async () => {
    await same(
      { "main.lua": `package.path = "./lib/?.lua;" .. package.path\nprint(require("m"))`, "lib/m.lua": "return 'from lib'" },
      FENGARI ? "from lib\n" : "from lib\t./lib/m.lua\n", // Lua 5.3's require returns no loader data
    );
  }, T);

  it("honours package.searchers and package.preload, and passes the loader data", async () => {
    await same(
      {
        "main.lua": `
table.insert(package.searchers, 2, function(name)
  if name:match("^virtual%.") then return function(n, extra) return n .. "|" .. extra end, "data" end
  return "\\n\\tno virtual '" .. name .. "'"
end)
package.preload.pre = function(name, extra) return name .. ":" .. tostring(extra) end
print(require("virtual.x"), require("pre"))
print(select("#", require("pre")), package.loaded["virtual.x"])`,
      },
      FENGARI ? "virtual.x|data\tpre::preload:\n1\tvirtual.x|data\n" : "virtual.x|data\tpre::preload:\t:preload:\n1\tvirtual.x|data\n",
    );
  }, T);

  it("package.searchpath works as in Lua", async () => {
    await same(
      {
        "main.lua": `print(package.searchpath("a.b", "./?.lua;./?/init.lua"))
print(package.searchpath("x_y", "./?.txt", "_", "/"))
print(package.searchpath("nope", "./?.lua;./?.luax"))`,
        "a/b.lua": "",
        "x/y.txt": "",
      },
      `./a/b.lua\n./x/y.txt\nnil\t${FENGARI ? "\n\t" : ""}no file './nope.lua'\n\tno file './nope.luax'\n`, // 5.3: each entry on its own line
    );
  }, T);

  it("the not-found message is Lua's, without empty entries", async () => {
    await same(
      { "main.lua": `package.path = "./?.lua;./?/init.lua"; local ok, err = pcall(require, "missing.mod"); print(err)` },
      "module 'missing.mod' not found:\n\tno field package.preload['missing.mod']\n\tno file './missing/mod.lua'\n\tno file './missing/mod/init.lua'\n",
      // lua5.4 also lists its C paths; checked only under moonexec below
    ).catch(async (e) => {
      if (!LUA) throw e;
      // lua5.4's message goes on with package.cpath entries (moonexec has no C searchers): compare our part.
      const dir = tempDir({ "main.lua": `package.path = "./?.lua;./?/init.lua"; local ok, err = pcall(require, "missing.mod"); print(err)` });
      const r = await runCli(["run", "main.lua"], { cwd: dir });
      expect(r.stdout.toString()).toBe(
        "module 'missing.mod' not found:\n\tno field package.preload['missing.mod']\n\tno file './missing/mod.lua'\n\tno file './missing/mod/init.lua'\n",
      );
    });
  }, T);

  it("a module's syntax error names the module and file", async () => {
    await same(
      { "main.lua": `package.path = "./?.lua"; local ok, err = pcall(require, "bad"); print(err)`, "bad.lua": "return +" },
      "error loading module 'bad' from file './bad.lua':\n\t./bad.lua:1: unexpected symbol near '+'\n",
    );
  }, T);
});

describe("load, coroutines, io", () => {
  it("load with mode 'b' refuses a text chunk with Lua's message", async () => {
    await same({ "main.lua": `print(load("return 1", "x", "b"))\nprint(load("return 2", "x", "t")())\nprint(load("return 3", "x", "bt")())` }, "nil\tattempt to load a text chunk (mode is 'b')\n2\n3\n");
  }, T);

  onFengari("to-be-closed variables are a syntax error on fengari (Lua 5.3), not ignored", async () => {
    const dir = tempDir({ "main.lua": `local x <close> = nil\nprint("ran")` });
    const r = await runCli(["run", "main.lua"], { cwd: dir });
    expect(r.stdout.toString()).toBe("");
    expect(r.stderr).toMatch(/main\.lua:1: .*near '<'/);
    expect(r.code).toBe(1);
  }, T);

  onWasmoon("coroutine.wrap: an error raised by __close propagates", async () => {
    await same(
      {
        "main.lua": `local w = coroutine.wrap(function()
  local x <close> = setmetatable({}, { __close = function() error("from close", 0) end })
  error("from body", 0)
end)
print(pcall(w))`,
      },
      "false\tfrom close\n",
    );
  }, T);

  it("coroutine.wrap: re-entering a running wrap is Lua's error", async () => {
    await same(
      { "main.lua": `local w\nw = coroutine.wrap(function() local r = w() return r end)\nprint(pcall(w))` },
      "false\tmain.lua:2: cannot resume non-suspended coroutine\n",
    );
  }, T);

  it("a top-level coroutine.yield errors like Lua, and pcall catches it", async () => {
    await same(
      { "main.lua": `print(pcall(coroutine.yield, 1))\nprint(coroutine.isyieldable(), select(2, coroutine.running()))\nprint(coroutine.wrap(function() return coroutine.isyieldable(), select(2, coroutine.running()) end)())` },
      "false\tattempt to yield from outside a coroutine\nfalse\ttrue\ntrue\tfalse\n",
    );
  }, T);

  it("io.type knows the standard files; print is a C function that upvaluejoin cannot break", async () => {
    await same(
      {
        "main.lua": `print(io.type(io.stdout), io.type(io.stderr), io.type(42))
print(debug.getinfo(print).what, debug.getinfo(print, "S").short_src)
print(pcall(debug.upvaluejoin, print, 1, function() return print end, 1))
print("print still works")`,
      },
      `file\tfile\tnil\n${NATIVE_WHAT}\t${NATIVE_SRC}\nfalse\tbad argument #2 to 'debug.upvaluejoin' (invalid upvalue index)\nprint still works\n`,
    );
  }, T);

  it("io.write and io.stdout:write are binary safe", async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const dir = tempDir({ "main.lua": `local t = {} for i = 0, 255 do t[#t+1] = string.char(i) end local s = table.concat(t)\nio.write(s); io.stdout:write(s, "\\0", 1, 2.5)` });
    const r = await runCli(["run", "main.lua"], { cwd: dir });
    expect(r.stdout).toEqual(Buffer.concat([all, all, Buffer.from("\x0012.5", "latin1")]));
  }, T);
});

describe("debug for libraries", () => {
  it("getinfo, getlocal, setlocal, traceback on script functions", async () => {
    await same(
      {
        "main.lua": `local function f(a, b)
  local c = a + b
  print(debug.getlocal(1, 1), debug.getlocal(1, 3))
  debug.setlocal(1, 3, 99)
  print(c, debug.getinfo(1, "n").name, debug.getinfo(1, "S").what, debug.getinfo(2, "l").currentline)
  print((debug.traceback("tb", 1):gsub("\\n.*", "")))
end
f(1, 2)
print(debug.getlocal(f, 1), debug.getlocal(f, 2), debug.getlocal(f, 3))`,
      },
      "a\tc\t3\n99\tf\tLua\t8\ntb\na\tb\tnil\n",
    );
  }, T);

  it("getupvalue, setupvalue, upvalueid, upvaluejoin on script functions", async () => {
    await same(
      {
        "main.lua": `local x, y = 1, 2
local function fx() return x end
local function fy() return y end
print(debug.getupvalue(fx, 1))
print(debug.setupvalue(fx, 1, 10), fx(), x)
print(debug.upvalueid(fx, 1) == debug.upvalueid(fy, 1))
debug.upvaluejoin(fx, 1, fy, 1)
print(fx(), debug.upvalueid(fx, 1) == debug.upvalueid(fy, 1))`,
      },
      "x\t1\nx\t10\t10\nfalse\n2\ttrue\n",
    );
  }, T);

  it("getmetatable/setmetatable ignore __metatable, as in Lua", async () => {
    await same(
      { "main.lua": `local t = setmetatable({}, { __metatable = "locked" })\nprint(getmetatable(t), type(debug.getmetatable(t)))\nlocal mt = {}; print(debug.setmetatable(t, mt) == t, debug.getmetatable(t) == mt)` },
      "locked\ttable\ntrue\ttrue\n",
    );
  }, T);

  it("sethook: call/return/line/count events of the script's own code; gethook; per thread", async () => {
    await same(
      {
        "main.lua": `local events = {}
local function g() return 1 end
local function hook(ev, line)
  local info = debug.getinfo(2, "nS")
  if info.what == "Lua" then events[#events + 1] = ev .. (line and (":" .. line) or "") .. (info.name and ("/" .. info.name) or "") end
end
debug.sethook(hook, "crl")
g()
debug.sethook()
print(table.concat(events, " "))
print(select("#", debug.gethook()), debug.gethook())
local n = 0
debug.sethook(function(ev) n = n + 1 end, "", 100)
for i = 1, 10000 do end
debug.sethook()
print(n > 50, n < 500)
debug.sethook(hook, "l")
local co = coroutine.create(function() return debug.gethook() end)
print(coroutine.resume(co))
debug.sethook()`,
      },
      "call/g line:2/g return/g\n1\tnil\ntrue\ttrue\ntrue\tnil\tl\t0\n",
    );
  }, T);
});
