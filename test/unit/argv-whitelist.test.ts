/** Command splitting (shell-like words, no shell) and the whitelist. */
import { describe, expect, it } from "vitest";
import { splitCommand } from "../../src/process/argv.js";
import { Whitelist } from "../../src/registry/whitelist.js";

describe("splitCommand", () => {
  it.each([
    ["git status", ["git", "status"]],
    ["  a   b  ", ["a", "b"]],
    [`echo 'a b' "c d"`, ["echo", "a b", "c d"]],
    [`echo a\\ b`, ["echo", "a b"]],
    [`echo "q\\"uote" 'it''s'`, ["echo", 'q"uote', "its"]],
    [`echo "\\$HOME \\n"`, ["echo", "$HOME \\n"]],
    [`echo ''`, ["echo", ""]],
    ["ls | wc -l; rm -rf / > x $HOME `id`", ["ls", "|", "wc", "-l;", "rm", "-rf", "/", ">", "x", "$HOME", "`id`"]],
    ["a\tb\nc", ["a", "b", "c"]],
  ])("%j → %j", (cmd, argv) => expect(splitCommand(cmd)).toEqual(argv));

  it("rejects unterminated quotes and a trailing backslash", () => {
    expect(() => splitCommand("echo 'x")).toThrow("unterminated single quote");
    expect(() => splitCommand('echo "x')).toThrow("unterminated double quote");
    expect(() => splitCommand("echo x\\")).toThrow("trailing backslash");
  });
});

describe("Whitelist", () => {
  const wl = new Whitelist(["git status", "ls -la"]);
  const allowed = (c: string | string[]) => {
    try {
      wl.check(c, "app:sh");
      return true;
    } catch (e) {
      expect((e as { kind: string }).kind).toBe("PERMISSION_DENIED");
      return false;
    }
  };

  it("allows exact strings and equal argv tables", () => {
    expect(allowed("git status")).toBe(true);
    expect(allowed(["git", "status"])).toBe(true);
  });

  it.each([
    "git status; rm -rf /",
    "git status && rm -rf /",
    "git  status",
    " git status",
    "git status ",
    "git status\n",
    "git 'status'",
    "GIT status",
  ])("rejects %j", (c) => expect(allowed(c)).toBe(false));

  it.each([[["git status"]], [["git", "status", ""]], [["git", "status;", "rm"]], [["git"]], [["git", "status", "--porcelain"]]])("rejects argv %j", (argv) =>
    expect(allowed(argv)).toBe(false),
  );

  it("names the command and executor in the error", () => {
    expect(() => wl.check("rm -rf /", "app:sh")).toThrow(`command "rm -rf /" is not in the command_whitelist of app:sh`);
  });

  it("an empty or absent whitelist allows everything", () => {
    expect(() => new Whitelist(undefined).check("anything", "x")).not.toThrow();
    expect(() => new Whitelist([]).check("anything", "x")).not.toThrow();
  });
});
