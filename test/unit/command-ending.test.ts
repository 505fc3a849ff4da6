/** One home for timeouts (process/timeout.ts) and for how a command ended (process/ending.ts). */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { ExecError } from "../../src/errors.js";
import { MAX_TIMEOUT_SECONDS, armTimeout, checkTimeout } from "../../src/process/timeout.js";
import { commandEnding } from "../../src/process/ending.js";
import { parseExecOptions } from "../../src/process/exec-options.js";
import type { RunningCommand } from "../../src/backend/contract.js";

const invalid = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ExecError);
    expect((e as ExecError).kind).toBe("INVALID");
    return (e as ExecError).message;
  }
  throw new Error("no error");
};

describe("checkTimeout", () => {
  it("takes positive seconds up to the timer limit, and 0 only where asked", () => {
    expect(checkTimeout(0.5, "opts.timeout")).toBe(0.5);
    expect(checkTimeout(MAX_TIMEOUT_SECONDS, "opts.timeout")).toBe(MAX_TIMEOUT_SECONDS);
    expect(checkTimeout(0, "task.wait: timeout", true)).toBe(0);
    expect(invalid(() => checkTimeout(0, "opts.timeout"))).toBe("opts.timeout: must be a positive number of seconds, got number 0");
    expect(invalid(() => checkTimeout(-1, "task.wait: timeout", true))).toBe("task.wait: timeout: must be a number of seconds ≥ 0, got number -1");
    expect(invalid(() => checkTimeout("5", "opts.timeout"))).toBe('opts.timeout: must be a positive number of seconds, got string "5"');
    expect(invalid(() => checkTimeout(MAX_TIMEOUT_SECONDS + 0.001, "opts.timeout"))).toMatch(/^opts\.timeout: must be at most 2147483\.647 seconds/);
  });

  it("is what exec's opts.timeout goes through, and snake_case names end at the boundary", () => {
    expect(invalid(() => parseExecOptions({ timeout: Infinity }))).toBe("opts.timeout: must be a positive number of seconds, got number Infinity");
    expect(parseExecOptions({ timeout: 2, work_dir: "/tmp", ring_size: 4096, encoding: "cp949" })).toEqual({ timeout: 2, workDir: "/tmp", ringSize: 4096, encoding: "cp949" });
    expect(invalid(() => parseExecOptions({ encoding: "klingon" }))).toMatch(/^opts\.encoding: unknown encoding 'klingon'/);
  });

  it("pty, rows, cols and term: defaults, sizes and refusals naming the option", () => {
    expect(parseExecOptions({ pty: true })).toEqual({ pty: { rows: 24, cols: 80, term: "xterm-256color" } });
    expect(parseExecOptions({ rows: 40, pty: true, cols: 100, term: "vt100" })).toEqual({ pty: { rows: 40, cols: 100, term: "vt100" } });
    expect(parseExecOptions({ pty: false })).toEqual({});
    expect(invalid(() => parseExecOptions({ cols: 100 }))).toBe("opts.cols: only applies with pty = true");
    expect(invalid(() => parseExecOptions({ pty: true, rows: 0 }))).toBe("opts.rows: must be an integer from 1 to 65535, got number 0");
    expect(invalid(() => parseExecOptions({ pty: true, cols: 2.5 }))).toBe("opts.cols: must be an integer from 1 to 65535, got number 2.5");
    expect(invalid(() => parseExecOptions({ pty: true, term: "x; rm -rf /" }))).toMatch(/^opts\.term: must be a terminal type name/);
    expect(invalid(() => parseExecOptions({ pty: "yes" }))).toBe('opts.pty: must be true or false, got string "yes"');
  });

  it("armTimeout fires once after its time, and not at all once disarmed", async () => {
    let fired = 0;
    armTimeout(0.01, () => fired++);
    const disarm = armTimeout(0.01, () => fired++);
    disarm();
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toBe(1);
  });
});

describe("commandEnding", () => {
  const cmd = (failure?: Error) => {
    const stdout = Object.assign(new PassThrough(), { failure });
    return { stdout, stderr: new PassThrough() } as unknown as RunningCommand;
  };

  it("an exit is its code and signal, with no error", () => {
    expect(commandEnding({ code: 143, signal: "SIGTERM" }, cmd(), false)).toEqual({ code: 143, signal: "SIGTERM", timedOut: false });
  });

  it("a command its timeout killed keeps its code and carries the TIMEOUT problem", () => {
    const e = commandEnding({ code: 137, signal: "SIGKILL" }, cmd(new Error("cut")), true);
    expect(e).toMatchObject({ code: 137, signal: "SIGKILL", timedOut: true });
    expect(e.error).toBeUndefined();
    expect(e.problem).toBeInstanceOf(ExecError);
    expect([e.problem!.kind, e.problem!.message]).toEqual(["TIMEOUT", "process timed out and was killed"]);
  });

  it("an output stream cut short makes the end an error (never a clean exit), noted", () => {
    const e = commandEnding({ code: 0 }, cmd(new Error("connection reset")), false);
    expect(e.error?.kind).toBe("UNAVAILABLE");
    expect(e.error?.message).toBe("connection reset");
    expect(e.note).toBe("connection reset");
    const gone = new ExecError("GONE", "container went away");
    expect(commandEnding({ code: 0, error: gone, note: "oom" }, cmd(), false)).toMatchObject({ error: gone, note: "oom" });
  });
});
