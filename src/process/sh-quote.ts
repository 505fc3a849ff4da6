/** Quote one word for a Bourne shell (single quotes; a newline stays literal inside them). */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * sh single-quoting that keeps the result on one line, for shell code a backend sends as one
 * line (read by `read`, or eval'd). A newline becomes "$<newlineVar>": the receiving shell
 * must hold a newline in that variable.
 */
export function shQuoter(newlineVar: string): (s: string) => string {
  const nl = `'"$${newlineVar}"'`;
  return (s) => shQuote(s).replace(/\n/g, nl);
}
