/** Opening and probing exec.ssh executors (loaded on first use: ssh2 is heavy to import). */
import type { ExecutorBackend, ProbeResult } from "../contract.js";
import { ExecError } from "../../errors.js";
import { DEFAULT_MAX_SESSIONS, type SshEntry } from "./entry.js";
import { settingsOf } from "./connect.js";
import { SshPool } from "./pool.js";
import { SshBackend } from "./backend.js";

/** Connects at once, so a bad host, key or host key fails exec.get() with the reason. */
export async function openSsh(entry: SshEntry): Promise<ExecutorBackend> {
  const pool = new SshPool(settingsOf(entry), entry.max_sessions ?? DEFAULT_MAX_SESSIONS);
  try {
    await pool.warm();
  } catch (e) {
    pool.close();
    throw e;
  }
  return new SshBackend(pool);
}

export async function probeSsh(entry: SshEntry): Promise<ProbeResult> {
  let pool: SshPool | undefined;
  try {
    pool = new SshPool(settingsOf(entry), entry.max_sessions ?? DEFAULT_MAX_SESSIONS);
    await pool.warm();
    return { ok: true, lines: [`ssh ${pool.name}: logged in, host key verified`] };
  } catch (e) {
    return { ok: false, lines: [e instanceof ExecError ? e.message : String(e)] };
  } finally {
    pool?.close();
  }
}
