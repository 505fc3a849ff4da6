/**
 * exec.incus pieces that need no daemon: the start wrapper and warm-session line (run by the
 * local /bin/sh), the stderr marker parser, file modes, remotes, entry validation.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { MarkerParser, newToken, TokenFilter, warmArgv, warmLine, wrapArgv, type Marker, type TokenRecord } from "../../src/backend/incus/wrapper.js";
import { parseFileMode } from "../../src/backend/file-mode.js";
import { defaultSocketPath, normalizeFingerprint, parseRemote } from "../../src/backend/incus/remote.js";
import { validateIncusEntry, type IncusEntry } from "../../src/backend/incus/entry.js";
import { GroupKiller } from "../../src/backend/incus/group-killer.js";

interface LocalRun {
  stdout: string;
  stderr: string;
  code: number | null;
  records: TokenRecord[];
  marker?: Marker;
}

/**
 * Run a wrapper argv with the local /bin/sh the way the Incus backend does: strip the
 * marker and records, and acknowledge the end records with SIGUSR1 + SIGCONT.
 */
function runLocal(argv: string[], env: Record<string, string>, token: string, stdin = ""): Promise<LocalRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    const run: LocalRun = { stdout: "", stderr: "", code: null, records: [] };
    const ended = { out: false, err: false };
    const onRecord = (which: "out" | "err") => (r: TokenRecord) => {
      run.records.push(r);
      if (r.kind !== "end") return;
      ended[which] = true;
      if (ended.out && ended.err) {
        child.kill("SIGUSR1");
        child.kill("SIGCONT");
        const t = setInterval(() => child.kill("SIGCONT"), 100);
        child.on("exit", () => clearInterval(t));
      }
    };
    const outF = new TokenFilter(token, onRecord("out"));
    const marker = new MarkerParser((m) => (run.marker = m));
    const errF = new TokenFilter(token, onRecord("err"));
    child.stdout.on("data", (d: Buffer) => (run.stdout += outF.feed(d).toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (run.stderr += errF.feed(marker.feed(d)).toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      run.stdout += outF.end().toString("utf8");
      run.stderr += errF.feed(marker.end()).toString("utf8") + errF.end().toString("utf8");
      run.code = code;
      resolve(run);
    });
    child.stdin.on("error", () => {}); // EPIPE when the command exits without reading its input
    child.stdin.end(stdin);
  });
}

const SHOW = [process.execPath, "-e", "let d='';process.stdin.on('data',c=>d+=c).on('end',()=>process.stdout.write(JSON.stringify({argv:process.argv.slice(1),env:process.env,cwd:process.cwd(),stdin:d,pid:process.pid})))"];

describe("start wrapper (run by the local /bin/sh)", () => {
  const tricky = ["it's", 'say "hi"', "two\nlines", "$HOME", "`date`", "a\\b", "*", "", " lead", "-x", "ünï"];

  it("runs argv unchanged with stdin, reports marker and child pid, changes directory, holds the exit for the ack", async () => {
    const env = { PATH: process.env.PATH!, KEEP: "1" };
    const token = newToken();
    const r = await runLocal(wrapArgv([...SHOW, ...tricky], "/tmp", env, token), env, token, "in\nput");
    expect(r.code).toBe(0);
    expect(r.marker).toMatchObject({ kind: "pid", group: true });
    expect(r.stderr).toBe("");
    const out = JSON.parse(r.stdout);
    expect(out.argv).toEqual(tricky);
    expect(out.cwd).toBe("/tmp");
    expect(out.stdin).toBe("in\nput");
    expect(out.env.KEEP).toBe("1");
    expect(out.env.SHLVL).toBeUndefined();
    expect(out.env.OLDPWD).toBeUndefined();
    expect(r.records).toEqual([{ kind: "pid", pid: out.pid }, { kind: "end" }, { kind: "end" }]);
  });

  it("exits with the command's status, 128+N for a signal death, 127 for a missing command", async () => {
    const env = { PATH: process.env.PATH! };
    for (const [argv, code] of [
      [["sh", "-c", "exit 7"], 7],
      [["sh", "-c", "kill -TERM $$"], 143],
      [["no-such-command-here"], 127],
    ] as const) {
      const token = newToken();
      const r = await runLocal(wrapArgv([...argv], undefined, env, token), env, token);
      expect(r.code, argv.join(" ")).toBe(code);
    }
  });

  it("says when the work dir is missing", async () => {
    const env = { PATH: process.env.PATH! };
    const token = newToken();
    const r = await runLocal(wrapArgv(["true"], "/no/such/dir", env, token), env, token);
    expect(r.code).toBe(126);
    expect(r.marker).toEqual({ kind: "nocwd" });
  });

  it("a warm shell becomes the command from one line; the rest of stdin is the command's", async () => {
    const env = { PATH: process.env.PATH!, A: "x'y\nz", "odd-name": "kept", SHLVL: "7" };
    const token = newToken();
    const line = warmLine([...SHOW, ...tricky], "/tmp", env, token)!;
    const r = await runLocal(warmArgv(), { PATH: process.env.PATH! }, token, line + "rest of\nstdin");
    expect(r.code).toBe(0);
    expect(r.marker).toMatchObject({ kind: "pid" });
    const out = JSON.parse(r.stdout);
    expect(out.argv).toEqual(tricky);
    expect(out.cwd).toBe("/tmp");
    expect(out.stdin).toBe("rest of\nstdin");
    expect(out.env.A).toBe("x'y\nz");
    expect(out.env["odd-name"]).toBe("kept");
    expect(out.env.SHLVL).toBe("7"); // set by the caller: kept
    expect(Object.keys(out.env).filter((k) => k.startsWith("__mx"))).toEqual([]);
  });

  it("a warm shell that gets EOF instead of a line just exits", async () => {
    const token = newToken();
    const r = await runLocal(warmArgv(), { PATH: process.env.PATH! }, token, "");
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).toBe("");
  });

  it("refuses to build an over-long line (a fresh exec is used instead)", () => {
    expect(warmLine(["echo", "x".repeat(70_000)], undefined, {}, newToken())).toBeUndefined();
  });
});

