/**
 * Transport faults between moonexec and the daemons, through a proxy the test cuts or
 * silences mid-stream (test/faults/proxy.ts): a big read in Lua must end with `nil, err`
 * of the right kind after the bytes that came (never a short read that looks like EOF),
 * wait() must fail too, nothing may hang, and the same executor must work again once the
 * proxy forwards again. Loopback and local sockets only.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend, type BackendUnderTest } from "../helpers/backends.js";
import { dockerUnavailable, TEST_IMAGE } from "../helpers/docker.js";
import { incusEnv, incusHttps, incusUnix } from "../helpers/incus.js";
import { FaultProxy, type Upstream } from "./proxy.js";

/** request_timeout of the executors under test (seconds): small, so silence is found fast (a container start takes a second). */
const DOCKER_RT = 3;
const INCUS_RT = 2;
const MB = 1024 * 1024;

interface Target {
  backend: BackendUnderTest;
  upstream: Upstream;
  listen: "unix" | "tcp";
  /** The config entry pointing at the proxy's address. */
  entry(address: string): Record<string, unknown>;
}

const targets: Target[] = [
  {
    backend: { name: "docker (unix socket)", entryYaml: "", unavailable: dockerUnavailable },
    upstream: { path: "/var/run/docker.sock" },
    listen: "unix",
    entry: (a) => ({ kind: "exec.docker", image: TEST_IMAGE, host: `unix://${a}`, request_timeout: DOCKER_RT }),
  },
  {
    backend: { ...incusUnix, name: "incus (unix socket)" },
    upstream: { path: incusEnv.socket },
    listen: "unix",
    entry: (a) => ({ kind: "exec.incus", instance: incusEnv.instance, remote: `unix:${a}`, request_timeout: INCUS_RT }),
  },
  {
    backend: { ...incusHttps, name: "incus (https)" },
    upstream: { host: new URL(incusEnv.https).hostname, port: Number(new URL(incusEnv.https).port || 8443) },
    listen: "tcp",
    entry: (a) => ({
      kind: "exec.incus",
      instance: incusEnv.instance,
      remote: `https://127.0.0.1:${a}`,
      client_cert: incusEnv.clientCert,
      client_key: incusEnv.clientKey,
      server_fingerprint: incusEnv.serverFingerprint,
      request_timeout: INCUS_RT,
    }),
  },
];

/**
 * Reads up to 1000 MB in Lua; after `at` bytes it calls fault.now() (the test's fault), reads on
 * until nil, then waits, restores the proxy and runs one more command on the same executor.
 */
const SCRIPT = `
local exec, fault = require("exec"), require("fault")
local ex = assert(exec.get("faults:box"))
local p = assert(ex:exec({"dd", "if=/dev/zero", "bs=1048576", "count=1000"}))
assert(p:start())
local s, got, faulted = p:stdout_stream(), 0, false
local last, rerr
while true do
  local c, err = s:read()
  if c == nil then last, rerr = c, err break end
  got = got + #c
  if not faulted and got >= ${8 * MB} then faulted = true fault.now() end
end
local _, again = s:read()
local code, werr = p:wait()
local all, aerr = p:stderr_stream():read_all()
fault.restore()
local q = assert(ex:exec({"echo", "back"}))
local ok, serr = q:start()
local back = ok and q:stdout_stream():read_all() or tostring(serr)
ex:release()
return got, rerr and rerr.kind, rerr and rerr.message, again ~= nil and again.kind == rerr.kind, code, werr and werr.kind, aerr and aerr.kind, back
`;

for (const t of targets) {
  describeBackend(t.backend, () => {
    let proxy: FaultProxy;
    let address: string;
    beforeAll(async () => {
      proxy = new FaultProxy(t.upstream, t.listen);
      address = await proxy.address;
    });
    afterAll(() => proxy.close());

    const run = async (fault: () => void) => {
      const host = await Host.create({
        config: { namespace: "faults", entries: [{ name: "box", ...t.entry(address) }] },
        modules: { fault: { now: fault, restore: () => proxy.restore() } },
        timeLimit: 35,
      });
      const started = Date.now();
      try {
        const [got, kind, message, again, code, waitKind, stderrKind, back] = await host.runString(SCRIPT);
        return { got: got as number, kind, message: String(message), again, code, waitKind, stderrKind, back, ms: Date.now() - started };
      } finally {
        await host.dispose();
      }
    };

    it("a cut connection mid-read: nil, UNAVAILABLE after the bytes that came; wait() fails; the executor works again", async () => {
      const r = await run(() => proxy.cut());
      expect(r.got).toBeGreaterThanOrEqual(8 * MB);
      expect(r.got).toBeLessThan(1000 * MB);
      expect(r.kind, r.message).toBe("UNAVAILABLE");
      expect(r.message).toMatch(/lost|closed|reset/i);
      expect(r.again).toBe(true); // the error again, not an EOF after it
      expect(r.code).toBeUndefined();
      expect(r.waitKind).toBe("UNAVAILABLE");
      expect(r.stderrKind).toBe("UNAVAILABLE");
      expect(r.back, String(r.back)).toBe("back\n");
    }, 40_000);

    it("a daemon gone silent mid-read: nil, TIMEOUT within a few request_timeouts; wait() fails; the executor works again", async () => {
      const r = await run(() => proxy.silence());
      expect(r.got).toBeGreaterThanOrEqual(8 * MB);
      expect(r.got).toBeLessThan(1000 * MB);
      expect(r.kind, r.message).toBe("TIMEOUT");
      expect(r.message).toMatch(/no answer to .* within \d+ s/);
      expect(r.waitKind).toBe("TIMEOUT");
      expect(r.code).toBeUndefined();
      expect(r.back, String(r.back)).toBe("back\n");
      expect(r.ms).toBeLessThan(30_000);
    }, 40_000);
  });
}
