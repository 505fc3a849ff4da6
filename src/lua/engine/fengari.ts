import type { Engine } from "./engine.js";
export async function createFengariEngine(): Promise<Engine> {
  throw new Error("fengari: not yet");
}
