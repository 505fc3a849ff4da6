/** HostOptions.kinds: an application's own executor kinds beside the built-in ones. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConfigError, Host, type BackendKind } from "../../src/index.js";

const sink = () => {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write: (c, _e, done) => (chunks.push(Buffer.from(c)), done()) });
  return { stream, text: () => Buffer.concat(chunks).toString() };
};

describe("custom executor kinds", () => {
  it("refuses a kind whose name is taken, and a kind without open(), before any host exists", async () => {
    const dup: BackendKind = { kind: "exec.native", fields: {}, open: async () => ({ spawn: () => { throw new Error("never"); }, release: async () => {} }) };
    await expect(Host.create({ kinds: [dup] })).rejects.toThrow(new ConfigError("kinds[0]: the kind 'exec.native' exists already"));
    await expect(Host.create({ kinds: [{ kind: "x.y", fields: {} } as unknown as BackendKind] })).rejects.toThrow(/^kinds\[0\]: must be an executor kind/);
  });

  it("checks the kind's fields in config entries, and a failing open() is the script's UNAVAILABLE error", async () => {
    const broken: BackendKind = { kind: "test.broken", fields: { size: "integer" }, open: async () => { throw new Error("no such place"); } };
    await expect(Host.create({ kinds: [broken], config: { namespace: "t", entries: [{ name: "b", kind: "test.broken", size: "big" }] } })).rejects.toThrow(
      "config object: entry 't:b': field 'size' must be an integer",
    );
    const out = sink();
    const host = await Host.create({ kinds: [broken], stdout: out.stream, config: { namespace: "t", entries: [{ name: "b", kind: "test.broken", size: 3 }] } });
    try {
      await host.runString(`print(require("exec").get("t:b"))`);
    } finally {
      await host.dispose();
    }
    expect(out.text()).toBe("nil\tUNAVAILABLE: no such place\n");
  });
});