describe("token filter", () => {
  const token = "\x1e0123456789abcdef\x1f";
  const filter = (chunks: string[]) => {
    const records: TokenRecord[] = [];
    const f = new TokenFilter(token, (r) => records.push(r));
    const out = chunks.map((c) => f.feed(Buffer.from(c, "latin1")).toString("latin1"));
    return { out, tail: f.end().toString("latin1"), records };
  };

  it("removes records anywhere, also split across chunks", () => {
    const r = filter([`a${token}p12;b`, `c${token.slice(0, 5)}`, `${token.slice(5)}e`, "after"]);
    expect(r.out.join("") + r.tail).toBe("abcafter");
    expect(r.records).toEqual([{ kind: "pid", pid: 12 }, { kind: "end" }]);
  });

  it("holds back only a possible record start at the end of a chunk", () => {
    const r = filter(["line\n", "x\x1e", "\x1eplain", "\x1e0123"]);
    expect(r.out).toEqual(["line\n", "x", "\x1e\x1eplain", ""]);
    expect(r.tail).toBe("\x1e0123");
    expect(r.records).toEqual([]);
  });

  it("passes binary data that merely contains the first byte", () => {
    const data = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256));
    const f = new TokenFilter(token, () => {
      throw new Error("no record here");
    });
    expect(Buffer.concat([f.feed(data), f.end()]).equals(data)).toBe(true);
  });
});

describe("stderr marker parser", () => {
  const parse = (chunks: string[]) => {
    const seen: Marker[] = [];
    const p = new MarkerParser((m) => seen.push(m));
    const out = chunks.map((c) => p.feed(Buffer.from(c, "latin1")).toString("latin1")).join("") + p.end().toString("latin1");
    return { out, seen };
  };

  it("takes the marker off, even split across chunks", () => {
    expect(parse(["\x1emoonexec 42 g\nerr"])).toEqual({ out: "err", seen: [{ kind: "pid", pid: 42, group: true }] });
    expect(parse(["\x1emoon", "exec 4", "2 p", "\nrest", " more"])).toEqual({ out: "rest more", seen: [{ kind: "pid", pid: 42, group: false }] });
    expect(parse(["\x1emoonexec nocwd\n"]).seen).toEqual([{ kind: "nocwd" }]);
  });

  it("takes the marker off a terminal, where its line ends \\r\\n", () => {
    expect(parse(["\x1emoonexec 42 g\r", "\nout\r\n"])).toEqual({ out: "out\r\n", seen: [{ kind: "pid", pid: 42, group: true }] });
    expect(parse(["\x1emoonexec nocwd\r\n"]).seen).toEqual([{ kind: "nocwd" }]);
  });

  it("passes anything else through untouched", () => {
    expect(parse(["plain stderr\n"])).toEqual({ out: "plain stderr\n", seen: [{ kind: "none" }] });
    expect(parse(["\x1emoonexec garbage\nx"])).toEqual({ out: "\x1emoonexec garbage\nx", seen: [{ kind: "none" }] });
    expect(parse(["\x1emoon"])).toEqual({ out: "\x1emoon", seen: [{ kind: "none" }] });
    expect(parse([])).toEqual({ out: "", seen: [{ kind: "none" }] });
  });
});

