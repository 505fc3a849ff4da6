/**
 * Incus: nothing outlives a dead host — also the background children of a command that
 * already *finished* normally (its wrapper is gone by then; the executor's guard, guard.ts,
 * tells the wrapper's watcher when the host dies). SIGKILL of `moonexec run` and of a
 * library host, several runs each; the instance is the shared test instance, processes are
 * found by a marker no other test uses.
 */
import { expect, it } from "vitest";
import { startCli, startLibraryHost, tempDir } from "../helpers/cli.js";
import { marker } from "../helpers/procs.js";
import { incusCli, incusEnv, incusUnix } from "../helpers/incus.js";
import { describeBackend } from "../helpers/backends.js";

/** Runs per test: MOONEXEC_ORPHAN_RUNS (10 for the proof in docs/faults.md), else 2. */
const RUNS = Number(process.env.MOONEXEC_ORPHAN_RUNS ?? 2);


/** A command that exits at once leaving a background child; then a running tree; then "ready". */
function script(m: string): string {
  return `
local exec = require("exec")
local ex = assert(exec.get("orphi:box"))
local done = assert(ex:exec({"sh", "-c", "sleep ${m} >/dev/null 2>&1 & sleep ${m} </dev/null >/dev/null 2>&1 & exit 0"}))
assert(done:start())
assert(done:wait() == 0)
local p = assert(ex:exec({"sh", "-c", "sleep ${m} & echo up; sleep ${m}"}))
assert(p:start())
assert(p:stdout_stream():read_line() == "up")
print("ready")
p:wait()
`;
}

const CONFIG = `namespace: orphi\nentries:\n  - name: box\n    kind: exec.incus\n    instance: ${incusEnv.instance}\n    remote: "unix:${incusEnv.socket}"\n`;

/** Processes in the test instance whose command line holds `m` (the wrappers' own lines hold it too). */
async function inInstance(m: string): Promise<string[]> {
  const ps = await incusCli(["exec", incusEnv.instance, "--", "ps", "-o", "pid,args"]);
  return ps.split("\n").filter((l) => l.includes(`sleep ${m}`) && !l.includes("__mx_"));
}

/** Wait up to 10 s for the marked processes to go; returns those left. */
async function goneFromInstance(m: string): Promise<string[]> {
  let left = await inInstance(m);
  for (let i = 0; i < 20 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 500));
    left = await inInstance(m);
  }
  return left;
}

describeBackend(incusUnix, () => {
  it(`SIGKILL of moonexec run: a finished command's background children die too (${RUNS} runs)`, async () => {
    const leftovers: string[][] = [];
    for (let run = 0; run < RUNS; run++) {
      const m = marker();
      const dir = tempDir({ "s.lua": script(m), "moonexec.yaml": CONFIG });
      const cli = startCli(["run", "s.lua"], { cwd: dir });
      await cli.waitFor("ready");
      // Two children of the finished command, the running shell and its two sleeps.
      expect((await inInstance(m)).length).toBeGreaterThanOrEqual(4);
      cli.child.kill("SIGKILL");
      await cli.exited;
      leftovers.push(await goneFromInstance(m));
    }
    expect(leftovers).toEqual(Array.from({ length: RUNS }, () => []));
  }, 60_000 * RUNS);

  it(`SIGKILL of a library host: a finished command's background children die too (${RUNS} runs)`, async () => {
    const leftovers: string[][] = [];
    for (let run = 0; run < RUNS; run++) {
      const m = marker();
      const dir = tempDir({ "s.lua": script(m), "moonexec.yaml": CONFIG });
      const lib = startLibraryHost(dir);
      await lib.waitFor("ready");
      expect((await inInstance(m)).length).toBeGreaterThanOrEqual(4);
      lib.child.kill("SIGKILL");
      await lib.exited;
      leftovers.push(await goneFromInstance(m));
    }
    expect(leftovers).toEqual(Array.from({ length: RUNS }, () => []));
  }, 60_000 * RUNS);

  it("while the host lives, a finished command's background child keeps running until release()", async () => {
    const m = marker();
    const dir = tempDir({
      "moonexec.yaml": CONFIG,
      "s.lua": `
local exec, task = require("exec"), require("task")
local ex = assert(exec.get("orphi:box"))
local p = assert(ex:exec({"sh", "-c", "sleep ${m} >/dev/null 2>&1 &"}))
assert(p:start())
print("exit " .. p:wait())
task.sleep(3) -- several rounds of the watcher
print("still")
task.sleep(30)
`,
    });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("still");
    expect((await inInstance(m)).length).toBe(1);
    cli.child.kill("SIGINT"); // the CLI releases: kills the group and ends the guard
    expect(await cli.exited).toBe(130);
    expect(await inInstance(m)).toEqual([]);
  }, 60_000);
});
