/**
 * A fleet over the real loopback sshd's of scripts/ssh-setup.sh: one `hosts:` entry expanding
 * to ten exec.ssh executors, exec.each with a concurrency limit, per-id results, a host that
 * is down failing only its own record, and exec.print_lines prefixing each line with the id.
 *
 * Commands wait on a barrier file (the sshd's run on this machine), so "ten at once" and "at
 * most three at once" are observed, not timed: the test counts the CLI's own established
 * connections to port 22 with `ss -p` while they wait.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { describeBackend, type BackendUnderTest } from "../helpers/backends.js";
import { startCli, tempDir } from "../helpers/cli.js";
import { sshEnv, sshUnavailable } from "../helpers/ssh.js";

const fleetBackend: BackendUnderTest = {
  name: "ssh fleet",
  entryYaml: "",
  unavailable: async () => (await sshUnavailable()) ?? (sshEnv.hosts.length < 10 ? `the ssh test setup lists ${sshEnv.hosts.length} hosts, not 10` : undefined),
};

const hosts = sshEnv.hosts.slice(0, 10);
/** Nothing listens on port 1 of loopback: connecting is refused at once. */
const CLOSED_PORT = 1;

const config = () => `namespace: fl
entries:
  - name: web
    kind: exec.ssh
    port: ${sshEnv.port}
    user: ${sshEnv.user}
    identity_file: "${sshEnv.key}"
    known_hosts: "${sshEnv.knownHosts}"
    hosts: [${hosts.join(", ")}]
  - name: down
    kind: exec.ssh
    host: 127.0.0.1
    port: ${CLOSED_PORT}
    user: ${sshEnv.user}
    identity_file: "${sshEnv.key}"
    known_hosts: "${sshEnv.knownHosts}"
`;

/** The ssh servers (address) the process `pid` has an established connection to. */
function peersOf(pid: number): string[] {
  const out = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${sshEnv.port} )`], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes(`pid=${pid},`))
    .map((l) => l.trim().split(/\s+/)[3]!.replace(/:\d+$/, ""))
    .sort();
}

/** The script: every member of `pattern` waits on the barrier, then reports; prints the records. */
const script = (pattern: string, concurrency: number, barrier: string) => `local exec = require("exec")
local results, failed = exec.each("${pattern}", function(ex, id)
  local p = assert(ex:exec({"sh", "-c", 'echo started; echo "to stderr" >&2; while [ ! -e "$1" ]; do sleep 0.1; done; printf "done\\\\npartial"; id -un', "sh", "${barrier}"}))
  assert(p:start())
  assert(exec.print_lines(p, "[" .. id .. "] "))
  local code = p:wait()
  if code ~= 0 then return nil, "exit " .. code end
  return "exit 0"
end, { concurrency = ${concurrency} })
for _, r in ipairs(results) do
  print("result", r.id, tostring(r.ok), r.ok and r.value or (r.err.kind .. " " .. r.err.message))
end
print("failed", failed and #failed or 0)
`;

describeBackend(fleetBackend, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const barrierDir = () => {
    // World-readable: the commands run as the test user on the sshd's of this machine.
    const d = mkdtempSync(join(tmpdir(), "mx-fleet-ssh-"));
    execFileSync("chmod", ["755", d]);
    dirs.push(d);
    return d;
  };
  const ids = hosts.map((h) => `fl:${h}`);

  it("runs one command on ten ssh hosts at once; a host that is down fails only its own record", async () => {
    const barrier = join(barrierDir(), "go");
    const cli = startCli(["run", "main.lua"], { cwd: tempDir({ "moonexec.yaml": config(), "main.lua": script("fl:*", 10, barrier) }) });
    for (const id of ids) await cli.waitFor(`[${id}] started\n`);
    // All ten wait on the barrier: ten connections of this run, one to each server.
    expect(peersOf(cli.child.pid!)).toEqual([...hosts].sort());
    writeFileSync(barrier, "");
    const code = await cli.exited;
    const out = cli.stdout().split("\n");
    // Every line of every host carries its id; a last line without a newline gets one.
    for (const id of ids) {
      expect(out.filter((l) => l.startsWith(`[${id}] `))).toEqual([`[${id}] started`, `[${id}] done`, `[${id}] partial${sshEnv.user}`]);
    }
    expect(cli.stderr().split("\n").filter(Boolean).sort()).toEqual(ids.map((id) => `[${id}] to stderr`).sort());
    // Results in id order (numbers by value), the dead host's error in its own record.
    const results = out.filter((l) => l.startsWith("result\t"));
    expect(results.slice(0, 10)).toEqual(ids.map((id) => `result\t${id}\ttrue\texit 0`));
    expect(results[10]).toMatch(new RegExp(`^result\tfl:down\tfalse\tUNAVAILABLE ssh ${sshEnv.user}@127\\.0\\.0\\.1:${CLOSED_PORT}: .*ECONNREFUSED`));
    expect(results).toHaveLength(11);
    expect(out).toContain("failed\t1");
    expect(code).toBe(0);
  }, 90_000);

  it("keeps to the concurrency limit: three hosts connected at a time, then the next ones", async () => {
    const barrier = join(barrierDir(), "go");
    const cli = startCli(["run", "main.lua"], { cwd: tempDir({ "moonexec.yaml": config(), "main.lua": script("fl:web", 3, barrier) }) });
    for (const id of ids.slice(0, 3)) await cli.waitFor(`[${id}] started\n`);
    // A fourth would have started by now if the limit leaked (it connects in well under a second).
    await new Promise((r) => setTimeout(r, 1500));
    expect(cli.stdout().match(/\] started\n/g)).toHaveLength(3);
    expect(peersOf(cli.child.pid!)).toEqual(hosts.slice(0, 3).sort());
    writeFileSync(barrier, "");
    expect(await cli.exited).toBe(0);
    expect(cli.stdout().match(/\] done\n/g)).toHaveLength(10);
    expect(cli.stdout()).toContain("failed\t0");
    expect(existsSync(barrier)).toBe(true);
  }, 90_000);
});
