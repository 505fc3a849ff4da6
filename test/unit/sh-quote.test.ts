/** The one-line sh quoting both container backends use, checked against a real sh. */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { shQuoter } from "../../src/process/sh-quote.js";

const WORDS = ["plain", "a b", "it's", "'", "''", "line1\nline2", "\n", "\n\n", "$HOME", "`id`", "\\", "\\n", "한글", "-n", "", "*", 'a"b', "'\n'"];

describe("shQuoter", () => {
  for (const nlVar of ["nl", "__mx_n"]) {
    it(`round-trips every word through sh on one line (newline variable ${nlVar})`, () => {
      const q = shQuoter(nlVar);
      const words = WORDS.map(q).join(" ");
      expect(words).not.toContain("\n");
      const out = execFileSync("sh", ["-c", `${nlVar}='\n'; for w in ${words}; do printf '[%s]' "$w"; done`], { encoding: "utf8" });
      expect(out).toBe(WORDS.map((w) => `[${w}]`).join(""));
    });
  }
});
