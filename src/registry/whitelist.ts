/**
 * command_whitelist check. A string command must equal a whitelist entry exactly (no
 * trimming: extra spaces or a trailing newline are a different command). An argv table
 * must equal the argv of a whitelist entry element by element — stricter than comparing
 * the space-joined text, so {"git status"} (one word with a space) does not pass for
 * "git status".
 */
import { ExecError } from "../errors.js";
import { splitCommand } from "../process/argv.js";

export class Whitelist {
  private readonly exact: Set<string>;
  private readonly argvs: Set<string>;

  constructor(private readonly entries: string[] | undefined) {
    this.exact = new Set(entries ?? []);
    // JSON of the argv is an unambiguous key for element-wise comparison.
    this.argvs = new Set((entries ?? []).map((e) => JSON.stringify(splitCommand(e))));
  }

  get active(): boolean {
    return this.entries !== undefined && this.entries.length > 0;
  }

  check(command: string | string[], executorId: string): void {
    if (!this.active) return;
    const allowed = typeof command === "string" ? this.exact.has(command) : this.argvs.has(JSON.stringify(command));
    if (!allowed) {
      const shown = typeof command === "string" ? JSON.stringify(command) : JSON.stringify(command.join(" "));
      throw new ExecError("PERMISSION_DENIED", `command ${shown} is not in the command_whitelist of ${executorId}`);
    }
  }
}
