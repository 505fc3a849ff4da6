/** Signal names ↔ numbers ("TERM", "SIGTERM", 15). Linux numbering, as every backend here runs Linux. */
import { constants } from "node:os";
import { ExecError } from "../errors.js";

const BY_NAME = constants.signals as Record<string, number>;

export function signalNumber(sig: unknown, arg = "signal"): number {
  if (typeof sig === "number" && Number.isInteger(sig) && sig > 0 && sig < 65) return sig;
  if (typeof sig === "string") {
    const upper = sig.toUpperCase();
    const n = BY_NAME[upper.startsWith("SIG") ? upper : `SIG${upper}`];
    if (n !== undefined) return n;
  }
  throw new ExecError("INVALID", `${arg}: unknown signal ${JSON.stringify(sig)} (use a number or a name like "TERM")`);
}

export function signalName(signo: number): string | undefined {
  for (const [name, n] of Object.entries(BY_NAME)) if (n === signo) return name;
  return undefined;
}
