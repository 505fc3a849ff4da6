/**
 * Docker: a command that prints 64 KiB or more at once must still start. Its stdout can
 * reach the client before its start header (which comes on stderr); the output must not
 * stop the socket that the header is behind.
 */
import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { AgentRun } from "../../src/backend/docker/agent-run.js";
import { FrameDemux } from "../../src/backend/docker/demux.js";
import { configFor, describeBackend, EXECUTOR_ID } from "../helpers/backends.js";
import { dockerBackend } from "../helpers/docker.js";
import { runLua } from "../helpers/cli.js";

/** One frame of Docker's multiplexed stream. */
function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

it("parses the start header that comes after 200000 bytes of stdout nobody reads yet", async () => {
  const run = new AgentRun();
  const socket = new PassThrough();
  socket.pipe(new FrameDemux((stream, piece) => (stream === 2 ? run.onStderr(piece) : run.onStdout(piece)), () => {}));
  // The daemon copies stdout and stderr separately: under load the output can come first.
  for (let i = 0; i < 10; i++) socket.write(frame(1, Buffer.alloc(20000, 0x61)));
  socket.write(frame(2, Buffer.from("mx:pid:42:g\nmx:go\n")));
  const started = await Promise.race([run.started, new Promise((r) => setTimeout(() => r("no start header"), 2000))]);
  expect(started).toEqual({ pid: 42, group: true });
  // Nothing was lost while the header was pending: all of it is readable now.
  let got = 0;
  run.stdout.on("data", (c: Buffer) => (got += c.length));
  await new Promise((r) => setTimeout(r, 50));
  expect(got).toBe(200000);
});

describeBackend(dockerBackend, () => {
  it("starts 8 tasks x 10 commands that each print 200000 bytes at once", async () => {
    const r = await runLua(
      `local exec, task = require("exec"), require("task")
      local ex = assert(exec.get("${EXECUTOR_ID}"))
      local ts = {}
      for t = 1, 8 do
        ts[t] = task.spawn(function()
          local total = 0
          for i = 1, 10 do
            local p = assert(ex:exec({"head", "-c", "200000", "/dev/zero"}))
            assert(p:start())
            total = total + #assert(p:stdout_stream():read_all())
            assert(p:wait() == 0)
          end
          return total
        end)
      end
      local sum = 0
      for t = 1, 8 do sum = sum + assert(task.wait(ts[t], 40)) end
      io.write(sum)
      ex:release()`,
      { config: configFor(dockerBackend), cliArgs: ["--time-limit", "45"] },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(String(8 * 10 * 200000));
  }, 60_000);
});
