/**
 * executor:push_file / executor:pull_file over SFTP (one SFTP session per call, counted
 * against the connection's session limit like a command).
 *
 * push_file writes the whole file, then sets mode (exactly, without the umask, also on an
 * existing file) and owner when asked — changing the owner needs root on the server.
 * pull_file reads through symbolic links; a directory is an error.
 */
import type { SFTPWrapper, Stats } from "ssh2";
import { ExecError } from "../../errors.js";
import type { SshPool } from "./pool.js";

export interface PushOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

function checkPath(op: string, path: string): void {
  if (!path.startsWith("/")) throw new ExecError("INVALID", `${op}: remote_path must be an absolute path on the server, got "${path}"`);
}

function sftpError(e: unknown, what: string): ExecError {
  if (e instanceof ExecError) return e;
  const code = (e as { code?: number }).code;
  const msg = (e as Error).message;
  if (code === NO_SUCH_FILE) return new ExecError("NOT_FOUND", `${what}: not found (the file or its directory)`);
  if (code === PERMISSION_DENIED) return new ExecError("PERMISSION_DENIED", `${what}: permission denied`);
  return new ExecError("UNAVAILABLE", `${what}: ${msg}`);
}

function call<T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

async function withSftp<T>(pool: SshPool, what: string, body: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const { conn, value: sftp } = await pool.session(async (c) => {
    const s = await c.sftpRaw();
    s.on("error", () => {}); // failures reach the pending request's callback
    s.once("close", () => c.sessionEnded());
    return s;
  });
  // A connection lost mid-transfer fails the pending request; also fail a silent close.
  const lost = new Promise<never>((_, reject) =>
    sftp.once("close", () => reject(new ExecError("UNAVAILABLE", `${what}: SFTP session closed (${conn.lost ? `connection lost: ${conn.lostReason}` : "by the server"})`))),
  );
  lost.catch(() => {});
  try {
    return await Promise.race([body(sftp), lost]);
  } catch (e) {
    throw sftpError(e, what);
  } finally {
    sftp.end();
  }
}

export function pushFile(pool: SshPool, data: Uint8Array, path: string, opts: PushOptions): Promise<void> {
  checkPath("push_file", path);
  const what = `push_file ${path} on ${pool.name}`;
  return withSftp(pool, what, async (sftp) => {
    const st = await call<Stats>((cb) => sftp.stat(path, cb)).catch(() => undefined);
    if (st?.isDirectory()) throw new ExecError("INVALID", `${what}: is a directory`);
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await call<void>((cb) => sftp.writeFile(path, buf, opts.mode !== undefined ? { mode: opts.mode } : {}, (err) => cb(err, undefined)));
    if (opts.mode !== undefined) await call<void>((cb) => sftp.chmod(path, opts.mode!, (err) => cb(err, undefined)));
    if (opts.uid !== undefined || opts.gid !== undefined) {
      const now = await call<Stats>((cb) => sftp.stat(path, cb));
      const uid = opts.uid ?? now.uid;
      const gid = opts.gid ?? now.gid;
      await call<void>((cb) => sftp.chown(path, uid, gid, (err) => cb(err, undefined))).catch((e) => {
        throw sftpError(e, `${what}: chown ${uid}:${gid}`);
      });
    }
  });
}

export function pullFile(pool: SshPool, path: string): Promise<Uint8Array> {
  checkPath("pull_file", path);
  const what = `pull_file ${path} on ${pool.name}`;
  return withSftp(pool, what, async (sftp) => {
    const st = await call<Stats>((cb) => sftp.stat(path, cb));
    if (st.isDirectory()) throw new ExecError("INVALID", `${what}: is a directory`);
    const buf = await call<Buffer>((cb) => sftp.readFile(path, cb));
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  });
}
