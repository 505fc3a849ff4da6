/** Docker backend pieces that need no daemon: frame demux, marker scanner, shell quoting, entry checks. */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { FrameDemux } from "../../src/backend/docker/demux.js";
import { MarkerScanner } from "../../src/backend/docker/marker.js";
import { OutputPipe } from "../../src/backend/docker/output-pipe.js";
import { AGENT_SCRIPT, commandCode, shQuote } from "../../src/backend/docker/agent-script.js";
import { parseVolume } from "../../src/backend/docker/entry.js";
import { parseHost } from "../../src/backend/docker/host-url.js";
import { workDirIsContainerDefault } from "../../src/backend/docker/create-options.js";

function frame(stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Split a buffer into pieces of random sizes (1..max). */
function pieces(b: Buffer, max: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; ) {
    const n = 1 + Math.floor(Math.random() * max);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe("docker frame demux", () => {
  it("splits stdout and stderr byte-exact whatever the chunking", async () => {
    const frames = Array.from({ length: 200 }, (_, i) => ({ stream: i % 3 === 0 ? 2 : 1, data: randomBytes(Math.floor(Math.random() * 3000)) }));
    const wire = Buffer.concat(frames.map((f) => frame(f.stream, f.data)));
    for (const max of [1, 7, 8, 9, 4096, 100_000]) {
      const got: Record<number, Buffer[]> = { 1: [], 2: [] };
      let ended = false;
      const d = new FrameDemux(
        (s, p) => void got[s]!.push(Buffer.from(p)),
        () => (ended = true),
      );
      for (const p of pieces(wire, max)) d.write(p);
      await new Promise<void>((r) => d.end(r));
      expect(ended).toBe(true);
      expect(Buffer.concat(got[1]!).equals(Buffer.concat(frames.filter((f) => f.stream === 1).map((f) => f.data)))).toBe(true);
      expect(Buffer.concat(got[2]!).equals(Buffer.concat(frames.filter((f) => f.stream === 2).map((f) => f.data)))).toBe(true);
    }
  });

  it("stops taking input while the reader is full (backpressure) and loses nothing", async () => {
    const pipe = new OutputPipe();
    const d = new FrameDemux(
      (_s, p) => pipe.write(p),
      () => pipe.end(),
    );
    const data = randomBytes(1024 * 1024);
    const wire = frame(1, data);
    let accepted = 0;
    // Write until the demux says stop; nobody reads the pipe yet.
    for (const p of pieces(wire, 16 * 1024)) {
      accepted += p.length;
      if (!d.write(p)) break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(pipe.readableLength).toBeLessThan(512 * 1024); // bounded, not the whole megabyte
    const rest = wire.subarray(accepted);
    const out: Buffer[] = [];
    pipe.on("data", (c: Buffer) => out.push(c));
    const done = new Promise((r) => pipe.on("end", r));
    d.end(rest);
    await done;
    expect(Buffer.concat(out).equals(data)).toBe(true);
  });
});

describe("marker scanner", () => {
  it("finds a marker split anywhere and passes the body byte-exact", () => {
    const marker = Buffer.from("MX0123456789abcdef:");
    for (let trial = 0; trial < 200; trial++) {
      // Bodies full of marker prefixes ("MX0", "MX0123") to tempt false matches (random bytes
      // without ":", which would complete a prefix into the marker itself).
      const noise = () => Buffer.from(randomBytes(5).map((b) => (b === 0x3a ? 0x3b : b)));
      const body = Buffer.concat(Array.from({ length: 20 }, () => (Math.random() < 0.5 ? marker.subarray(0, Math.floor(Math.random() * marker.length)) : noise())));
      const tail = Buffer.from("0:1\nrest");
      const scan = new MarkerScanner(marker);
      const seen: Buffer[] = [];
      let rest: Buffer | undefined;
      for (const p of pieces(Buffer.concat([body, marker, tail]), 6)) {
        if (rest !== undefined) {
          rest = Buffer.concat([rest, p]);
          continue;
        }
        const r = scan.push(p);
        seen.push(r.body);
        if (r.rest !== undefined) rest = r.rest;
      }
      expect(Buffer.concat(seen).equals(body)).toBe(true);
      expect(rest?.toString()).toBe("0:1\nrest");
    }
  });
});

describe("agent shell code", () => {
  it("shQuote survives sh for quotes, newlines, $, backslashes and UTF-8", () => {
    const words = ["plain", "a b", "it's", "'", "''", "line1\nline2", "\n", "$HOME", "`id`", "\\", "\\n", "한글", "-n", "", "*", "a\"b"];
    const script = `nl='\n'; for w in ${words.map(shQuote).join(" ")}; do printf '[%s]' "$w"; done`;
    expect(script.split("\n").length).toBe(2); // only the one in nl='...' itself
    const out = execFileSync("sh", ["-c", script], { encoding: "utf8" });
    expect(out).toBe(words.map((w) => `[${w}]`).join(""));
  });

  it("commandCode is one line and sets env, cwd and odd variable names", () => {
    const code = commandCode(["printf", "%s|", "x\ny"], { A: "1\n2", "B-C": "3" }, "/tmp/dir x");
    expect(code).not.toContain("\n");
    expect(code).toContain("cd '/tmp/dir x'");
    expect(code).toContain(`export A='1'"$nl"'2'`);
    expect(code).toContain(`r env 'B-C=3' 'printf'`);
  });
});

describe("agent script on the shells images ship", () => {
  const shells: Array<[string, string[]]> = [
    ["dash", ["-c"]],
    ["bash", ["-c"]],
    ["busybox", ["sh", "-c"]],
  ];
  for (const [shell, args] of shells) {
    const present = spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;
    it.skipIf(!present)(`runs commands, reports headers and trailers under ${shell}`, async () => {
      const p = spawn(shell, [...args, AGENT_SCRIPT], { stdio: ["pipe", "pipe", "pipe"], env: { PATH: process.env.PATH, HOME: tmpdir() } });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.stdin.write("KEY\n");
      p.stdin.write(`KEY n1 ${commandCode(["printf", "%s|", "a b", "x\ny"], { V: "1" }, "/tmp")}\n`);
      p.stdin.write(`KEY n2 ${commandCode(["sh", "-c", "echo $V; echo e >&2; exit 3"], { V: "v'q" }, undefined)}\n`);
      p.stdin.write(`KEY n3 ${commandCode(["no-such-command"], {}, undefined)}\n`);
      p.stdin.write(`KEY n4 ${commandCode(["pwd"], {}, "/no/such/dir")}\n`);
      p.stdin.write(`KEY n5 ${commandCode(["sh", "-c", "sleep 2 >/dev/null 2>&1 & echo bg"], {}, undefined)}\n`);
      p.stdin.write("echo not-a-command-line\n");
      p.stdin.write(`KEY n6 ${commandCode(["echo", "never"], {}, undefined)}\n`);
      await new Promise((r) => p.on("close", r));
      // Exit status and CLEAN (nothing left of the process group) after each command's output;
      // the agent stops at the line without its key.
      expect(out).toBe("a b|x\ny|MXn1:0:1\nv'q\nMXn2:3:1\nMXn3:127:1\nMXn4:127:1\nbg\nMXn5:0:0\n");
      expect(err.replace(/mx:pid:\d+:g/g, "PID")).toBe("PID\nmx:go\nMXn1\nPID\nmx:go\ne\nMXn2\nPID\nmx:nocmd\nMXn3\nPID\nmx:nodir\nMXn4\nPID\nmx:go\nMXn5\n");
    });
  }
});

describe("exec.docker entry checks", () => {
  it("parses volume specs", () => {
    expect(parseVolume("/host:/c")).toEqual({ source: "/host", target: "/c", readOnly: false });
    expect(parseVolume("named:/c:ro")).toEqual({ source: "named", target: "/c", readOnly: true });
    expect(parseVolume("/host:/c:rw")).toEqual({ source: "/host", target: "/c", readOnly: false });
    for (const bad of ["/host", "/a:/b:/c:ro", "rel/x:/c", "/a:c", "/a:/", "/a:/b:rx", ":/b"]) expect(typeof parseVolume(bad), bad).toBe("string");
  });

  it("parses host URLs", () => {
    expect(parseHost("unix:///var/run/docker.sock")).toMatchObject({ options: { socketPath: "/var/run/docker.sock" } });
    expect(parseHost("tcp://127.0.0.1:2375")).toMatchObject({ options: { host: "127.0.0.1", port: 2375, protocol: "http" } });
    expect(parseHost("tcp://[::1]:2375")).toMatchObject({ options: { host: "::1", port: 2375 } });
    expect(parseHost("ssh://root@127.0.0.2")).toMatchObject({ kind: "ssh", host: "127.0.0.2", port: 22, user: "root" });
    expect(parseHost("ssh://h:2222")).toMatchObject({ kind: "ssh", host: "h", port: 2222, user: undefined });
    for (const bad of ["/var/run/docker.sock", "unix://relative", "tcp://host", "ssh:///nohost", "ssh://u:pw@h", "ssh://h/path", "tcp://h:1/path", "tcp://u@h:1"]) expect(typeof parseHost(bad), bad).toBe("string");
  });

  it("a default_work_dir that is a mount point is not the container's WorkingDir", () => {
    const base = { id: "t:b", name: "b", kind: "exec.docker", image: "i", default_env: {}, where: "w" };
    expect(workDirIsContainerDefault({ ...base, default_work_dir: "/work" })).toBe(true);
    expect(workDirIsContainerDefault({ ...base, default_work_dir: "/scratch", tmpfs: { "/scratch/": "size=1m" } })).toBe(false);
    expect(workDirIsContainerDefault({ ...base, default_work_dir: "/data", volumes: ["/h:/data:ro"] })).toBe(false);
    expect(workDirIsContainerDefault({ ...base })).toBe(false);
  });
});
