#!/usr/bin/env bash
# Set up loopback sshd instances for moonexec's exec.ssh tests.
#
# Idempotent: the first run on a fresh Debian machine installs openssh-server (without
# starting the system's sshd), creates the test user, keys and configs, and starts the
# instances; later runs only restart instances that are not running.
#
# Must run as root. Needs no systemd (each sshd is started directly with -f CONFIG).
# The system's own sshd (/etc/ssh/sshd_config, the ssh service) is never touched.
#
# Creates under /var/lib/moonexec-test/ssh:
#   id_ed25519, id_ed25519.pub     client key pair (authorized for the test user and root)
#   authorized_keys/{USER,root}    read only by these sshd instances (AuthorizedKeysFile)
#   known_hosts                    host keys of every instance
#   hosts/ADDR/{sshd_config,ssh_host_ed25519_key,sshd.pid,sshd.log}
#   env                            KEY=value lines the tests read (shell-sourceable)
# Instances: 127.0.0.2 .. 127.0.0.11, port $SSH_TEST_PORT (default 22), user moonexec.
# Every instance keeps OpenSSH's defaults that matter to the tests: MaxSessions 10, no
# AcceptEnv.
set -euo pipefail

readonly OUT_DIR=/var/lib/moonexec-test/ssh
readonly TEST_USER=moonexec
readonly PORT=${SSH_TEST_PORT:-22}
readonly FIRST=2 LAST=11

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

log() { printf '[ssh-setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

exec 9>/run/moonexec-ssh-setup.lock
flock -w 300 9 || die "another ssh-setup is still running"

TMP=$(mktemp -d)
POLICY_RC_CREATED=
cleanup() {
  rm -rf "$TMP"
  if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. package
if [ ! -x /usr/sbin/sshd ]; then
  # policy-rc.d 101: the package must not start the system sshd (it would take *:22).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  log "apt-get install openssh-server"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >"$TMP/apt.log" 2>&1 || { cat "$TMP/apt.log" >&2; die "apt-get update failed"; }
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends openssh-server openssh-client >"$TMP/apt.log" 2>&1 \
    || { cat "$TMP/apt.log" >&2; die "apt-get install openssh-server failed"; }
fi
command -v ssh-keygen >/dev/null || die "ssh-keygen missing (openssh-client)"

# Privilege separation needs this directory and user (the package creates the user).
mkdir -p /run/sshd
chmod 755 /run/sshd
id sshd >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd

# ---------------------------------------------------------------- 2. user and keys
if ! id "$TEST_USER" >/dev/null 2>&1; then
  log "creating user $TEST_USER"
  useradd --create-home --shell /bin/sh "$TEST_USER"
fi
# sshd without PAM refuses accounts whose password field is locked ("!").
usermod -p '*' "$TEST_USER"

mkdir -p "$OUT_DIR/authorized_keys" "$OUT_DIR/hosts"
chmod 755 /var/lib/moonexec-test "$OUT_DIR" "$OUT_DIR/authorized_keys" "$OUT_DIR/hosts"
if [ ! -s "$OUT_DIR/id_ed25519" ]; then
  ssh-keygen -q -t ed25519 -N '' -C moonexec-test -f "$OUT_DIR/id_ed25519"
fi
chmod 600 "$OUT_DIR/id_ed25519"
for u in "$TEST_USER" root; do
  install -m 644 -o root -g root "$OUT_DIR/id_ed25519.pub" "$OUT_DIR/authorized_keys/$u"
done

# ---------------------------------------------------------------- 3. instances
running() { # pid file, config -> is that file's pid our sshd for that config?
  # /run and /var/lib outlive the machine here: a stale pid file can name a
  # reused pid that belongs to something else, so check the command line too.
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $2 "
}

HOSTS=()
: >"$TMP/known_hosts"
for n in $(seq "$FIRST" "$LAST"); do
  addr=127.0.0.$n
  HOSTS+=("$addr")
  dir=$OUT_DIR/hosts/$addr
  mkdir -p "$dir"
  [ -s "$dir/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "moonexec-test $addr" -f "$dir/ssh_host_ed25519_key"
  cat >"$dir/sshd_config.new" <<EOF
# moonexec test sshd for $addr (scripts/ssh-setup.sh); not the system's sshd.
ListenAddress $addr:$PORT
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $OUT_DIR/authorized_keys/%u
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
AllowUsers $TEST_USER root
Subsystem sftp internal-sftp
LogLevel INFO
EOF
  if ! cmp -s "$dir/sshd_config.new" "$dir/sshd_config" 2>/dev/null; then
    mv "$dir/sshd_config.new" "$dir/sshd_config"
    # A changed config: restart the instance if it runs.
    if running "$dir/sshd.pid" "$dir/sshd_config"; then kill "$(cat "$dir/sshd.pid")"; sleep 0.3; fi
  else
    rm -f "$dir/sshd_config.new"
  fi
  /usr/sbin/sshd -t -f "$dir/sshd_config" || die "sshd config $dir/sshd_config is invalid"
  if ! running "$dir/sshd.pid" "$dir/sshd_config"; then
    rm -f "$dir/sshd.pid"
    log "starting sshd on $addr:$PORT"
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" 9>&- || die "sshd on $addr:$PORT did not start (see $dir/sshd.log)"
  fi
  key=$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")
  if [ "$PORT" = 22 ]; then echo "$addr $key" >>"$TMP/known_hosts"; else echo "[$addr]:$PORT $key" >>"$TMP/known_hosts"; fi
done
install -m 644 "$TMP/known_hosts" "$OUT_DIR/known_hosts"

# Wait until every instance answers (sshd daemonizes before it may accept).
for addr in "${HOSTS[@]}"; do
  for _ in $(seq 50); do
    if timeout 2 bash -c "exec 3<>/dev/tcp/$addr/$PORT && head -c 4 <&3" 2>/dev/null | grep -q SSH-; then continue 2; fi
    sleep 0.1
  done
  die "sshd on $addr:$PORT does not answer (see $OUT_DIR/hosts/$addr/sshd.log)"
done

# A login as the test user proves keys, user and config together.
ssh -o BatchMode=yes -o UserKnownHostsFile="$OUT_DIR/known_hosts" -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \
  -i "$OUT_DIR/id_ed25519" -p "$PORT" "$TEST_USER@${HOSTS[0]}" true </dev/null \
  || die "test login $TEST_USER@${HOSTS[0]} failed (see $OUT_DIR/hosts/${HOSTS[0]}/sshd.log)"

cat >"$OUT_DIR/env.new" <<EOF
SSH_TEST_HOSTS=${HOSTS[*]}
SSH_TEST_PORT=$PORT
SSH_TEST_USER=$TEST_USER
SSH_TEST_KEY=$OUT_DIR/id_ed25519
SSH_TEST_KNOWN_HOSTS=$OUT_DIR/known_hosts
SSH_TEST_HOST_KEYS=$OUT_DIR/hosts
EOF
mv "$OUT_DIR/env.new" "$OUT_DIR/env"
log "ready: ${#HOSTS[@]} sshd on ${HOSTS[0]}..${HOSTS[-1]}:$PORT, env in $OUT_DIR/env"
