/**
 * How a command ended, built in one place from what the backend reported: wait(), proc:info()
 * and the audit log all read this.
 */
import { toExecError, type ExecError } from "../errors.js";
import type { ExitInfo, RunningCommand } from "../backend/contract.js";
import { timedOutError } from "./timeout.js";

export interface ProcExit extends ExitInfo {
  /** Its timeout killed it: `code` is that kill's, and `problem` says so. */
  timedOut: boolean;
  /** What the script is told next to the exit code (a timeout); unlike `error`, the code stands. */
  problem?: ExecError;
}

/**
 * The ending of a command whose backend reported `info`. An end the backend did not see is an
 * error (`error`: wait() fails), also when only an output stream was cut; a command killed by
 * its timeout ended as expected, with the TIMEOUT problem next to its code.
 */
export function commandEnding(info: ExitInfo, cmd: RunningCommand, timedOut: boolean): ProcExit {
  if (timedOut) return { ...info, timedOut, problem: timedOutError() };
  const lost = info.error ?? streamFailure(cmd);
  return { ...info, timedOut, ...(lost ? { error: lost, note: info.note ?? lost.message } : {}) };
}

/** The failure of an output source that was cut short, as the error wait() reports. */
function streamFailure(cmd: RunningCommand): ExecError | undefined {
  const f = cmd.stdout.failure ?? cmd.stderr.failure;
  return f ? toExecError(f, "UNAVAILABLE") : undefined;
}
