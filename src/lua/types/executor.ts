/** exec.executor: exec.get/exec.list and what an executor does (lua/exec.lua's Executor). */
import { ExecError } from "../../errors.js";
import type { Registry } from "../../registry/registry.js";
import { Executor } from "../../registry/executor.js";
import { parseExecOptions } from "../../process/exec-options.js";
import { signalNumber } from "../../process/signals.js";
import { parseFileMode } from "../../backend/file-mode.js";
import type { Args, HostFn } from "../host-functions.js";
import type { Handles } from "../handles.js";
import type { LuaValue } from "../values.js";
import { ProcHandle } from "./proc.js";

export function executorFunctions(registry: Registry, handles: Handles): Record<string, HostFn> {
  const executor = (a: Args) => handles.get(a.value(1), Executor, "executor");
  const selector = (a: Args, i: number, what: string) => {
    const v = a.value(i);
    if (typeof v !== "number" && typeof v !== "string") throw new ExecError("INVALID", `${what}: selector must be a pid (number) or a tag (string)`);
    return v;
  };

  return {
    exec_get: async (a) => {
      const id = a.value(1);
      if (typeof id !== "string") throw new ExecError("INVALID", `exec.get: id must be a string like "local:shell", got ${typeof id}`);
      return [handles.add(await registry.get(id))];
    },

    exec_list: (a) => {
      const pattern = a.value(1);
      if (pattern !== undefined && typeof pattern !== "string") throw new ExecError("INVALID", `exec.list: pattern must be a string like "fleet:*", got ${describe(pattern)}`);
      return [registry.list(pattern)];
    },

    executor_exec: (a) => {
      const ex = executor(a);
      const cmd = a.value(2);
      let command: string | string[];
      if (typeof cmd === "string") command = cmd;
      else if (Array.isArray(cmd) && cmd.length > 0 && cmd.every((w) => typeof w === "string")) command = cmd as string[];
      else if (cmd instanceof Uint8Array) throw new ExecError("INVALID", "cmd: must be valid UTF-8 text");
      else throw new ExecError("INVALID", `cmd: must be a string or a non-empty list of strings, got ${describe(cmd)}`);
      const opts = a.value(3);
      if (opts !== undefined && (typeof opts !== "object" || Array.isArray(opts) || opts instanceof Uint8Array)) {
        throw new ExecError("INVALID", `opts: must be a table, got ${describe(opts)}`);
      }
      const options = parseExecOptions(opts as Record<string, unknown> | undefined);
      const p = ex.exec(command, options);
      if (!options.background) return [handles.add(ProcHandle.of(p))];
      return Promise.resolve(p.start()).then(() => [handles.add(ProcHandle.of(p))]); // background: starts at once
    },

    executor_processes: (a) => [
      executor(a)
        .running()
        .map((p) => ({
          pid: p.pid,
          tag: p.tag,
          cmd: p.spec.argv.join(" "),
          started_at: new Date(p.startedAt ?? p.createdAt).toISOString(),
          backend: executor(a).entry.kind,
          background: p.background,
        })),
    ],

    executor_kill: async (a) => {
      const p = executor(a).find(selector(a, 2, "executor:kill"));
      await p.signal(a.value(3) === undefined ? 15 : signalNumber(a.value(3), "executor:kill"));
      return [true];
    },

    executor_attach: (a) => {
      const p = executor(a).find(selector(a, 2, "executor:attach"));
      if (!p.logs) throw new ExecError("INVALID", "executor:attach: only background processes can be attached (exec with {background = true})");
      return [handles.add(new ProcHandle(p, p.logs.stdout.subscribe(p), p.logs.stderr.subscribe(p)))];
    },

    executor_release: async (a) => {
      await executor(a).release();
      return [true];
    },

    executor_push_file: async (a) => {
      const ex = executor(a);
      if (!ex.backend.pushFile) throw new ExecError("INVALID", `executor ${ex.id} (${ex.entry.kind}) does not support push_file`);
      const data = a.bytes(2, "push_file: content");
      const remote = a.value(3);
      if (typeof remote !== "string") throw new ExecError("INVALID", "push_file: remote_path must be a string");
      const raw = a.value(4) ?? {};
      if (typeof raw !== "object" || Array.isArray(raw) || raw instanceof Uint8Array) throw new ExecError("INVALID", "push_file: opts must be a table");
      const o = raw as Record<string, LuaValue>;
      const num = (k: string) => {
        const v = Object.hasOwn(o, k) ? o[k] : undefined;
        if (v === undefined) return undefined;
        // Incus takes a 32-bit id; 4294967295 is (uid_t)-1, "no change".
        if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4294967294) {
          throw new ExecError("INVALID", `push_file: opts.${k} must be a whole number between 0 and 4294967294, got ${typeof v === "number" ? String(v) : typeof v}`);
        }
        return v;
      };
      await ex.backend.pushFile(data, remote, { mode: parseFileMode(o.mode), uid: num("uid"), gid: num("gid") });
      return [true];
    },

    executor_pull_file: async (a) => {
      const ex = executor(a);
      if (!ex.backend.pullFile) throw new ExecError("INVALID", `executor ${ex.id} (${ex.entry.kind}) does not support pull_file`);
      const remote = a.value(2);
      if (typeof remote !== "string") throw new ExecError("INVALID", "pull_file: remote_path must be a string");
      return [await ex.backend.pullFile(remote)];
    },
  };
}

function describe(v: LuaValue): string {
  if (v === undefined) return "nil";
  if (Array.isArray(v)) return "a list with non-string items";
  if (typeof v === "object") return "a table";
  return typeof v;
}
