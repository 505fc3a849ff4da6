/** The examples in the README run as documented. */
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";

describe("examples", () => {
  it("hello.lua", async () => {
    const r = await runCli(["run", "examples/hello.lua"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("hello from moonexec: Linux (exit 0)\n");
  });

  it("parallel.lua prints 10 results in order", async () => {
    const r = await runCli(["run", "examples/parallel.lua"]);
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `site-${i + 1}\tsite-${i + 1} is up`));
    expect(lines[10]).toMatch(/^all 10 done in about \d+s$/);
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
