/**
 * exec.ssh beyond the conformance suite, on the loopback sshd of scripts/ssh-setup.sh:
 * config errors, host key checking, sessions past MaxSessions, root sessions, files,
 * cut connections, a jump host, and a host that dies.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { configFor, describeBackend, type BackendUnderTest } from "../helpers/backends.js";
import { runCli, runLua, startCli, tempDir } from "../helpers/cli.js";
import { gone } from "../helpers/procs.js";
import { parseConfig } from "../../src/config/load.js";
import { builtinKinds } from "../../src/backend/kinds.js";
import { checkHostKey } from "../../src/backend/ssh/host-key.js";
import { sshEntry, sshEnv, sshUnavailable } from "../helpers/ssh.js";

const lua = (body: string) => `local exec = require("exec")\n${body}\n`;
const hostKey = (host: string) => readFileSync(join(sshEnv.hostKeys, host, "ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
/** How known_hosts names a host on the test port. */
const khName = (host: string) => (sshEnv.port === 22 ? host : `[${host}]:${sshEnv.port}`);
const box = (entry: string): BackendUnderTest => ({ name: "ssh", entryYaml: entry, unavailable: sshUnavailable });
const [H1, H2, H3] = [sshEnv.hosts[0]!, sshEnv.hosts[1] ?? "127.0.0.3", sshEnv.hosts[2] ?? "127.0.0.4"];

/** A TCP proxy on 127.0.0.1 we can cut. */
class Proxy {
  private server: Server;
  private sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly host: string, private readonly targetPort: number) {
    this.server = createServer((client) => {
      const up = connect({ host: this.host, port: this.targetPort });
      for (const s of [client, up]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => this.sockets.delete(s));
      }
      client.pipe(up);
      up.pipe(client);
    });
  }
  listen(): Promise<void> {
    return new Promise((r) => this.server.listen(0, "127.0.0.1", () => ((this.port = (this.server.address() as { port: number }).port), r())));
  }
  /** Drop every connection (RST), as a dead link would. */
  cut(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }
  close(): void {
    this.cut();
    this.server.close();
  }
}

describe("exec.ssh config", () => {
  const check = async (entry: string) => {
    const r = await runLua(lua(`print("ran")`), { config: `namespace: test\nentries:\n  - ${entry.split("\n").join("\n    ")}\n` });
    return r;
  };
  const cases: Array<[string, string, RegExp]> = [
    ["no host", "name: a\nkind: exec.ssh\nidentity_file: /k", /field 'host' is required/],
    ["user@ in host", "name: a\nkind: exec.ssh\nhost: root@h\nidentity_file: /k", /field 'host' must be a host name/],
    ["no auth", "name: a\nkind: exec.ssh\nhost: h", /field 'identity_file' or 'agent: true'/],
    ["two host key checks", "name: a\nkind: exec.ssh\nhost: h\nidentity_file: /k\nhost_key: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\ninsecure_accept_any_host_key: true", /field 'insecure_accept_any_host_key' cannot be combined/],
    ["bad pin", "name: a\nkind: exec.ssh\nhost: h\nidentity_file: /k\nhost_key: abc", /field 'host_key' must be a public key/],
    ["bad jump", "name: a\nkind: exec.ssh\nhost: h\nidentity_file: /k\njump: 'a@b:c:d'", /field 'jump' must be "\[user@\]host\[:port\]"/],
    ["bad port", "name: a\nkind: exec.ssh\nhost: h\nport: 70000\nidentity_file: /k", /field 'port' must be between 1 and 65535/],
    ["port as text", "name: a\nkind: exec.ssh\nhost: h\nport: '22'\nidentity_file: /k", /field 'port' must be an integer/],
  ];
  for (const [name, entry, want] of cases) {
    it(`rejects ${name} before running anything`, async () => {
      const r = await check(entry);
      expect(r.stdout.toString()).toBe("");
      expect(r.stderr).toMatch(want);
      expect(r.code).toBe(2);
    });
  }
});

