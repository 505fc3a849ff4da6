/** Methods called with '.' instead of ':' give INVALID with a clear message, never a raw prelude error. */
import { expect, it } from "vitest";
import { Host } from "../../src/index.js";

it("s.lines(), p.wait(), ex.exec() and friends called with '.' say INVALID and how to call them", async () => {
  const host = await Host.create({});
  try {
    const [lines, wait, exec, read, start] = await host.runString(`
      local ex = assert(require("exec").get("local:shell"))
      local p = assert(ex:exec({"echo", "x"}))
      local s = assert(p:stdout_stream())
      local ok, lerr = pcall(function() for l in s.lines() do end end)
      local _, werr = p.wait()
      local _, eerr = ex.exec("echo y")
      local _, rerr = s.read(10)
      local _, serr = p.start()
      assert(p:start()); p:wait(); ex:release()
      return tostring(lerr), tostring(werr), tostring(eerr), tostring(rerr), tostring(serr)`);
    expect(lines).toMatch(/INVALID: stream:lines: self is not an exec\.stream \(call it with ':'\)$/);
    expect(wait).toBe("INVALID: proc:wait: self is not an exec.process (call it with ':')");
    expect(exec).toBe("INVALID: executor:exec: self is not an exec.executor (call it with ':')");
    expect(read).toBe("INVALID: stream:read: self is not an exec.stream (call it with ':')");
    expect(start).toBe("INVALID: proc:start: self is not an exec.process (call it with ':')");
  } finally {
    await host.dispose();
  }
});
