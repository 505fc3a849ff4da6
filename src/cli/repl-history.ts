/** Persistent REPL history: one entry per line, oldest first, in a file of the user's. */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const HISTORY_SIZE = 1000;

/**
 * MOONEXEC_HISTORY when set (empty = no history), else $XDG_STATE_HOME/moonexec/history
 * when XDG_STATE_HOME is set, else ~/.moonexec_history.
 */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.MOONEXEC_HISTORY !== undefined) return env.MOONEXEC_HISTORY === "" ? undefined : env.MOONEXEC_HISTORY;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, "moonexec", "history");
  return join(homedir(), ".moonexec_history");
}

/** Entries newest first, as node:readline wants them. A missing or unreadable file is an empty history. */
export function loadHistory(path: string | undefined): string[] {
  if (!path) return [];
  try {
    const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.trim() !== "");
    return lines.slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

/** Write readline's history (newest first) back to the file, oldest first. Failures are reported once by the caller. */
export function saveHistory(path: string, newestFirst: readonly string[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const lines = [...newestFirst].slice(0, HISTORY_SIZE).reverse();
  writeFileSync(path, lines.length ? lines.join("\n") + "\n" : "", { mode: 0o600 });
}
