/**
 * Real pure-Lua libraries, unchanged, through moonexec: Debian's luaunit, inspect.lua and
 * Penlight (scripts/lua-setup.sh installs them), with their directory as a module path (-I).
 * Missing packages skip with the reason; under CI they fail.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runLua } from "../helpers/cli.js";

const T = 60_000;
const LUA54 = "/usr/share/lua/5.4";
const INSPECT_DIR = ["/usr/share/lua/5.4", "/usr/share/lua/5.3"].find((d) => existsSync(`${d}/inspect.lua`));
const missing = [
  existsSync(`${LUA54}/luaunit.lua`) ? "" : "lua-unit",
  existsSync(`${LUA54}/pl/compat.lua`) ? "" : "lua-penlight",
  INSPECT_DIR ? "" : "lua-inspect",
].filter(Boolean);

const libs = ["-I", LUA54, ...(INSPECT_DIR && INSPECT_DIR !== LUA54 ? ["-I", INSPECT_DIR] : [])];

describe("third-party Lua libraries", () => {
  if (missing.length > 0) {
    const reason = `Debian packages missing: ${missing.join(", ")} (run scripts/lua-setup.sh)`;
    if (process.env.CI) it("the libraries are installed (required under CI)", () => expect.fail(reason));
    else it.skip(reason, () => {});
    return;
  }

  const suite = (body: string) => `local lu = require("luaunit")
TestThings = {}
${body}
os.exit(lu.LuaUnit.run("--output", "text"))`;

  it("luaunit: a passing suite exits 0", async () => {
    const r = await runLua(
      suite(`function TestThings:test_equal() lu.assertEquals({1, {a = 2}}, {1, {a = 2}}) end
function TestThings:test_error() lu.assertErrorMsgContains("boom", function() error("boom") end) end
function TestThings:test_str() lu.assertStrContains("hello world", "world") end`),
      { cliArgs: libs },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toMatch(/Ran 3 tests in [\d.]+ seconds?, 3 successes, 0 failures\nOK/);
    expect(r.code).toBe(0);
  }, T);

  it("luaunit: a failing suite exits with the failure count", async () => {
    const r = await runLua(
      suite(`function TestThings:test_ok() lu.assertTrue(true) end
function TestThings:test_bad() lu.assertEquals(1 + 1, 3) end
function TestThings:test_worse() lu.assertNil(42) end`),
      { cliArgs: libs },
    );
    const out = r.stdout.toString();
    expect(out).toContain("expected: 3, actual: 2");
    expect(out).toMatch(/Ran 3 tests .*1 success, 2 failures/);
    expect(r.code).toBe(2);
  }, T);

  it("inspect.lua", async () => {
    const r = await runLua(
      `local inspect = require("inspect")
print(inspect({1, 2, a = {b = "x"}, [true] = false}))
print(inspect(setmetatable({}, {__index = {}}), {newline = " ", indent = ""}))
print(inspect("quo\\"te"), inspect(nil), inspect(1.5))`,
      { cliArgs: libs },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(`{ 1, 2,\n  [true] = false,\n  a = {\n    b = "x"\n  }\n}\n{ <metatable> = { __index = {} } }\n'quo"te'\tnil\t1.5\n`);
  }, T);

  it("Penlight: compat, class, stringx, pretty, List, template", async () => {
    const r = await runLua(
      `local compat = require("pl.compat")
local function f() return x end
local env = { x = "from env" }
compat.setfenv(f, env)
print("compat", compat.lua51, compat.getfenv(f) == env, f())
local class = require("pl.class")
local Animal = class()
function Animal:_init(name) self.name = name end
function Animal:__tostring() return "Animal(" .. self.name .. ")" end
local Dog = class(Animal)
function Dog:speak() return self.name .. " says woof" end
local d = Dog("rex")
print("class", tostring(d), d:speak(), Dog:class_of(d), d:is_a(Animal))
local stringx = require("pl.stringx")
print("stringx", stringx.strip("  hi  "), table.concat(stringx.split("a,b,,c", ","), "|"), stringx.startswith("moonexec", "moon"), stringx.shorten("abcdefghij", 6))
local pretty = require("pl.pretty")
print("pretty", pretty.write({1, "two", k = {3}}, ""))
local t = assert(pretty.read("{1, 2, x = 'y'}")); print("read", t[1], t[2], t.x)
print("read refuses code", pretty.read("{os.exit()}"))
local List = require("pl.List")
local l = List({3, 1, 2}):sort():map(function(v) return v * 10 end)
print("List", tostring(l), l:len(), l:contains(20), tostring(l:slice(2, 3)))
local template = require("pl.template")
print("template", (template.substitute("Hello $(name)! # for i = 1, 2 do\\n$(i) # end\\n", { name = "Lua", _parent = _G })))
print(template.substitute([[
# for _, v in ipairs(items) do
- $(v)
# end
]], { items = {"a", "b"}, ipairs = ipairs }))`,
      { cliArgs: libs },
    );
    expect(r.stderr).toBe("");
    const out = r.stdout.toString();
    expect(out).toContain("compat\tfalse\ttrue\tfrom env\n");
    expect(out).toContain("class\tAnimal(rex)\trex says woof\ttrue\ttrue\n");
    expect(out).toContain("stringx\thi\ta|b||c\ttrue\tabc...\n");
    expect(out).toContain('pretty\t{1,"two",k={3}}\n');
    expect(out).toContain("read\t1\t2\ty\n");
    expect(out).toMatch(/read refuses code\tnil\t.*/);
    expect(out).toContain("List\t{10,20,30}\t3\ttrue\t{20,30}\n");
    expect(out).toContain("- a\n- b\n");
    expect(r.code).toBe(0);
  }, T);

  it("where the sandbox refuses something a library does, the error says so and names docs/sandbox.md", async () => {
    const r = await runLua(`local utils = require("pl.utils"); print(utils.readfile("/etc/hostname"))`, { cliArgs: libs });
    expect(r.stdout.toString() + r.stderr).toMatch(/io.open is disabled in moonexec.*\(see docs\/sandbox\.md\)/);
  }, T);
});
