/**
 * Every client call has a deadline: a daemon that accepts connections and never answers
 * (or goes silent after exec.get) gives TIMEOUT naming what did not answer, within about
 * request_timeout — never a hang. Loopback and local sockets only.
 */
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend } from "../helpers/backends.js";
import { dockerBackend, TEST_IMAGE } from "../helpers/docker.js";
import { incusEnv, incusUnix } from "../helpers/incus.js";
import { FaultProxy } from "./proxy.js";

/** A server that accepts and then says nothing. */
function mute(): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  return { server, sockets };
}

async function run(entry: Record<string, unknown>, script: string, modules = {}): Promise<{ values: unknown[]; ms: number }> {
  const host = await Host.create({ config: { namespace: "faults", entries: [{ name: "box", ...entry }] }, modules, timeLimit: 35 });
  const t0 = Date.now();
  try {
    return { values: await host.runString(script), ms: Date.now() - t0 };
  } finally {
    await host.dispose();
  }
}

const GET = `local ex, err = require("exec").get("faults:box"); return err and err.kind, err and err.message`;

describe("a daemon that accepts and never answers", () => {
  const m = mute();
  let path: string;
  let port: number;
  const tcp = mute();
  beforeAll(async () => {
    path = join(mkdtempSync(join(tmpdir(), "mx-mute-")), "mute.sock");
    await new Promise<void>((r) => m.server.listen(path, r));
    await new Promise<void>((r) => tcp.server.listen(0, "127.0.0.1", r));
    port = (tcp.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const s of [...m.sockets, ...tcp.sockets]) s.destroy();
    await Promise.all([new Promise((r) => m.server.close(r)), new Promise((r) => tcp.server.close(r))]);
    rmSync(dirname(path), { recursive: true, force: true });
  });

  it("incus over a unix socket: exec.get is TIMEOUT naming the request", async () => {
    const { values, ms } = await run({ kind: "exec.incus", instance: "x", remote: `unix:${path}`, request_timeout: 1 }, GET);
    expect(values[0], String(values[1])).toBe("TIMEOUT");
    expect(values[1]).toMatch(/incus at unix socket .*mute\.sock: no answer to GET \/1\.0\/instances\/x within 1 s/);
    expect(ms).toBeLessThan(5000);
  });

  it("incus over https: the TLS handshake is TIMEOUT", async () => {
    const { values, ms } = await run(
      {
        kind: "exec.incus",
        instance: "x",
        remote: `https://127.0.0.1:${port}`,
        client_cert: incusEnv.clientCert,
        client_key: incusEnv.clientKey,
        server_fingerprint: "ab".repeat(32),
        request_timeout: 1,
      },
      GET,
    );
    expect(values[0], String(values[1])).toBe("TIMEOUT");
    expect(values[1]).toMatch(/no answer to the TLS handshake within 1 s/);
    expect(ms).toBeLessThan(5000);
  });

  it("docker over a unix socket: exec.get is TIMEOUT naming the request, not 'unreachable (ECONNRESET)'", async () => {
    const { values, ms } = await run({ kind: "exec.docker", image: TEST_IMAGE, host: `unix://${path}`, request_timeout: 1 }, GET);
    expect(values[0], String(values[1])).toBe("TIMEOUT");
    expect(values[1]).toMatch(/docker at unix:\/\/.*mute\.sock: no answer to GET \/images\/.* within 1 s/);
    expect(ms).toBeLessThan(5000);
  });
});

/** exec.get through the proxy, silence it, then start a command: TIMEOUT, then fine once restored. */
const SILENT_START = `
local exec, fault = require("exec"), require("fault")
local ex = assert(exec.get("faults:box"))
fault.silence()
local p = assert(ex:exec({"echo", "hi"}))
local ok, err = p:start()
fault.restore()
local q = assert(ex:exec({"echo", "back"}))
assert(q:start())
local back = q:stdout_stream():read_all()
ex:release()
return err and err.kind, err and err.message, back
`;

for (const [backend, upstream, entry] of [
  [incusUnix, incusEnv.socket, (a: string) => ({ kind: "exec.incus", instance: incusEnv.instance, remote: `unix:${a}`, request_timeout: 1 })],
  [dockerBackend, "/var/run/docker.sock", (a: string) => ({ kind: "exec.docker", image: TEST_IMAGE, host: `unix://${a}`, request_timeout: 1 })],
] as const) {
  describeBackend(backend, () => {
    it("a daemon silent after exec.get: start() is TIMEOUT, and the next command works once it answers", async () => {
      const proxy = new FaultProxy({ path: upstream }, "unix");
      try {
        const { values, ms } = await run(entry(await proxy.address), SILENT_START, { fault: { silence: () => proxy.silence(), restore: () => proxy.restore() } });
        expect(values[0], String(values[1])).toBe("TIMEOUT");
        expect(values[1]).toMatch(/no answer to (POST|GET) \S+ within \d s/);
        expect(values[2]).toBe("back\n");
        expect(ms).toBeLessThan(30_000);
      } finally {
        await proxy.close();
      }
    }, 40_000);
  });
}

describeBackend(incusUnix, () => {
  it("a quiet command that outlasts several operation-wait rounds and heartbeats ends normally", async () => {
    const { values } = await run(
      { kind: "exec.incus", instance: incusEnv.instance, remote: `unix:${incusEnv.socket}`, request_timeout: 1 },
      `local ex = assert(require("exec").get("faults:box"))
      local p = assert(ex:exec({"sh", "-c", "sleep 3.5; echo done"}))
      assert(p:start())
      local out, rerr = p:stdout_stream():read_all()
      local code, err = p:wait()
      ex:release()
      return out, code, tostring(rerr), tostring(err)`,
    );
    expect(values).toEqual(["done\n", 0, "nil", "nil"]);
  }, 40_000);
});
