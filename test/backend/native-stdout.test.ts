/**
 * After a command with bulk output, a native command's stdout is read into buffers that are
 * reused once the script is done with them (src/backend/native/recycling-reader.ts, routed by
 * stdout-route.ts; each test first runs such a command). Every byte must still arrive as sent,
 * whatever the script does: small and large reads, lines, read_all, a slow reader whose
 * buffers are all held, reading stderr first while stdout floods, a decoder, a background
 * process read through attach(). Random data, compared chunk by chunk against the file.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { runLua, tempDir } from "../helpers/cli.js";
import { CHECK, data, lines, SIZE, text, wantModule } from "../helpers/stream-check.js";

let host: Host;
let file: string;
let textFile: string;

beforeAll(async () => {
  const dir = tempDir();
  file = join(dir, "random.bin");
  textFile = join(dir, "lines.txt");
  writeFileSync(file, data);
  writeFileSync(textFile, text);
  host = await Host.create({
    config: { namespace: "t", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } }] },
    modules: { want: wantModule },
  });
});

afterAll(() => host?.dispose());

/**
 * How a native command's stdout goes now, seen from inside it: "socket pair" when its stdout
 * is a connection to the host's listening socket (named /tmp/moonexec-*), else "pipe".
 * `bulk`: the probe then writes 5 MB, so the command after it is routed as it would have been.
 */
async function stdoutRoute(bulk: boolean): Promise<string> {
  const probe = `ino=$(readlink /proc/$$/fd/1 | tr -dc 0-9); grep -w "$ino" /proc/net/unix | grep -q /moonexec- && echo pair >&2; head -c ${bulk ? 5000000 : 0} /dev/zero`;
  const [pair] = await host.runString(`local sh = require("exec").get("t:sh")
    local p = sh:exec({"sh", "-c", [[${probe}]]}); p:start()
    p:stdout_stream():read_all(); local err = p:stderr_stream():read_all(); assert(p:wait() == 0); sh:release()
    return err == "pair\\n"`);
  return pair ? "socket pair" : "pipe";
}

// A command with bulk output first: the commands after it get socket pairs.
beforeEach(async () => {
  await host.runString(`local sh = require("exec").get("t:sh")
    local p = sh:exec({"head", "-c", "5000000", "/dev/zero"}); p:start()
    assert(#p:stdout_stream():read_all() == 5000000); p:wait(); sh:release()`);
  expect(await stdoutRoute(true)).toBe("socket pair");
});

describe("native stdout through reused buffers", () => {
  it("read() with the default and odd sizes delivers every byte in order", async () => {
    for (const size of ["", "1000", "65537", "300000"]) { // "": the default
      const n = await host.runString(`${CHECK}
        local sh = require("exec").get("t:sh")
        local p = sh:exec({"cat", "${file}"}); p:start()
        local pos = check_reads(p:stdout_stream(), ${size || "nil"})
        assert(p:wait() == 0); sh:release()
        return pos`);
      expect(n, `read(${size})`).toEqual([SIZE]);
    }
  });

  it("a slow reader (every buffer held, reads go to fresh ones) still gets every byte", async () => {
    const n = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local p = sh:exec({"cat", "${file}"}); p:start()
      local pos = check_slowly(p:stdout_stream())
      assert(p:wait() == 0); sh:release()
      return pos`);
    expect(n).toEqual([SIZE]);
  });

  it("reading stderr to the end first, while stdout floods, loses nothing of stdout", async () => {
    const n = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local p = sh:exec({"sh", "-c", "cat ${file}; echo done >&2"}); p:start()
      assert(p:stderr_stream():read_all() == "done\\n")
      local pos = check_reads(p:stdout_stream())
      assert(p:wait() == 0); sh:release()
      return pos`);
    expect(n).toEqual([SIZE]);
  });

  it("read_all and read_line get the exact content", async () => {
    const r = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local n, i = all_then_lines(sh, "${file}", "${textFile}")
      sh:release()
      return n, i`);
    expect(r).toEqual([SIZE, lines.length]);
  });

  it("a decoder sees the same bytes (encoding = cp949 on ASCII text)", async () => {
    const n = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local p = sh:exec({"cat", "${textFile}"}, {encoding = "cp949"}); p:start()
      local i = check_lines(p:stdout_stream())
      assert(p:wait() == 0); sh:release()
      return i`);
    expect(n).toEqual([lines.length]);
  });

  it("a background process read through attach() gets every byte", async () => {
    const n = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local p = sh:exec({"cat", "${file}"}, {background = true, tag = "bg", ring_size = 16777216}); p:start()
      local pos = check_reads(sh:attach("bg"):stdout_stream())
      sh:release()
      return pos`);
    expect(n).toEqual([SIZE]);
  });

  it("output that a command's own child writes after the command exited keeps the CLI waiting for it", async () => {
    // Only the stdout socket is left open then; it must keep the process alive, as a pipe does.
    const r = await runLua(`local sh = require("exec").get("local:shell")
      local big = sh:exec({"head", "-c", "5000000", "/dev/zero"}); big:start(); big:stdout_stream():read_all(); big:wait()
      local p = sh:exec({"sh", "-c", "(sleep 0.5; echo late) 2>/dev/null </dev/null &"}); p:start()
      io.write(p:stdout_stream():read_all()); print(p:wait())`);
    expect(r.stdout.toString()).toBe("late\n0\n");
  });

  it("closing the stream midway neither hangs the command nor spoils the next one", async () => {
    const n = await host.runString(`${CHECK}
      local sh = require("exec").get("t:sh")
      local pos = close_then_read(sh, "${file}")
      sh:release()
      return pos`);
    expect(n).toEqual([SIZE]);
  });
});

describe("stdout route", () => {
  it("a pipe after a command with little output, a socket pair after one with 4 MiB or more", async () => {
    const run = (bytes: number) =>
      host.runString(`local sh = require("exec").get("t:sh")
        local p = sh:exec({"head", "-c", "${bytes}", "/dev/zero"}); p:start()
        local n = #p:stdout_stream():read_all(); p:wait(); sh:release(); return n`);
    expect(await run(100)).toEqual([100]);
    expect(await stdoutRoute(false)).toBe("pipe");
    expect(await run(4 * 1024 * 1024)).toEqual([4 * 1024 * 1024]);
    expect(await stdoutRoute(true)).toBe("socket pair");
    expect(await run(4 * 1024 * 1024)).toEqual([4 * 1024 * 1024]); // through the pair
    expect(await stdoutRoute(true)).toBe("socket pair");
    expect(await run(10)).toEqual([10]);
    expect(await stdoutRoute(false)).toBe("pipe");
  });
});
