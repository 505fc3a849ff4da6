/**
 * Remote Docker daemons: tcp:// with TLS (the local dockerd's listener on 127.0.0.1:2376)
 * and ssh:// (root on a loopback sshd, `docker system dial-stdio` there). The essentials of
 * the conformance suite over each, the refusals that must be clear errors (wrong CA, no
 * client certificate, unknown host key, a remote user without access to the daemon), a cut
 * connection mid-read, and one SSH login carrying many requests.
 */
import { createServer, connect as netConnect, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend } from "../helpers/backends.js";
import { dockerSsh, dockerSshSocket, dockerTls, hostKeyOf, SSH_DOCKER_HOST, sshDockerEntry, tlsEntry, tlsEnv } from "../helpers/docker-remote.js";
import { sshEnv } from "../helpers/ssh.js";
import { FaultProxy } from "../faults/proxy.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { settingsOf } from "../../src/backend/ssh/connect.js";
import { SshDockerTransport } from "../../src/backend/docker/ssh-transport.js";
import { connect } from "../../src/backend/docker/client.js";
import { parseHost } from "../../src/backend/docker/host-url.js";
import { sshEntryOf, type DockerEntry } from "../../src/backend/docker/entry.js";

const MB = 1024 * 1024;

async function run(entry: Record<string, unknown>, script: string, modules = {}): Promise<unknown[]> {
  const host = await Host.create({ config: { namespace: "r", entries: [{ name: "box", ...entry }] }, modules, timeLimit: 40 });
  try {
    return await host.runString(script);
  } finally {
    await host.dispose();
  }
}

/** exec.get's error as kind + message, or "ok" (then releases the executor). */
const GET = `
local ex, err = require("exec").get("r:box")
if ex then ex:release() return "ok" end
return err.kind, err.message
`;

// Every byte value (twice) through stdin with EOF and back on stdout; stderr apart; exit code 7.
const ESSENTIALS = `
local ex = assert(require("exec").get("r:box"))
local t = {}
for i = 0, 255 do t[#t + 1] = string.char(i) end
local all = table.concat(t):rep(2)
local q = assert(ex:exec({"cat"}))
assert(q:start())
assert(q:write_stdin(all))
assert(q:close_stdin())
local echoed = q:stdout_stream():read_all()
local qcode = q:wait()
local p = assert(ex:exec({"sh", "-c", "echo out; echo oops >&2; exit 7"}))
assert(p:start())
local out = p:stdout_stream():read_all()
local errs = p:stderr_stream():read_all()
local code = p:wait()
ex:release()
return echoed == all, #echoed, qcode, out, errs, code
`;

/** Reads 1000 MB; after 8 MB the test cuts the connection; reads on to nil, waits, runs one more command. */
const CUT_SCRIPT = `
local exec, fault = require("exec"), require("fault")
local ex = assert(exec.get("r:box"))
local p = assert(ex:exec({"dd", "if=/dev/zero", "bs=1048576", "count=1000"}))
assert(p:start())
local s, got, faulted, rerr = p:stdout_stream(), 0, false, nil
while true do
  local c, err = s:read()
  if c == nil then rerr = err break end
  got = got + #c
  if not faulted and got >= ${8 * MB} then faulted = true fault.now() end
end
local code, werr = p:wait()
local q = assert(ex:exec({"echo", "back"}))
assert(q:start())
local back = q:stdout_stream():read_all()
ex:release()
return got, rerr and rerr.kind, rerr and rerr.message, code, werr and werr.kind, back
`;

const SOCKET = { remote_socket: "/var/run/docker.sock" };

