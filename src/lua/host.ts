/**
 * The Lua host: one Lua state (on the chosen engine) with the prelude, `require("exec")`, limits, and the
 * registry of executors. Scripts run through the Driver; dispose() stops everything
 * the scripts started.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Engine, LuaState } from "./engine/engine.js";
import { createEngine, type EngineName } from "./engine/select.js";
import type { Config } from "../config/entry.js";
import { ConfigError } from "../errors.js";
import { loadConfig, configFromObject } from "../config/load.js";
import { builtinKinds } from "../backend/kinds.js";
import type { BackendKind } from "../backend/contract.js";
import { Registry } from "../registry/registry.js";
import { raiseMallocThresholds } from "../stream/malloc-threshold.js";
import type { AuditEvent } from "../registry/executor.js";
import { LuaStack, type LuaValue } from "./values.js";
import { AWAIT, SLICE, HostFunctionTable, PendingTable, type HostFn } from "./host-functions.js";
import { Driver, LuaScriptError, ScriptStop } from "./driver.js";
import { Handles, handleFunctions } from "./handles.js";
import { executorFunctions } from "./types/executor.js";
import { procFunctions } from "./types/proc.js";
import { streamFunctions } from "./types/stream.js";
import { taskFunctions } from "./types/task.js";
import { preludeFunctions, display, luaSource, type HostIO } from "./prelude-functions.js";
import { scriptHookNatives } from "./script-hooks.js";
import { userFunction, type UserModule } from "./user-modules.js";

export { LuaScriptError, ScriptStop };

const LUA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../lua");

export interface HostOptions {
  /**
   * Executor kinds beyond the built-in ones (exec.native, exec.docker, exec.incus, exec.ssh):
   * config entries may then name them (docs/library.md, "Custom backends").
   */
  kinds?: BackendKind<any>[];
  /** A Config, a path to a YAML file, or a plain config object ({namespace, entries}). Default: ./moonexec.yaml or the built-in local:shell. */
  config?: Config | string | Record<string, unknown>;
  /** Wall-clock limit for everything run on this host, seconds (default: none). */
  timeLimit?: number;
  /** Lua heap limit in bytes (default 512 MiB; fengari cannot count its heap and refuses one). */
  memoryLimit?: number;
  /** The Lua engine: "wasmoon" (Lua 5.4, the default) or "fengari" (Lua 5.3); see docs/engines.md. */
  engine?: EngineName;
  /** Extra directories searched by require (after the script's own directory). */
  modulePaths?: string[];
  /** Where print/io.write go (default: process.stdout / process.stderr). */
  stdout?: HostIO["stdout"];
  stderr?: HostIO["stderr"];
  /** Per-stream unread-output bound before a busy script pauses the producer. */
  streamBufferBytes?: number;
  /**
   * Lua modules implemented in TypeScript: `require(name)` gives a table of these functions.
   * Arguments arrive as JS values (Lua strings as text, or Uint8Array when not UTF-8); the
   * return value goes back (an array via `multi()` for several); a thrown error becomes
   * `nil, err`; a returned Promise blocks the calling script (not the host) until it settles.
   */
  modules?: Record<string, UserModule>;
  /** Called after every command ends (the CLI's --verbose writes these as JSON lines). */
  audit?: (event: AuditEvent) => void;
  /** Replay ring per stream of background processes, bytes (default 1 MiB; exec opt ring_size overrides). */
  ringBytes?: number;
  /**
   * The process ends with this host's script (`moonexec run`): a SIGINT stops Lua anywhere
   * through V8's watchdog, and the VM is then given up (the host can only be disposed).
   * Without a time limit, CPU-bound Lua then runs at full speed, with no count hook: nothing
   * but a SIGINT (not host.cancel(), not another signal) reaches a CPU loop. See docs/limits.md.
   */
  ownsProcess?: boolean;
}

export const DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024;

