/**
 * The container or instance a command runs in goes away mid-command: reads and wait() must
 * say GONE (not an ordinary 137 or -1), and the executor must work again afterwards. Only
 * containers and instances this test makes itself are killed or stopped.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend } from "../helpers/backends.js";
import { docker, dockerBackend, moonexecContainers, TEST_IMAGE } from "../helpers/docker.js";
import { incusCli, incusEnv, incusUnix } from "../helpers/incus.js";

/** Starts `sh -c 'echo up; sleep 60'`, calls fault.now() once "up" is read, then reads and waits. */
const MID_COMMAND = `
local exec, fault = require("exec"), require("fault")
local ex = assert(exec.get("faults:box"))
local p = assert(ex:exec({"sh", "-c", "echo up; sleep 60"}))
assert(p:start())
local s = p:stdout_stream()
assert(s:read_line() == "up")
fault.now()
local line, rerr = s:read_line()
local code, werr = p:wait()
fault.restore()
local q = assert(ex:exec({"echo", "back"}))
local ok, serr = q:start()
local back = ok and q:stdout_stream():read_all() or tostring(serr)
ex:release()
return line, rerr and rerr.kind, rerr and rerr.message, code, werr and werr.kind, back
`;

async function runHost(entry: Record<string, unknown>, fault: { now: () => unknown; restore: () => unknown }, script: string): Promise<unknown[]> {
  const host = await Host.create({ config: { namespace: "faults", entries: [{ name: "box", ...entry }] }, modules: { fault }, timeLimit: 35 });
  try {
    return await host.runString(script);
  } finally {
    await host.dispose();
  }
}

describeBackend(dockerBackend, () => {
  it("docker kill of the container mid-command: GONE on read and wait, then a new container", async () => {
    const [line, kind, message, code, waitKind, back] = await runHost(
      { kind: "exec.docker", image: TEST_IMAGE },
      {
        now: async () => {
          const [c] = await moonexecContainers("faults:box");
          await docker.getContainer(c!.Id).kill();
        },
        restore: () => {},
      },
      MID_COMMAND,
    );
    expect(line).toBeUndefined();
    expect(kind, String(message)).toBe("GONE");
    expect(message).toMatch(/container was stopped, killed or removed/);
    expect(code).toBeUndefined(); // not an ordinary 137
    expect(waitKind).toBe("GONE");
    expect(back).toBe("back\n");
  }, 40_000);
});

describeBackend(incusUnix, () => {
  const name = `mx-faults-${randomBytes(4).toString("hex")}`;
  const entry = { kind: "exec.incus", instance: name, remote: `unix:${incusEnv.socket}`, request_timeout: 5 };
  beforeAll(async () => {
    await incusCli(["launch", incusEnv.image, name]);
  }, 60_000);
  afterAll(async () => {
    await incusCli(["delete", "--force", name]).catch(() => {});
  }, 60_000);

  it("incus stop --force of the instance mid-command: GONE on read and wait; works again once started", async () => {
    const [line, kind, message, code, waitKind, back] = await runHost(
      entry,
      { now: () => incusCli(["stop", "--force", name]), restore: () => incusCli(["start", name]) },
      MID_COMMAND,
    );
    expect(line).toBeUndefined();
    expect(kind, String(message)).toBe("GONE");
    expect(message, String(message)).toMatch(new RegExp(`instance '${name}' was stopped`));
    expect(code).toBeUndefined(); // not an ordinary 137
    expect(waitKind).toBe("GONE");
    expect(back).toBe("back\n");
  }, 40_000);

  for (const delay of [0, 0.1]) {
    it(`an exec started ${delay} s after a stop begins is an error, never start() ok then a silent -1`, async () => {
      const [startKind, waitCode, waitKind] = await runHost(
        entry,
        { now: () => void incusCli(["stop", "--force", name]).catch(() => {}), restore: () => incusCli(["start", name]) },
        `local exec, fault, task = require("exec"), require("fault"), require("task")
        local ex = assert(exec.get("faults:box"))
        assert(ex:exec({"true"})):start() -- the warm pool fills
        task.sleep(0.5)
        fault.now()
        ${delay > 0 ? `task.sleep(${delay})` : ""}
        local p = assert(ex:exec({"sh", "-c", "sleep 5"}))
        local ok, serr = p:start()
        local code, werr
        if ok then code, werr = p:wait() end
        task.sleep(1)
        fault.restore()
        ex:release()
        return serr and serr.kind, code, werr and werr.kind`,
      );
      if (startKind === undefined) {
        expect(waitCode).toBeUndefined();
        expect(waitKind).toBe("GONE");
      } else {
        expect(["GONE", "STATE", "UNAVAILABLE"]).toContain(startKind);
      }
    }, 40_000);
  }
});
