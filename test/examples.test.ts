/** The examples in the README run as documented. */
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

describe("examples", () => {
  it("hello.lua", async () => {
    const r = await runCli(["run", "examples/hello.lua"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("hello from moonexec: Linux (exit 0)\n");
  });

  it("parallel.lua prints 10 results in order, in about the time of the slowest", async () => {
    const r = await runCli(["run", "examples/parallel.lua"]);
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    lines.slice(0, 10).forEach((line, i) => expect(line).toMatch(new RegExp(`^site-${i + 1}\tsite-${i + 1} is up after (0\\.5|1\\.0|1\\.5|2\\.0) s$`)));
    const m = /^all 10 done in about (\d+) s; one after another they would take (\d+\.\d) s$/.exec(lines[10]!);
    expect(m, lines[10]).not.toBeNull();
    const [took, serial] = [Number(m![1]), Number(m![2])];
    // Each sleeps 0.5–2 s: at least 5 s one after another, at most ~2 s side by side.
    expect(serial).toBeGreaterThanOrEqual(5);
    expect(took).toBeLessThan(5);
  });

  it("background.lua attaches to a running ticker and stops it", async () => {
    const r = await runCli(["run", "examples/background.lua"]);
    expect(r.stderr).toBe("");
    const out = r.stdout.toString();
    expect(out).toMatch(/^started ticker, pid \d+\nrunning: ticker \(pid \d+\) sh -c /);
    expect(out).toContain("attached saw: tick 1\n");
    expect(out).toContain("attached saw: tick 7\n");
    expect(out).toContain("ticker stopped with exit code 143 (SIGTERM)\n");
  });
});
