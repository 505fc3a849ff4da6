/**
 * Bad arguments from Lua get INVALID naming the argument before anything is spawned, and a
 * seeded fuzz of random arguments to exec/opts/write_stdin/signal/read/push_file/... never
 * crashes or hangs the host: every call gives a value, (nil, err) or a Lua error.
 */
import { describe, expect, it } from "vitest";
import { runLua } from "../helpers/cli.js";
import { describeBackend } from "../helpers/backends.js";
import { incusUnix, incusEnv } from "../helpers/incus.js";

const CONFIG = `namespace: f\nentries:\n  - name: box\n    kind: exec.native\n    default_env: { PATH: "${process.env.PATH}" }\n`;

/** Lua: run `expr` (an exec or start), print "KIND: message" of its error, or "ok". */
const PROLOGUE = `
local exec = require("exec")
local ex = assert(exec.get("f:box"))
local function try(p, err)
  if p == nil then print(tostring(err)) return end
  local ok, e = p:start()
  print(ok and "started" or tostring(e))
end
`;

describe("API: bad input is INVALID naming the argument, before anything runs", () => {
  it("NUL in argv, env and work_dir; env names; non-UTF-8 env; timeout past the timer limit", async () => {
    const r = await runLua(
      PROLOGUE +
        `
try(ex:exec({"echo", "a\\0b"}))
try(ex:exec("echo a\\0b"))
try(ex:exec({"true"}, {env = {A = "x\\0y"}}))
try(ex:exec({"true"}, {env = {["A\\0B"] = "x"}}))
try(ex:exec({"true"}, {env = {["A=B"] = "x"}}))
try(ex:exec({"true"}, {env = {[""] = "x"}}))
try(ex:exec({"true"}, {env = {A = "\\xff\\xfe"}}))
try(ex:exec({"true"}, {env = {["\\xff"] = "x"}}))
try(ex:exec({"true"}, {work_dir = "/tmp\\0/x"}))
try(ex:exec({"true"}, {work_dir = "/tmp/\\xff"}))
try(ex:exec({"true"}, {timeout = 2^31 / 1000}))
try(ex:exec({"true"}, {timeout = math.huge}))
try(ex:exec({"true"}, {timeout = 0/0}))
try(ex:exec({"sh", "-c", "exit 0"}, {timeout = 2147483}))
local p = assert(ex:exec({"env"}, {env = {__proto__ = "p", constructor = "c", toString = "t"}}))
assert(p:start())
local seen = {}
for line in p:stdout_stream():lines() do if not line:match("^PATH=") then seen[#seen + 1] = line end end
table.sort(seen)
print(table.concat(seen, " "))
`,
      { config: CONFIG },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString().split("\n")).toEqual([
      "INVALID: cmd: word 2 contains a NUL byte (no program can receive one)",
      "INVALID: cmd: word 2 contains a NUL byte (no program can receive one)",
      "INVALID: opts.env.A: environment values must not contain a NUL byte",
      'INVALID: opts.env: "A\\u0000B": environment names must not contain a NUL byte',
      `INVALID: opts.env: "A=B": environment names must not contain '='`,
      'INVALID: opts.env: "": environment names must not be empty',
      "INVALID: opts.env.A: must be a string of UTF-8 text (environment values cross as text on every backend), got a string that is not UTF-8",
      'INVALID: opts.env: "\uFFFD": environment names must be valid UTF-8 text',
      "INVALID: opts.work_dir: must not contain a NUL byte",
      "INVALID: opts.work_dir: must be a non-empty string of UTF-8 text, got a string that is not UTF-8",
      "INVALID: opts.timeout: must be at most 2147483.647 seconds (~24.8 days, the timer limit), got number 2147483.648",
      "INVALID: opts.timeout: must be a positive number of seconds, got number Infinity",
      "INVALID: opts.timeout: must be a positive number of seconds, got number NaN",
      "started",
      "__proto__=p constructor=c toString=t",
      "",
    ]);
  });

  it("task timeouts past the timer limit are refused, not fired after 1 ms", async () => {
    const r = await runLua(`local task = require("task"); print(task.sleep(2^31 / 1000)); print(task.sleep(0.01))`, { config: CONFIG });
    expect(r.stdout.toString()).toBe("nil\tINVALID: task.sleep: timeout: must be at most 2147483.647 seconds (~24.8 days, the timer limit), got number 2147483.648\ntrue\n");
  });

  it("an argument list too long (E2BIG) is an error from start(), and the CLI does not exit 0", async () => {
    const r = await runLua(PROLOGUE + `local p = assert(ex:exec({"echo", string.rep("x", 3000000)})); local ok, err = p:start(); print(ok, tostring(err)); error("stop")`, { config: CONFIG });
    expect(r.stdout.toString()).toMatch(/^nil\tINVALID: cmd: arguments and environment too long for the system \(E2BIG\)/);
    expect(r.code).toBe(1);
  });

  it("a script that ignores the E2BIG error and ends still exits (runFile does not hang)", async () => {
    const r = await runLua(PROLOGUE + `local p = assert(ex:exec({"echo", string.rep("x", 3000000)})); p:start(); print(p:wait())`, { config: CONFIG });
    expect(r.stdout.toString()).toBe("nil\tINVALID: cmd: arguments and environment too long for the system (E2BIG) starting echo\n");
    expect(r.code).toBe(0);
  });
});

