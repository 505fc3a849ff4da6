/**
 * The fengari engine (Lua 5.3 in plain JavaScript): the one home of fengari's API and of the
 * internals moonexec reads (a thread's `allowhook`, the error record Lua throws to unwind).
 *
 * What differs from wasmoon (32-bit integers, no __gc, no memory accounting): docs/engines.md.
 * Loaded only when chosen: the require costs start-up time a wasmoon run need not pay.
 */
import { createRequire } from "node:module";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { FENGARI_MAX_STACK, FENGARI_YOUNG_GC_BYTES } from "../../constants.js";
import type { Engine, HookHandler, HostDispatcher, LuaState, Status } from "./engine.js";

/* eslint-disable @typescript-eslint/no-explicit-any -- fengari ships no types */
type State = any;
type Api = Record<string, any>;

const load = createRequire(import.meta.url);
const fengari = withConf({ LUAI_MAXSTACK: FENGARI_MAX_STACK }, () => load("fengari")) as { lua: Api & Record<string, any>; lauxlib: Api & Record<string, any>; lualib: Api; FENGARI_VERSION: string; luaconf: Record<string, any> };
const { lua, lauxlib, lualib } = fengari;
const REGISTRY: number = lua.LUA_REGISTRYINDEX;
const UPVALUE_1: number = lua.lua_upvalueindex(1);
const FENGARI_VERSION: string = (load("fengari/package.json") as { version: string }).version;

const STATUS: Record<number, Status> = { 0: "ok", 1: "yield", 4: "memory" };

/**
 * fengari 0.1.5 loses a thread's `allowhook` when a pcall inside a coroutine catches an error:
 * lua_pcallk never records the value to restore (it ANDs the flag in instead of setting it),
 * so recovery turns hooks off for good and a `while true do pcall(f) end` in a coroutine
 * would escape the time limit, Ctrl-C and cancel(). moonexec runs Lua with hooks allowed
 * everywhere outside its own hook (script hooks run with them back on), so a recovery to a
 * yieldable pcall (the frame marked CIST_YPCALL) always restores "allowed".
 */
function restoreHooksAfterRecovery(): void {
  const lstate = load("fengari/src/lstate.js") as { lua_State: { prototype: object }; CIST_YPCALL: number };
  const YPCALL = lstate.CIST_YPCALL;
  Object.defineProperty(lstate.lua_State.prototype, "allowhook", {
    get(this: { _allowhook: number }) {
      return this._allowhook;
    },
    set(this: { _allowhook: number; ci?: { callstatus: number } | null }, v: number) {
      this._allowhook = v === 0 && ((this.ci?.callstatus ?? 0) & YPCALL) !== 0 ? 1 : v;
    },
    configurable: true,
  });
}
restoreHooksAfterRecovery();

const F = (L: LuaState): State => L;
const S = (L: State): LuaState => L as LuaState;

export async function createFengariEngine(): Promise<Engine> {
  return new FengariEngine();
}

class FengariEngine implements Engine {
  readonly name = "fengari" as const;
  readonly description = `fengari ${FENGARI_VERSION} (Lua 5.3)`;
  readonly main: LuaState;
  readonly maxInteger: number = fengari.luaconf.LUA_MAXINTEGER;
  readonly finalizers = false;
  readonly countsMemory = false;
  private dispatch: HostDispatcher | undefined;
  private hook: HookHandler | undefined;
  private closed = false;
  /** Bytes of strings pushed since the last collectYoung(). */
  private pushedBytes = 0;
  /** The one JS function behind every host function: the index is its upvalue. */
  private readonly hostFunction = (L: State): number => this.dispatch!(S(L), lua.lua_tointeger(L, UPVALUE_1));
  private readonly hookFunction = (L: State, ar: unknown): void => this.hook!(S(L), ar);

  // The C API with the same shape: fengari's functions as they are.
  readonly type: Engine["type"] = lua.lua_type as Engine["type"];
  readonly gettop: Engine["gettop"] = lua.lua_gettop as Engine["gettop"];
  readonly settop: Engine["settop"] = lua.lua_settop as Engine["settop"];
  readonly pushnil: Engine["pushnil"] = lua.lua_pushnil as Engine["pushnil"];
  readonly pushnumber: Engine["pushnumber"] = lua.lua_pushnumber as Engine["pushnumber"];
  readonly pushinteger: Engine["pushinteger"] = lua.lua_pushinteger as Engine["pushinteger"];
  readonly pushvalue: Engine["pushvalue"] = lua.lua_pushvalue as Engine["pushvalue"];
  readonly createtable: Engine["createtable"] = lua.lua_createtable as Engine["createtable"];
  readonly rawset: Engine["rawset"] = lua.lua_rawset as Engine["rawset"];
  readonly rawseti: Engine["rawseti"] = lua.lua_rawseti as Engine["rawseti"];
  readonly rotate: Engine["rotate"] = lua.lua_rotate as Engine["rotate"];
  readonly xmove: Engine["xmove"] = lua.lua_xmove as Engine["xmove"];
  readonly rawlen: Engine["rawlen"] = lua.lua_rawlen as Engine["rawlen"];
  readonly toboolean: Engine["toboolean"] = lua.lua_toboolean as Engine["toboolean"];
  readonly isinteger: Engine["isinteger"] = lua.lua_isinteger as Engine["isinteger"];
  readonly tointeger: Engine["tointeger"] = lua.lua_tointeger as Engine["tointeger"];
  readonly tonumber: Engine["tonumber"] = lua.lua_tonumber as Engine["tonumber"];
  readonly isyieldable: Engine["isyieldable"] = lua.lua_isyieldable as Engine["isyieldable"];
  readonly gethookcount: Engine["gethookcount"] = lua.lua_gethookcount as Engine["gethookcount"];

