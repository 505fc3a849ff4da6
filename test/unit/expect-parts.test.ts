/** The pure parts of stream:expect: the unread-output window (OutputStream.peek/skip) and the quoted tail in its errors. */
import { describe, expect, it } from "vitest";
import { OutputStream } from "../../src/stream/output-stream.js";
import { describeTail } from "../../src/stream/output-tail.js";

describe("describeTail", () => {
  it("escapes line breaks, escape sequences, quotes and backslashes", () => {
    expect(describeTail(Buffer.from('a\tb\r\n\x1b[1m"q"\\ \x7f'), 100)).toBe('"a\\tb\\r\\n\\x1b[1m\\"q\\"\\\\ \\x7f"');
  });

  it("keeps the last bytes, marks the cut, and starts on a character boundary", () => {
    expect(describeTail(Buffer.from("0123456789"), 4)).toBe('…"6789"');
    expect(describeTail(Buffer.from("xxéé"), 3)).toBe('…"é"'); // the cut lands inside the first é: skipped whole
    expect(describeTail(Buffer.from(""), 4)).toBe('""');
  });
});

describe("OutputStream peek/skip", () => {
  it("peek shows unread bytes across chunks without consuming them; skip consumes exactly n", () => {
    const s = new OutputStream("stdout", { waiting: false }, undefined);
    s.feed(Buffer.from("hello "));
    s.feed(Buffer.from("world"));
    expect(s.peek(1024).join().toString()).toBe("hello world");
    expect(s.arrived).toBe(11);
    s.skip(3);
    expect(s.peek(1024).join().toString()).toBe("lo world");
    expect(s.tryReadLine()).toBeUndefined(); // no newline yet: nothing was consumed by peek
    s.skip(100); // at most what is buffered
    expect(s.buffered).toBe(0);
    expect(s.arrived).toBe(11);
  });

  it("past the window the oldest unread output is consumed, so a match scans a bounded amount", () => {
    const s = new OutputStream("stdout", { waiting: false }, undefined);
    s.feed(Buffer.from("abcdef"));
    s.feed(Buffer.from("ghij"));
    expect(s.peek(4).join().toString()).toBe("ghij");
    expect(s.buffered).toBe(4);
    expect(s.arrived).toBe(10);
  });
});