/** A loaded Lua plugin: call the functions of the table its file returned. */
export interface Plugin {
  call(name: string, ...args: unknown[]): Promise<LuaValue>;
  callMulti(name: string, ...args: unknown[]): Promise<LuaValue[]>;
}

export class Host {
  readonly registry: Registry;
  private readonly stack: LuaStack;
  private readonly pending = new PendingTable();
  private readonly functions: HostFunctionTable;
  private readonly handles: Handles;
  private readonly driver: Driver;
  private scriptDir: string | undefined;
  private hostApiRef = 0;
  private disposed = false;
  /** Runs are serialized: one Lua thread at a time drives the VM. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly engine: Engine,
    config: Config,
    kinds: Map<string, BackendKind>,
    private readonly opts: HostOptions,
  ) {
    this.stack = new LuaStack(engine);
    this.handles = new Handles(engine.finalizers);
    this.driver = new Driver(this.stack, this.pending, opts.timeLimit, opts.ownsProcess);
    this.functions = new HostFunctionTable(this.stack, this.pending);
    this.registry = new Registry(config, kinds, {
      bufferBytes: opts.streamBufferBytes,
      audit: opts.audit,
      ringBytes: opts.ringBytes,
      // Only once output comes in bulk: raised earlier, start-up's freed memory would stay too.
      onBulkOutput: raiseMallocThresholds,
    });
  }

  static async create(opts: HostOptions = {}): Promise<Host> {
    const kinds = hostKinds(opts.kinds);
    const config = resolveConfig(opts.config, kinds);
    const engine = await createEngine(opts.engine, opts.memoryLimit);
    const host = new Host(engine, config, kinds, opts);
    await host.boot();
    return host;
  }

  private async boot(): Promise<void> {
    const io: HostIO = { stdout: this.opts.stdout ?? process.stdout, stderr: this.opts.stderr ?? process.stderr };
    const fns: Record<string, HostFn> = {
      ...preludeFunctions(io, this.driver, () => this.moduleDirs()),
      ...handleFunctions(this.handles),
      ...executorFunctions(this.registry, this.handles),
      ...procFunctions(this.handles),
      ...streamFunctions(this.handles),
      ...taskFunctions(this.stack, this.driver, this.handles),
      ...scriptHookNatives(this.stack, () => this.driver.scriptHooks),
    };
    // The table the prelude receives (its `N`): host functions and what it needs to start.
    const hostTable: Record<string, unknown> = {
      module_path: this.modulePath(),
      builtin_sources: { exec: readFileSync(resolve(LUA_DIR, "exec.lua"), "utf8"), task: readFileSync(resolve(LUA_DIR, "task.lua"), "utf8"), "exec.fleet": readFileSync(resolve(LUA_DIR, "fleet.lua"), "utf8") },
    };
    for (const [name, fn] of Object.entries(fns)) hostTable[name] = this.functions.add(fn);
    hostTable.AWAIT = AWAIT;
    hostTable.SLICE = SLICE;
    hostTable.took_slice = this.functions.add(() => [this.driver.tookSlice()]);

    const lua = this.engine;
    const G = lua.main;
    await this.run(
      (thread) => {
        this.load(thread, readFileSync(resolve(LUA_DIR, "prelude.lua")), "=[moonexec prelude]");
        this.stack.push(thread, hostTable);
        return 1;
      },
      (L) => {
        lua.xmove(L, G, 1); // keep the host API table the prelude returns
        lua.getfield(G, -1, "hook_dispatch");
        this.driver.scriptHooks.setDispatcher(lua.ref(G));
        lua.getfield(G, -1, "describe_error");
        this.driver.setErrorDescriber(lua.ref(G));
        this.hostApiRef = lua.ref(G);
      },
    );
    // Finalizers a script set can run on the global thread (any allocation the host makes
    // there may collect): its hook stops them at the limits and on dispose.
    this.driver.installHook(G);
    for (const [name, module] of Object.entries(this.opts.modules ?? {})) {
      const table: Record<string, unknown> = {};
      for (const [fname, fn] of Object.entries(module)) table[fname] = this.functions.add(userFunction(fn));
      await this.callHostApi("register_module", (thread) => {
        this.stack.push(thread, name);
        this.stack.push(thread, table);
        return 2;
      });
    }
    if (this.engine.countsMemory) this.engine.setMemoryLimit(this.opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
  }

  /** package.path's default: the script's directory, then the module paths. */
  private modulePath(): string {
    return this.moduleDirs()
      .map((d) => `${d}/?.lua;${d}/?/init.lua`)
      .join(";");
  }