describe("known_hosts matching", () => {
  const keyA = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  const keyB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHRhFg2JbUFdBuUzWQUXF1Ke/NYyZF3hzZi+nQvvlqOe";
  const blob = (k: string) => Buffer.from(k.split(" ")[1]!, "base64");
  const verdict = (lines: string, host: string, port: number, key: string) => {
    const dir = tempDir({ kh: lines });
    const v = checkHostKey({ kind: "known_hosts", file: join(dir, "kh") }, host, port, blob(key), "u@h");
    return v.ok ? "ok" : v.message.match(/unknown|CHANGED|@revoked|other key types/)![0];
  };
  it("wildcards, negation, [host]:port, @revoked", () => {
    expect(verdict(`10.0.0.* ${keyA}\n`, "10.0.0.7", 22, keyA)).toBe("ok");
    expect(verdict(`10.0.0.*,!10.0.0.7 ${keyA}\n`, "10.0.0.7", 22, keyA)).toBe("unknown");
    expect(verdict(`[h]:2222 ${keyA}\n`, "h", 2222, keyA)).toBe("ok");
    expect(verdict(`h ${keyA}\n`, "h", 2222, keyA)).toBe("unknown");
    expect(verdict(`h ${keyA}\n`, "h", 22, keyB)).toBe("CHANGED");
    expect(verdict(`@revoked h ${keyA}\nh ${keyA}\n`, "h", 22, keyA)).toBe("@revoked");
    expect(verdict(`h ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ\n`, "h", 22, keyA)).toBe("other key types");
  });
});

