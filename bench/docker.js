// Docker: sequential execs and stdout throughput against the docker CLI and raw dockerode.
import { createRequire } from "node:module";
import { Host } from "../dist/index.js";
import { compare, execLoopLua, record, run, skip, streamVsCli, oneCommandVsCli, pairedRatio } from "./lib.js";

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
    const execLoop = execLoopLua("bench:box", EXECS);
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
    record(`docker: ${EXECS} × exec echo x`, t.lua, t.cli, "docker exec CLI", 0.5, { ratio: pairedRatio(t, "lua", "cli") });
    record(`docker: ${EXECS} × exec echo x`, t.lua, t.dockerode, "raw dockerode loop", undefined, { ratio: pairedRatio(t, "lua", "dockerode") });

    await streamVsCli(host, "bench:box", "docker", `docker exec ${name}`, BYTES);
    // The executor creates its own container: compare with the CLI doing the same.
    await oneCommandVsCli(host, "bench:box", "docker", ["docker", "run", "--rm", IMAGE, "true"]);
  } finally {
    await host.dispose();
    await run("docker", ["rm", "-f", name]).catch(() => {});
  }
}