describe("push_file modes", () => {
  it("reads octal strings and small numbers, refuses decimal-looking ones", () => {
    expect(parseFileMode("0644")).toBe(0o644);
    expect(parseFileMode("755")).toBe(0o755);
    expect(parseFileMode("0o600")).toBe(0o600);
    expect(parseFileMode(420)).toBe(0o644);
    expect(parseFileMode(undefined)).toBeUndefined();
    expect(() => parseFileMode(644)).toThrow(/decimal .*mode = "0644"/);
    expect(() => parseFileMode("rw-r--r--")).toThrow(/not an octal mode/);
    expect(() => parseFileMode(-1)).toThrow();
  });
});

describe("remotes", () => {
  it("parses the remote field", () => {
    expect(parseRemote(undefined)).toEqual({ kind: "unix" });
    expect(parseRemote("unix")).toEqual({ kind: "unix" });
    expect(parseRemote("unix:/x/unix.socket")).toEqual({ kind: "unix", socketPath: "/x/unix.socket" });
    expect(parseRemote("https://10.0.0.5")).toEqual({ kind: "https", host: "10.0.0.5", port: 8443 });
    expect(parseRemote("https://[::1]:9443")).toEqual({ kind: "https", host: "::1", port: 9443 });
    expect(() => parseRemote("http://10.0.0.5:8443")).toThrow();
  });

  it("finds the socket like the incus client", () => {
    expect(defaultSocketPath({ INCUS_SOCKET: "/a.sock", INCUS_DIR: "/b" })).toBe("/a.sock");
    expect(defaultSocketPath({ INCUS_DIR: "/b" })).toBe("/b/unix.socket");
    expect(defaultSocketPath({})).toMatch(/^\/(run|var\/lib)\/incus\/unix\.socket$/);
  });

  it("normalises fingerprints", () => {
    expect(normalizeFingerprint("AB:cd:01")).toBe("abcd01");
  });
});

describe("entry validation", () => {
  const base = { id: "t:box", name: "box", kind: "exec.incus", default_env: {}, where: "f.yaml: entry 't:box'" };
  const check = (fields: Record<string, unknown>) => () => validateIncusEntry({ ...base, ...fields } as IncusEntry, base.where);
  const https = { instance: "i", remote: "https://h:8443", client_cert: "c", client_key: "k" };

  it("accepts the valid combinations", () => {
    expect(check({ instance: "i" })).not.toThrow();
    expect(check({ ...https, server_cert: "s" })).not.toThrow();
    expect(check({ ...https, server_fingerprint: "AB:".repeat(31) + "AB" })).not.toThrow();
    expect(check({ ...https, insecure_skip_verify: true })).not.toThrow();
  });

  it("names the field of each wrong combination", () => {
    expect(check({})).toThrow(/f\.yaml: entry 't:box': field 'instance' is required/);
    expect(check({ instance: "a/b" })).toThrow(/field 'instance' must be an Incus instance name/);
    expect(check({ ...https })).toThrow(/field 'server_cert' or 'server_fingerprint' is required/);
    expect(check({ ...https, client_key: undefined, server_cert: "s" })).toThrow(/field 'client_key' is required/);
    expect(check({ ...https, server_cert: "s", server_fingerprint: "a".repeat(64) })).toThrow(/field 'server_fingerprint' cannot be combined/);
    expect(check({ ...https, server_fingerprint: "a".repeat(64), insecure_skip_verify: true })).toThrow(/field 'insecure_skip_verify' cannot be combined with 'server_fingerprint'/);
    expect(check({ instance: "i", server_cert: "s" })).toThrow(/field 'server_cert' applies only to an https remote/);
    expect(check({ instance: "i", group: 4294967296 })).toThrow(/field 'group' must be a numeric id/);
    expect(check({ instance: "i", warm_sessions: 17 })).toThrow(/field 'warm_sessions' must be between 0/);
    expect(check({ instance: "i", remote: "ftp://x" })).toThrow(/field 'remote' must be/);
  });
});

describe("group killer", () => {
  it("sends the kills asked for in one tick as one helper command per signal", async () => {
    const runs: string[][] = [];
    const killer = new GroupKiller(async (argv) => {
      runs.push(argv);
      return 0;
    });
    await Promise.all([killer.kill(10, 9), killer.kill(11, 9), killer.kill(12, 15)]);
    expect(runs.map((a) => a[2])).toEqual([
      "for p in 10 11; do kill -9 -$p 2>/dev/null || kill -9 $p 2>/dev/null; done; exit 0",
      "for p in 12; do kill -15 -$p 2>/dev/null || kill -15 $p 2>/dev/null; done; exit 0",
    ]);
  });

  it("reports a helper that could not run", async () => {
    const killer = new GroupKiller(async () => 127);
    await expect(killer.kill(10, 9)).rejects.toThrow(/127/);
  });
});
