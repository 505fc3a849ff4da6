/** Which engine a host runs on: the option, else MOONEXEC_ENGINE, else wasmoon. */
import { ConfigError } from "../../errors.js";
import { ENGINE_NAMES, type Engine, type EngineName } from "./engine.js";
import { createWasmoonEngine } from "./wasmoon.js";

export type { EngineName };

/** The environment variable that picks the engine when nothing else does (CI runs the suite on each). */
export const ENGINE_ENV = "MOONEXEC_ENGINE";

/** Check an engine name; `where` names the option or variable it came from. */
export function engineName(value: unknown, where: string): EngineName {
  if (typeof value === "string" && (ENGINE_NAMES as readonly string[]).includes(value)) return value as EngineName;
  throw new ConfigError(`${where}: unknown engine ${JSON.stringify(value)} (expected ${ENGINE_NAMES.join(" or ")})`);
}

/** The engine a host gets: the option given, else the environment's, else wasmoon. */
export function chosenEngine(option: unknown): EngineName {
  if (option !== undefined) return engineName(option, "engine");
  const env = process.env[ENGINE_ENV];
  if (env !== undefined && env !== "") return engineName(env, ENGINE_ENV);
  return "wasmoon";
}

export async function createEngine(option: unknown, memoryLimit: number | undefined): Promise<Engine> {
  const name = chosenEngine(option);
  if (name === "wasmoon") return createWasmoonEngine();
  if (memoryLimit !== undefined) {
    throw new ConfigError("memoryLimit: the fengari engine cannot count the Lua heap, so it takes no memory limit (docs/engines.md)");
  }
  const { createFengariEngine } = await import("./fengari.js");
  return createFengariEngine();
}
