/**
 * The Lua host: one wasmoon VM with the prelude, `require("exec")`, limits, and the
 * registry of executors. Scripts run through the Driver; dispose() stops everything
 * the scripts started.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LuaFactory, LuaReturn, LUA_REGISTRYINDEX, type LuaEngine, type LuaThread } from "./wasmoon.js";
import type { Config } from "../config/entry.js";
import { loadConfig, configFromObject } from "../config/load.js";
import { builtinKinds } from "../backend/kinds.js";
import { Registry } from "../registry/registry.js";
import { LuaStack, type LuaValue } from "./values.js";
import { AWAIT, PendingTable, makeNative, type NativeFn } from "./natives.js";
import { Driver, LuaScriptError, ScriptStop } from "./driver.js";
import { Handles } from "./handles.js";
import { execNatives } from "./exec-natives.js";
import { hostNatives, display, type HostIO } from "./host-natives.js";

export { LuaScriptError, ScriptStop };

const LUA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../lua");

export interface HostOptions {
  /** A Config, a path to a YAML file, or a plain config object ({namespace, entries}). Default: ./moonexec.yaml or the built-in local:shell. */
  config?: Config | string | Record<string, unknown>;
  /** Wall-clock limit for a script run, seconds (default: none). */
  timeLimit?: number;
  /** Lua heap limit in bytes (default 512 MiB). */
  memoryLimit?: number;
  /** Extra directories searched by require (after the script's own directory). */
  modulePaths?: string[];
  /** Where print/io.write go (default: process.stdout / process.stderr). */
  stdout?: HostIO["stdout"];
  stderr?: HostIO["stderr"];
  /** Per-stream unread-output bound before a busy script pauses the producer. */
  streamBufferBytes?: number;
}

export const DEFAULT_MEMORY_LIMIT = 512 * 1024 * 1024;

let factory: LuaFactory | undefined;

export class Host {
  readonly registry: Registry;
  private readonly stack: LuaStack;
  private readonly pending = new PendingTable();
  private readonly handles = new Handles();
  private readonly driver: Driver;
  private scriptDir: string | undefined;
  private disposed = false;

  private constructor(
    private readonly engine: LuaEngine,
    config: Config,
    private readonly opts: HostOptions,
  ) {
    this.stack = new LuaStack(engine.global.lua);
    this.driver = new Driver(this.stack, this.pending, opts.timeLimit);
    this.registry = new Registry(config, builtinKinds(), opts.streamBufferBytes);
  }

  static async create(opts: HostOptions = {}): Promise<Host> {
    const config = resolveConfig(opts.config);
    factory ??= new LuaFactory();
    const engine = await factory.createEngine({ traceAllocations: true, enableProxy: false, injectObjects: false });
    const host = new Host(engine, config, opts);
    await host.boot();
    return host;
  }

  private async boot(): Promise<void> {
    const io: HostIO = { stdout: this.opts.stdout ?? process.stdout, stderr: this.opts.stderr ?? process.stderr };
    const fns: Record<string, NativeFn> = {
      ...hostNatives(io, this.driver, () => this.moduleDirs()),
      ...execNatives(this.registry, this.handles),
    };
    const natives: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(fns)) natives[name] = makeNative(this.stack, this.pending, fn);
    natives.module_path = this.moduleDirs().map((d) => `${d}/?.lua;${d}/?/init.lua`).join(";");
    natives.exec_source = readFileSync(resolve(LUA_DIR, "exec.lua"), "utf8");

    await this.runChunk(readFileSync(resolve(LUA_DIR, "prelude.lua")), "=[moonexec prelude]", (thread) => {
      thread.pushValue(natives);
      // AWAIT has a NUL byte; wasmoon's string push would cut it, so set it raw.
      this.stack.push(thread.address, AWAIT);
      this.stack.lua.lua_setfield(thread.address, -2, "AWAIT");
      return 1;
    });
    this.engine.global.setMemoryMax(this.opts.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
  }

  private moduleDirs(): string[] {
    return [...(this.scriptDir ? [this.scriptDir] : [process.cwd()]), ...(this.opts.modulePaths ?? []).map((p) => resolve(p))];
  }

  /** Run a script file; `args` become `arg[1..n]` and the chunk's `...`. Returns the chunk's results. */
  async runFile(path: string, args: string[] = []): Promise<LuaValue[]> {
    let source: Buffer;
    try {
      source = readFileSync(path);
    } catch (e) {
      throw new LuaScriptError(`cannot open ${path}: ${(e as Error).message}`, "");
    }
    this.scriptDir = dirname(resolve(path));
    this.setArgGlobal([path, ...args]);
    return this.runChunk(source, `@${display(resolve(path))}`, (thread) => {
      for (const a of args) this.stack.push(thread.address, a);
      return args.length;
    });
  }

  /** Run Lua source text (REPL, tests, plugin code). */
  async runString(source: string | Uint8Array, chunkName = "=(string)"): Promise<LuaValue[]> {
    return this.runChunk(typeof source === "string" ? Buffer.from(source) : source, chunkName, () => 0);
  }

  /** `arg` as in the standalone lua: arg[0] is the script, arg[1..n] its arguments. */
  private setArgGlobal(values: string[]): void {
    const L = this.engine.global.address;
    const lua = this.stack.lua;
    lua.lua_createtable(L, values.length, 1);
    values.forEach((v, i) => {
      this.stack.push(L, v);
      lua.lua_rawseti(L, -2, BigInt(i));
    });
    lua.lua_setglobal(L, "arg");
  }

  private async runChunk(source: Uint8Array, chunkName: string, pushArgs: (t: LuaThread) => number): Promise<LuaValue[]> {
    if (this.disposed) throw new Error("host was disposed");
    const global = this.engine.global;
    const lua = global.lua;
    const thread = global.newThread();
    const ref = lua.luaL_ref(global.address, LUA_REGISTRYINDEX); // keep the thread alive while it runs
    try {
      const m = (lua as any).module;
      const ptr = m._malloc(source.length || 1);
      let status: LuaReturn;
      try {
        m.HEAPU8.set(source, ptr);
        status = lua.luaL_loadbufferx(thread.address, ptr, source.length, chunkName, "t");
      } finally {
        m._free(ptr);
      }
      if (status !== LuaReturn.Ok) {
        const msg = lua.lua_tolstring(thread.address, -1, null);
        throw new LuaScriptError(status === LuaReturn.ErrorMem ? "memory limit exceeded (not enough memory)" : msg, "");
      }
      const nargs = pushArgs(thread);
      return await this.driver.run(thread, nargs);
    } finally {
      lua.luaL_unref(global.address, LUA_REGISTRYINDEX, ref);
    }
  }

  /** Stop the running script (SIGINT): its current wait ends and it does not continue. */
  interrupt(): void {
    this.driver.stop(new ScriptStop("interrupted", 130, "interrupted"));
  }

  /** Kill everything scripts started (processes, containers, sessions) and free the VM. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.driver.stop(new ScriptStop("host disposed", 1, "disposed"));
    await this.registry.releaseAll();
    try {
      this.engine.global.close();
    } catch {
      /* a VM stopped mid-run may refuse; memory goes with the host */
    }
  }
}

function resolveConfig(c: HostOptions["config"]): Config {
  const kinds = builtinKinds();
  if (c === undefined || typeof c === "string") return loadConfig(kinds, c);
  if (c instanceof Object && "entries" in c && c.entries instanceof Map) return c as Config;
  return configFromObject(kinds, c, "config object");
}
