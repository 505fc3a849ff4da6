/**
 * The `project` field: commands, signals, timeouts, files and release reach the instance of
 * that name in that project, never the one of the same name in the default project, and every
 * request moonexec sends to the daemon names the project. The test makes its own project
 * (images and profiles shared with the default one) holding an instance named like the shared
 * test instance, and removes both afterwards.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createConnection, createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { incusCli, incusEnv, incusUnix } from "../helpers/incus.js";
import { describeBackend } from "../helpers/backends.js";
import { runLua } from "../helpers/cli.js";

const PROJECT = `moonexec-test-proj-${process.pid}`;

/** A unix-socket proxy to the daemon that records the target of every HTTP request line. */
class RecordingProxy {
  readonly targets: string[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), "mx-proj-"));
  readonly path = join(this.dir, "incus.sock");
  private readonly server: Server;
  constructor(upstream: string) {
    this.server = createServer((client) => {
      const daemon = createConnection(upstream);
      client.on("data", (b: Buffer) => {
        for (const m of b.toString("latin1").matchAll(/(?:^|\r\n)(?:GET|POST|PUT|PATCH|HEAD|DELETE) (\S+) HTTP\/1\.1\r\n/g)) this.targets.push(m[1]!);
        daemon.write(b);
      });
      daemon.on("data", (b) => client.write(b));
      const drop = () => {
        client.destroy();
        daemon.destroy();
      };
      client.on("close", drop).on("error", drop);
      daemon.on("close", drop).on("error", drop);
    });
  }
  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }
  close(): void {
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describeBackend(incusUnix, () => {
  beforeAll(async () => {
    await incusCli(["project", "delete", PROJECT]).catch(() => {});
    // No own images or profiles: the project uses the default project's test image and root disk.
    await incusCli(["project", "create", PROJECT, "-c", "features.images=false", "-c", "features.profiles=false", "-c", "features.storage.volumes=false", "-c", "features.networks=false"]);
    await incusCli(["launch", incusEnv.image, incusEnv.instance, "--project", PROJECT]);
    await incusCli(["exec", "--project", PROJECT, incusEnv.instance, "--", "sh", "-c", "echo in-project > /root/where"]);
  });

  afterAll(async () => {
    await incusCli(["delete", "--force", "--project", PROJECT, incusEnv.instance]).catch(() => {});
    await incusCli(["project", "delete", PROJECT]).catch(() => {});
  });

  const config = (socket: string) =>
    `namespace: pr\nentries:\n` +
    `  - { name: proj, kind: exec.incus, instance: ${incusEnv.instance}, project: ${PROJECT}, remote: "unix:${socket}" }\n` +
    `  - { name: dflt, kind: exec.incus, instance: ${incusEnv.instance}, remote: "unix:${socket}" }\n` +
    `  - { name: only, kind: exec.incus, instance: ${incusEnv.stoppedInstance}, project: ${PROJECT}, remote: "unix:${socket}" }\n`;

  it("runs commands, signals, timeouts, files and release in the project's instance; the default project's namesake is not reached", async () => {
    const proxy = new RecordingProxy(incusEnv.socket);
    await proxy.listen();
    try {
      const r = await runLua(
        `
local exec = require("exec")
local ex = assert(exec.get("pr:proj"))
for i = 1, 3 do -- the first fresh, then warm sessions
  local p = assert(ex:exec({"cat", "/root/where"}))
  assert(p:start())
  io.write("cat ", p:stdout_stream():read_all(), " ", p:wait(), "\\n")
end
local p = assert(ex:exec({"sh", "-c", "echo up; sleep 30"}))
assert(p:start())
assert(p:stdout_stream():read_line() == "up")
assert(p:signal("TERM"))
print("signal", p:wait(), p:signal_name())
local t = assert(ex:exec({"sleep", "30"}, {timeout = 0.5}))
assert(t:start())
local code, err = t:wait()
print("timeout", code, err and err.kind)
local bg = assert(ex:exec({"sh", "-c", "sleep 31 >/dev/null 2>&1 &"}))
assert(bg:start())
print("bg", bg:wait())
assert(ex:push_file("pushed\\n", "/root/pushed", {mode = "0600"}))
print("pull", ex:pull_file("/root/pushed"))
ex:release()
local d = assert(exec.get("pr:dflt"))
local q = assert(d:exec({"sh", "-c", "cat /root/where /root/pushed 2>&1; true"}))
assert(q:start())
io.write("default ", q:stdout_stream():read_all())
print("default pull", d:pull_file("/root/where"))
d:release()
local none, e = exec.get("pr:only")
print("only", none, e.kind, e.message)
`,
        { config: config(proxy.path) },
      );
      expect(r.stderr).toBe("");
      const out = r.stdout.toString();
      expect(out.match(/cat in-project\n 0\n/g)?.length).toBe(3);
      expect(out).toContain("signal\t143\tSIGTERM\n");
      expect(out).toContain("timeout\t137\tTIMEOUT\n");
      expect(out).toContain("pull\tpushed\n");
      // The default project's instance of the same name has neither file.
      expect(out).toContain("default cat: can't open '/root/where': No such file or directory\ncat: can't open '/root/pushed'");
      expect(out).toMatch(/default pull\tnil\tNOT_FOUND/);
      expect(out).toMatch(new RegExp(`only\\tnil\\tNOT_FOUND\\tinstance '${incusEnv.stoppedInstance}' in project '${PROJECT}'`));
      // release() killed the background child in the project's instance.
      const ps = await incusCli(["exec", "--project", PROJECT, incusEnv.instance, "--", "ps", "-o", "args"]);
      expect(ps).not.toContain("sleep 31");

      // Every request named the project: instances, exec, operations, websockets, files.
      const api = proxy.targets.filter((t) => t.startsWith("/1.0/"));
      const kinds = new Set(api.map((t) => t.replace(/^\/1\.0\/(instances\/[^/?]+\/(\w+)|(\w+)).*$/, "$2$3")));
      expect([...kinds].sort()).toEqual(expect.arrayContaining(["exec", "files", "operations"]));
      expect(api.some((t) => /\/websocket\?/.test(t))).toBe(true);
      const ours = api.filter((t) => !t.includes("project=default"));
      expect(ours.length).toBeGreaterThan(10);
      for (const t of ours) expect(t, t).toContain(`project=${PROJECT}`);
    } finally {
      proxy.close();
    }
  }, 90_000);

  it("refuses a project name Incus would not accept, naming the field", async () => {
    const r = await runLua(`print(require("exec").get("pr:bad"))`, {
      config: `namespace: pr\nentries:\n  - { name: bad, kind: exec.incus, instance: x, project: "../default" }\n`,
    });
    expect(r.stdout.toString() + r.stderr).toMatch(/field 'project' must be an Incus project name, got "\.\.\/default"/);
  });
});
