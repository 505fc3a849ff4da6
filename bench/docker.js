// Docker: sequential execs and stdout throughput against the docker CLI and raw dockerode.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { Host } from "../dist/index.js";
import { compare, record, run, skip } from "./lib.js";

const IMAGE = "moonexec-test:busybox";
const EXECS = 100;
const BYTES = 256 * 1024 ** 2;

async function available() {
  try {
    await run("docker", ["image", "inspect", IMAGE]);
    return undefined;
  } catch {
    return `docker daemon or image ${IMAGE} missing (run scripts/docker-setup.sh)`;
  }
}

export async function benchDocker() {
  const why = await available();
  if (why) return skip("docker", why);
  const name = `moonexec-bench-${process.pid}`;
  await run("docker", ["run", "-d", "--rm", "--name", name, "--label", "moonexec=1", IMAGE, "sleep", "3600"]);
  const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "box", kind: "exec.docker", image: IMAGE }] } });
  const Docker = createRequire(import.meta.url)("dockerode");
  const docker = new Docker();
  const container = docker.getContainer(name);
  try {
    const execLoop = `local ex = require("exec").get("bench:box")
      for i = 1, ${EXECS} do local p = ex:exec({"echo", "x"}); p:start(); p:stdout_stream():read_all(); p:wait() end
      ex:release()`;
    const cli = async () => {
      for (let i = 0; i < EXECS; i++) await run("docker", ["exec", name, "echo", "x"]);
    };
    const dockerode = async () => {
      for (let i = 0; i < EXECS; i++) {
        const exec = await container.exec({ Cmd: ["echo", "x"], AttachStdout: true, AttachStderr: true });
        const stream = await exec.start({});
        await new Promise((resolve) => {
          stream.on("end", resolve);
          stream.resume();
        });
        await exec.inspect();
      }
    };
    const t = await compare({ lua: () => host.runString(execLoop), cli, dockerode }, 3);
    record(`docker: ${EXECS} × exec echo x`, t.lua, t.cli, "docker exec CLI", 0.5);
    record(`docker: ${EXECS} × exec echo x`, t.lua, t.dockerode, "raw dockerode loop");

    const readLoop = `local ex = require("exec").get("bench:box")
      local p = ex:exec({"dd", "if=/dev/zero", "bs=1048576", "count=${BYTES / 1024 ** 2}"}); p:start()
      local s, n = p:stdout_stream(), 0
      while true do local c = s:read() if not c then break end n = n + #c end
      assert(p:wait() == 0 and n == ${BYTES}, n); ex:release()`;
    const cliRead = () =>
      new Promise((resolve, reject) => {
        const c = spawn("sh", ["-c", `docker exec ${name} dd if=/dev/zero bs=1048576 count=${BYTES / 1024 ** 2} 2>/dev/null | wc -c`], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        c.stdout.on("data", (d) => (out += d));
        c.on("close", () => (Number(out) === BYTES ? resolve() : reject(new Error(`docker exec | wc -c gave ${out}`))));
      });
    const r = await compare({ lua: () => host.runString(readLoop), cli: cliRead }, 3);
    const mbps = (ms) => BYTES / 1e6 / (ms / 1000);
    record("docker: 256 MiB stdout via read()", mbps(r.lua), mbps(r.cli), "docker exec | wc -c", 1.0, { unit: "MB/s", higherIsBetter: true });
  } finally {
    await host.dispose();
    await run("docker", ["rm", "-f", name]).catch(() => {});
  }
}
