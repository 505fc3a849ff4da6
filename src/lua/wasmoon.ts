/**
 * wasmoon, loaded with require(): importing this large CommonJS bundle through ESM makes
 * Node scan it for named exports first, on every start-up.
 */
import { createRequire } from "node:module";

const wasmoon = createRequire(import.meta.url)("wasmoon") as typeof import("wasmoon");

export const { LuaFactory, LuaReturn, LuaType, LuaEventMasks, LUA_REGISTRYINDEX } = wasmoon;
export type { LuaEngine, LuaThread, LuaWasm } from "wasmoon";
export type LuaReturn = import("wasmoon").LuaReturn;
export type LuaFactory = import("wasmoon").LuaFactory;
