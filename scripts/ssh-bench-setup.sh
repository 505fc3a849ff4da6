#!/usr/bin/env bash
# Install the baselines of the SSH benchmarks (bench/ssh.js): Debian's pssh (parallel-ssh)
# and ansible-core. Only `node bench/run.js ssh` needs them, so CI (which runs the tests,
# not the benchmarks) does not call this script; the sshd instances themselves come from
# scripts/ssh-setup.sh.
#
# Idempotent: installs only what is missing. Must run as root on Debian bookworm.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

log() { printf '[ssh-bench-setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

missing=()
command -v parallel-ssh >/dev/null || missing+=(pssh)
command -v ansible >/dev/null || missing+=(ansible-core)
command -v ssh >/dev/null || missing+=(openssh-client)
if [ ${#missing[@]} -eq 0 ]; then
  log "pssh, ansible-core and ssh already installed"
  exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
log "apt-get install ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=300 update -qq >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; die "apt-get update failed"; }
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >"$TMP/apt.log" 2>&1 \
  || { cat "$TMP/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
command -v parallel-ssh >/dev/null || die "parallel-ssh missing after installing pssh"
command -v ansible >/dev/null || die "ansible missing after installing ansible-core"
log "installed ${missing[*]}"
