/**
 * exec.incus beyond the shared conformance suite: every entry field, HTTPS pinning and
 * trust, clear errors, exit 127, files, encodings, and no leaks after release() or SIGINT.
 * Runs against the real daemon and instances of scripts/incus-setup.sh.
 */
import { randomBytes, randomInt } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configFor, describeBackend, EXECUTOR_ID, type BackendUnderTest } from "../helpers/backends.js";
import { incusCli, incusEnv, incusGet, incusHttps, incusUnix } from "../helpers/incus.js";
import { runCli, runLua, tempDir } from "../helpers/cli.js";

const E = incusEnv;
const PROJECT = "moonexec-proj";
const FROZEN = "moonexec-frozen";

/** A script using executor test:box, released at the end. */
const lua = (body: string) => `local exec = require("exec")\nlocal ex = assert(exec.get("${EXECUTOR_ID}"))\n${body}\nex:release()\n`;
/** A config with one exec.incus entry named box; `fields` are YAML lines. */
const incusConfig = (...fields: string[]) => configFor({ name: "x", entryYaml: ["name: box", "kind: exec.incus", ...fields].join("\n"), unavailable: async () => undefined });
const httpsFields = (...pin: string[]) => [`instance: ${E.instance}`, `remote: "${E.https}"`, `client_cert: "${E.clientCert}"`, `client_key: "${E.clientKey}"`, ...pin];

/** exec.get on a config; prints "ok" or the error kind and message. */
const tryGet = `local exec = require("exec")
local ex, err = exec.get("${EXECUTOR_ID}")
if ex then
  local p = assert(ex:exec({"echo", "reached"}))
  local ok, serr = p:start()
  if not ok then io.write("start ", serr.kind, ": ", serr.message) else io.write("ok ", p:stdout_stream():read_all()) end
  ex:release()
else
  io.write("get ", err.kind, ": ", err.message)
end`;

/** Running exec operations (any project) whose command mentions `marker`. */
async function runningOps(marker: string): Promise<number> {
  const ops = await incusGet("/1.0/operations?recursion=1&all-projects=true");
  const running: any[] = ops?.running ?? [];
  return running.filter((op) => JSON.stringify(op.metadata ?? {}).includes(marker)).length;
}

/** Processes in the test instance whose command line mentions `marker`. */
async function processes(marker: string): Promise<string[]> {
  const out = await incusCli(["exec", E.instance, "--", "ps", "-o", "pid,args"]);
  return out.split("\n").filter((l) => l.includes(marker) && !l.includes("ps -o"));
}

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const sleepMarker = () => String(700000 + randomInt(99999));