for (const backend of [dockerTls, dockerSsh, dockerSshSocket]) {
  const entry = backend === dockerTls ? tlsEntry() : backend === dockerSsh ? sshDockerEntry() : sshDockerEntry("root", SOCKET);
  describeBackend(backend, () => {
    it("runs a command: byte-exact stdout, separate stderr, exit code, stdin with EOF", async () => {
      const [same, n, qcode, out, errs, code] = await run(entry, ESSENTIALS);
      expect(n).toBe(512);
      expect(same).toBe(true);
      expect(qcode).toBe(0);
      expect(out).toBe("out\n");
      expect(errs).toBe("oops\n");
      expect(code).toBe(7);
    }, 60_000);

    it("moonexec check reports the daemon reachable and how it was verified", async () => {
      const yaml = `namespace: r\nentries:\n  - name: box\n${Object.entries(entry).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join("\n")}\n`;
      const dir = tempDir({ "moonexec.yaml": yaml });
      const r = await runCli(["check", "--config", `${dir}/moonexec.yaml`]);
      expect(r.stdout.toString()).toMatch(backend === dockerTls ? /reachable over TLS \(server verified against the CA in \S+ca\.pem \(field 'tls_ca'\); client certificate \S+cert\.pem\)/ : /reachable over ssh \((docker system dial-stdio|forwarded to \/var\/run\/docker.sock)\), host key verified/);
      expect(r.code, r.stdout.toString() + r.stderr).toBe(0);
    }, 60_000);
  });
}

