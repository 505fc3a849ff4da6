/**
 * The last output a stream showed, as one line fit for an error message: the end of the
 * bytes, decoded leniently as UTF-8, with line breaks, escape sequences and other control
 * characters written as escapes so a terminal's output cannot redraw the message.
 */
const ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\" };

/** `bytes`' last `max` bytes (at most) as a quoted, escaped string; "…" marks a cut beginning. */
export function describeTail(bytes: Buffer, max: number): string {
  let start = Math.max(0, bytes.length - max);
  // Start on a character boundary: skip UTF-8 continuation bytes.
  while (start > 0 && start < bytes.length && (bytes[start]! & 0xc0) === 0x80) start++;
  const text = bytes.subarray(start).toString("utf8");
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\x00-\x1f\x7f"\\]/g, (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
  return `${start > 0 ? "…" : ""}"${escaped}"`;
}