  private moduleDirs(): string[] {
    return [this.scriptDir ?? process.cwd(), ...(this.opts.modulePaths ?? []).map((p) => resolve(p))];
  }

  /** Run a script file; `args` become `arg[1..n]` and the chunk's `...`. Returns the chunk's results. */
  async runFile(path: string, args: string[] = []): Promise<LuaValue[]> {
    const source = readSource(path);
    const dir = dirname(resolve(path));
    if (dir !== this.scriptDir) {
      this.scriptDir = dir;
      const modulePath = this.modulePath();
      await this.callHostApi("set_module_path", (thread) => {
        this.stack.push(thread, modulePath);
        return 1;
      });
    }
    this.setArgGlobal([path, ...args]);
    return this.run((thread) => {
      this.load(thread, source, `@${display(resolve(path))}`);
      for (const a of args) this.stack.push(thread, a);
      return args.length;
    });
  }

  /** Run Lua source text (REPL, tests, embedded snippets). */
  async runString(source: string | Uint8Array, chunkName = "=(string)"): Promise<LuaValue[]> {
    return this.run((thread) => {
      this.load(thread, typeof source === "string" ? Buffer.from(source) : source, chunkName);
      return 0;
    });
  }

  /** Load a plugin file: it runs once and returns a table of functions that call() reaches. */
  async loadPlugin(path: string, ...args: unknown[]): Promise<Plugin> {
    const source = readSource(path);
    const [id] = await this.callHostApi("load_plugin", (thread) => {
      this.load(thread, source, `@${display(resolve(path))}`);
      for (const a of args) this.stack.push(thread, a);
      return 1 + args.length;
    });
    const callMulti = (name: string, ...callArgs: unknown[]) =>
      this.callHostApi("call_plugin", (thread) => {
        this.stack.push(thread, id);
        this.stack.push(thread, name);
        for (const a of callArgs) this.stack.push(thread, a);
        return 2 + callArgs.length;
      });
    return { callMulti, call: async (name, ...callArgs) => (await callMulti(name, ...callArgs))[0] };
  }

  /** Call a function of the prelude's host API table with arguments pushed by `pushArgs`. */
  private callHostApi(name: string, pushArgs: (t: LuaState) => number): Promise<LuaValue[]> {
    return this.run((L) => {
      const lua = this.engine;
      lua.pushref(L, this.hostApiRef);
      lua.getfield(L, -1, name);
      lua.rotate(L, -2, 1);
      lua.settop(L, -2); // drop the API table, keep the function
      return pushArgs(L);
    });
  }

  /** `arg` as in the standalone lua: arg[0] is the script, arg[1..n] its arguments. */
  private setArgGlobal(values: string[]): void {
    const lua = this.engine;
    const L = lua.main;
    lua.createtable(L, values.length, 1);
    values.forEach((v, i) => {
      this.stack.push(L, v);
      lua.rawseti(L, -2, i);
    });
    lua.setglobal(L, "arg");
  }

  /** Compile source (text only, binary-safe) onto the thread's stack. */
  private load(thread: LuaState, source: Uint8Array, chunkName: string): void {
    const { status, message } = this.engine.load(thread, source, chunkName);
    if (status !== "ok") throw new LuaScriptError(status === "memory" ? "memory limit exceeded (not enough memory)" : (message ?? "cannot load the chunk"), "");
  }

