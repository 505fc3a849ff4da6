/**
 * Docker executor specifics: every exec.docker field observed from inside the container,
 * error reporting, OOM, signals to process groups, agent reuse, and no leaked containers
 * after release, a script error, SIGINT or SIGKILL to the CLI.
 * Needs the daemon and image from scripts/docker-setup.sh (skipped without, failing under CI).
 */
import { spawn } from "node:child_process";
import { createServer, connect as netConnect, type Server } from "node:net";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeBackend } from "../helpers/backends.js";
import { dockerBackend, docker, moonexecContainers, TEST_IMAGE } from "../helpers/docker.js";
import { ROOT, runCli, runLua, startCli, tempDir } from "../helpers/cli.js";
import { dockerKind } from "../../src/backend/docker/kind.js";
import type { DockerEntry } from "../../src/backend/docker/entry.js";
import type { RunningCommand } from "../../src/backend/contract.js";

/** A config with one exec.docker executor test:box (unique name per test, so leak checks are exact). */
let seq = 0;
function setup(fields: Record<string, unknown> = {}) {
  const name = `box${process.pid}x${++seq}`;
  const entry = Object.fromEntries(Object.entries({ name, kind: "exec.docker", image: TEST_IMAGE, ...fields }).filter(([, v]) => v !== undefined));
  const config = stringify({ namespace: "test", entries: [entry] });
  const prelude = `local exec = require("exec")
local ex = assert(exec.get("test:${name}"))
local function sh(script, opts)
  local p = assert(ex:exec({"sh", "-c", script}, opts))
  assert(p:start())
  local out = p:stdout_stream():read_all()
  local err = p:stderr_stream():read_all()
  local code = p:wait()
  return out, err, code
end
`;
  return { id: `test:${name}`, config, lua: (body: string) => runLua(prelude + body + "\nex:release()\n", { config }) };
}

/** The backend directly (no Lua), for what the Lua API does not show (ExitInfo.note). */
function entryOf(fields: Partial<DockerEntry> = {}): DockerEntry {
  return { id: `test:direct${process.pid}x${++seq}`, name: "direct", kind: "exec.docker", image: TEST_IMAGE, default_env: {}, where: "test", ...fields } as DockerEntry;
}