  constructor() {
    const L = lauxlib.luaL_newstate();
    lualib.luaL_openlibs(L);
    // A JavaScript exception inside Lua (a bug, a stack overflow) becomes a Lua error with its message.
    lua.lua_atnativeerror(L, (eL: State) => {
      const e = lua.lua_touserdata(eL, 1) as unknown;
      lua.lua_pushstring(eL, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      return 1;
    });
    this.main = S(L);
  }

  typename(L: LuaState, type: number): string {
    return fromLua(lua.lua_typename(F(L), type));
  }
  next(L: LuaState, idx: number): boolean {
    return lua.lua_next(F(L), idx) !== 0;
  }
  checkstack(L: LuaState, n: number): boolean {
    return !!lua.lua_checkstack(F(L), n);
  }
  pushboolean(L: LuaState, b: boolean): void {
    lua.lua_pushboolean(F(L), b);
  }
  getfield(L: LuaState, idx: number, key: string): void {
    lua.lua_getfield(F(L), idx, key);
  }
  setglobal(L: LuaState, name: string): void {
    lua.lua_setglobal(F(L), name);
  }
  newthread(L: LuaState): LuaState {
    return S(lua.lua_newthread(F(L)));
  }
  tothread(L: LuaState, idx: number): LuaState | undefined {
    return lua.lua_tothread(F(L), idx) ?? undefined;
  }
  ref(L: LuaState): number {
    return lauxlib.luaL_ref(F(L), REGISTRY);
  }
  unref(L: LuaState, ref: number): void {
    lauxlib.luaL_unref(F(L), REGISTRY, ref);
  }
  pushref(L: LuaState, ref: number): void {
    lua.lua_rawgeti(F(L), REGISTRY, ref);
  }

  /** fengari's strings are Uint8Arrays it owns: copied out, never handed over. */
  toBytes(L: LuaState, idx: number): Buffer | undefined {
    const t = lua.lua_type(F(L), idx);
    if (t !== 4 && t !== 3) return undefined; // string, number
    return Buffer.from(lua.lua_tolstring(F(L), idx) as Uint8Array);
  }

  isBytes(L: LuaState, idx: number, want: Uint8Array): boolean {
    if (lua.lua_type(F(L), idx) !== 4) return false;
    const s = lua.lua_tolstring(F(L), idx) as Uint8Array;
    if (s.length !== want.length) return false;
    for (let i = 0; i < want.length; i++) if (s[i] !== want[i]) return false;
    return true;
  }

  /**
   * One copy, made here with a block copy and handed to fengari as the string's own memory:
   * lua_pushlstring would copy once more, element by element (Uint8Array.from).
   */
  pushParts(L: LuaState, parts: readonly Uint8Array[], length: number): void {
    if (length === 0) {
      lua.lua_pushlstring(F(L), EMPTY, 0);
      return;
    }
    // Not zeroed first: the parts fill it (and whatever they leave is zeroed, never handed
    // to a script as some other memory's old bytes).
    const unzeroed = Buffer.allocUnsafeSlow(length);
    const owned = new Uint8Array(unzeroed.buffer, unzeroed.byteOffset, length);
    let at = 0;
    for (const p of parts) {
      owned.set(at + p.length > length ? p.subarray(0, length - at) : p, at);
      at += p.length;
      if (at >= length) break;
    }
    if (at < length) owned.fill(0, at);
    internals().pushOwnedString(F(L), owned);
    this.pushedBytes += length;
    if (this.pushedBytes >= FENGARI_YOUNG_GC_BYTES) {
      this.pushedBytes = 0;
      collectYoung();
    }
  }

  setHostDispatcher(dispatch: HostDispatcher): void {
    this.dispatch = dispatch;
  }

  pushHostFunction(L: LuaState, index: number): void {
    lua.lua_pushinteger(F(L), index);
    lua.lua_pushcclosure(F(L), this.hostFunction, 1);
  }

  /** Lua unwinds by throwing the thread's error record ({status, previous}), never an Error. */
  isUnwind(e: unknown): boolean {
    return typeof e === "object" && e !== null && !(e instanceof Error) && "status" in e && "previous" in e;
  }

  load(L: LuaState, source: Uint8Array, chunkName: string): { status: Status; message?: string } {
    const status: number = lauxlib.luaL_loadbufferx(F(L), source, source.length, chunkName, "t");
    if (status === 0) return { status: "ok" };
    return { status: STATUS[status] ?? "error", message: this.toBytes(L, -1)?.toString("utf8") };
  }

  /** Lua 5.3's lua_resume leaves exactly the values returned or yielded on the thread's stack. */
  resume(L: LuaState, nargs: number): [Status, number] {
    const status: number = lua.lua_resume(F(L), null, nargs);
    const st = STATUS[status] ?? "error";
    return [st, st === "ok" || st === "yield" ? lua.lua_gettop(F(L)) : 0];
  }

  yieldingInHook(L: LuaState): boolean {
    return F(L).status === 1; // LUA_YIELD
  }

  yieldFromHook(L: LuaState): void {
    lua.lua_yield(F(L), 0);
  }

  error(L: LuaState): never {
    lua.lua_error(F(L));
    throw new Error("lua_error returned");
  }

  call(L: LuaState, nargs: number, nresults: number): void {
    lua.lua_callk(F(L), nargs, nresults, 0, null);
  }

  traceback(L: LuaState): string {
    lua.lua_checkstack(F(L), 8); // a dead thread may have no room left (fengari checks every push)
    lauxlib.luaL_traceback(F(L), F(L), null, 0);
    const s = this.toBytes(L, -1)?.toString("utf8") ?? "";
    lua.lua_settop(F(L), -2);
    return s;
  }

  setHookHandler(handler: HookHandler): void {
    this.hook = handler;
  }

  sethook(L: LuaState, mask: number, count: number): void {
    lua.lua_sethook(F(L), mask === 0 ? null : this.hookFunction, mask, count);
  }

  hookEvent(ar: unknown): number {
    return (ar as { event: number }).event;
  }

  hookLine(ar: unknown): number {
    return (ar as { currentline: number }).currentline;
  }

  /** A thread's `allowhook` is a plain field of fengari's lua_State. */
  allowHookKnown(L: LuaState): boolean {
    return typeof F(L).allowhook === "number";
  }

  getAllowHook(L: LuaState): boolean {
    return F(L).allowhook !== 0;
  }

  setAllowHook(L: LuaState, on: boolean): void {
    F(L).allowhook = on ? 1 : 0;
  }

  setMemoryLimit(bytes: number | undefined): void {
    if (bytes !== undefined) throw new Error("the fengari engine cannot count the Lua heap: no memory limit (docs/engines.md)");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    lua.lua_close(F(this.main));
  }

  /** Nothing registered outside the state: JavaScript's collector frees it with its last reference. */
  abandon(): void {}
}

const EMPTY = new Uint8Array(0);

let fengariInternals: { pushOwnedString(L: State, bytes: Uint8Array): void } | undefined;
/** What lua_pushlstring does after its copy: a string value over memory nobody else holds. */
function internals(): NonNullable<typeof fengariInternals> {
  if (fengariInternals) return fengariInternals;
  const lobject = load("fengari/src/lobject.js") as { pushsvalue2s(L: State, ts: unknown): void };
  const lstring = load("fengari/src/lstring.js") as { luaS_bless(L: State, s: Uint8Array): unknown };
  return (fengariInternals = { pushOwnedString: (L, bytes) => lobject.pushsvalue2s(L, lstring.luaS_bless(L, bytes)) });
}

let youngGc: (() => void) | null | undefined;
/**
 * A minor GC. fengari's strings are typed arrays in fresh memory, freed only when V8 collects
 * them, and V8 lets tens of MB of dead ones pile up between collections: a script reading
 * bulk output then writes every byte to memory long out of cache. Collecting every few MB
 * keeps it reused while cached (a 1 GiB read: docs/engines.md). V8 offers a collection to
 * JavaScript only as `gc`, behind --expose-gc: switched on just long enough to take it.
 */
function collectYoung(): void {
  if (youngGc === undefined) {
    youngGc = null;
    const existing = (globalThis as { gc?: (o?: object) => void }).gc;
    try {
      let gc = existing;
      if (typeof gc !== "function") {
        setFlagsFromString("--expose-gc");
        try {
          gc = runInNewContext("gc") as typeof gc;
        } finally {
          setFlagsFromString("--no-expose-gc");
        }
      }
      if (typeof gc === "function") youngGc = () => gc({ type: "minor" });
    } catch {
      youngGc = null; // no collector: strings are freed at V8's own pace
    }
  }
  youngGc?.();
}

/** fengari reads its build settings from FENGARICONF once, when it loads: set only for that. */
function withConf<T>(conf: Record<string, unknown>, f: () => T): T {
  const before = process.env.FENGARICONF;
  process.env.FENGARICONF = JSON.stringify({ ...(before ? JSON.parse(before) : {}), ...conf });
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.FENGARICONF;
    else process.env.FENGARICONF = before;
  }
}

function fromLua(s: Uint8Array | string): string {
  return typeof s === "string" ? s : Buffer.from(s).toString("utf8");
}
