/** A source that ends without the end of the output: reads give the bytes that came, then the error (pure logic). */
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { OutputStream } from "../../src/stream/output-stream.js";
import { OutputFanout } from "../../src/stream/fanout.js";
import { ExecError } from "../../src/errors.js";

/** A Readable that sends `chunks`, then ends with `failure` set (as the backends do on a cut). */
function cutSource(chunks: string[], failure: Error | undefined): Readable & { failure?: Error } {
  const src = new Readable({ read() {} }) as Readable & { failure?: Error };
  setImmediate(() => {
    for (const c of chunks) src.push(Buffer.from(c));
    src.failure = failure;
    src.push(null);
  });
  return src;
}

async function drain<T>(attempt: () => T | undefined, s: OutputStream): Promise<T> {
  for (;;) {
    const v = attempt();
    if (v !== undefined) return v;
    await s.changed();
  }
}

const lost = () => new ExecError("UNAVAILABLE", "connection to the daemon lost");

describe("a stream cut short", () => {
  it("read() gives every byte that arrived, then the error, never nil", async () => {
    const s = new OutputStream("stdout", { waiting: true }, undefined);
    s.attach(cutSource(["abc", "def"], lost()));
    let got = "";
    let error: unknown;
    try {
      for (;;) {
        const c = await drain(() => s.tryRead(2), s);
        if (c === null) break;
        got += c.join().toString();
      }
    } catch (e) {
      error = e;
    }
    expect(got).toBe("abcdef");
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).kind).toBe("UNAVAILABLE");
    expect(s.error?.kind).toBe("UNAVAILABLE");
  });

  it("read_line() gives the lines and the partial last one, then the error", async () => {
    const s = new OutputStream("stdout", { waiting: true }, undefined);
    s.attach(cutSource(["one\ntw", "o\nthr"], new ExecError("GONE", "container stopped")));
    const lines: string[] = [];
    const e = await (async () => {
      try {
        for (;;) {
          const l = await drain(() => s.tryReadLine(), s);
          if (l === null) return undefined;
          lines.push(l.toString());
        }
      } catch (e) {
        return e as ExecError;
      }
    })();
    expect(lines).toEqual(["one", "two", "thr"]);
    expect(e?.kind).toBe("GONE");
  });

  it("read_all() is an error and keeps what arrived for read()", async () => {
    const s = new OutputStream("stderr", { waiting: true }, undefined);
    s.attach(cutSource(["partial"], lost()));
    await expect(drain(() => s.tryReadAll(), s)).rejects.toMatchObject({ kind: "UNAVAILABLE" });
    expect(s.tryRead(100)?.join().toString()).toBe("partial");
    expect(() => s.tryRead(100)).toThrow(/connection to the daemon lost/);
  });

  it("an 'error' event without a kind becomes UNAVAILABLE naming the stream", async () => {
    const s = new OutputStream("stderr", { waiting: true }, undefined);
    const src = new Readable({ read() {} });
    s.attach(src);
    src.push(Buffer.from("x"));
    src.destroy(new Error("socket hang up"));
    await s.changed();
    await new Promise((r) => setImmediate(r));
    expect(s.tryRead(10)?.join().toString()).toBe("x");
    expect(() => s.tryRead(10)).toThrow(/stderr was cut short: socket hang up/);
  });

  it("a normal end is still EOF", async () => {
    const s = new OutputStream("stdout", { waiting: true }, undefined);
    s.attach(cutSource(["ok"], undefined));
    expect((await drain(() => s.tryReadAll(), s)).join().toString()).toBe("ok");
    expect(s.tryRead(10)).toBeNull();
  });

  it("a background process's readers see the failure too, also those that attach later", async () => {
    const fan = new OutputFanout("stdout", undefined);
    const owner = { waiting: true };
    const early = fan.subscribe(owner);
    fan.attach(cutSource(["data"], lost()));
    await new Promise((r) => setTimeout(r, 10));
    const late = fan.subscribe(owner);
    for (const r of [early, late]) {
      expect(r.tryRead(100)?.join().toString()).toBe("data");
      expect(() => r.tryRead(100)).toThrow(/connection to the daemon lost/);
    }
  });
});
