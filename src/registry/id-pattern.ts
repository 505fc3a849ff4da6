/** Executor id patterns for `exec.list` / `exec.each`, and the order ids are listed in. */

/** `*` any run of characters (':' included), `?` one character; everything else literal. */
export function idPattern(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === "*" ? ".*" : c === "?" ? "." : `\\${c}`));
  return new RegExp(`^${body}$`, "s");
}

export const hasWildcard = (pattern: string): boolean => /[*?]/.test(pattern);

/** Ids in the order people number hosts: digit runs by value, so web2 comes before web10. */
export function compareIds(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const n = BigInt(x) - BigInt(y);
      if (n !== 0n) return n < 0n ? -1 : 1;
      return y.length - x.length; // web01 before web1: same value, more zeros first
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
