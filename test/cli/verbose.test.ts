/** --verbose: one JSON object per exec on stderr, every field present, on `run` and `repl`. */
import { describe, expect, it } from "vitest";
import { AUDIT_FIELDS, auditLine } from "../../src/cli/verbose.js";
import { runCli, runLua, tempDir } from "../helpers/cli.js";

const SCRIPT = `
local sh = assert(require("exec").get("local:shell"))
local function run(cmd, opts)
  local p = assert(sh:exec(cmd, opts))
  local ok, err = p:start()
  if not ok then return nil, err end
  return p:wait()
end
print(run("echo hi"))
print(run({"sh", "-c", "exit 3"}, { work_dir = "/tmp" }))
print(run("sleep 5", { timeout = 0.3 }))
print(run("moonexec-no-such-command"))
io.stderr:write("script's own stderr\\n")
`;

function auditLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

describe("--verbose", () => {
  it("run: logs every exec (executor, argv, duration, exit) as JSON lines on stderr", async () => {
    const r = await runLua(SCRIPT, { cliArgs: ["--verbose"] });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    // Nothing but the audit lines and the script's own stderr.
    expect(lines.filter((l) => !l.startsWith("{"))).toEqual(["script's own stderr"]);
    const events = auditLines(r.stderr);
    expect(events).toHaveLength(4);
    for (const e of events) {
      expect(Object.keys(e)).toEqual([...AUDIT_FIELDS]);
      expect(e.executor).toBe("local:shell");
      expect(e.kind).toBe("exec.native");
      expect(new Date(e.started_at as string).toISOString()).toBe(e.started_at);
      expect(e.duration_ms).toBeGreaterThanOrEqual(0);
    }
    const [echo, exit3, timeout, missing] = events;
    expect(echo).toMatchObject({ argv: ["echo", "hi"], exit_code: 0, signal: null, timed_out: false, error: null });
    expect(echo!.pid).toEqual(expect.any(Number));
    expect(exit3).toMatchObject({ argv: ["sh", "-c", "exit 3"], cwd: "/tmp", exit_code: 3 });
    expect(timeout).toMatchObject({ argv: ["sleep", "5"], exit_code: 137, signal: "SIGKILL", timed_out: true });
    expect(timeout!.duration_ms).toBeGreaterThanOrEqual(250);
    expect(timeout!.duration_ms).toBeLessThan(4000);
    expect(missing).toMatchObject({ argv: ["moonexec-no-such-command"], pid: null, exit_code: null });
    expect(missing!.error).toMatch(/^NOT_FOUND: /);
  });

  it("-v is the short form; without the flag stderr has no audit lines", async () => {
    const short = await runLua(`local p = require("exec").get("local:shell"):exec("true") p:start() p:wait()`, { cliArgs: ["-v"] });
    expect(auditLines(short.stderr)).toHaveLength(1);
    const quiet = await runLua(`local p = require("exec").get("local:shell"):exec("true") p:start() p:wait()`);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
  });

  it("repl: each exec of each line is logged", async () => {
    const r = await runCli(["repl", "--verbose"], {
      cwd: tempDir(),
      stdin: 'sh = exec.get("local:shell")\np = sh:exec("echo one") p:start() p:wait()\np = sh:exec({"printf", "two"}) p:start() p:wait()\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(auditLines(r.stderr).map((e) => e.argv)).toEqual([["echo", "one"], ["printf", "two"]]);
  });

  it("auditLine writes absent values as null and timed_out as a boolean", () => {
    const line = auditLine({ executor: "a:b", kind: "exec.native", argv: ["x"], started_at: "2026-01-01T00:00:00.000Z", duration_ms: 5 });
    expect(JSON.parse(line)).toEqual({
      executor: "a:b",
      kind: "exec.native",
      argv: ["x"],
      cwd: null,
      pid: null,
      started_at: "2026-01-01T00:00:00.000Z",
      duration_ms: 5,
      exit_code: null,
      signal: null,
      timed_out: false,
      error: null,
    });
    expect(line).not.toContain("\n");
  });
});
