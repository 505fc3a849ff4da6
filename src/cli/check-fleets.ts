/** `moonexec check` names each fleet with the ids it expanded to (docs/fleet.md). */
import type { Entry } from "../config/entry.js";

export function fleetLines(entries: Entry[]): string[] {
  const fleets = new Map<string, string[]>();
  for (const e of entries) if (e.fleet) fleets.set(e.fleet, [...(fleets.get(e.fleet) ?? []), e.id]);
  return [...fleets].map(([fleet, ids]) => `fleet ${fleet}: ${ids.length} executor${ids.length === 1 ? "" : "s"}: ${ids.join(", ")}`);
}