describeBackend(incusUnix, () => {
  it("push_file refuses uid/gid that are not 32-bit ids; NUL bytes are refused before Incus sees them", async () => {
    const cfg = `namespace: f\nentries:\n  - name: box\n    kind: exec.incus\n    instance: ${incusEnv.instance}\n    remote: "unix:${incusEnv.socket}"\n`;
    const r = await runLua(
      PROLOGUE +
        `
for _, v in ipairs({1e20, -5, 1.5, "0", 4294967295}) do
  local ok, err = ex:push_file("x", "/tmp/moonexec-fuzz-uid", {uid = v})
  print(ok, tostring(err))
end
local ok, err = ex:push_file("x", "/tmp/moonexec-fuzz-uid", {gid = -1})
print(ok, tostring(err))
print(ex:push_file("x", "/tmp/moonexec-fuzz-uid", "0644"))
try(ex:exec({"echo", "a\\0b"}))
try(ex:exec({"true"}, {env = {A = "\\0"}}))
try(ex:exec({"true"}, {work_dir = "/\\0"}))
`,
      { config: cfg },
    );
    const want = (v: string) => `nil\tINVALID: push_file: opts.uid must be a whole number between 0 and 4294967294, got ${v}`;
    expect(r.stdout.toString().split("\n")).toEqual([
      want("100000000000000000000"),
      want("-5"),
      want("1.5"),
      want("string"),
      want("4294967295"),
      "nil\tINVALID: push_file: opts.gid must be a whole number between 0 and 4294967294, got -1",
      "nil\tINVALID: push_file: opts must be a table",
      "INVALID: cmd: word 2 contains a NUL byte (no program can receive one)",
      "INVALID: opts.env.A: environment values must not contain a NUL byte",
      "INVALID: opts.work_dir: must not contain a NUL byte",
      "",
    ]);
  });
});

/**
 * The fuzzer, in Lua: random calls with random arguments on an executor, its processes and
 * streams. Every process it starts has a timeout, so no read or wait can block for long.
 * A result that is neither a value, nor (nil, err) with a known kind, nor a Lua error from
 * pcall is a violation; INTERNAL errors count as violations too.
 */