  /** Run a fresh thread: `prepare` pushes the function and its arguments and returns the argument count. */
  private run(prepare: (t: LuaState) => number, keep?: (L: LuaState, count: number) => void): Promise<LuaValue[]> {
    const next = this.queue.then(() => this.runNow(prepare, keep));
    this.queue = next.catch(() => {});
    return next;
  }

  private async runNow(prepare: (t: LuaState) => number, keep?: (L: LuaState, count: number) => void): Promise<LuaValue[]> {
    if (this.disposed) throw new Error("host was disposed");
    const lua = this.engine;
    const thread = lua.newthread(lua.main);
    const ref = lua.ref(lua.main); // keep the thread alive while it runs
    try {
      const nargs = prepare(thread);
      return await this.driver.run(thread, nargs, keep);
    } finally {
      if (!this.driver.broken) lua.unref(lua.main, ref);
    }
  }

  /** The script waits for something that can never happen (nothing left that could wake it). */
  stuck(): void {
    this.driver.stop(new ScriptStop("the script waits for something that can never happen (e.g. a process that was never started); stopped", 1, "interrupted"));
  }

  /** Stop the running script (SIGINT): its current wait ends and it does not continue. */
  interrupt(): void {
    this.driver.stop(new ScriptStop("interrupted", 130, "interrupted"));
  }

  /**
   * Cancel what is running now (REPL Ctrl-C): stop the current run and kill its foreground
   * commands; executors, background processes and the VM stay usable.
   */
  async cancel(): Promise<void> {
    this.interrupt();
    await this.registry.killForeground();
  }

  /** Kill everything scripts started (processes, containers, sessions) and free the VM. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.driver.stop(new ScriptStop("host disposed", 1, "disposed"));
    await this.registry.releaseAll();
    // Close only once the stopped run has unwound: its cleanup still calls into the state
    // (dropping threads and references), and on a closed state that would corrupt the heap
    // all hosts share (one wasm module per process). See docs/performance.md for the hang
    // this wait ended.
    await this.queue;
    // An interrupted VM stopped mid-instruction: closing it would run its finalizers on a
    // broken state. Its memory goes with the process.
    if (!this.driver.broken) this.engine.close();
    else this.engine.abandon();
  }
}

/** A script file as lua5.4 reads it (BOM and `#!` line skipped). */
function readSource(path: string): Buffer {
  try {
    return luaSource(readFileSync(path));
  } catch (e) {
    throw new LuaScriptError(`cannot open ${path}: ${(e as Error).message}`, "");
  }
}

/** The built-in kinds plus the application's; a name given twice is refused before anything runs. */
function hostKinds(extra: HostOptions["kinds"]): Map<string, BackendKind> {
  const kinds = builtinKinds();
  if (extra === undefined) return kinds;
  if (!Array.isArray(extra)) throw new ConfigError("kinds: must be a list of executor kinds");
  extra.forEach((k, i) => {
    const name: unknown = k?.kind;
    if (typeof name !== "string" || name === "" || typeof k.open !== "function" || typeof k.fields !== "object" || k.fields === null) {
      throw new ConfigError(`kinds[${i}]: must be an executor kind with a name (kind), fields and open()`);
    }
    if (kinds.has(name)) throw new ConfigError(`kinds[${i}]: the kind '${name}' exists already`);
    kinds.set(name, k);
  });
  return kinds;
}

function resolveConfig(c: HostOptions["config"], kinds: Map<string, BackendKind>): Config {
  if (c === undefined || typeof c === "string") return loadConfig(kinds, c);
  if (c !== null && typeof c === "object" && "entries" in c && c.entries instanceof Map) return c as Config;
  return configFromObject(kinds, c, "config object");
}
