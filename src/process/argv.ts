/**
 * Split a command string into argv the way a POSIX shell splits words — single quotes,
 * double quotes, backslash escapes — and nothing else: no pipes, no `;`, no `$VAR`,
 * no redirections, no globbing. Those characters stay literal inside words.
 */
import { ExecError } from "../errors.js";

export function splitCommand(command: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  const n = command.length;
  while (i < n) {
    const c = command[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) throw new ExecError("INVALID", `command: unterminated single quote at position ${i + 1}`);
      word += command.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= n) throw new ExecError("INVALID", "command: unterminated double quote");
        const d = command[i]!;
        if (d === '"') {
          i++;
          break;
        }
        // Inside double quotes a backslash only escapes these, as in sh.
        if (d === "\\" && i + 1 < n && '"\\$`\n'.includes(command[i + 1]!)) {
          if (command[i + 1] !== "\n") word += command[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === "\\") {
      if (i + 1 >= n) throw new ExecError("INVALID", "command: trailing backslash");
      if (command[i + 1] !== "\n") {
        word += command[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
