/**
 * The opts table of executor:exec(cmd, opts): the one place each option is validated, and
 * where Lua's snake_case names become the host's. Errors name the field as the script wrote it.
 * Each option is applied in one place: work_dir and env by Executor.exec (over the entry's
 * defaults), timeout, stdin and encoding by Proc (timeout.ts arms, decoder.ts decodes),
 * background, tag and ring_size by Executor.exec and Proc.
 */
import { ExecError } from "../errors.js";
import { checkEncoding } from "../stream/decoder.js";
import { envNameProblem, envValueProblem } from "./env-check.js";
import { checkTimeout } from "./timeout.js";
import type { PtySpec } from "../backend/contract.js";

export interface ExecOptions {
  workDir?: string;
  env?: Record<string, string>;
  /** Seconds. */
  timeout?: number;
  stdin?: Uint8Array;
  /** An encoding checkEncoding accepted. */
  encoding?: string;
  /** Start at once and keep running after the script moves on (executor:processes/kill/attach). */
  background?: boolean;
  tag?: string;
  /** Replay ring size per stream for background processes, bytes. */
  ringSize?: number;
  /** Run on a pseudo-terminal (rows/cols/term default when pty = true). */
  pty?: PtySpec;
}

/** Terminal defaults when a script asks for pty = true without a size. */
export const PTY_DEFAULTS: PtySpec = { rows: 24, cols: 80, term: "xterm-256color" };

const KNOWN = ["work_dir", "env", "timeout", "stdin", "encoding", "background", "tag", "ring_size", "pty", "rows", "cols", "term"];

export function parseExecOptions(raw: Record<string, unknown> | undefined): ExecOptions {
  const out: ExecOptions = {};
  if (raw === undefined) return out;
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined || value === null) continue;
    switch (key) {
      case "work_dir":
        if (typeof value !== "string" || value === "") throw bad(key, "a non-empty string of UTF-8 text", value);
        if (value.includes("\0")) throw new ExecError("INVALID", "opts.work_dir: must not contain a NUL byte");
        out.workDir = value;
        break;
      case "env": {
        if (typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) throw bad(key, "a table of strings", value);
        // No prototype: '__proto__' or 'toString' are names like any other.
        const env: Record<string, string> = Object.create(null);
        for (const [k, v] of Object.entries(value as object)) {
          const name = envNameProblem(k);
          if (name) throw new ExecError("INVALID", `opts.env: ${JSON.stringify(k)}: environment ${name}`);
          if (typeof v === "number" || typeof v === "boolean") env[k] = String(v);
          else if (typeof v === "string") env[k] = v;
          else throw bad(`env.${k}`, "a string of UTF-8 text (environment values cross as text on every backend)", v);
          const problem = envValueProblem(env[k]!);
          if (problem) throw new ExecError("INVALID", `opts.env.${k}: environment ${problem}`);
        }
        out.env = env;
        break;
      }
      case "timeout":
        out.timeout = checkTimeout(value, `opts.${key}`);
        break;
      case "stdin":
        if (value instanceof Uint8Array) out.stdin = value;
        else if (typeof value === "string") out.stdin = Buffer.from(value, "utf8");
        else throw bad(key, "a string", value);
        break;
      case "encoding":
        if (typeof value !== "string") throw bad(key, "a string", value);
        out.encoding = checkEncoding(value);
        break;
      case "background":
        if (typeof value !== "boolean") throw bad(key, "true or false", value);
        out.background = value;
        break;
      case "tag":
        if (typeof value !== "string" || !/^[A-Za-z0-9_.:-]{1,64}$/.test(value)) throw bad(key, "a name of letters, digits, '_', '.', ':', '-'", value);
        out.tag = value;
        break;
      case "ring_size":
        if (typeof value !== "number" || !Number.isInteger(value) || value < 1024) throw bad(key, "an integer number of bytes ≥ 1024", value);
        out.ringSize = value;
        break;
      case "pty":
        if (typeof value !== "boolean") throw bad(key, "true or false", value);
        if (value) out.pty = { ...PTY_DEFAULTS, ...out.pty };
        break;
      case "rows":
      case "cols":
        // A terminal side is a 16-bit count in every kernel and daemon API.
        if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) throw bad(key, "an integer from 1 to 65535", value);
        break;
      case "term":
        if (typeof value !== "string" || !/^[A-Za-z0-9._+-]{1,64}$/.test(value)) throw bad(key, "a terminal type name such as \"xterm-256color\"", value);
        break;
      default:
        throw new ExecError("INVALID", `opts.${key}: unknown option (known: ${KNOWN.join(", ")})`);
    }
  }
  const sized = ["rows", "cols", "term"].filter((k) => raw[k] !== undefined && raw[k] !== null);
  if (sized.length > 0 && !out.pty) throw new ExecError("INVALID", `opts.${sized[0]}: only applies with pty = true`);
  if (out.pty) {
    if (typeof raw.rows === "number") out.pty.rows = raw.rows;
    if (typeof raw.cols === "number") out.pty.cols = raw.cols;
    if (typeof raw.term === "string") out.pty.term = raw.term;
  }
  return out;
}

function bad(field: string, want: string, got: unknown): ExecError {
  const shown =
    got instanceof Uint8Array ? "a string that is not UTF-8" : typeof got === "object" ? "a table" : typeof got === "number" ? `number ${String(got)}` : `${typeof got} ${JSON.stringify(got)}`;
  return new ExecError("INVALID", `opts.${field}: must be ${want}, got ${shown}`);
}