describeBackend(dockerTls, () => {
  it("a CA that did not sign the daemon's certificate: PERMISSION_DENIED naming tls_ca, no hang", async () => {
    const [kind, message] = await run(tlsEntry({ tls_ca: tlsEnv.wrongCa, request_timeout: 5 }), GET);
    expect(kind, String(message)).toBe("PERMISSION_DENIED");
    expect(message).toMatch(/TLS: the daemon's certificate is not signed by the CA in tls_ca/);
  });

  it("no client certificate: the daemon's refusal, PERMISSION_DENIED naming tls_cert and tls_key", async () => {
    const [kind, message] = await run(tlsEntry({ tls_cert: undefined, tls_key: undefined, request_timeout: 5 }), GET);
    expect(kind, String(message)).toBe("PERMISSION_DENIED");
    expect(message).toMatch(/refused the client certificate .*tls_cert and tls_key/);
  });

  it("TLS port without tls_* fields: says the daemon speaks TLS", async () => {
    const [kind, message] = await run({ ...tlsEntry(), tls_ca: undefined, tls_cert: undefined, tls_key: undefined, request_timeout: 5 }, GET);
    expect(kind, String(message)).toBe("PERMISSION_DENIED");
    expect(message).toMatch(/speaks TLS but no tls_\* field is set/);
  });

  it("the certificate must name the host: localhost is in it, 127.0.0.2 is not", async () => {
    // dockerd listens on 127.0.0.1 only; reach it as "localhost" (named) and through a proxy on 127.0.0.2 (not named).
    expect(await run(tlsEntry({ host: tlsEnv.host.replace("127.0.0.1", "localhost") }), GET)).toEqual(["ok"]);
    // A relay on 127.0.0.2 (the same machine, a name the certificate does not carry).
    const relay = createServer((c) => {
      const d = netConnect(Number(new URL(tlsEnv.host).port), "127.0.0.1");
      c.pipe(d).pipe(c);
      c.on("error", () => d.destroy());
      d.on("error", () => c.destroy());
    });
    const port = await new Promise<number>((res) => relay.listen(0, "127.0.0.2", () => res((relay.address() as AddressInfo).port)));
    try {
      const [kind, message] = await run(tlsEntry({ host: `tcp://127.0.0.2:${port}`, request_timeout: 5 }), GET);
      expect(kind, String(message)).toBe("PERMISSION_DENIED");
      expect(message).toMatch(/does not name the host/);
    } finally {
      relay.close();
    }
  });

  it("an unreadable or bogus certificate file: INVALID naming the field, before any request", async () => {
    const [k1, m1] = await run(tlsEntry({ tls_ca: "/nonexistent/ca.pem" }), GET);
    expect(k1).toBe("INVALID");
    expect(m1).toMatch(/field 'tls_ca': cannot read \/nonexistent\/ca.pem \(ENOENT\)/);
    const [k2, m2] = await run(tlsEntry({ tls_key: tlsEnv.ca }), GET);
    expect(k2).toBe("INVALID");
    expect(m2).toMatch(/field 'tls_key': .* is not a usable PEM private key/);
    const [k3, m3] = await run(tlsEntry({ tls_cert: tlsEnv.ca }), GET);
    expect(k3).toBe("INVALID");
    expect(m3).toMatch(/field 'tls_key': .* is not the private key of the certificate/);
  });

  it("config errors name the entry and field at load: half a client pair, tls_* on a unix host", async () => {
    const bad = async (entry: Record<string, unknown>) => {
      try {
        await (await Host.create({ config: { namespace: "r", entries: [{ name: "box", ...entry }] } })).dispose();
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(await bad(tlsEntry({ tls_key: undefined }))).toMatch(/entry 'r:box': field 'tls_key' is required with 'tls_cert'/);
    expect(await bad(tlsEntry({ host: "unix:///var/run/docker.sock" }))).toMatch(/field 'tls_ca' only applies to a tcp:\/\/ host/);
    expect(await bad(tlsEntry({ identity_file: "/x" }))).toMatch(/field 'identity_file' only applies to an ssh:\/\/ host/);
    expect(await bad(sshDockerEntry("root", { identity_file: undefined }))).toMatch(/field 'identity_file' or 'agent: true'/);
    expect(await bad(sshDockerEntry("root", { remote_socket: "run/docker.sock" }))).toMatch(/field 'remote_socket' must be the absolute path/);
    // request_timeout (up to 3600 s) is also the SSH login's deadline, capped at exec.ssh's 600 s.
    expect(await bad(sshDockerEntry("root", { request_timeout: 3600 }))).toBe("accepted");
  });

  it("DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH as the docker CLI reads them", async () => {
    const dir = tempDir({ "x.lua": GET });
    const env = { ...process.env, DOCKER_HOST: tlsEnv.host, DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: tlsEnv.ca.replace(/\/ca\.pem$/, "") };
    const yaml = `namespace: r\nentries:\n  - name: box\n    kind: exec.docker\n    image: ${String(tlsEntry().image)}\n`;
    const cfg = tempDir({ "moonexec.yaml": yaml });
    const ok = await runCli(["run", "--config", `${cfg}/moonexec.yaml`, `${dir}/x.lua`], { env });
    expect(ok.stderr).toBe("");
    const noVerify = await runCli(["check", "--config", `${cfg}/moonexec.yaml`], { env: { ...env, DOCKER_TLS_VERIFY: "" } });
    expect(noVerify.stdout.toString()).toMatch(/speaks TLS but no tls_\* field is set/);
    expect(noVerify.code).toBe(1);
  }, 60_000);

  describe("a cut connection mid-read", () => {
    let proxy: FaultProxy;
    let port: string;
    beforeAll(async () => {
      proxy = new FaultProxy({ host: "127.0.0.1", port: Number(new URL(tlsEnv.host).port) }, "tcp");
      port = await proxy.address;
    });
    afterAll(() => proxy.close());

    it("gives nil, UNAVAILABLE after the bytes that came (never a short read), wait() fails, then works again", async () => {

      const [got, kind, message, code, waitKind, back] = await run(tlsEntry({ host: `tcp://127.0.0.1:${port}`, request_timeout: 3 }), CUT_SCRIPT, { fault: { now: () => proxy.cut() } });
      expect(got).toBeGreaterThanOrEqual(8 * MB);
      expect(got).toBeLessThan(1000 * MB);
      expect(kind, String(message)).toBe("UNAVAILABLE");
      expect(code).toBeUndefined();
      expect(waitKind).toBe("UNAVAILABLE");
      expect(back).toBe("back\n");
    }, 60_000);
  });
});

describeBackend(dockerSsh, () => {
  it("an unknown host key: PERMISSION_DENIED naming the host and the presented key, no hang", async () => {
    const [kind, message] = await run(sshDockerEntry("root", { known_hosts: "/dev/null" }), GET);
    expect(kind, String(message)).toBe("PERMISSION_DENIED");
    expect(message).toMatch(/host key of root@127\.0\.0\.\d+:\d+ is unknown: .* the server presented ssh-ed25519 SHA256:/);
  });

  it("a remote user who cannot reach the daemon: UNAVAILABLE with the remote's own reason", async () => {
    const [kind, message] = await run(sshDockerEntry("moonexec"), GET);
    expect(kind, String(message)).toBe("UNAVAILABLE");
    expect(message).toMatch(/'docker system dial-stdio' failed on the remote: .*permission denied/);
  });

  for (const socket of [undefined, SOCKET.remote_socket]) {
    it(`many requests ride one SSH login, sequential ones one channel (${socket ? "remote_socket" : "dial-stdio"})`, async () => {
      const entry = { ...sshDockerEntry(), id: "r:box", name: "box", default_env: {}, where: "test" } as unknown as DockerEntry;
      const host = parseHost(entry.host!);
      if (typeof host === "string" || host.kind !== "ssh") throw new Error(String(host));
      const transport = new SshDockerTransport(settingsOf(sshEntryOf(entry, host)), socket);
      try {
        const docker = connect(host, 30_000, { ssh: transport });
        for (let i = 0; i < 5; i++) expect(String(await docker.ping())).toBe("OK");
        expect(transport.channels).toBe(1);
        // Below OpenSSH's MaxSessions (10): parallel requests open channels, not logins.
        // (Few with dial-stdio: each new channel starts the remote docker CLI.)
        await Promise.all(Array.from({ length: socket ? 8 : 3 }, () => docker.version()));
        expect(transport.logins).toBe(1);
        expect(transport.channels).toBeGreaterThanOrEqual(2);
      } finally {
        transport.close();
      }
    }, 60_000);
  }

  it("remote_socket the user may not open: UNAVAILABLE naming remote_socket and the user", async () => {
    const [kind, message] = await run(sshDockerEntry("moonexec", SOCKET), GET);
    expect(kind, String(message)).toBe("UNAVAILABLE");
    expect(message).toMatch(/cannot reach remote_socket \/var\/run\/docker.sock: no daemon socket there, or moonexec may not connect to it/);
  });

  describe("a cut SSH connection mid-read (remote_socket, through a proxy to sshd)", () => {
    let proxy: FaultProxy;
    let port: string;
    beforeAll(async () => {
      proxy = new FaultProxy({ host: SSH_DOCKER_HOST, port: sshEnv.port }, "tcp");
      port = await proxy.address;
    });
    afterAll(() => proxy.close());

    it("gives nil, UNAVAILABLE after the bytes that came, wait() fails, then works again on a new login", async () => {
      // The proxy's address is not in known_hosts: pin the sshd's key instead.
      const entry = sshDockerEntry("root", { ...SOCKET, host: `ssh://root@127.0.0.1:${port}`, known_hosts: undefined, host_key: hostKeyOf(SSH_DOCKER_HOST), request_timeout: 3 });
      const [got, kind, message, code, waitKind, back] = await run(entry, CUT_SCRIPT, { fault: { now: () => proxy.cut() } });
      expect(got).toBeGreaterThanOrEqual(8 * MB);
      expect(got).toBeLessThan(1000 * MB);
      // The cut also ends the container's attach, so the daemon may have removed it by the
      // time the executor asks on a new login: still UNAVAILABLE, our connection broke first.
      expect(kind, String(message)).toBe("UNAVAILABLE");
      expect(message).toMatch(/SSH connection lost/);
      expect(code).toBeUndefined();
      expect(waitKind).toBe("UNAVAILABLE");
      expect(back).toBe("back\n");
    }, 60_000);
  });
});

describeBackend({ name: "docker remote example", entryYaml: "", unavailable: async () => (await dockerTls.unavailable()) ?? (await dockerSsh.unavailable()) }, () => {
  it("examples/docker-remote.lua runs over TLS and over ssh:// as documented", async () => {
    const r = await runCli(["run", "--config", "examples/docker-remote.yaml", "examples/docker-remote.lua"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toMatch(/^remote:tls: root in [0-9a-f]{12}, lo\n {2}exit 3\nremote:ssh: root in [0-9a-f]{12}, lo\n {2}exit 3\n$/);
    expect(r.code).toBe(0);
  }, 60_000);
});
