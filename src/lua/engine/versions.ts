/** The engines' versions for `moonexec --version`, read from their packages (neither is loaded). */
import { createRequire } from "node:module";
import type { EngineName } from "./engine.js";

const require = createRequire(import.meta.url);

const LUA: Record<EngineName, string> = { wasmoon: "Lua 5.4", fengari: "Lua 5.3" };

function version(name: EngineName): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/** "engine wasmoon 1.16.0, Lua 5.4; also fengari 0.1.5, Lua 5.3": the selected one first. */
export function engineVersions(selected: EngineName = "wasmoon"): string {
  const other: EngineName = selected === "wasmoon" ? "fengari" : "wasmoon";
  return `engine ${selected} ${version(selected)}, ${LUA[selected]}; also ${other} ${version(other)}, ${LUA[other]}`;
}