const FUZZ = (seed: number, budgetSeconds: number) => `
local exec = require("exec")
math.randomseed(${seed})
local R = math.random
local KINDS = { INVALID = 1, NOT_FOUND = 1, PERMISSION_DENIED = 1, UNAVAILABLE = 1, TIMEOUT = 1, CLOSED = 1, STATE = 1, TASK_FAILED = 1 }
local pool = {
  nil, true, false, 0, -1, 1, 1.5, -0.0, 1e308, -1e308, math.huge, -math.huge, 0/0, math.maxinteger, math.mininteger,
  2^31, 2^53, 4294967296, "", "x", "\\0", "a\\0b", "\\xff\\xfe", "TERM", "SIGKILL", "KILL", "NOPE", "stderr", "stdout", "=", "A=B",
  string.rep("y", 70000), {}, {1, 2}, {"sh", "-c", "true"}, {"true"}, {timeout = 1}, {env = {A = "b"}}, {env = {A = {}}},
  {__proto__ = {x = 1}}, {work_dir = "/"}, {background = true, timeout = 1}, {tag = "t"}, {ring_size = 1},
  {mode = "0644"}, {uid = 1e20}, function() end, coroutine.create(function() end), print, {{{{{}}}}},
}
local N = 64 -- the pool's length, nils included
local function any() return pool[R(1, N)] end
local violations, calls, lua_errors, errors, values = {}, 0, 0, 0, 0
local function check(name, ok, a, b, ...)
  calls = calls + 1
  if not ok then lua_errors = lua_errors + 1 return end
  if a == nil and b ~= nil then
    local kind = type(b) == "table" and b.kind or nil
    if not KINDS[kind] then violations[#violations + 1] = name .. ": " .. tostring(b) end
    errors = errors + 1
  else
    values = values + 1
  end
end
local function call(name, f, ...) check(name, pcall(f, ...)) end

local ex = assert(exec.get("f:box"))
local procs, streams = {}, {}
local function new_proc()
  local p = ex:exec({"sh", "-c", "echo out; echo err >&2; cat"}, {timeout = 1})
  if p and p:start() then procs[#procs + 1] = p; streams[#streams + 1] = p:stdout_stream(); streams[#streams + 1] = p:stderr_stream() end
end
new_proc()
local P = function() return procs[R(1, #procs)] end
local S = function() return streams[R(1, #streams)] end
local ops = {
  function() call("exec", ex.exec, ex, any(), any()) end,
  function()
    local k = any()
    if k == nil or k ~= k then k = "k" end -- not a valid table key
    call("exec opts", ex.exec, ex, {"true"}, { [k] = any(), timeout = 1 })
  end,
  function() call("write_stdin", P().write_stdin, P(), any()) end,
  function() call("signal", P().signal, P(), any()) end,
  function() call("kill", P().kill, P()) end,
  function() call("close_stdin", P().close_stdin, P()) end,
  function() call("wait", P().wait, P()) end,
  function() call("info", P().info, P()) end,
  function() call("close", P().close, P(), any()) end,
  function() call("read", S().read, S(), any()) end,
  function() call("read_line", S().read_line, S()) end,
  function() call("read_all", S().read_all, S()) end,
  function() call("stream close", S().close, S()) end,
  function() call("push_file", ex.push_file, ex, any(), any(), any()) end,
  function() call("pull_file", ex.pull_file, ex, any()) end,
  function() call("executor kill", ex.kill, ex, any(), any()) end,
  function() call("attach", ex.attach, ex, any()) end,
  function() call("processes", ex.processes, ex) end,
  function() call("dot call", P().start, any()) end,
  function() call("dot read", S().read, any(), any()) end,
  function() call("exec.get", exec.get, any()) end,
  function() new_proc() end,
}
local t0 = os.time()
for i = 1, 600 do
  if os.time() - t0 >= ${budgetSeconds} then break end
  ops[R(1, #ops)]()
end
ex:release()
print(string.format("calls=%d values=%d errors=%d lua_errors=%d", calls, values, errors, lua_errors))
print("violations=" .. #violations)
for _, v in ipairs(violations) do print(v) end
`;

describe("API fuzz", () => {
  const SEED = Number(process.env.FUZZ_SEED ?? 22);
  it.each([SEED, SEED + 1, SEED + 2])("random arguments from Lua: value, (nil, err) or a Lua error; the host neither crashes nor hangs (seed %i)", async (seed) => {
    const r = await runLua(FUZZ(seed, 12), { config: CONFIG });
    const out = r.stdout.toString();
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
    expect(out).toMatch(/calls=\d+/);
    expect(Number(/calls=(\d+)/.exec(out)![1])).toBeGreaterThan(100);
    expect(out, out).toContain("violations=0\n");
  }, 60_000);
});
