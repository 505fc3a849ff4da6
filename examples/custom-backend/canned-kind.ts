/**
 * A custom executor kind: "example.canned" runs nothing, it answers each command line with
 * the output its config entry gives for it (a stand-in host for trying scripts out).
 *
 *   entries:
 *     - name: web
 *       kind: example.canned
 *       replies: { "hostname": "web-1\n" }   # command line → stdout; any other command exits 127
 */
import { Readable } from "node:stream";
import { ConfigError, ExecError, type BackendKind, type CommandSpec, type Entry, type ExitInfo, type RunningCommand } from "moonexec";

type CannedEntry = Entry & { replies?: Record<string, string> };

export const cannedKind: BackendKind<CannedEntry> = {
  kind: "example.canned",
  // Field types the config loader checks (and names in its errors) before validate() runs.
  fields: { replies: "string-map" },
  validate(entry, where) {
    if (entry.replies === undefined) throw new ConfigError(`${where}: field 'replies' is required for kind example.canned`);
  },
  async open(entry) {
    let released = false;
    return {
      spawn: (spec) => {
        if (released) throw new ExecError("CLOSED", `${entry.id} was released`);
        return cannedCommand(spec, entry.replies ?? {});
      },
      release: async () => {
        released = true;
      },
    };
  },
  async probe(entry) {
    return { ok: true, lines: [`${Object.keys(entry.replies ?? {}).length} canned replies`] };
  },
};

/** One command: its reply on stdout (or a message on stderr and 127), ended at once. */
function cannedCommand(spec: CommandSpec, replies: Record<string, string>): RunningCommand {
  const line = spec.argv.join(" ");
  const reply = Object.hasOwn(replies, line) ? replies[line] : undefined;
  const stdout = Readable.from(reply === undefined ? [] : [Buffer.from(reply)]);
  const stderr = Readable.from(reply === undefined ? [Buffer.from(`canned: no reply for '${line}'\n`)] : []);
  let killed: number | undefined;
  // The contract: exited resolves only once both streams have ended.
  const ended = (s: Readable) => new Promise<void>((resolve) => s.once("end", resolve).once("close", resolve));
  const exited: Promise<ExitInfo> = Promise.all([ended(stdout), ended(stderr)]).then(() =>
    killed !== undefined ? { code: 128 + killed, signal: killed === 9 ? "SIGKILL" : `signal ${killed}` } : { code: reply === undefined ? 127 : 0 },
  );
  return {
    stdout,
    stderr,
    pid: undefined,
    writeStdin: async () => {}, // canned commands ignore their input
    closeStdin: async () => {},
    signal: async (signo) => {
      killed ??= signo;
      stdout.destroy();
      stderr.destroy();
    },
    exited,
    dispose: async () => {
      stdout.destroy();
      stderr.destroy();
    },
  };
}