describeBackend(incusUnix, () => {
  const config = configFor(incusUnix);

  it("runs as the configured user and group", async () => {
    const r = await runLua(lua(`local p = assert(ex:exec("id")); assert(p:start()); io.write(p:stdout_stream():read_all(), (p:wait()))`), {
      config: incusConfig(`instance: ${E.instance}`, "user: 1234", "group: 2345"),
    });
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toMatch(/^uid=1234 gid=2345\b.*\n0$/s);
  });

  it("runs as root by default", async () => {
    const r = await runLua(lua(`local p = assert(ex:exec("id -u")); assert(p:start()); io.write(p:stdout_stream():read_all())`), { config });
    expect(r.stdout.toString()).toBe("0\n");
  });

  it("uses default_work_dir, work_dir, and rejects a missing work_dir", async () => {
    const r = await runLua(
      lua(`
        local a = assert(ex:exec("pwd")); assert(a:start())
        local b = assert(ex:exec("pwd", {work_dir = "/etc"})); assert(b:start())
        io.write(a:stdout_stream():read_all(), b:stdout_stream():read_all())
        local c = assert(ex:exec("pwd", {work_dir = "/no/such/dir"}))
        local ok, err = c:start()
        io.write(tostring(ok), " ", err.kind, " ", err.message)`),
      { config: incusConfig(`instance: ${E.instance}`, "default_work_dir: /tmp") },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(`/tmp\n/etc\nnil NOT_FOUND work_dir /no/such/dir does not exist in instance '${E.instance}'`);
  });

  it("passes default_env merged with opts.env, and nothing of the host's environment", async () => {
    // Twice: the first command gets a fresh exec, the second a warm session; both see the same.
    const r = await runLua(
      lua(`
        for i = 1, 2 do
          local p = assert(ex:exec("env", {env = {B = "from opts", C = "x y\\nz'q", ["odd-name"] = "kept", ["with space"] = "too"}})); assert(p:start())
          io.write(p:stdout_stream():read_all(), "\\0")
        end`),
      { config: incusConfig(`instance: ${E.instance}`, "default_env:", "  A: from default", "  B: overridden") },
    );
    expect(r.stderr).toBe("");
    const runs = r.stdout.toString().split("\0").slice(0, 2);
    const parse = (out: string) =>
      Object.fromEntries(
        out
          .split(/\n(?=[A-Za-z_][^=\n]*=)/)
          .map((l) => [l.split("=")[0], l.slice(l.indexOf("=") + 1).replace(/\n$/, "")]),
      );
    const [first, second] = runs.map(parse);
    expect(second).toEqual(first);
    const env = first!;
    expect(env.A).toBe("from default");
    expect(env.B).toBe("from opts");
    expect(env.C).toBe("x y\nz'q");
    expect(env["odd-name"]).toBe("kept");
    expect(env["with space"]).toBe("too");
    expect(env.PATH).toBeDefined(); // Incus's default PATH
    expect(env.SHLVL).toBeUndefined(); // nothing of the start wrapper
    expect(env.OLDPWD).toBeUndefined();
    expect(Object.keys(env).filter((k) => k.startsWith("__mx"))).toEqual([]);
    expect(env.VITEST).toBeUndefined(); // nothing of the host
  });

  it("reports exit 127 for a missing command as an exit code, not an error", async () => {
    const r = await runLua(
      lua(`
        local p = assert(ex:exec("no-such-command-here"))
        assert(p:start())
        local code, err = p:wait()
        io.write(code, " ", tostring(err), " ", #p:stderr_stream():read_all() > 0 and "said-why" or "silent")`),
      { config },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("127 nil said-why");
  });

  it("reports the pid inside the instance and signals the whole process group", async () => {
    const mark = sleepMarker();
    const r = await runLua(
      lua(`
        local p = assert(ex:exec({"sh", "-c", "sleep ${mark} & echo $$; wait"}))
        assert(p:start())
        local pid = p:pid()
        local echoed = p:stdout_stream():read_line()
        assert(p:signal("TERM"))
        local code = p:wait()
        io.write(tostring(pid == tonumber(echoed)), " ", code, " ", tostring(p:signal_name()))`),
      { config },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("true 143 SIGTERM");
    expect(await processes(mark)).toEqual([]);
  });

  it("kills a timed-out tree, leaving no process in the instance", async () => {
    const mark = sleepMarker();
    const r = await runLua(
      lua(`
        local p = assert(ex:exec({"sh", "-c", "sleep ${mark} & sleep ${mark}"}, {timeout = 0.5}))
        assert(p:start())
        local code, err = p:wait()
        io.write(code, " ", err.kind, " ", tostring(p:signal_name()))`),
      { config },
    );
    expect(r.stdout.toString()).toBe("137 TIMEOUT SIGKILL");
    expect(await processes(mark)).toEqual([]);
  });

  it("decodes CP949 text written inside the instance", async () => {
    // "한국어 텍스트" in CP949, written to a file by the instance itself, then read back.
    const cp949 = Buffer.from([0xc7, 0xd1, 0xb1, 0xb9, 0xbe, 0xee, 0x20, 0xc5, 0xd8, 0xbd, 0xba, 0xc6, 0xae]);
    const octal = [...cp949].map((b) => `\\\\${b.toString(8)}`).join("");
    const r = await runLua(
      lua(`
        local w = assert(ex:exec({"sh", "-c", "printf '${octal}\\\\n' > /tmp/mx-cp949.txt"})); assert(w:start()); assert(w:wait() == 0)
        local p = assert(ex:exec("cat /tmp/mx-cp949.txt", {encoding = "cp949"})); assert(p:start())
        local lines = {}
        while true do local l = p:stdout_stream():read_line(); if not l then break end; lines[#lines + 1] = l end
        local raw = assert(ex:pull_file("/tmp/mx-cp949.txt"))
        io.write(table.concat(lines), "|", #raw)
        local rm = assert(ex:exec("rm /tmp/mx-cp949.txt")); rm:start(); rm:wait()`),
      { config },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString("utf8")).toBe(`한국어 텍스트|${cp949.length + 1}`);
  });

  it("pushes and pulls files byte-exact with mode, uid and gid", async () => {
    const path = `/tmp/mx-file-${randomInt(1e9)}`;
    const r = await runLua(
      lua(`
        local bytes = {}
        for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
        local data = table.concat(bytes):rep(4097)
        assert(ex:push_file(data, "${path}", {mode = "0640", uid = 1234, gid = 2345}))
        local back = assert(ex:pull_file("${path}"))
        local st = assert(ex:exec({"stat", "-c", "%a %u %g %s", "${path}"})); assert(st:start())
        io.write(tostring(back == data), " ", st:stdout_stream():read_all())
        -- overwriting with other attributes applies them too (Incus alone keeps the old ones)
        assert(ex:push_file("small", "${path}", {mode = tonumber("600", 8), uid = 7, gid = 8}))
        local st2 = assert(ex:exec({"stat", "-c", "%a %u %g %s", "${path}"})); assert(st2:start())
        io.write(st2:stdout_stream():read_all(), ex:pull_file("${path}"), "\\n")
        local empty = ""
        assert(ex:push_file(empty, "${path}"))
        io.write(#ex:pull_file("${path}"), "\\n")
        local _, e1 = ex:pull_file("${path}-missing")
        local _, e2 = ex:pull_file("/tmp")
        local _, e3 = ex:push_file("x", "relative/path")
        local _, e4 = ex:push_file("x", "${path}", {mode = 644})
        local _, e5 = ex:push_file("x", "/no/such/dir/file")
        io.write(e1.kind, " ", e2.kind, " ", e3.kind, " ", e4.kind, " ", e5.kind, "\\n", e4.message)
        local rm = assert(ex:exec({"rm", "${path}"})); rm:start(); rm:wait()`),
      { config },
    );
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().split("\n");
    expect(lines[0]).toBe(`true 640 1234 2345 ${256 * 4097}`);
    expect(lines[1]).toBe("600 7 8 5");
    expect(lines[2]).toBe("small");
    expect(lines[3]).toBe("0");
    expect(lines[4]).toBe("NOT_FOUND INVALID INVALID INVALID NOT_FOUND");
    expect(lines[5]).toContain('mode = "0644"');
  });

  it("pulls through a symlink", async () => {
    const r = await runLua(lua(`io.write(assert(ex:pull_file("/etc/../bin/sh")) == "/bin/busybox" and "link?" or "followed")`), { config });
    expect(r.stdout.toString()).toBe("followed");
  });

  it("errors clearly for a missing instance", async () => {
    const r = await runLua(tryGet, { config: incusConfig("instance: no-such-instance") });
    expect(r.stdout.toString()).toMatch(/^get NOT_FOUND: instance 'no-such-instance' in project 'default': .*not found/i);
  });

  it("errors clearly for a stopped instance, in the server's words", async () => {
    const r = await runLua(tryGet, { config: incusConfig(`instance: ${E.stoppedInstance}`) });
    expect(r.stdout.toString()).toMatch(/^start STATE: .*Instance is not running/);
  });

  it("errors clearly when the socket is unreachable", async () => {
    const r = await runLua(tryGet, { config: incusConfig(`instance: ${E.instance}`, 'remote: "unix:/nonexistent/incus.socket"') });
    expect(r.stdout.toString()).toMatch(/^get UNAVAILABLE: cannot reach Incus at unix socket \/nonexistent\/incus\.socket: ENOENT/);
  });

  it("honours INCUS_SOCKET for the default remote", async () => {
    const dir = tempDir({ "main.lua": tryGet, "moonexec.yaml": incusConfig(`instance: ${E.instance}`) });
    const bad = await runCli(["run", "main.lua"], { cwd: dir, env: { ...process.env, INCUS_SOCKET: "/nonexistent/env.socket" } });
    expect(bad.stdout.toString()).toMatch(/UNAVAILABLE: cannot reach Incus at unix socket \/nonexistent\/env\.socket/);
    const good = await runCli(["run", "main.lua"], { cwd: dir, env: { ...process.env, INCUS_SOCKET: E.socket } });
    expect(good.stdout.toString()).toBe("ok reached\n");
  });

  it("rejects invalid entries naming file, entry and field", async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /entry 'test:box': field 'instance' is required/],
      [[`instance: ${E.instance}`, `remote: "${E.https}"`], /entry 'test:box': field 'client_cert' is required/],
      [[`instance: ${E.instance}`, `remote: "${E.https}"`, "client_cert: a", "client_key: b"], /field 'server_cert' or 'server_fingerprint' is required/],
      [[`instance: ${E.instance}`, "client_cert: a"], /field 'client_cert' applies only to an https remote/],
      [[...httpsFields('server_fingerprint: "abc"')], /field 'server_fingerprint' must be the sha256 fingerprint/],
      [[...httpsFields(`server_cert: "${E.serverCert}"`, "insecure_skip_verify: true")], /field 'insecure_skip_verify' cannot be combined with 'server_cert'/],
      [[`instance: ${E.instance}`, 'remote: "http://127.0.0.1:8443"'], /field 'remote' must be/],
      [[`instance: ${E.instance}`, "user: -1"], /field 'user' must be a numeric id/],
      [[`instance: ${E.instance}`, "user: root"], /field 'user' must be an integer/],
      [[`instance: ${E.instance}`, "default_work_dir: tmp"], /field 'default_work_dir' must be an absolute path/],
      [[`instance: ${E.instance}`, "colour: blue"], /unknown field 'colour' for kind exec.incus/],
    ];
    for (const [fields, want] of cases) {
      const r = await runLua(tryGet, { config: incusConfig(...fields) });
      expect(r.code, fields.join(", ")).toBe(2);
      expect(r.stderr).toMatch(/moonexec\.yaml: entry 'test:box': /);
      expect(r.stderr).toMatch(want);
    }
  });

  it("leaves no operation or process after release(), including background children", async () => {
    const mark = sleepMarker();
    const r = await runLua(
      lua(`
        local bg = assert(ex:exec({"sh", "-c", "sleep ${mark} > /dev/null 2>&1 &"}))
        assert(bg:start()); assert(bg:wait() == 0)
        local p = assert(ex:exec({"sh", "-c", "sleep ${mark} & sleep ${mark} & echo up; wait"}))
        assert(p:start())
        assert(p:stdout_stream():read_line() == "up")
        io.write("running")`),
      { config },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("running");
    expect(await runningOps(mark)).toBe(0);
    expect(await processes(mark)).toEqual([]);
  });

  it("leaves no operation or process after SIGINT to the CLI", async () => {
    const mark = sleepMarker();
    const dir = tempDir({
      "main.lua": lua(`
        local p = assert(ex:exec({"sh", "-c", "sleep ${mark} & sleep ${mark}; echo never"}))
        assert(p:start())
        p:wait()`),
      "moonexec.yaml": config,
    });
    let pid = 0;
    const done = runCli(["run", "main.lua"], { cwd: dir, onSpawn: (p) => (pid = p) });
    const started = await eventually(async () => (await processes(mark)).filter((l) => /\d+ sleep /.test(l)).length === 2);
    if (!started) process.kill(pid, "SIGINT");
    expect(started).toBe(true);
    expect(await runningOps(mark)).toBe(1);
    process.kill(pid, "SIGINT");
    const r = await done;
    expect(r.code).toBe(130);
    expect(await runningOps(mark)).toBe(0);
    expect(await processes(mark)).toEqual([]);
  });

  it("runs 20 sequential execs quickly", async () => {
    const r = await runLua(
      lua(`
        for i = 1, 20 do
          local p = assert(ex:exec({"echo", tostring(i)})); assert(p:start())
          assert(p:stdout_stream():read_all() == i .. "\\n"); assert(p:wait() == 0)
        end
        io.write("done")`),
      { config },
    );
    expect(r.stdout.toString()).toBe("done");
  });

  it("runs examples/incus.lua as documented", async () => {
    const r = await runCli(["run", "--config", "examples/incus.yaml", "examples/incus.lua"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.toString("utf8")).toBe(
      [
        "hostname: moonexec",
        "cwd: /tmp",
        "env: hello from the instance",
        "work_dir: /etc",
        "missing command: exit 127",
        "sorted: apple, fig, pear",
        "stat: 640 1000:1000 18 bytes",
        "pulled: moonexec was here",
        "cp949: 한글",
        "timeout: exit 137, TIMEOUT",
        "signal: exit 143 (SIGTERM)",
        "https: uid=65534(nobody) gid=65534(nogroup)",
        "",
      ].join("\n"),
    );
  });

  describeProject();
  describeFrozen();
});

/** The project field: an instance of the same name in another project answers differently. */
function describeProject() {
  describe("project", () => {
  let made = false;
  beforeAll(async () => {
    await incusCli(["delete", "--force", E.instance, "--project", PROJECT]).catch(() => {});
    await incusCli(["project", "delete", PROJECT]).catch(() => {});
    await incusCli(["project", "create", PROJECT, "-c", "features.images=false", "-c", "features.profiles=false", "-c", "features.storage.volumes=false"]);
    made = true;
    await incusCli(["launch", E.image, E.instance, "--project", PROJECT]);
    await incusCli(["exec", E.instance, "--project", PROJECT, "--", "sh", "-c", "echo other-project > /etc/moonexec-where"]);
  }, 120_000);
  afterAll(async () => {
    if (!made) return;
    await incusCli(["delete", "--force", E.instance, "--project", PROJECT]).catch(() => {});
    await incusCli(["project", "delete", PROJECT]).catch(() => {});
  }, 120_000);

  it("runs in the configured project", async () => {
    const script = lua(`
      local p = assert(ex:exec({"sh", "-c", "cat /etc/moonexec-where 2>/dev/null || echo default-project"})); assert(p:start())
      io.write(p:stdout_stream():read_all())
      assert(ex:push_file("pushed", "/tmp/mx-proj"))
      io.write(ex:pull_file("/tmp/mx-proj"), "\\n")`);
    const other = await runLua(script, { config: incusConfig(`instance: ${E.instance}`, `project: ${PROJECT}`) });
    expect(other.stderr).toBe("");
    expect(other.stdout.toString()).toBe("other-project\npushed\n");
    const def = await runLua(script, { config: incusConfig(`instance: ${E.instance}`, "project: default") });
    expect(def.stdout.toString()).toBe("default-project\npushed\n");
    const missing = await runLua(tryGet, { config: incusConfig(`instance: ${E.instance}`, "project: no-such-project") });
    expect(missing.stdout.toString()).toMatch(/^get NOT_FOUND: instance '.*' in project 'no-such-project': Project not found/);
  });
  });
}

/** A frozen instance of our own (never left frozen: frozen processes ignore SIGKILL). */
function describeFrozen() {
  describe("frozen instance", () => {
  let made = false;
  beforeAll(async () => {
    await incusCli(["start", FROZEN]).catch(() => {});
    await incusCli(["delete", "--force", FROZEN]).catch(() => {});
    made = true;
    await incusCli(["launch", E.image, FROZEN]);
    await incusCli(["pause", FROZEN]);
  }, 120_000);
  afterAll(async () => {
    if (!made) return;
    await incusCli(["start", FROZEN]).catch(() => {});
    await incusCli(["delete", "--force", FROZEN]).catch(() => {});
  }, 120_000);

  it("errors clearly for a frozen instance, in the server's words", async () => {
    const r = await runLua(tryGet, { config: incusConfig(`instance: ${FROZEN}`) });
    expect(r.stdout.toString()).toMatch(/^start STATE: .*Instance is frozen/);
  });
  });
}

describeBackend(incusHttps, () => {
  let untrusted: { cert: string; key: string };
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), "moonexec-untrusted-"));
    untrusted = { cert: join(dir, "client.crt"), key: join(dir, "client.key") };
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
      "-keyout", untrusted.key, "-out", untrusted.cert, "-days", "2", "-subj", "/CN=moonexec-untrusted",
    ], { stdio: "ignore" });
  });

  it("works with the server certificate pinned by server_fingerprint (with colons, any case)", async () => {
    const colons = E.serverFingerprint.toUpperCase().match(/../g)!.join(":");
    const r = await runLua(tryGet, { config: incusConfig(...httpsFields(`server_fingerprint: "${colons}"`)) });
    expect(r.stdout.toString()).toBe("ok reached\n");
  });

  it("works with the server certificate pinned by server_cert", async () => {
    const r = await runLua(tryGet, { config: incusConfig(...httpsFields(`server_cert: "${E.serverCert}"`)) });
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("ok reached\n");
  });

  it("refuses a server whose certificate does not match server_fingerprint", async () => {
    const r = await runLua(tryGet, { config: incusConfig(...httpsFields(`server_fingerprint: "${"ab".repeat(32)}"`)) });
    expect(r.stdout.toString()).toMatch(/^get PERMISSION_DENIED: server certificate pinning failed for https:\/\/127\.0\.0\.1:8443: .*fingerprint/);
    expect(r.stdout.toString()).toContain(E.serverFingerprint);
  });

  it("refuses a server whose certificate does not match server_cert", async () => {
    const r = await runLua(tryGet, { config: incusConfig(...httpsFields(`server_cert: "${E.clientCert}"`)) });
    expect(r.stdout.toString()).toMatch(/^get PERMISSION_DENIED: server certificate pinning failed for https:\/\/127\.0\.0\.1:8443/);
    expect(r.stdout.toString()).toContain(`presented sha256 ${E.serverFingerprint}`);
  });

  it("says so when the client certificate is not trusted", async () => {
    const r = await runLua(tryGet, {
      config: incusConfig(`instance: ${E.instance}`, `remote: "${E.https}"`, `client_cert: "${untrusted.cert}"`, `client_key: "${untrusted.key}"`, `server_fingerprint: "${E.serverFingerprint}"`),
    });
    expect(r.stdout.toString()).toMatch(/^get PERMISSION_DENIED: Incus at https:\/\/127\.0\.0\.1:8443 does not trust the client certificate .*incus config trust add-certificate/);
  });

  it("works with insecure_skip_verify and warns about it", async () => {
    const r = await runLua(tryGet, { config: incusConfig(...httpsFields("insecure_skip_verify: true")) });
    expect(r.stdout.toString()).toBe("ok reached\n");
    expect(r.stderr).toMatch(/warning: .*insecure_skip_verify is set: the certificate of the Incus server at https:\/\/127\.0\.0\.1:8443 is not verified/);
  });

  it("names the address when HTTPS is unreachable", async () => {
    const r = await runLua(tryGet, {
      config: incusConfig(`instance: ${E.instance}`, 'remote: "https://127.0.0.1:1"', `client_cert: "${E.clientCert}"`, `client_key: "${E.clientKey}"`, `server_cert: "${E.serverCert}"`),
    });
    expect(r.stdout.toString()).toMatch(/^get UNAVAILABLE: cannot reach Incus at https:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
  });

  it("names the field when a certificate file is missing", async () => {
    const r = await runLua(tryGet, { config: incusConfig(`instance: ${E.instance}`, `remote: "${E.https}"`, 'client_cert: "/nope.crt"', `client_key: "${E.clientKey}"`, `server_cert: "${E.serverCert}"`) });
    expect(r.stdout.toString()).toMatch(/^get INVALID: .*entry 'test:box': field 'client_cert': cannot read \/nope\.crt: ENOENT/);
  });

  it("moves files and leaves nothing behind over HTTPS too", async () => {
    const mark = sleepMarker();
    const data = randomBytes(300_000).toString("base64");
    const r = await runLua(
      lua(`
        assert(ex:push_file("${data}", "/tmp/mx-https-${mark}", {mode = "0600"}))
        io.write(tostring(ex:pull_file("/tmp/mx-https-${mark}") == "${data}"))
        local rm = assert(ex:exec({"rm", "/tmp/mx-https-${mark}"})); rm:start(); rm:wait()
        local p = assert(ex:exec({"sh", "-c", "sleep ${mark} & echo up; wait"})); assert(p:start())
        assert(p:stdout_stream():read_line() == "up")`),
      { config: configFor(incusHttps) },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("true");
    expect(await runningOps(mark)).toBe(0);
    expect(await processes(mark)).toEqual([]);
  });
});

// A backend for `configFor` needs only entryYaml; keep the type import used.
export type { BackendUnderTest };