describeBackend(box(sshEntry()), () => {
  const get = (entry: string, body: string) =>
    runLua(lua(`local ex, err = exec.get("test:box")\nif not ex then io.write("ERR ", err.kind, " ", err.message) return end\n${body}\nex:release()`), { config: configFor(box(entry)) });

  describe("host keys", () => {
    it("refuses a host that is not in known_hosts, naming host and key", async () => {
      const dir = tempDir({ known_hosts: readFileSync(sshEnv.knownHosts, "utf8").split("\n").filter((l) => !l.startsWith(`${khName(H1)} `)).join("\n") });
      const r = await get(sshEntry(H1, sshEnv.user, []).replace(sshEnv.knownHosts, join(dir, "known_hosts")), `io.write("connected")`);
      expect(r.stdout.toString()).toMatch(new RegExp(`^ERR PERMISSION_DENIED ssh ${sshEnv.user}@${H1}:${sshEnv.port}: host key of .* is unknown: ${khName(H1).replace(/[[\]]/g, "\\$&")} is not in .*known_hosts; the server presented ssh-ed25519 SHA256:`));
    });

    it("refuses a changed host key", async () => {
      // known_hosts says H1 has H2's key.
      const dir = tempDir({ known_hosts: `${khName(H1)} ${hostKey(H2)}\n` });
      const r = await get(sshEntry(H1).replace(sshEnv.knownHosts, join(dir, "known_hosts")), `io.write("connected")`);
      expect(r.stdout.toString()).toMatch(/^ERR PERMISSION_DENIED .*host key of .* has CHANGED/);
    });

    it("finds hashed known_hosts entries", async () => {
      const { createHmac, randomBytes } = await import("node:crypto");
      const salt = randomBytes(20);
      const hash = createHmac("sha1", salt).update(khName(H1)).digest("base64");
      const dir = tempDir({ known_hosts: `|1|${salt.toString("base64")}|${hash} ${hostKey(H1)}\n` });
      const r = await get(sshEntry(H1).replace(sshEnv.knownHosts, join(dir, "known_hosts")), `io.write("connected")`);
      expect(r.stdout.toString()).toBe("connected");
    });

    it("accepts a pinned key or fingerprint and refuses a wrong one", async () => {
      const { createHash } = await import("node:crypto");
      const blob = Buffer.from(hostKey(H1).split(" ")[1]!, "base64");
      const fp = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
      const noKnown = (pin: string) => sshEntry(H1).replace(`known_hosts: "${sshEnv.knownHosts}"`, `host_key: "${pin}"`);
      const [ok1, ok2, bad] = await Promise.all([hostKey(H1), fp, hostKey(H2)].map((pin) => get(noKnown(pin), `io.write("connected")`)));
      expect([ok1.stdout.toString(), ok2.stdout.toString()]).toEqual(["connected", "connected"]);
      expect(bad.stdout.toString()).toMatch(/^ERR PERMISSION_DENIED .*does not match the pinned host_key: the server presented ssh-ed25519 SHA256:/);
    });

    it("skips the check only with insecure_accept_any_host_key", async () => {
      const entry = sshEntry(H1).replace(`known_hosts: "${sshEnv.knownHosts}"`, "insecure_accept_any_host_key: true");
      const r = await get(entry, `io.write("connected")`);
      expect(r.stdout.toString()).toBe("connected");
    });

    it("names the key file when authentication fails", async () => {
      const other = tempDir();
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(other, "id")]);
      const r = await get(sshEntry().replace(sshEnv.key, join(other, "id")), `io.write("connected")`);
      expect(r.stdout.toString()).toMatch(/^ERR PERMISSION_DENIED ssh .*: authentication failed with the key .*\/id/);
    });
  });

  it("runs 14 commands at once past MaxSessions 10, on more than one connection", async () => {
    const r = await get(
      sshEntry(),
      `local ps, conns, codes = {}, {}, {}
      -- Each waits for its stdin to end, so all 14 run at once however slow the machine.
      for i = 1, 14 do ps[i] = assert(ex:exec({"sh", "-c", "echo $PPID; cat >/dev/null"})); assert(ps[i]:start()); conns[ps[i]:stdout_stream():read_line()] = true end
      for i = 1, 14 do ps[i]:close_stdin() end
      for i = 1, 14 do codes[#codes + 1] = ps[i]:wait() end
      local n = 0 for _ in pairs(conns) do n = n + 1 end
      io.write(table.concat(codes, ","), " ", n)`,
    );
    expect(r.stderr).toBe("");
    const [codes, conns] = r.stdout.toString().split(" ");
    expect(codes).toBe(Array(14).fill("0").join(","));
    expect(Number(conns)).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it("learns the server's session limit when max_sessions says more than it allows", async () => {
    const r = await get(
      sshEntry(H1, sshEnv.user, ["max_sessions: 30"]),
      `local ps, conns, codes = {}, {}, {}
      for i = 1, 12 do ps[i] = assert(ex:exec({"sh", "-c", "echo $PPID; cat >/dev/null"})); assert(ps[i]:start()); conns[ps[i]:stdout_stream():read_line()] = true end
      for i = 1, 12 do ps[i]:close_stdin() end
      for i = 1, 12 do codes[#codes + 1] = ps[i]:wait() end
      local n = 0 for _ in pairs(conns) do n = n + 1 end
      io.write(table.concat(codes, ","), " ", n)`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(`${Array(12).fill("0").join(",")} 2`);
  }, 60_000);

  it("runs commands on spare sessions opened ahead, and recovers when the spares die", async () => {
    // The idle spares are children of this connection's sshd session process ($PPID of a
    // command) running the stub; the pattern does not match the killing command itself.
    const killSpares = `local k = assert(ex:exec({"sh", "-c", "pkill -c -P $PPID -f 'moonexec_star[t]'"})); assert(k:start())
      local n = tonumber(k:stdout_stream():read_all()); k:wait(); return n`;
    const r = await get(
      sshEntry(sshEnv.hosts[9] ?? H3),
      `local function spares() ${killSpares} end
      local function run(i)
        local p = assert(ex:exec({"sh", "-c", "read x; echo $x-$1", "sh", tostring(i)}))
        assert(p:start()); assert(p:write_stdin("in\\n")); p:close_stdin()
        return p:stdout_stream():read_all() .. p:wait()
      end
      local killed, out = spares(), {}
      for i = 1, 4 do out[#out + 1] = run(i) end
      io.write(killed, " ", table.concat(out, ","), " ", spares())`,
    );
    expect(r.stderr).toBe("");
    // Two spares waited while the first command ran; after they were killed, commands still
    // run (directly, then on new spares), and new spares are there again.
    expect(r.stdout.toString()).toBe("2 in-1\n0,in-2\n0,in-3\n0,in-4\n0 2");
  });

  it("gives up on a server that never answers after connect_timeout", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await get(sshEntry("127.0.0.1", sshEnv.user, ["connect_timeout: 1"]).replace(`port: ${sshEnv.port}`, `port: ${port}`), `io.write("connected")`);
      expect(r.stdout.toString()).toMatch(/^ERR TIMEOUT ssh moonexec@127.0.0.1:\d+: no (handshake|connection) within connect_timeout \(1 s\)/);
    } finally {
      silent.close();
    }
  });

  it("passes the environment without AcceptEnv, and work_dir", async () => {
    const r = await get(
      sshEntry(H1, sshEnv.user, ["default_env:", "  FOO: 'a b'", "default_work_dir: /tmp"]),
      `local p = assert(ex:exec({"sh", "-c", "printf '%s|%s|%s|%s' \\"$FOO\\" \\"$BAR\\" \\"$(pwd)\\" \\"$HOME\\""}, {env = {BAR = "it's\\nme"}}))
      assert(p:start()); io.write(p:stdout_stream():read_all(), " ", p:wait())
      local q, err = ex:exec({"true"}, {work_dir = "/nonexistent/dir"})
      local ok, serr = q:start()
      io.write(" ", tostring(ok), " ", serr and serr.kind or "none")`,
    );
    expect(r.stdout.toString()).toBe(`a b|it's\nme|/tmp|/home/${sshEnv.user} 0 nil NOT_FOUND`);
  });

  it("pushes and pulls files over SFTP with mode and owner (as root)", async () => {
    const path = `/tmp/mx-ssh-${process.pid}`;
    const r = await get(
      sshEntry(H2, "root"),
      `local data = "bin\\0ary\\255" .. string.rep("x", 300000)
      assert(ex:push_file(data, "${path}", {mode = "0640", uid = 1, gid = 2}))
      local p = assert(ex:exec({"stat", "-c", "%a %u %g %s", "${path}"})); assert(p:start())
      io.write(p:stdout_stream():read_all())
      io.write(ex:pull_file("${path}") == data and "same" or "differs", "\\n")
      local _, e1 = ex:pull_file("/nonexistent/x"); io.write(e1.kind, "\\n")
      local _, e2 = ex:pull_file("/tmp"); io.write(e2.kind, "\\n")
      local rm = assert(ex:exec({"rm", "-f", "${path}"})); assert(rm:start()); rm:wait()`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(`640 1 2 ${300000 + 8}\nsame\nNOT_FOUND\nINVALID\n`);
  });

  it("as root, TERM and timeouts reach the whole process tree", async () => {
    const marker = `sleep 3${process.pid % 1000}.5`;
    const r = await get(
      sshEntry(H2, "root"),
      `local p = assert(ex:exec({"sh", "-c", "${marker} & ${marker} & echo up; wait"}))
      assert(p:start()); assert(p:stdout_stream():read_line() == "up")
      assert(p:signal("TERM")); io.write(p:wait(), " ", p:signal_name(), " ")
      local q = assert(ex:exec({"sh", "-c", "${marker} & ${marker}"}, {timeout = 1})); assert(q:start())
      local code, err = q:wait(); io.write(code, " ", err.kind)`,
    );
    expect(r.stdout.toString()).toBe("143 SIGTERM 137 TIMEOUT");
    expect(await gone(marker)).toEqual([]);
  }, 30_000);

  describe("through a connection we cut", () => {
    const proxy = new Proxy(H3, sshEnv.port);
    afterAll(() => proxy.close());
    const entry = () => sshEntry(H3).replace(`host: "${H3}"`, `host: "127.0.0.1"`).replace(`port: ${sshEnv.port}`, `port: ${proxy.port}`).replace(`known_hosts: "${sshEnv.knownHosts}"`, `host_key: "${hostKey(H3)}"`);

    it("fails running commands with an error, never a short EOF, and reconnects for the next", async () => {
      await proxy.listen();
      const marker = `sleep 4${process.pid % 1000}.5`;
      const dir = tempDir({
        "moonexec.yaml": configFor(box(entry())),
        "main.lua": lua(`local ex = assert(exec.get("test:box"))
          local bg = assert(ex:exec({"sh", "-c", "${marker}"}))
          assert(bg:start())
          local p = assert(ex:exec({"sh", "-c", "head -c 100000000 /dev/zero; echo end"}))
          assert(p:start())
          local s, n, err = p:stdout_stream(), 0, nil
          while true do
            local c, e = s:read()
            if n == 0 then print("streaming") io.stdout:flush() end
            if not c then err = e break end
            n = n + #c
          end
          local code = p:wait()
          local info = p:info()
          print(n < 100000000 and "short" or "full", code, tostring(info.note):match("connection lost") and "lost" or tostring(info.note), err and err.kind or "noerr")
          local q = assert(ex:exec({"echo", "again"})); assert(q:start())
          print(q:stdout_stream():read_all(), q:wait())
          ex:release()`),
      });
      const cli = startCli(["run", "main.lua"], { cwd: dir });
      await cli.waitFor("streaming");
      proxy.cut();
      const code = await cli.exited;
      expect(cli.stderr()).toBe("");
      // The read fails with the loss (never a short EOF); the exit is -1 with the note.
      expect(cli.stdout()).toMatch(/^streaming\nshort\t-1\tlost\tUNAVAILABLE\nagain\n\t0\n$/);
      expect(code).toBe(0);
      // The watcher of the cut connection killed what ran there.
      expect(await gone(marker)).toEqual([]);
    }, 60_000);
  });

  it("a cut connection fails the output sources with an error (the backend contract)", async () => {
    const proxy = new Proxy(H3, sshEnv.port);
    await proxy.listen();
    const entry = parseConfig(builtinKinds(), configFor(box(sshEntry(H3).replace(`host: "${H3}"`, `host: "127.0.0.1"`).replace(`port: ${sshEnv.port}`, `port: ${proxy.port}`).replace(`known_hosts: "${sshEnv.knownHosts}"`, `host_key: "${hostKey(H3)}"`))), "t.yaml").entries.get("test:box")!;
    const backend = await builtinKinds().get("exec.ssh")!.open(entry);
    try {
      const cmd = await backend.spawn({ argv: ["sh", "-c", "echo err >&2; head -c 100000000 /dev/zero"], env: {} });
      const outcome = (src: typeof cmd.stdout) =>
        new Promise<string>((resolve) => {
          let n = 0;
          src.on("data", (c: Buffer) => {
            n += c.length;
            if (n > 0 && n === c.length) proxy.cut();
          });
          src.once("end", () => resolve(`end after ${n}`));
          src.once("error", (e) => resolve(`error ${(e as Error).message.includes("connection lost") ? "lost" : e.message}`));
        });
      const [out, err] = await Promise.all([outcome(cmd.stdout), outcome(cmd.stderr)]);
      expect([out, err]).toEqual(["error lost", "error lost"]);
      expect((await cmd.exited).code).toBe(-1);
    } finally {
      await backend.release();
      proxy.close();
    }
  }, 30_000);

  it("kills remote commands when the host process dies (SIGKILL)", async () => {
    const marker = `sleep 5${process.pid % 1000}.5`;
    const dir = tempDir({
      "moonexec.yaml": configFor(box(sshEntry(H2, "root"))),
      "main.lua": lua(`local ex = assert(exec.get("test:box"))
        local p = assert(ex:exec({"sh", "-c", "${marker} & ${marker} & echo up; wait"}))
        assert(p:start()); print(p:stdout_stream():read_line()); io.stdout:flush()
        p:wait()`),
    });
    const cli = startCli(["run", "main.lua"], { cwd: dir });
    await cli.waitFor("up");
    expect((await import("../helpers/procs.js")).running(marker).length).toBeGreaterThanOrEqual(2);
    cli.child.kill("SIGKILL");
    await cli.exited;
    expect(await gone(marker)).toEqual([]);
  }, 30_000);

  it("runs examples/ssh.lua as documented", async () => {
    const r = await runCli(["run", "--config", "examples/ssh.yaml", "examples/ssh.lua"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(
      [
        "user: moonexec",
        "cwd: /tmp",
        "env: hello over ssh",
        "streams: out=to-out err=to-err exit=7",
        "sorted: apple fig pear ",
        "timeout: exit 137 (TIMEOUT)",
        "stat: 640 18 bytes",
        "pulled: moonexec was here",
        "parallel: 1 2 3 4 5 6 7 8 9 10 11 12",
        "via jump: reached web2",
        "",
      ].join("\n"),
    );
  }, 60_000);

  it("release() kills what a finished command left running in its group", async () => {
    const marker = `sleep 6${process.pid % 1000}.5`;
    const r = await get(
      sshEntry(),
      `local p = assert(ex:exec({"sh", "-c", "${marker} >/dev/null 2>&1 & echo started"}))
      assert(p:start()); io.write(p:stdout_stream():read_all(), p:wait())`,
    );
    expect(r.stdout.toString()).toBe("started\n0");
    expect(await gone(marker)).toEqual([]);
  });

  it("goes through a jump host", async () => {
    // The jump host is H1; the target H2 is reached from there (both loopback).
    const r = await get(sshEntry(H2, sshEnv.user, [`jump: "${sshEnv.user}@${H1}:${sshEnv.port}"`]), `local p = assert(ex:exec({"sh", "-c", "echo $PPID"})); assert(p:start()); io.write(p:wait())`);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("0");
    const bad = await get(sshEntry(H2, sshEnv.user, [`jump: "${sshEnv.user}@127.0.0.1:1"`]), `io.write("connected")`);
    expect(bad.stdout.toString()).toMatch(/^ERR UNAVAILABLE ssh moonexec@127.0.0.1:1: .*ECONNREFUSED/);
  });
});
