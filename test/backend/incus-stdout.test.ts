/**
 * Incus output over the unix socket is read into a ring of reused buffers
 * (src/backend/incus/ring-reads.ts). Every byte must still arrive as sent, whatever the script
 * does: small and large reads, lines, read_all, a slow reader, reading stderr first while
 * stdout floods (every slot held), a decoder, a background process read through attach(),
 * closing midway; with and without warm sessions (whose wrapper filters stdout). Random data,
 * pushed into the instance, compared chunk by chunk in Lua. Against the real daemon.
 */
import { randomInt } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { describeBackend } from "../helpers/backends.js";
import { incusEnv, incusUnix } from "../helpers/incus.js";
import { CHECK, data, lines, SIZE, text, wantModule } from "../helpers/stream-check.js";

const file = `/tmp/mx-ring-${randomInt(1e9)}.bin`;
const textFile = `${file}.txt`;
/** A script with executor `ex` (warm sessions, the default) and `cold` (none), both released at the end. */
const script = (body: string) => `${CHECK}
  local exec = require("exec")
  local ex, cold = assert(exec.get("t:box")), assert(exec.get("t:cold"))
  local result = table.pack((function() ${body} end)())
  ex:release(); cold:release()
  return table.unpack(result, 1, result.n)`;

describeBackend(incusUnix, () => {
  let host: Host;

  beforeAll(async () => {
    host = await Host.create({
      config: {
        namespace: "t",
        entries: [
          { name: "box", kind: "exec.incus", instance: incusEnv.instance },
          { name: "cold", kind: "exec.incus", instance: incusEnv.instance, warm_sessions: 0 },
        ],
      },
      modules: { want: { ...wantModule, all: () => data, text: () => text } },
    });
    await host.runString(`local ex = require("exec").get("t:box"); local want = require("want")
      assert(ex:push_file(want.all(), "${file}")); assert(ex:push_file(want.text(), "${textFile}")); ex:release()`);
  });

  afterAll(async () => {
    await host?.runString(`local ex = require("exec").get("t:box"); local p = ex:exec({"rm", "-f", "${file}", "${textFile}"}); p:start(); p:wait(); ex:release()`);
    await host?.dispose();
  });

  it("read() with the default and odd sizes delivers every byte in order, through the ring", async () => {
    for (const size of ["", "1000", "65537", "300000"]) { // "": the default
      for (const ex of ["ex", "cold"]) {
        const n = await host.runString(script(`
          local p = ${ex}:exec({"cat", "${file}"}); p:start()
          local pos = check_reads(p:stdout_stream(), ${size || "nil"})
          assert(p:wait() == 0)
          return pos`));
        expect(n, `${ex} read(${size})`).toEqual([SIZE]);
      }
    }
  });

  it("reading stderr to the end first, while stdout floods (every slot held), loses nothing of stdout", async () => {
    const n = await host.runString(script(`
      local p = ex:exec({"sh", "-c", "cat ${file}; echo done >&2"}); p:start()
      assert(p:stderr_stream():read_all() == "done\\n")
      local pos = check_reads(p:stdout_stream())
      assert(p:wait() == 0)
      return pos`));
    expect(n).toEqual([SIZE]);
  });

  it("a slow reader still gets every byte", async () => {
    const n = await host.runString(script(`
      local p = cold:exec({"cat", "${file}"}); p:start()
      local pos = check_slowly(p:stdout_stream())
      assert(p:wait() == 0)
      return pos`));
    expect(n).toEqual([SIZE]);
  });

  it("read_all and read_line get the exact content; so does a decoder", async () => {
    const r = await host.runString(script(`
      local all, i = all_then_lines(ex, "${file}", "${textFile}")
      local d = cold:exec({"cat", "${textFile}"}, {encoding = "cp949"}); d:start()
      local j = check_lines(d:stdout_stream())
      assert(d:wait() == 0)
      return all, i, j`));
    expect(r).toEqual([SIZE, lines.length, lines.length]);
  });

  it("a background process read through attach() gets every byte", async () => {
    const n = await host.runString(script(`
      local p = ex:exec({"cat", "${file}"}, {background = true, tag = "bg", ring_size = 16777216}); p:start()
      return check_reads(ex:attach("bg"):stdout_stream())`));
    expect(n).toEqual([SIZE]);
  });

  it("closing the stream midway neither hangs the command nor spoils the next one", async () => {
    const n = await host.runString(script(`return close_then_read(ex, "${file}")`));
    expect(n).toEqual([SIZE]);
  });
});
