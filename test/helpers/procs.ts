/** Look for leftover processes by a unique marker in their command line (e.g. "sleep 101.25"). */
import { execFileSync } from "node:child_process";

export function running(marker: string): string[] {
  const out = execFileSync("ps", ["-eo", "stat,args"], { encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes(marker) && !l.startsWith("Z") && !l.includes("ps -eo"));
}

/** Wait up to 4 s for the marked processes to go; returns those still there. */
export async function gone(marker: string): Promise<string[]> {
  for (let i = 0; i < 40 && running(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return running(marker);
}

/** A `sleep` duration no other test uses: the marker to look for in `ps`. */
export function marker(): string {
  return `${1000 + Math.floor(Math.random() * 8000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
}
