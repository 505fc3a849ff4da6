#!/usr/bin/env bash
# Run the official Lua test suite (the testes/ directory of the public lua/lua repository, at
# the commit wasmoon bundles) file by file under plain wasmoon and under moonexec, and print
# one line per file: pass/FAIL for each. The suite is not part of this repository: check it
# out somewhere else and give its testes/ directory.
#
#   bash scripts/lua-testsuite.sh /path/to/testes [file.lua ...]
#
# Environment: SUITE_TIMEOUT (seconds per file and runtime, default 120).
# docs/sandbox.md records the result and the differences the sandbox makes by design.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TESTES="${1:?usage: lua-testsuite.sh TESTES_DIR [file.lua ...]}"
shift
TIMEOUT="${SUITE_TIMEOUT:-120}"
cd "$TESTES" || exit 2
FILES=("$@")
if [ "${#FILES[@]}" -eq 0 ]; then
  # all.lua drives the others (with _port/_soft set); heavy.lua and verybig.lua are not in all.lua's list.
  FILES=(main.lua gc.lua db.lua calls.lua strings.lua literals.lua tpack.lua attrib.lua gengc.lua locals.lua
    constructs.lua code.lua big.lua cstack.lua nextvar.lua pm.lua utf8.lua api.lua events.lua vararg.lua
    closure.lua coroutine.lua goto.lua errors.lua math.lua sort.lua bitwise.lua files.lua)
fi

# Plain wasmoon: the same V8, the standard libraries, the file as one text chunk, _port and
# _soft as all.lua sets them.
PLAIN='
const { LuaFactory } = require(process.argv[1] + "/node_modules/wasmoon");
const fs = require("fs");
(async () => {
  const engine = await new LuaFactory().createEngine({ injectObjects: false, enableProxy: false });
  try {
    await engine.doString("_port = true; _soft = true; " + fs.readFileSync(process.argv[2], "latin1").replace(/^#[^\n]*/, ""));
    process.exit(0);
  } catch (e) {
    console.error(String(e && e.message || e));
    process.exit(1);
  }
})();'

printf "%-16s %-8s %-8s %s\n" file wasmoon moonexec "moonexec's error (first line)"
for f in "${FILES[@]}"; do
  timeout -s KILL "$TIMEOUT" node -e "$PLAIN" "$ROOT" "$f" >/tmp/lua-testsuite.plain.out 2>&1
  plain=$?
  # moonexec: _port/_soft through a wrapper chunk that then requires the file by name.
  printf '_port = true; _soft = true\npackage.path = "./?.lua;" .. package.path\nlocal name = ...\nreturn require(name)\n' >/tmp/lua-testsuite-run.lua
  cp /tmp/lua-testsuite-run.lua "$TESTES/.moonexec-run.lua"
  timeout -s KILL "$((TIMEOUT + 10))" node "$ROOT/bin/moonexec.js" run --time-limit "$TIMEOUT" --memory-limit 1G .moonexec-run.lua "${f%.lua}" >/tmp/lua-testsuite.moon.out 2>&1
  moon=$?
  rm -f "$TESTES/.moonexec-run.lua"
  verdict() { [ "$1" -eq 0 ] && echo pass || { [ "$1" -eq 124 ] || [ "$1" -eq 137 ] && echo TIMEOUT || echo FAIL; }; }
  err=""
  [ "$moon" -ne 0 ] && err="$(grep -m1 -E 'moonexec:|error' /tmp/lua-testsuite.moon.out | cut -c1-110)"
  printf "%-16s %-8s %-8s %s\n" "$f" "$(verdict $plain)" "$(verdict $moon)" "$err"
done
