/**
 * executor:push_file / executor:pull_file through /1.0/instances/{name}/files.
 *
 * Incus applies X-Incus-mode/uid/gid only when it creates a file; on an existing file
 * it keeps the old ones. So when mode, uid or gid is asked for and an existing file
 * differs, the file is deleted first and created anew with them. Set-id and sticky bits
 * are dropped by the server.
 */
import { posix } from "node:path";
import { ExecError } from "../../errors.js";
import type { IncusClient, RawResponse } from "./client.js";
import { apiError } from "./errors.js";

export interface PushOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

const MAX_LINKS = 8;

function filesPath(instance: string): string {
  return `/1.0/instances/${encodeURIComponent(instance)}/files`;
}

function checkPath(op: string, path: string): void {
  if (!path.startsWith("/")) throw new ExecError("INVALID", `${op}: remote_path must be an absolute path inside the instance, got "${path}"`);
}

function errorOf(res: RawResponse, client: IncusClient, what: string): ExecError {
  let msg = res.body.toString("utf8");
  try {
    msg = (JSON.parse(msg) as { error?: string }).error ?? msg;
  } catch {
    /* not JSON */
  }
  if (res.status === 404) return new ExecError("NOT_FOUND", `${what}: not found (the file, its directory, or the instance)`);
  return apiError(res.status, msg, client.remote, what);
}

export async function pushFile(client: IncusClient, instance: string, data: Uint8Array, path: string, opts: PushOptions): Promise<void> {
  checkPath("push_file", path);
  const what = `push_file ${path} in instance '${instance}'`;
  const query = { path, project: client.project };
  const headers: Record<string, string> = { "X-Incus-type": "file", "X-Incus-write": "overwrite" };
  if (opts.mode !== undefined) headers["X-Incus-mode"] = `0${(opts.mode & 0o7777).toString(8).padStart(3, "0")}`;
  if (opts.uid !== undefined) headers["X-Incus-uid"] = String(opts.uid);
  if (opts.gid !== undefined) headers["X-Incus-gid"] = String(opts.gid);
  if (opts.mode !== undefined || opts.uid !== undefined || opts.gid !== undefined) {
    const head = await client.raw("HEAD", filesPath(instance), { query });
    if (head.status === 200) {
      const type = head.headers["x-incus-type"];
      if (type === "directory") throw new ExecError("INVALID", `${what}: is a directory`);
      const differs =
        (opts.mode !== undefined && parseInt(String(head.headers["x-incus-mode"] ?? "0"), 8) !== (opts.mode & 0o777)) ||
        (opts.uid !== undefined && Number(head.headers["x-incus-uid"]) !== opts.uid) ||
        (opts.gid !== undefined && Number(head.headers["x-incus-gid"]) !== opts.gid);
      if (differs || type !== "file") {
        const del = await client.raw("DELETE", filesPath(instance), { query });
        if (del.status >= 400 && del.status !== 404) throw errorOf(del, client, what);
      }
    }
  }
  const res = await client.raw("POST", filesPath(instance), {
    query,
    headers: { ...headers, "Content-Type": "application/octet-stream" },
    body: data,
  });
  if (res.status >= 400) throw errorOf(res, client, what);
}

export async function pullFile(client: IncusClient, instance: string, path: string): Promise<Uint8Array> {
  checkPath("pull_file", path);
  let current = path;
  for (let hop = 0; hop <= MAX_LINKS; hop++) {
    const what = `pull_file ${current} in instance '${instance}'`;
    const res = await client.raw("GET", filesPath(instance), { query: { path: current, project: client.project } });
    if (res.status >= 400) throw errorOf(res, client, what);
    const type = res.headers["x-incus-type"];
    if (type === "directory") throw new ExecError("INVALID", `${what}: is a directory`);
    if (type === "symlink") {
      const target = res.body.toString("utf8").trim();
      current = posix.resolve(posix.dirname(current), target);
      continue;
    }
    return new Uint8Array(res.body.buffer, res.body.byteOffset, res.body.byteLength);
  }
  throw new ExecError("INVALID", `pull_file ${path} in instance '${instance}': too many levels of symbolic links`);
}
