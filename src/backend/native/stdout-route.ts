/**
 * Which way a native command's stdout goes: a pipe, or a socket pair read into reused buffers
 * (recycling-reader.ts). A pair costs more to make than a pipe (two sockets, and the page
 * faults that making them takes after a fork) and pays off only on big output (figures in
 * docs/performance.md), so it goes to a command that follows one that wrote at least BULK_STDOUT to
 * stdout: a loop over big outputs gets it from its second command on, a loop of small
 * commands never pays for it.
 *
 * Shared by every native executor of the process; the listening socket is made on the first
 * pair and closed with the last executor.
 */
import { SocketPairs, type StdoutPair } from "./socket-pairs.js";
import { BULK_STDOUT } from "../../constants.js";

let lastWasBulk = false;
let executors = 0;
let pairs: Promise<SocketPairs | undefined> | undefined;

/** A command's stdout ended after `bytes`. */
export function noteStdout(bytes: number): void {
  lastWasBulk = bytes >= BULK_STDOUT;
}

/** A pair for the next command, or undefined: a pipe. */
export function stdoutPair(): Promise<StdoutPair | undefined> | undefined {
  if (!lastWasBulk || executors === 0) return undefined;
  return (pairs ??= SocketPairs.open()).then((p) => p?.take());
}

export function executorOpened(): void {
  executors++;
}

export async function executorReleased(): Promise<void> {
  if (--executors > 0) return;
  const open = pairs;
  pairs = undefined;
  (await open)?.close();
}
