/**
 * Optional output decoding. Default: bytes pass through unchanged. With an encoding name
 * (cp949, euc-kr, shift_jis, utf-16le, ...) bytes are decoded to UTF-8 by a stateful
 * iconv-lite decoder, so a multi-byte character split across chunks is joined correctly.
 */
import { createRequire } from "node:module";
import { ExecError } from "../errors.js";

// Loaded on first use: most runs never decode.
let iconvModule: typeof import("iconv-lite") | undefined;
const iconv = () => (iconvModule ??= createRequire(import.meta.url)("iconv-lite") as typeof import("iconv-lite"));

export interface ChunkDecoder {
  write(chunk: Buffer): Buffer;
  end(): Buffer;
}

const PASS_THROUGH = new Set(["binary", "raw", "bytes"]);

/** The one check of exec's `encoding` option: the name, or INVALID naming the option. */
export function checkEncoding(name: string): string {
  if (!PASS_THROUGH.has(name.toLowerCase()) && !iconv().encodingExists(name)) {
    throw new ExecError("INVALID", `opts.encoding: unknown encoding '${name}' (use an iconv-lite name such as utf-8, cp949, euc-kr, or "binary")`);
  }
  return name;
}

/** The decoder for an encoding checkEncoding accepted; none when bytes pass through. */
export function createDecoder(name: string | undefined): ChunkDecoder | undefined {
  if (name === undefined || PASS_THROUGH.has(name.toLowerCase())) return undefined;
  const decoder = iconv().getDecoder(name);
  return {
    write: (chunk) => Buffer.from(decoder.write(chunk), "utf8"),
    end: () => Buffer.from(decoder.end() ?? "", "utf8"),
  };
}