async function collect(cmd: RunningCommand) {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  cmd.stdout.on("data", (d: Buffer) => out.push(d));
  cmd.stderr.on("data", (d: Buffer) => err.push(d));
  const info = await cmd.exited;
  return { info, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

describeBackend(dockerBackend, () => {
  // ---------------------------------------------------------------- fields
  it("network_mode: none leaves only the loopback interface", async () => {
    const b = setup({ network_mode: "none" });
    const r = await b.lua(`io.write((sh("ls /sys/class/net | tr '\\n' ' '")))`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("lo ");
  });

  it("network_mode: bridge (default) has eth0 too", async () => {
    const r = await setup().lua(`io.write((sh("ls /sys/class/net | tr '\\n' ' '")))`);
    expect(r.stdout.toString()).toBe("eth0 lo ");
  });

  it("read_only_rootfs makes writes to the image's filesystem fail, commands still run", async () => {
    const b = setup({ read_only_rootfs: true });
    const r = await b.lua(`local o, e, c = sh("touch /x 2>&1; echo rc=$?; touch /tmp/y 2>&1; echo rc=$?"); io.write(o)`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("touch: /x: Read-only file system\nrc=1\ntouch: /tmp/y: Read-only file system\nrc=1\n");
  });

  it("memory_limit is the container's cgroup memory limit", async () => {
    const r = await setup({ memory_limit: 64 * 1024 * 1024 }).lua(
      `io.write((sh("cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")))`,
    );
    expect(r.stdout.toString()).toBe("67108864\n");
  });

  it("cpu_quota is the CFS quota per 100000 µs period", async () => {
    const r = await setup({ cpu_quota: 50000 }).lua(
      `io.write((sh("cat /sys/fs/cgroup/cpu.max 2>/dev/null || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)")))`,
    );
    expect(r.stdout.toString()).toBe("50000 100000\n");
  });

  it("cap_drop: [ALL] leaves no effective capability; cap_add adds one back", async () => {
    const drop = await setup({ cap_drop: ["ALL"] }).lua(`io.write((sh("grep CapEff /proc/self/status")))`);
    expect(drop.stdout.toString()).toBe("CapEff:\t0000000000000000\n");
    // NET_ADMIN is capability 12 → bit 0x1000.
    const add = await setup({ cap_drop: ["ALL"], cap_add: ["net_admin"] }).lua(`io.write((sh("grep CapEff /proc/self/status")))`);
    expect(add.stdout.toString()).toBe("CapEff:\t0000000000001000\n");
  });

  it("pids_limit stops a fork bomb, and the executor keeps working", async () => {
    const b = setup({ pids_limit: 20 });
    const r = await b.lua(`
      local o = sh("cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max")
      io.write("max=", o)
      local p = assert(ex:exec({"sh", "-c", "i=0; while [ $i -lt 100 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo all-started"}))
      assert(p:start())
      local out, err = p:stdout_stream():read_all(), p:stderr_stream():read_all()
      local code = p:wait()
      io.write("out=", out, "|code=", code, "|", err:match("can't fork") and "fork failed" or err, "\\n")
      p:close(true) -- kills the sleeps it left behind
      io.write((sh("echo still works")))`);
    expect(r.stderr).toBe("");
    const out = r.stdout.toString();
    expect(out).toMatch(/^max=20\nout=\|code=2\|fork failed\nstill works\n$/);
  }, 60_000);

  it("tmpfs mounts are writable with their options (size, noexec by default, exec on request)", async () => {
    const b = setup({ read_only_rootfs: true, tmpfs: { "/scratch": "size=1m", "/run/x": "size=1m,exec" } });
    const r = await b.lua(`
      io.write((sh("grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4")))
      io.write((sh("dd if=/dev/zero of=/scratch/f bs=1024 count=2048 2>&1 | grep -o 'No space left on device'; wc -c </scratch/f")))
      io.write((sh("printf '#!/bin/sh\\necho ran\\n' >/scratch/s; chmod +x /scratch/s; /scratch/s 2>/dev/null; echo noexec-rc=$?")))
      io.write((sh("printf '#!/bin/sh\\necho ran\\n' >/run/x/s; chmod +x /run/x/s; /run/x/s; echo exec-rc=$?")))`);
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().split("\n");
    expect(lines[0]).toMatch(/^tmpfs rw,.*noexec.*size=1024k/);
    expect(lines.slice(1)).toEqual(["No space left on device", "1048576", "noexec-rc=126", "ran", "exec-rc=0", ""]);
  });

  it("volumes: host directories mounted read-write and :ro", async () => {
    const rw = mkdtempSync(join(tmpdir(), "moonexec-vol-"));
    const ro = mkdtempSync(join(tmpdir(), "moonexec-vol-"));
    writeFileSync(join(ro, "in.txt"), "from host\n");
    chmodSync(rw, 0o777);
    const b = setup({ volumes: [`${rw}:/data`, `${ro}:/input:ro`] });
    const r = await b.lua(`
      io.write((sh("cat /input/in.txt; echo x >/input/new 2>&1; echo ro-rc=$?; echo written >/data/out.txt; echo rw-rc=$?")))`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("from host\nro-rc=1\nrw-rc=0\n");
    expect(readFileSync(join(rw, "out.txt"), "utf8")).toBe("written\n");
    expect(existsSync(join(ro, "new"))).toBe(false);
  });

  it("user runs every command as that uid:gid", async () => {
    const r = await setup({ user: "65534:65534" }).lua(`io.write((sh("id -u; id -g; touch /x 2>/dev/null; echo root-write=$?")))`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("65534\n65534\nroot-write=1\n");
  });

  it("no_new_privileges sets NoNewPrivs (off by default)", async () => {
    const on = await setup({ no_new_privileges: true }).lua(`io.write((sh("grep NoNewPrivs /proc/self/status")))`);
    expect(on.stdout.toString()).toBe("NoNewPrivs:\t1\n");
    const off = await setup().lua(`io.write((sh("grep NoNewPrivs /proc/self/status")))`);
    expect(off.stdout.toString()).toBe("NoNewPrivs:\t0\n");
  });

  it("default_env is the environment (over the image's), default_work_dir the directory; opts override both", async () => {
    const b = setup({ default_env: { GREETING: "hi", "ODD-NAME": "x y", MULTI: "a\nb'c" }, default_work_dir: "/work/dir" });
    const r = await b.lua(`
      local p = assert(ex:exec("env")); assert(p:start()); io.write(p:stdout_stream():read_all(), "--\\n"); p:wait()
      io.write((sh("pwd")))
      io.write((sh("echo $GREETING; pwd", {env = {GREETING = "override"}, work_dir = "/tmp"})))
      local q = ex:exec("pwd", {work_dir = "/does/not/exist"})
      local ok, serr = q:start()
      io.write(tostring(ok), " ", serr.kind, " ", serr.message, "\\n")`);
    expect(r.stderr).toBe("");
    const [env, rest] = r.stdout.toString().split("--\n");
    // The image's ENV (PATH), docker's HOSTNAME and HOME, and default_env: nothing else.
    expect(env!.replace(/^HOSTNAME=.*\n/m, "").split("\n").filter(Boolean).sort()).toEqual(["GREETING=hi", "HOME=/root", "MULTI=a", "b'c", "ODD-NAME=x y", "PATH=/bin:/sbin:/usr/bin:/usr/sbin"].sort());
    expect(rest).toBe("/work/dir\noverride\n/tmp\nnil NOT_FOUND work_dir /does/not/exist does not exist in the container\n");
  });

  it("auto_remove: true (default) removes the container at release; false keeps it stopped", async () => {
    const keep = setup({ auto_remove: false });
    const r = await keep.lua(`io.write((sh("echo kept")))`);
    expect(r.stdout.toString()).toBe("kept\n");
    const kept = await moonexecContainers(keep.id);
    try {
      expect(kept.length).toBe(1);
      expect(kept[0]!.State).toBe("exited");
    } finally {
      for (const c of kept) await docker.getContainer(c.Id).remove({ force: true });
    }
    const gone = setup();
    await gone.lua(`io.write((sh("echo x")))`);
    expect(await moonexecContainers(gone.id)).toEqual([]);
  });

  it("host: unix:// URL and tcp:// URL (through a local TCP proxy to the socket)", async () => {
    const server: Server = createServer((c) => {
      const up = netConnect("/var/run/docker.sock");
      c.pipe(up).pipe(c);
      c.on("error", () => up.destroy());
      up.on("error", () => c.destroy());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    try {
      const tcp = await setup({ host: `tcp://127.0.0.1:${port}` }).lua(`io.write((sh("echo via tcp")))`);
      expect(tcp.stderr).toBe("");
      expect(tcp.stdout.toString()).toBe("via tcp\n");
    } finally {
      server.close();
    }
    const unix = await setup({ host: "unix:///var/run/docker.sock" }).lua(`io.write((sh("echo via unix")))`);
    expect(unix.stdout.toString()).toBe("via unix\n");
  });

  // ---------------------------------------------------------------- errors
  it("an unreachable daemon is UNAVAILABLE naming the host", async () => {
    const b = setup({ host: "unix:///tmp/moonexec-no-such.sock" });
    const r = await runLua(`local ex, err = require("exec").get("${b.id}")\nio.write(tostring(ex), " ", err.kind, " ", err.message)`, { config: b.config });
    expect(r.stdout.toString()).toMatch(/^nil UNAVAILABLE docker daemon at unix:\/\/\/tmp\/moonexec-no-such\.sock is unreachable \(ENOENT\)/);
    const t = setup({ host: "tcp://127.0.0.1:1" });
    const r2 = await runLua(`local ex, err = require("exec").get("${t.id}")\nio.write(err.kind, " ", err.message)`, { config: t.config });
    expect(r2.stdout.toString()).toMatch(/^UNAVAILABLE docker daemon at tcp:\/\/127\.0\.0\.1:1 is unreachable \(ECONNREFUSED\)/);
  });

  it("a missing image is NOT_FOUND and is not pulled; pull: true tries to pull", async () => {
    const b = setup({ image: "moonexec-missing:none" });
    const r = await runLua(`local ex, err = require("exec").get("${b.id}")\nio.write(tostring(ex), " ", err.kind, " ", err.message)`, { config: b.config });
    expect(r.stdout.toString()).toMatch(/^nil NOT_FOUND image moonexec-missing:none is not present on the docker daemon at .*never pulls.*`pull: true`/);
    // A registry on a closed loopback port: the pull is attempted and fails fast, no network needed.
    const p = setup({ image: "127.0.0.1:1/moonexec-missing:none", pull: true });
    const r2 = await runLua(`local ex, err = require("exec").get("${p.id}")\nio.write(tostring(ex), " ", err.kind, " ", err.message)`, { config: p.config });
    expect(r2.stdout.toString()).toMatch(/^nil UNAVAILABLE .*pulling image 127\.0\.0\.1:1\/moonexec-missing:none \(pull: true\).*127\.0\.0\.1:1/);
  });

  it("config errors name the file, the entry and the field", async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ volumes: ["/tmp"] }, /field 'volumes\[0\]' must be "host:container"/],
      [{ volumes: ["/tmp:/data:rx"] }, /field 'volumes\[0\]' mode must be "ro" or "rw"/],
      [{ volumes: ["/a:/b", "rel/path:/c"] }, /field 'volumes\[1\]' host side must be an absolute path or a volume name/],
      [{ volumes: ["/tmp:data"] }, /field 'volumes\[0\]' container side must be an absolute path/],
      [{ image: undefined }, /field 'image' is required/],
      [{ memory_limit: 1000 }, /field 'memory_limit' must be at least 6291456/],
      [{ host: "http2://x" }, /field 'host' only unix:\/\/, tcp:\/\/ and ssh:\/\//],
      [{ tmpfs: { scratch: "size=1m" } }, /field 'tmpfs\.scratch' must be keyed by an absolute path/],
      [{ cap_drop: ["NOT A CAP"] }, /field 'cap_drop\[0\]' must be a capability name/],
      [{ pids_limit: "20" }, /field 'pids_limit' must be an integer/],
      [{ network: "none" }, /unknown field 'network' for kind exec\.docker/],
    ];
    for (const [fields, message] of cases) {
      const b = setup(fields);
      const dir = tempDir({ "moonexec.yaml": b.config, "s.lua": "print(1)" });
      const r = await runCli(["run", "s.lua"], { cwd: dir });
      expect(r.code, JSON.stringify(fields)).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`moonexec\\.yaml: entry '${b.id}': `));
      expect(r.stderr).toMatch(message);
    }
  });

  it("an unknown command is NOT_FOUND from start(), and the executor goes on", async () => {
    const r = await setup().lua(`
      local p = assert(ex:exec("no-such-command --flag"))
      local ok, err = p:start()
      io.write(tostring(ok), " ", err.kind, " ", err.message, "\\n")
      local q = assert(ex:exec("/bin/nope"))
      ok, err = q:start()
      io.write(tostring(ok), " ", err.kind, "\\n")
      io.write((sh("echo fine")))`);
    expect(r.stdout.toString()).toBe("nil NOT_FOUND command not found: no-such-command\nnil NOT_FOUND\nfine\n");
  });

  it("an image without sh is reported as such", async () => {
    // A one-file image (no shell) made offline with docker import.
    const tag = "moonexec-test:nosh";
    const dir = mkdtempSync(join(tmpdir(), "moonexec-nosh-"));
    writeFileSync(join(dir, "hello"), "not a shell\n");
    const tar = spawn("tar", ["-C", dir, "-c", "hello"]);
    await docker.importImage(tar.stdout as never, { repo: "moonexec-test", tag: "nosh" }).then(
      (s) => new Promise((r) => docker.modem.followProgress(s as never, r)),
    );
    try {
      const b = setup({ image: tag });
      const r = await b.lua(`local p = assert(ex:exec("echo hi")); local ok, err = p:start(); io.write(tostring(ok), " ", err.kind, " ", err.message)`);
      expect(r.stdout.toString()).toMatch(/^nil (NOT_FOUND|UNAVAILABLE) .*(sh|no such file)/i);
      expect(await moonexecContainers(b.id)).toEqual([]);
    } finally {
      await docker.getImage(tag).remove({ force: true }).catch(() => {});
    }
  });

  it("a container removed from outside: its commands end with GONE (not an ordinary 137), the next command gets a new container", async () => {
    const b = setup();
    const body = `local q = assert(ex:exec({"sh", "-c", "echo up; sleep 60"})); assert(q:start()); assert(q:stdout_stream():read_line() == "up")
      print("started"); io.stdout:flush()
      local code, err = q:wait()
      print(code, err.kind, q:signal_name())
      local line, rerr = q:stdout_stream():read_line()
      print(line, rerr.kind)
      local r = assert(ex:exec("echo again")); assert(r:start()); print(r:stdout_stream():read_all(), r:wait())`;
    const dir = tempDir({ "s.lua": `local exec = require("exec")\nlocal ex = assert(exec.get("${b.id}"))\n${body}`, "moonexec.yaml": b.config });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("started");
    const [c] = await moonexecContainers(b.id);
    await docker.getContainer(c!.Id).remove({ force: true });
    await cli.exited;
    expect(cli.stdout()).toBe(`started\nnil\tGONE\tnil\nnil\tGONE\nagain\n\t0\n`);
  });

  it("an OOM kill is reported: exit 137, SIGKILL, and a note saying so", async () => {
    const r = await setup({ memory_limit: 32 * 1024 * 1024 }).lua(`
      local p = assert(ex:exec({"sh", "-c", "x=a; while true; do x=$x$x; done"}))
      assert(p:start())
      local code, err = p:wait()
      io.write(code, " ", tostring(err), " ", tostring(p:signal_name()), "\\n")
      io.write(p:info().note, "\\n")
      io.write((sh("echo survived")))`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toMatch(/^137 nil SIGKILL\n.*out of memory.*memory_limit 33554432 bytes.*\nsurvived\n$/);

    const backend = await dockerKind.open(entryOf({ memory_limit: 32 * 1024 * 1024 }));
    try {
      const res = await collect(await backend.spawn({ argv: ["sh", "-c", "x=a; while true; do x=$x$x; done"], env: {} }));
      expect(res.info.code).toBe(137);
      expect(res.info.signal).toBe("SIGKILL");
      expect(res.info.note).toMatch(/out of memory.*memory_limit 33554432 bytes.*OOM killer/);
      // The executor goes on after the OOM kill.
      const res2 = await collect(await backend.spawn({ argv: ["sh", "-c", "exit 3"], env: {} }));
      expect(res2.info).toEqual({ code: 3 });
    } finally {
      await backend.release();
    }
  }, 60_000);

  // ---------------------------------------------------------------- process model
  it("signals reach the command's whole process group", async () => {
    const r = await setup().lua(`
      local p = assert(ex:exec({"sh", "-c", "sleep 301 & sleep 302 & echo ready; wait"}))
      assert(p:start())
      assert(p:stdout_stream():read_line() == "ready")
      assert(p:signal("TERM"))
      local code = p:wait()
      io.write(code, " ", p:signal_name(), "\\n")
      io.write((sh("ps -o args | grep -c '^sleep 30[12]'")))`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("143 SIGTERM\n0\n");
  });

  it("pid() is the command's pid inside the container", async () => {
    const r = await setup().lua(`
      local p = assert(ex:exec({"sh", "-c", "echo $$"}))
      assert(p:start())
      local out = p:stdout_stream():read_all()
      p:wait()
      io.write(tostring(p:pid()) .. "\\n" == out and "same" or ("differ " .. tostring(p:pid()) .. " " .. out))`);
    expect(r.stdout.toString()).toBe("same");
  });

  it("arguments and environment with quotes, newlines and non-ASCII come through exactly", async () => {
    const r = await setup().lua(`
      local p = assert(ex:exec({"printf", "[%s]", "a b", "it's", "line1\\nline2", "$HOME", "\\\\", "한글", "-n", ""}, {env = {V = "x'\\"$y\\n"}}))
      assert(p:start()); io.write(p:stdout_stream():read_all(), "\\n"); p:wait()
      local q = assert(ex:exec({"sh", "-c", "printf '%s' \\"$V\\""}, {env = {V = "x'\\"$y\\nz"}}))
      assert(q:start()); io.write(q:stdout_stream():read_all()); q:wait()`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("[a b][it's][line1\nline2][$HOME][\\][한글][-n][]\nx'\"$y\nz");
  });

  it("stdin a command did not read is never taken for a command", async () => {
    const r = await setup().lua(`
      local p = assert(ex:exec("true"))
      assert(p:start())
      p:write_stdin("echo INJECTED > /tmp/pwned\\n")
      p:wait()
      for i = 1, 3 do sh("true") end
      io.write((sh("cat /tmp/pwned 2>&1 || echo clean")))`);
    expect(r.stdout.toString()).toMatch(/No such file.*\nclean\n$/);
  });

  it("runs commands concurrently, each with its own streams", async () => {
    const r = await setup().lua(`
      local a = assert(ex:exec({"sh", "-c", "read x; echo a:$x"}))
      local b = assert(ex:exec({"sh", "-c", "echo b; echo b-err >&2"}))
      assert(a:start()); assert(b:start())
      io.write(b:stdout_stream():read_all(), b:stderr_stream():read_all())
      assert(a:write_stdin("late\\n")); assert(a:close_stdin())
      io.write(a:stdout_stream():read_all(), a:wait(), b:wait(), "\\n")`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("b\nb-err\na:late\n00\n");
  });

  it("reuses one agent: sequential commands start no docker exec of their own", async () => {
    const entry = entryOf();
    const backend = await dockerKind.open(entry);
    try {
      await collect(await backend.spawn({ argv: ["true"], env: {} })); // creates the container + agent
      const [info] = await moonexecContainers(entry.id);
      const since = (Date.now() / 1000).toFixed(3) as unknown as number;
      const t0 = performance.now();
      const n = 50;
      for (let i = 0; i < n; i++) {
        const res = await collect(await backend.spawn({ argv: ["echo", "x"], env: {} }));
        expect(res.out).toBe("x\n");
      }
      const ms = (performance.now() - t0) / n;
      console.log(`docker backend: ${ms.toFixed(1)} ms per sequential exec (${n} × echo x)`);
      const events = await docker.getEvents({ since, until: (Date.now() / 1000).toFixed(3) as unknown as number, filters: JSON.stringify({ container: [info!.Id], event: ["exec_create"] }) });
      let text = "";
      events.on("data", (d: Buffer) => (text += d));
      await new Promise((r) => events.on("end", r));
      expect(text.split("\n").filter(Boolean).length).toBe(0);
    } finally {
      await backend.release();
    }
    expect(await moonexecContainers(entry.id)).toEqual([]);
  }, 120_000);

  // ---------------------------------------------------------------- no leaks
  it("leaves no container after release, after a script error, after SIGINT and after SIGKILL", async () => {
    const released = setup();
    await released.lua(`io.write((sh("echo x")))`);
    expect(await moonexecContainers(released.id)).toEqual([]);

    const failed = setup();
    const r = await failed.lua(`local p = assert(ex:exec({"sh", "-c", "sleep 60"})); assert(p:start()); error("script failed")`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("script failed");
    expect(await moonexecContainers(failed.id)).toEqual([]);

    for (const signal of ["SIGINT", "SIGKILL"] as const) {
      const b = setup();
      const body = `local p = assert(ex:exec({"sh", "-c", "echo up; sleep 60"}))
        assert(p:start()); assert(p:stdout_stream():read_line() == "up"); print("started"); io.stdout:flush(); p:wait(); print("not reached")`;
      const dir = tempDir({ "s.lua": `local exec = require("exec")\nlocal ex = assert(exec.get("${b.id}"))\n${body}`, "moonexec.yaml": b.config });
      const cli = startCli(["run", "s.lua"], { cwd: dir });
      await cli.waitFor("started");
      expect((await moonexecContainers(b.id)).length).toBe(1);
      cli.child.kill(signal);
      expect(await cli.exited).toBe(signal === "SIGINT" ? 130 : "SIGKILL");
      // SIGINT: released by the CLI before it exits. SIGKILL: the init sees its connection end
      // and the daemon's AutoRemove removes the container shortly after.
      for (let i = 0; i < 50 && (await moonexecContainers(b.id)).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
      expect(await moonexecContainers(b.id), signal).toEqual([]);
    }
  }, 120_000);

  it("examples/docker.lua runs with examples/docker.yaml", async () => {
    const r = await runCli(["run", "--config", "examples/docker.yaml", "examples/docker.lua"], { cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain("network: lo");
  }, 60_000);
});

let before: string[] = [];
beforeAll(async () => {
  if (await dockerBackend.unavailable()) return;
  before = (await moonexecContainers()).map((c) => c.Id);
});
afterAll(async () => {
  if (await dockerBackend.unavailable()) return;
  // Nothing created by these tests may remain (containers that existed before are not ours).
  const left = (await moonexecContainers()).filter((c) => !before.includes(c.Id) && c.Labels["moonexec.executor"]?.startsWith(`test:box${process.pid}x`));
  expect(left.map((c) => c.Names)).toEqual([]);
});
