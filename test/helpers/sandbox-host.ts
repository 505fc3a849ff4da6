/** A Host with captured output for the sandbox and standard-Lua tests, plus its health check. */
import { Writable } from "node:stream";
import { expect } from "vitest";
import { Host, type HostOptions } from "../../src/index.js";

export interface Outcome {
  stdout: string;
  stderr: string;
  /** The run's error (a LuaScriptError or ScriptStop), if it failed. */
  error?: Error & { exitCode?: number; kind?: string };
  values?: unknown[];
  ms: number;
}

function sink(): { w: Writable; text: () => string; clear: () => void } {
  let chunks: Buffer[] = [];
  const w = new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) });
  return { w, text: () => Buffer.concat(chunks).toString(), clear: () => (chunks = []) };
}

export const CONFIG = { namespace: "t", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] };

/**
 * Run `lua` on a fresh host, then `check(outcome)`, then prove the host still works: a
 * command runs and prints. The host is disposed in the end (that must finish too).
 */
export async function onHost(
  lua: string,
  check: (o: Outcome) => void,
  opts: HostOptions & { healthy?: boolean; file?: string; before?: string } = {},
): Promise<Outcome> {
  const out = sink();
  const err = sink();
  const host = await Host.create({ config: CONFIG, stdout: out.w, stderr: err.w, timeLimit: 10, ...opts });
  let outcome: Outcome;
  try {
    if (opts.before) await host.runString(opts.before, "=before");
    const t0 = Date.now();
    try {
      const values = opts.file ? await host.runFile(opts.file) : await host.runString(lua, "=attempt");
      outcome = { stdout: out.text(), stderr: err.text(), values, ms: Date.now() - t0 };
    } catch (e) {
      outcome = { stdout: out.text(), stderr: err.text(), error: e as Outcome["error"], ms: Date.now() - t0 };
    }
    try {
      check(outcome);
    } catch (e) {
      if (outcome.error) (e as Error).message += `\n(the run failed: ${outcome.error.message})`;
      throw e;
    }
    if (opts.healthy !== false) {
      out.clear();
      await host.runString(
        `local p = assert(require("exec").get("t:sh"):exec({"echo", "healthy"})); assert(p:start())
         io.write(p:stdout_stream():read_all()); assert(p:wait() == 0); print("alive")`,
        "=health",
      );
      expect(out.text()).toBe("healthy\nalive\n");
    }
  } finally {
    await host.dispose();
  }
  return outcome;
}

/** The run's error message (fails the test when the run did not fail). */
export function failure(o: Outcome): string {
  expect(o.error, `expected the run to fail; stdout: ${o.stdout}`).toBeDefined();
  return o.error!.message;
}
