/**
 * Bytes kept as the pieces they arrived in. A read that spans several chunks hands them on
 * as they are, and they are joined once, where they land (in the Lua heap, see
 * LuaStack.pushParts): joining them in JS first cost a copy and a fresh Buffer per read.
 */
export class ByteParts {
  constructor(
    readonly parts: readonly Buffer[],
    readonly length: number,
  ) {}

  /** One Buffer (no copy when there is a single part). */
  join(): Buffer {
    if (this.parts.length === 1) return this.parts[0]!;
    return Buffer.concat(this.parts as Buffer[], this.length);
  }
}
