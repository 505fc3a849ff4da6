/** Evaluate REPL chunks on a Host (no terminal here: repl.ts does input and output). */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Host } from "../lua/host.js";

/** lua/repl.lua registers itself under this name. */
const REPL_MODULE = "moonexec.repl";
/** Next to dist/ in a packed install as in a checkout (the bundle sits at the same depth as dist/cli/). */
const REPL_LUA = fileURLToPath(new URL("../../lua/repl.lua", import.meta.url));

export type EvalResult =
  /** text: the results, tab-separated (bytes when not UTF-8); undefined when the chunk returned nothing. */
  | { kind: "ok"; text?: string | Uint8Array }
  /** The chunk is not finished (Lua's "<eof>" syntax error): read another line. */
  | { kind: "incomplete"; message: string }
  /** Syntax or runtime error, with the traceback of the user's code. */
  | { kind: "error"; message: string };

/** A Lua string literal holding `text` exactly (UTF-8), for splicing into a chunk. */
export function luaString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (c < 32 || c === 127) out += `\\${String(c).padStart(3, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

export class LuaRepl {
  private constructor(private readonly host: Host) {}

  /** Load the REPL helper and make `exec` a global. */
  static async start(host: Host): Promise<LuaRepl> {
    await host.runString(readFileSync(REPL_LUA, "utf8"), "=[moonexec repl]");
    return new LuaRepl(host);
  }

  /** Run one chunk. Rejects only with what stops a run (ScriptStop: Ctrl-C, time limit, os.exit; memory limit). */
  async eval(source: string): Promise<EvalResult> {
    const [status, text] = await this.host.runString(
      `return package.loaded["${REPL_MODULE}"].eval(${luaString(source)})`,
      "=[moonexec repl]",
    );
    const message = typeof text === "string" ? text : text instanceof Uint8Array ? Buffer.from(text).toString("utf8") : "";
    if (status === "incomplete") return { kind: "incomplete", message };
    if (status === "error") return { kind: "error", message };
    if (typeof text === "string" || text instanceof Uint8Array) return { kind: "ok", text };
    return { kind: "ok" };
  }
}
