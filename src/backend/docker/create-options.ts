/** The entry → the container create request (Config + HostConfig). */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import type Dockerode from "dockerode";
import type { DockerEntry } from "./entry.js";
import { parseVolume, type VolumeSpec } from "./entry.js";
import { INIT_SCRIPT } from "./agent-script.js";

export const LABEL = "moonexec";
export const LABEL_EXECUTOR = "moonexec.executor";

/** Docker's CFS period: cpu_quota is per 100000 µs, so 100000 = one CPU. */
export const CPU_PERIOD = 100_000;

export function containerName(entry: DockerEntry): string {
  const base = `moonexec-${entry.id.replace(/[^A-Za-z0-9_.-]/g, "-")}`;
  return `${base}-${randomBytes(4).toString("hex")}`;
}

export function createOptions(entry: DockerEntry): Dockerode.ContainerCreateOptions {
  const host: Dockerode.HostConfig = {
    // Removed by the daemon once the init exits — also when moonexec dies without cleaning up.
    AutoRemove: entry.auto_remove !== false,
  };
  if (entry.network_mode !== undefined) host.NetworkMode = entry.network_mode;
  if (entry.volumes?.length) host.Binds = entry.volumes.map((v) => bind(parseVolume(v) as VolumeSpec));
  if (entry.memory_limit !== undefined) {
    host.Memory = entry.memory_limit;
    host.MemorySwap = entry.memory_limit; // no swap on top: the limit is the limit
  }
  if (entry.cpu_quota !== undefined) {
    host.CpuQuota = entry.cpu_quota;
    host.CpuPeriod = CPU_PERIOD;
  }
  if (entry.read_only_rootfs) host.ReadonlyRootfs = true;
  if (entry.no_new_privileges) host.SecurityOpt = ["no-new-privileges:true"];
  if (entry.cap_drop?.length) host.CapDrop = entry.cap_drop.map(capName);
  if (entry.cap_add?.length) host.CapAdd = entry.cap_add.map(capName);
  if (entry.pids_limit !== undefined) host.PidsLimit = entry.pids_limit;
  if (entry.tmpfs && Object.keys(entry.tmpfs).length) host.Tmpfs = { ...entry.tmpfs };
  const opts: Dockerode.ContainerCreateOptions = {
    name: containerName(entry),
    Image: entry.image,
    // The init: reaps orphans, relays signals, exits when moonexec's connection ends.
    Entrypoint: ["sh", "-c", INIT_SCRIPT],
    Cmd: [],
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Labels: { [LABEL]: "1", [LABEL_EXECUTOR]: entry.id, "moonexec.host-pid": String(process.pid) },
    HostConfig: host,
  };
  if (entry.user !== undefined) opts.User = entry.user;
  if (workDirIsContainerDefault(entry)) opts.WorkingDir = entry.default_work_dir;
  return opts;
}

/**
 * Whether default_work_dir becomes the container's WorkingDir (docker then creates it when
 * the image lacks it). Not when it is a tmpfs or volume mount point: docker would create
 * the directory with mode 755 first and the mount would take that mode over its own
 * (e.g. mode=1777); the mount creates the directory anyway, commands just cd into it.
 */
export function workDirIsContainerDefault(entry: DockerEntry): boolean {
  const dir = entry.default_work_dir;
  if (dir === undefined) return false;
  const norm = posix.normalize(dir).replace(/(.)\/$/, "$1");
  const same = (p: string) => posix.normalize(p).replace(/(.)\/$/, "$1") === norm;
  if (Object.keys(entry.tmpfs ?? {}).some(same)) return false;
  if ((entry.volumes ?? []).some((v) => { const s = parseVolume(v); return typeof s !== "string" && same(s.target); })) return false;
  return true;
}

function bind(v: VolumeSpec): string {
  return `${v.source}:${v.target}${v.readOnly ? ":ro" : ""}`;
}

function capName(c: string): string {
  const up = c.toUpperCase();
  return up === "ALL" || up.startsWith("CAP_") ? up : `CAP_${up}`;
}
