#!/usr/bin/env bash
# Debian's Lua 5.4 and the pure-Lua libraries test/cli/third-party.test.ts runs through
# moonexec (luaunit, inspect.lua, Penlight), plus the reference interpreter
# scripts/lua-testsuite.sh compares against. Safe to run repeatedly; must run as root.
set -euo pipefail

PACKAGES=(lua5.4 lua-penlight lua-inspect lua-unit)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian ships inspect.lua for 5.1-5.3 only (it is plain Lua that runs on 5.4 too).
for f in /usr/share/lua/5.4/luaunit.lua /usr/share/lua/5.3/inspect.lua /usr/share/lua/5.4/pl/compat.lua; do
  [ -f "$f" ] || { echo "lua-setup: $f is missing after the install" >&2; exit 1; }
done
echo "lua-setup: ok ($(lua5.4 -v 2>&1))"
