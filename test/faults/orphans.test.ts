/**
 * Nothing outlives a dead host: after SIGKILL of `moonexec run` (or of a library host), no
 * process started by it remains — on native (watchdog.ts), Docker (the container) and Incus
 * (the wrapper's watcher). A closed stdout ends the run with 141 and kills what it started;
 * SIGINT exits 130 after cleanup; release() kills the group of a command whose leader already exited.
 */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { BIN, startCli, startLibraryHost, tempDir } from "../helpers/cli.js";
import { gone, marker, running } from "../helpers/procs.js";
import { dockerBackend, moonexecContainers } from "../helpers/docker.js";
import { incusCli, incusEnv, incusUnix } from "../helpers/incus.js";
import { describeBackend } from "../helpers/backends.js";


/** A script that leaves a tree (a shell, two background children), and a background process, then says "ready". */
function treeScript(id: string, m: string): string {
  return `
local exec = require("exec")
local ex = assert(exec.get("${id}"))
local p = assert(ex:exec({"sh", "-c", "sleep ${m} & sleep ${m} >/dev/null 2>&1 & echo up; sleep ${m}"}))
assert(p:start())
assert(ex:exec({"sh", "-c", "sleep ${m}"}, {background = true}))
assert(p:stdout_stream():read_line() == "up")
print("ready")
p:wait()
`;
}

const NATIVE = `namespace: orph\nentries:\n  - name: box\n    kind: exec.native\n    default_env: { PATH: "${process.env.PATH}" }\n`;

describe("native: nothing outlives a dead host", () => {
  it("SIGKILL of moonexec run leaves no process it started", async () => {
    const m = marker();
    const dir = tempDir({ "s.lua": treeScript("orph:box", m), "moonexec.yaml": NATIVE });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("ready");
    expect(running(m).length).toBeGreaterThanOrEqual(4); // sh, its three sleeps, the background one
    cli.child.kill("SIGKILL");
    await cli.exited;
    expect(await gone(m)).toEqual([]);
  });

  it("SIGKILL of a library host leaves no process it started", async () => {
    const m = marker();
    const dir = tempDir({ "s.lua": treeScript("orph:box", m), "moonexec.yaml": NATIVE });
    const lib = startLibraryHost(dir);
    await lib.waitFor("ready");
    expect(running(m).length).toBeGreaterThan(0);
    lib.child.kill("SIGKILL");
    expect(await gone(m)).toEqual([]);
  });

  it("release() kills the group of a command whose leader exited; SIGINT exits 130 after cleanup", async () => {
    const m = marker();
    const m2 = marker();
    const dir = tempDir({
      "moonexec.yaml": NATIVE,
      "s.lua": `
local exec, task = require("exec"), require("task")
local ex = assert(exec.get("orph:box"))
local p = assert(ex:exec({"sh", "-c", "sleep ${m} >/dev/null 2>&1 &"}))
assert(p:start())
print("exit " .. p:wait())
task.sleep(1.5) -- the group outlives its leader while the executor lives
ex:release()
print("released")
local other = assert(exec.get("orph:box"))
local q = assert(other:exec({"sh", "-c", "sleep ${m2}"}))
assert(q:start())
print("waiting")
q:wait()
`,
    });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("exit 0");
    expect(running(m).length).toBe(1);
    await cli.waitFor("released");
    expect(await gone(m)).toEqual([]);
    await cli.waitFor("waiting");
    cli.child.kill("SIGINT"); // ends the run in order (docs/limits.md)
    expect(await cli.exited).toBe(130);
    expect(running(m2)).toEqual([]); // cleanup ran before the exit
  });

  it("a closed stdout (| head -1) ends the run with 141, no stack trace, and kills what it started", async () => {
    const m = marker();
    const dir = tempDir({
      "moonexec.yaml": NATIVE,
      "s.lua": `
local exec = require("exec")
local ex = assert(exec.get("orph:box"))
local p = assert(ex:exec({"sh", "-c", "sleep ${m}"}))
assert(p:start())
for i = 1, 1e7 do print("line " .. i) end
`,
    });
    const child = spawn(process.execPath, [BIN, "run", "s.lua"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d));
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    expect(running(m).length).toBeGreaterThan(0);
    child.stdout.destroy(); // as `head -1` does after its line
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(code).toBe(141);
    expect(err).toBe("");
    expect(await gone(m)).toEqual([]);
  });
});

describeBackend(dockerBackend, () => {
  it("SIGKILL of moonexec run: the executor's container is gone within a few seconds", async () => {
    const ns = `orph${Math.floor(Math.random() * 1e9)}`;
    const config = `namespace: ${ns}\nentries:\n  - name: box\n    kind: exec.docker\n    image: ${dockerBackend.entryYaml.split("image: ")[1]}\n`;
    const dir = tempDir({ "s.lua": treeScript(`${ns}:box`, marker()), "moonexec.yaml": config });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("ready");
    expect((await moonexecContainers(`${ns}:box`)).length).toBe(1);
    cli.child.kill("SIGKILL");
    await cli.exited;
    let left = await moonexecContainers(`${ns}:box`);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = await moonexecContainers(`${ns}:box`);
    }
    expect(left).toEqual([]);
  }, 60_000);
});

describeBackend(incusUnix, () => {
  /** Processes in the test instance whose command line holds `m`. */
  const inInstance = async (m: string) =>
    (await incusCli(["exec", incusEnv.instance, "--", "ps", "-o", "pid,args"])).split("\n").filter((l) => l.includes(m) && !l.includes("__mx_"));

  it("SIGKILL of moonexec run: the command tree and background processes in the instance are killed", async () => {
    const m = marker();
    const config = `namespace: orph\nentries:\n  - name: box\n    kind: exec.incus\n    instance: ${incusEnv.instance}\n    remote: "unix:${incusEnv.socket}"\n`;
    const dir = tempDir({ "s.lua": treeScript("orph:box", m), "moonexec.yaml": config });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("ready");
    expect((await inInstance(m)).length).toBeGreaterThanOrEqual(4);
    cli.child.kill("SIGKILL");
    await cli.exited;
    let left = await inInstance(m);
    for (let i = 0; i < 10 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      left = await inInstance(m);
    }
    expect(left).toEqual([]);
  }, 60_000);
});
