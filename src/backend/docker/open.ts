/** Opening and probing Docker executors (loaded on first use: dockerode is heavy to import). */
import type Dockerode from "dockerode";
import { ExecError } from "../../errors.js";
import type { ExecutorBackend, ProbeResult } from "../contract.js";
import { connect, type Transport } from "./client.js";
import { entryHost, parseHost, type DockerHost } from "./host-url.js";
import { sshEntryOf, type DockerEntry } from "./entry.js";
import { readTls } from "./tls.js";
import { SshDockerTransport } from "./ssh-transport.js";
import { settingsOf } from "../ssh/connect.js";
import { ExecutorContainer, imageMissing, SLOW_CALLS } from "./container.js";
import { daemonMessage, dockerError, statusOf } from "./errors.js";
import { startDocker } from "./docker-command.js";
import { requestTimeoutMs, withDeadline } from "../request-timeout.js";

function hostOf(entry: DockerEntry): DockerHost {
  const host = parseHost(entryHost(entry.host));
  if (typeof host === "string") throw new ExecError("INVALID", `${entry.where}: field 'host' ${host}`);
  return host;
}

/** TLS files read and checked, or the SSH login made: errors name the field before any request. */
async function transportOf(entry: DockerEntry, host: DockerHost): Promise<Transport> {
  if (host.kind === "tcp") return { tls: readTls(entry) };
  if (host.kind !== "ssh") return {};
  const ssh = new SshDockerTransport(settingsOf(sshEntryOf(entry, host)), entry.remote_socket);
  try {
    await ssh.warm();
  } catch (e) {
    ssh.close();
    throw e;
  }
  return { ssh };
}

/** The image must be there; with `pull: true` it is pulled when missing. */
async function ensureImage(docker: Dockerode, entry: DockerEntry, host: DockerHost): Promise<void> {
  try {
    await withDeadline(requestTimeoutMs(entry), `docker at ${host.url}`, `GET /images/${entry.image}/json`, (abortSignal) => docker.getImage(entry.image).inspect({ abortSignal } as object));
    return;
  } catch (e) {
    if (statusOf(e) !== 404) throw dockerError(e, host.url, `looking up image ${entry.image}`);
  }
  if (!entry.pull) throw imageMissing(entry, host.url);
  await pull(docker, entry, host);
}

async function pull(docker: Dockerode, entry: DockerEntry, host: DockerHost): Promise<void> {
  try {
    const stream = await docker.pull(entry.image);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        const failed = events?.find((ev) => ev.error);
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      });
    });
  } catch (e) {
    const base = dockerError(e, host.url, `pulling image ${entry.image} (pull: true)`);
    throw new ExecError(base.kind === "INTERNAL" ? "UNAVAILABLE" : base.kind, base.message);
  }
}

export async function openDocker(entry: DockerEntry): Promise<ExecutorBackend> {
  const host = hostOf(entry);
  const transport = await transportOf(entry, host);
  try {
    const docker = connect(host, requestTimeoutMs(entry) * SLOW_CALLS, transport);
    await ensureImage(docker, entry, host);
    const container = new ExecutorContainer(docker, entry, host.url, requestTimeoutMs(entry));
    return {
      terminals: true,
      spawn: (spec) => startDocker(container, entry, spec),
      release: () => container.release().finally(() => transport.ssh?.close()),
    };
  } catch (e) {
    transport.ssh?.close();
    throw e;
  }
}

export async function probeDocker(entry: DockerEntry): Promise<ProbeResult> {
  const host = hostOf(entry);
  let transport: Transport;
  try {
    transport = await transportOf(entry, host);
  } catch (e) {
    return { ok: false, lines: [e instanceof ExecError ? e.message : String(e)] };
  }
  try {
    return await probeWith(entry, host, transport);
  } finally {
    transport.ssh?.close();
  }
}

async function probeWith(entry: DockerEntry, host: DockerHost, transport: Transport): Promise<ProbeResult> {
  const docker = connect(host, requestTimeoutMs(entry) * SLOW_CALLS, transport);
  const lines: string[] = [];
  const deadline = <T>(what: string, call: (signal: AbortSignal) => Promise<T>) => withDeadline(requestTimeoutMs(entry), `docker at ${host.url}`, what, call);
  try {
    const v = await deadline("GET /version", (abortSignal) => (docker.version as (o: object) => Promise<Dockerode.DockerVersion>).call(docker, { abortSignal }));
    const via = transport.tls ? ` over TLS (${transport.tls.source})` : transport.ssh ? ` over ssh (${entry.remote_socket ? `forwarded to ${entry.remote_socket}` : "docker system dial-stdio"}), host key verified` : "";
    lines.push(`docker daemon at ${host.url} reachable${via} (server ${v.Version}, API ${v.ApiVersion})`);
  } catch (e) {
    return { ok: false, lines: [dockerError(e, host.url, "connecting").message] };
  }
  try {
    await deadline(`GET /images/${entry.image}/json`, (abortSignal) => docker.getImage(entry.image).inspect({ abortSignal } as object));
    lines.push(`image ${entry.image} present`);
  } catch (e) {
    if (statusOf(e) === 404) {
      lines.push(entry.pull ? `image ${entry.image} missing (will be pulled: pull: true)` : `image ${entry.image} missing: run \`docker pull ${entry.image}\` or set pull: true`);
      return { ok: !!entry.pull, lines };
    }
    lines.push(`image ${entry.image}: ${daemonMessage(e)}`);
    return { ok: false, lines };
  }
  return { ok: true, lines };
}
