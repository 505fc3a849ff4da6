/** The examples in the README run as documented. */
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

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

  it("pty-login.lua answers a login and a /dev/tty password prompt, and shows a TIMEOUT with the last output", async () => {
    const r = await runCli(["run", "examples/pty-login.lua"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe(
      "logged in as alice with a 13-character password; exit 0\n" +
        'nil\tTIMEOUT\tstream:expect: no match for "%(yes/no%)" within 0.5 s; last output: "Continue? [y/N] "\n',
    );
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

  it("fleet.lua: facts from 5 hosts, a deploy two at a time with prefixed lines, web3 failing alone, exit 1", async () => {
    const r = await runCli(["run", "--config", "examples/fleet.yaml", "examples/fleet.lua"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("[fleet:web3] disk full\n");
    const lines = r.stdout.toString().trim().split("\n");
    const ids = [1, 2, 3, 4, 5].map((i) => `fleet:web${i}`);
    expect(lines.slice(0, 6)).toEqual([`fleet:web has 5 hosts: ${ids.join(" ")}`, ...ids.map((id) => `${id}\tLinux`)]);
    const deploy = lines.slice(6, -2);
    for (const id of ids) {
      const mine = deploy.filter((l) => l.startsWith(`[${id}] `));
      expect(mine).toEqual(id === "fleet:web3" ? [`[${id}] deploying release 42`] : [`[${id}] deploying release 42`, `[${id}] release 42 live`]);
    }
    expect(deploy).toHaveLength(9);
    // Two at a time: web3 starts only once web1 or web2 is done.
    const firstDone = Math.min(deploy.indexOf("[fleet:web1] release 42 live"), deploy.indexOf("[fleet:web2] release 42 live"));
    expect(deploy.indexOf("[fleet:web3] deploying release 42")).toBeGreaterThan(firstDone);
    expect(lines.slice(-2)).toEqual(["4 of 5 hosts deployed", "FAILED\tfleet:web3\tdeploy exited with 1"]);
  });
});
