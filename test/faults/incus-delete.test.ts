/**
 * Incus: the instance a command runs in is deleted (`incus delete --force`) mid-command. Reads
 * and wait() say GONE, never an EOF or an ordinary exit code; the next command on the same
 * executor and a new exec.get fail with an error (no hang). The instance is the test's own.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend } from "../helpers/backends.js";
import { incusCli, incusEnv, incusUnix } from "../helpers/incus.js";

describeBackend(incusUnix, () => {
  const name = `mx-faults-del-${randomBytes(4).toString("hex")}`;
  beforeAll(async () => {
    await incusCli(["launch", incusEnv.image, name]);
  }, 60_000);
  afterAll(async () => {
    await incusCli(["delete", "--force", name]).catch(() => {});
  }, 60_000);

  it("incus delete --force mid-command: GONE on read and wait; later commands and exec.get fail clearly", async () => {
    const host = await Host.create({
      config: { namespace: "faults", entries: [{ name: "box", kind: "exec.incus", instance: name, remote: `unix:${incusEnv.socket}`, request_timeout: 5 }] },
      modules: { fault: { now: () => incusCli(["delete", "--force", name]) } },
      timeLimit: 40,
    });
    try {
      const [line, kind, message, code, waitKind, nextKind, getKind] = await host.runString(`
local exec, fault = require("exec"), require("fault")
local ex = assert(exec.get("faults:box"))
local p = assert(ex:exec({"sh", "-c", "echo up; sleep 60"}))
assert(p:start())
local s = p:stdout_stream()
assert(s:read_line() == "up")
fault.now()
local line, rerr = s:read_line()
local code, werr = p:wait()
local q = assert(ex:exec({"echo", "back"}))
local ok, qerr = q:start()
if ok then local c, e = q:wait(); qerr = e or {kind = "exit " .. tostring(c)} end
local _, gerr = exec.get("faults:box")
ex:release()
return line, rerr and rerr.kind, rerr and rerr.message, code, werr and werr.kind, qerr and qerr.kind, gerr and gerr.kind
`);
      expect(line).toBeUndefined();
      expect(kind, String(message)).toBe("GONE");
      expect(message, String(message)).toMatch(new RegExp(`'${name}' was (removed|stopped)`));
      expect(code).toBeUndefined();
      expect(waitKind).toBe("GONE");
      expect(["NOT_FOUND", "GONE"]).toContain(nextKind);
      expect(getKind).toBe("NOT_FOUND");
    } finally {
      await host.dispose();
    }
  }, 60_000);
});
