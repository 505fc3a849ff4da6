#!/usr/bin/env bash
# Set up a local Incus daemon and test instances for moonexec's Incus tests.
#
# Idempotent: the first run on a fresh Debian machine installs Incus, starts the
# daemon, builds an offline busybox image and creates the test instances; later
# runs only check that everything is there (and restart what is not running).
#
# Must run as root. Works without stdin (CI=true). No network is needed except
# the Debian apt mirror (only on the first run, for the packages).
#
# Creates:
#   storage pool  default (dir driver), root disk in the default profile
#   image         moonexec-busybox (busybox-static rootfs, built locally)
#   instances     moonexec-test (running), moonexec-stopped (created, never started)
#   HTTPS         core.https_address 127.0.0.1:8443, trusted client cert
#   files         /var/lib/moonexec-test/incus/{client.crt,client.key,server.crt,env}
#   log           /var/log/moonexec-incusd.log (daemon stdout/stderr)
#   cluster       a second, private incusd (INCUS_DIR=/var/lib/moonexec-test/incus-cluster/dir,
#                 HTTPS 127.0.0.1:8444) made a one-member cluster (member moonexec-member1)
#                 with instance moonexec-cluster-test; described in
#                 /var/lib/moonexec-test/incus-cluster/env. The shared daemon is never
#                 clustered: `incus cluster enable` cannot be undone and replaces the
#                 certificate its HTTPS listener presents (the one pinned in env).
#
# Tests read /var/lib/moonexec-test/incus/env (KEY=value lines, shell-sourceable).
#
# No frozen instance is kept on purpose: processes of a frozen (paused) container
# ignore SIGKILL until thawed, so one left frozen when a session ends could not
# be killed. Tests that need one should `incus pause` an instance themselves
# and `incus start`/`incus delete --force` it in their cleanup.
# `incus stop` works (the image's /sbin/init exits on SIGPWR/SIGTERM).
set -euo pipefail

readonly IMAGE_ALIAS=moonexec-busybox
# Bump when the image contents change: the image and the instances made from it
# are then rebuilt on the next run.
readonly IMAGE_VERSION=2
readonly INSTANCE=moonexec-test
readonly STOPPED_INSTANCE=moonexec-stopped
readonly POOL=default
readonly HTTPS_ADDR_DEFAULT=127.0.0.1:8443
readonly OUT_DIR=/var/lib/moonexec-test/incus
readonly INCUSD=/usr/libexec/incus/incusd
readonly INCUS_DIR=/var/lib/incus
readonly SOCKET=$INCUS_DIR/unix.socket
readonly DAEMON_LOG=/var/log/moonexec-incusd.log
readonly SOURCES_FILE=/etc/apt/sources.list.d/moonexec-backports.sources

export PATH=/usr/libexec/incus:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive

START_TS=$(date +%s.%N)
log() { printf '[incus-setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Runs a command quietly; shows its output only if it fails.
quiet() {
  local rc=0
  "$@" >"$TMP/quiet.log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then cat "$TMP/quiet.log" >&2; die "failed ($rc): $*"; fi
}
elapsed() { awk -v s="$START_TS" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e-s}'; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

# One setup at a time (tests and a developer may both call it).
exec 9>/run/moonexec-incus-setup.lock
flock -w 600 9 || die "another incus-setup is still running"

TMP=$(mktemp -d)
POLICY_RC_CREATED=
cleanup() {
  rm -rf "$TMP"
  if [ -n "$POLICY_RC_CREATED" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. packages
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_packages() {
  local codename need=() incus_pkgs=() target=()
  # shellcheck disable=SC1091
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if ! command -v incus >/dev/null 2>&1 || [ ! -x "$INCUSD" ]; then
    incus_pkgs=(incus-base incus-client)
  fi
  pkg_installed busybox-static || need+=(busybox-static)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v jq >/dev/null 2>&1 || need+=(jq)
  command -v flock >/dev/null 2>&1 || need+=(util-linux)
  if [ ${#incus_pkgs[@]} -eq 0 ] && [ ${#need[@]} -eq 0 ]; then
    log "packages: already installed"
    return
  fi
  if [ ${#incus_pkgs[@]} -gt 0 ] && [ "$codename" = bookworm ]; then
    # Incus is only in bookworm-backports on Debian 12 (it is in main from 13 on).
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "adding bookworm-backports apt source ($SOURCES_FILE)"
      if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        cat >"$SOURCES_FILE" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      else
        echo 'deb http://deb.debian.org/debian bookworm-backports main' \
          >/etc/apt/sources.list.d/moonexec-backports.list
      fi
    fi
    target=(-t bookworm-backports)
  fi
  # Do not let package scripts try to start services (no init system here).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  log "apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >"$TMP/apt-update.log" 2>&1 || { cat "$TMP/apt-update.log" >&2; die "apt-get update failed"; }
  if [ ${#incus_pkgs[@]} -gt 0 ]; then
    log "installing ${incus_pkgs[*]} ${target[*]:-}"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${target[@]}" "${incus_pkgs[@]}" \
      >"$TMP/apt-incus.log" 2>&1 || { tail -40 "$TMP/apt-incus.log" >&2; die "installing Incus failed"; }
  fi
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" \
      >"$TMP/apt-tools.log" 2>&1 || { tail -40 "$TMP/apt-tools.log" >&2; die "installing ${need[*]} failed"; }
  fi
  if ! command -v incus >/dev/null 2>&1 || [ ! -x "$INCUSD" ]; then
    die "incus still missing after install"
  fi
}

# ---------------------------------------------------------------- 2. daemon
incus_up() { [ -S "$SOCKET" ] && timeout 10 incus query /1.0 >/dev/null 2>&1; }

# PIDs of live (non-zombie) main incusd processes; helper processes such as
# `incusd forkexec ...` are left out.
incusd_pids() {
  ps -eo pid=,stat=,args= | awk '$2 !~ /^Z/ && $3 ~ /(^|\/)incusd$/ && ($4 == "" || $4 ~ /^-/) {print $1}'
}

start_daemon() {
  if incus_up; then
    log "daemon: already answering"
    return
  fi
  if [ -z "$(incusd_pids)" ]; then
    log "daemon: starting $INCUSD (log: $DAEMON_LOG)"
    mkdir -p /var/log/incus
    {
      printf '==== %s incus-setup starting incusd\n' "$(date -u +%FT%TZ)"
    } >>"$DAEMON_LOG"
    (
      exec 9>&-   # do not hand the setup lock to the daemon
      ulimit -n 1048576 2>/dev/null || true
      exec setsid "$INCUSD" --group root </dev/null >>"$DAEMON_LOG" 2>&1
    ) &
    disown || true
  else
    log "daemon: incusd (pid $(incusd_pids | tr '\n' ' ')) exists but is not answering yet; waiting"
  fi
  if ! incus admin waitready --timeout 60 >/dev/null 2>&1 || ! incus_up; then
    tail -40 "$DAEMON_LOG" >&2 || true
    die "incusd did not become ready (see $DAEMON_LOG)"
  fi
  log "daemon: ready ($(incus query /1.0 | jq -r '.environment.server_version'))"
}

# ---------------------------------------------------------------- 3. storage
setup_storage() {
  if incus storage show "$POOL" >/dev/null 2>&1; then
    log "storage: pool '$POOL' exists"
  else
    log "storage: creating dir pool '$POOL'"
    incus storage create "$POOL" dir >/dev/null
  fi
  if incus profile device show default 2>/dev/null | grep -q '^root:'; then
    log "storage: default profile has a root disk"
  else
    log "storage: adding root disk to the default profile"
    incus profile device add default root disk path=/ pool="$POOL" >/dev/null
  fi
}

# ---------------------------------------------------------------- 4. image
image_version() { incus image get-property "$IMAGE_ALIAS" moonexec_version 2>/dev/null || true; }

build_image() {
  local busybox rootfs=$TMP/rootfs applet
  busybox=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
  [ -x "$busybox" ] || die "busybox-static binary not found"
  log "image: building busybox rootfs from $busybox"
  mkdir -p "$rootfs"/{bin,sbin,etc,proc,sys,dev,root,tmp,run,var/tmp,usr/bin,usr/sbin,home}
  chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
  chmod 700 "$rootfs/root"
  cp "$busybox" "$rootfs/bin/busybox"
  chmod 755 "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
  done
  ln -sf /bin/busybox "$rootfs/usr/bin/env"
  # PID 1: sleeps forever, but exits on the halt signal (SIGPWR) or SIGTERM so
  # that a clean `incus stop` works (a bare `exec sleep` as PID 1 ignores them
  # and `incus stop` then hangs until its timeout).
  cat >"$rootfs/sbin/init" <<'EOF'
#!/bin/sh
trap 'exit 0' PWR TERM INT HUP
while :; do
  sleep 2147483647 &
  wait $!
done
EOF
  chmod 755 "$rootfs/sbin/init"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$rootfs/etc/hosts"
  printf 'moonexec\n' >"$rootfs/etc/hostname"

  cat >"$TMP/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: moonexec busybox test image
  os: busybox
  release: static
  moonexec_version: "$IMAGE_VERSION"
templates: {}
EOF
  tar -C "$TMP" -czf "$TMP/meta.tar.gz" metadata.yaml
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -czf "$TMP/rootfs.tar.gz" .
  log "image: importing as '$IMAGE_ALIAS'"
  incus image import "$TMP/meta.tar.gz" "$TMP/rootfs.tar.gz" --alias "$IMAGE_ALIAS" >/dev/null
}

setup_image() {
  local have
  have=$(image_version)
  if [ "$have" = "$IMAGE_VERSION" ]; then
    log "image: '$IMAGE_ALIAS' present (version $IMAGE_VERSION)"
    return
  fi
  if incus image show "$IMAGE_ALIAS" >/dev/null 2>&1; then
    log "image: '$IMAGE_ALIAS' is version '${have:-none}', want $IMAGE_VERSION: replacing"
    incus image delete "$IMAGE_ALIAS"
  fi
  build_image
}

# ---------------------------------------------------------------- 5. instances
instance_status() { incus query "/1.0/instances/$1" 2>/dev/null | jq -r '.status' || true; }

# Removes an instance built from an older image version so it gets recreated.
drop_if_stale() {
  local name=$1 ver
  [ -n "$(instance_status "$name")" ] || return 0
  ver=$(incus config get "$name" image.moonexec_version 2>/dev/null || true)
  if [ "$ver" != "$IMAGE_VERSION" ]; then
    log "instance: '$name' was made from image version '${ver:-?}': recreating"
    incus delete --force "$name" >/dev/null
  fi
}

ensure_running() {
  local name=$1 status
  drop_if_stale "$name"
  status=$(instance_status "$name")
  case "$status" in
    "")
      log "instance: launching '$name'"
      quiet incus launch "$IMAGE_ALIAS" "$name" ;;
    Running) log "instance: '$name' running" ;;
    Frozen)
      log "instance: '$name' frozen: resuming"
      incus start "$name" ;;
    *)
      log "instance: '$name' is $status: starting"
      incus start "$name" ;;
  esac
}

ensure_stopped() {
  local name=$1 status
  drop_if_stale "$name"
  status=$(instance_status "$name")
  case "$status" in
    "")
      log "instance: creating '$name' (not started)"
      quiet incus create "$IMAGE_ALIAS" "$name" ;;
    Stopped) log "instance: '$name' stopped" ;;
    *)
      log "instance: '$name' is $status: stopping"
      incus stop --force "$name" ;;
  esac
}

setup_instances() {
  ensure_running "$INSTANCE"
  ensure_stopped "$STOPPED_INSTANCE"
  local out
  out=$(incus exec "$INSTANCE" -- sh -c 'echo ok; id') || die "incus exec $INSTANCE failed"
  [ "$(printf '%s\n' "$out" | head -n1)" = ok ] || die "unexpected exec output: $out"
  log "exec: $(printf '%s' "$out" | tr '\n' ' ')"
}

# ---------------------------------------------------------------- 6. HTTPS
cert_fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'; }

setup_https() {
  local addr
  addr=$(incus config get core.https_address)
  if [ -z "$addr" ]; then
    log "https: setting core.https_address=$HTTPS_ADDR_DEFAULT"
    incus config set core.https_address "$HTTPS_ADDR_DEFAULT"
    addr=$HTTPS_ADDR_DEFAULT
  else
    log "https: core.https_address=$addr"
  fi
  case "$addr" in
    :*) addr=127.0.0.1$addr ;;
    0.0.0.0:*|\[::\]:*) addr=127.0.0.1:${addr##*:} ;;
    *:*) ;;
    *) addr=$addr:8443 ;;
  esac
  HTTPS_URL=https://$addr

  mkdir -p "$OUT_DIR"
  chmod 755 "$(dirname "$OUT_DIR")" "$OUT_DIR"
  if [ ! -s "$OUT_DIR/client.crt" ] || [ ! -s "$OUT_DIR/client.key" ]; then
    log "https: generating client certificate (EC P-384) in $OUT_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp384r1 -nodes \
      -keyout "$OUT_DIR/client.key.new" -out "$OUT_DIR/client.crt.new" -days 3650 \
      -subj "/CN=moonexec-test-client" -addext "extendedKeyUsage=clientAuth" 2>/dev/null
    chmod 600 "$OUT_DIR/client.key.new"
    mv "$OUT_DIR/client.key.new" "$OUT_DIR/client.key"
    mv "$OUT_DIR/client.crt.new" "$OUT_DIR/client.crt"
  fi
  CLIENT_FP=$(cert_fp "$OUT_DIR/client.crt")
  if incus query /1.0/certificates | jq -e --arg fp "$CLIENT_FP" 'any(.[]; endswith("/" + $fp))' >/dev/null; then
    log "https: client certificate already trusted (${CLIENT_FP:0:12})"
  else
    log "https: trusting client certificate (${CLIENT_FP:0:12})"
    incus config trust add-certificate "$OUT_DIR/client.crt" --name moonexec-test-client
  fi
  if ! cmp -s "$INCUS_DIR/server.crt" "$OUT_DIR/server.crt"; then
    log "https: copying server certificate"
    cp "$INCUS_DIR/server.crt" "$OUT_DIR/server.crt"
  fi
  SERVER_FP=$(cert_fp "$OUT_DIR/server.crt")
  SERVER_NAME=$(openssl x509 -in "$OUT_DIR/server.crt" -noout -ext subjectAltName 2>/dev/null \
    | tr ',' '\n' | sed -n 's/^ *DNS://p' | head -n1)

  cat >"$OUT_DIR/env.new" <<EOF
# Written by scripts/incus-setup.sh; KEY=value, shell-sourceable.
INCUS_TEST_INSTANCE=$INSTANCE
INCUS_TEST_STOPPED_INSTANCE=$STOPPED_INSTANCE
INCUS_TEST_IMAGE=$IMAGE_ALIAS
INCUS_TEST_SOCKET=$SOCKET
INCUS_TEST_HTTPS=$HTTPS_URL
INCUS_TEST_CLIENT_CERT=$OUT_DIR/client.crt
INCUS_TEST_CLIENT_KEY=$OUT_DIR/client.key
INCUS_TEST_SERVER_CERT=$OUT_DIR/server.crt
INCUS_TEST_SERVER_FINGERPRINT=$SERVER_FP
INCUS_TEST_SERVER_NAME=$SERVER_NAME
EOF
  if cmp -s "$OUT_DIR/env.new" "$OUT_DIR/env"; then
    rm -f "$OUT_DIR/env.new"
  else
    mv "$OUT_DIR/env.new" "$OUT_DIR/env"
    log "https: wrote $OUT_DIR/env"
  fi
}

# ---------------------------------------------------------------- 7. proofs
curl_unix() { curl -sS --fail-with-body --max-time 30 --unix-socket "$SOCKET" "$@"; }
curl_https() {
  curl -sS --fail-with-body --max-time 30 --cacert "$OUT_DIR/server.crt" \
    --cert "$OUT_DIR/client.crt" --key "$OUT_DIR/client.key" "$@"
}

# rest_exec CURLFN BASE: runs `sh -c 'echo hi; exit 3'` through POST .../exec with
# record-output, waits on the operation, checks return code 3 and stdout "hi".
rest_exec() {
  local fn=$1 base=$2 resp op waited ret stdout_url stdout
  resp=$($fn -X POST -H 'Content-Type: application/json' \
    -d '{"command":["sh","-c","echo hi; exit 3"],"wait-for-websocket":false,"interactive":false,"record-output":true}' \
    "$base/1.0/instances/$INSTANCE/exec") || die "exec POST failed: $resp"
  op=$(jq -r '.operation' <<<"$resp")
  if [ -z "$op" ] || [ "$op" = null ]; then die "no operation in exec response: $resp"; fi
  waited=$($fn "$base$op/wait?timeout=30") || die "operation wait failed: $waited"
  ret=$(jq -r '.metadata.metadata.return' <<<"$waited")
  [ "$ret" = 3 ] || die "exec return was '$ret', want 3: $waited"
  stdout_url=$(jq -r '.metadata.metadata.output["1"] // empty' <<<"$waited")
  stdout=
  if [ -n "$stdout_url" ]; then
    stdout=$($fn "$base$stdout_url") || true
    $fn -X DELETE "$base$stdout_url" >/dev/null 2>&1 || true
    local err_url
    err_url=$(jq -r '.metadata.metadata.output["2"] // empty' <<<"$waited")
    [ -z "$err_url" ] || $fn -X DELETE "$base$err_url" >/dev/null 2>&1 || true
  fi
  [ "$stdout" = hi ] || die "exec stdout was '$stdout', want 'hi'"
  printf 'return=%s stdout=%s' "$ret" "$stdout"
}

prove_transports() {
  local resp
  resp=$(curl_unix "http://x/1.0/instances/$INSTANCE") || die "unix socket GET failed: $resp"
  [ "$(jq -r '.metadata.status' <<<"$resp")" = Running ] || die "unix socket: $INSTANCE not Running: $resp"
  log "proof: unix socket GET /1.0/instances/$INSTANCE -> status Running"
  resp=$(curl_https "$HTTPS_URL/1.0") || die "HTTPS GET /1.0 failed: $resp"
  [ "$(jq -r '.metadata.auth' <<<"$resp")" = trusted ] || die "HTTPS: not trusted: $resp"
  log "proof: HTTPS GET $HTTPS_URL/1.0 -> auth trusted"
  resp=$(rest_exec curl_unix http://x)
  log "proof: REST exec over unix socket -> $resp"
  resp=$(rest_exec curl_https "$HTTPS_URL")
  log "proof: REST exec over HTTPS -> $resp"
}

# ---------------------------------------------------------------- 8. cluster
readonly CLUSTER_OUT=/var/lib/moonexec-test/incus-cluster
readonly CLUSTER_DIR=$CLUSTER_OUT/dir
readonly CLUSTER_ADDR=127.0.0.1:8444
readonly CLUSTER_MEMBER=moonexec-member1
readonly CLUSTER_INSTANCE=moonexec-cluster-test
# INCUS_DIR is readonly here (the shared daemon's); env passes the cluster's.
cincus() { env INCUS_DIR="$CLUSTER_DIR" incus "$@"; }

setup_cluster() {
  local out
  mkdir -p "$CLUSTER_DIR"
  chmod 755 "$CLUSTER_OUT"
  if [ -S "$CLUSTER_DIR/unix.socket" ] && timeout 10 env INCUS_DIR="$CLUSTER_DIR" incus query /1.0 >/dev/null 2>&1; then
    log "cluster: daemon answering"
  else
    log "cluster: starting a second incusd (INCUS_DIR=$CLUSTER_DIR, log: $CLUSTER_OUT/incusd.log)"
    (
      exec 9>&-
      exec env INCUS_DIR="$CLUSTER_DIR" setsid "$INCUSD" --group root </dev/null >>"$CLUSTER_OUT/incusd.log" 2>&1
    ) &
    disown || true
    cincus admin waitready --timeout 60 >/dev/null 2>&1 || { tail -20 "$CLUSTER_OUT/incusd.log" >&2; die "cluster incusd did not become ready"; }
  fi
  [ -n "$(cincus config get core.https_address)" ] || cincus config set core.https_address "$CLUSTER_ADDR"
  cincus storage show "$POOL" >/dev/null 2>&1 || cincus storage create "$POOL" dir >/dev/null
  cincus profile device show default 2>/dev/null | grep -q '^root:' || cincus profile device add default root disk path=/ pool="$POOL" >/dev/null
  if [ "$(cincus query /1.0 | jq -r '.environment.server_clustered')" = true ]; then
    log "cluster: clustered"
  else
    log "cluster: enabling clustering (member $CLUSTER_MEMBER)"
    cincus cluster enable "$CLUSTER_MEMBER" >/dev/null
  fi
  if [ "$(cincus image get-property "$IMAGE_ALIAS" moonexec_version 2>/dev/null || true)" != "$IMAGE_VERSION" ]; then
    log "cluster: copying image '$IMAGE_ALIAS'"
    cincus delete --force "$CLUSTER_INSTANCE" >/dev/null 2>&1 || true
    cincus image delete "$IMAGE_ALIAS" >/dev/null 2>&1 || true
    incus image export "$IMAGE_ALIAS" "$TMP/cluster-img" >/dev/null
    cincus image import "$TMP/cluster-img" "$TMP/cluster-img.root" --alias "$IMAGE_ALIAS" >/dev/null
  fi
  case "$(cincus query "/1.0/instances/$CLUSTER_INSTANCE" 2>/dev/null | jq -r '.status' || true)" in
    "") log "cluster: launching '$CLUSTER_INSTANCE'"; quiet cincus launch "$IMAGE_ALIAS" "$CLUSTER_INSTANCE" ;;
    Running) log "cluster: '$CLUSTER_INSTANCE' running" ;;
    *) cincus start "$CLUSTER_INSTANCE" ;;
  esac
  if ! cincus query /1.0/certificates | jq -e --arg fp "$CLIENT_FP" 'any(.[]; endswith("/" + $fp))' >/dev/null; then
    log "cluster: trusting the client certificate"
    cincus config trust add-certificate "$OUT_DIR/client.crt" --name moonexec-test-client
  fi
  # A cluster presents its cluster certificate on HTTPS, not the member's server.crt.
  cmp -s "$CLUSTER_DIR/cluster.crt" "$CLUSTER_OUT/cluster.crt" || cp "$CLUSTER_DIR/cluster.crt" "$CLUSTER_OUT/cluster.crt"
  {
    echo "# Written by scripts/incus-setup.sh; KEY=value, shell-sourceable."
    echo "INCUS_CLUSTER_SOCKET=$CLUSTER_DIR/unix.socket"
    echo "INCUS_CLUSTER_HTTPS=https://$CLUSTER_ADDR"
    echo "INCUS_CLUSTER_MEMBER=$CLUSTER_MEMBER"
    echo "INCUS_CLUSTER_INSTANCE=$CLUSTER_INSTANCE"
    echo "INCUS_CLUSTER_CERT=$CLUSTER_OUT/cluster.crt"
    echo "INCUS_CLUSTER_FINGERPRINT=$(cert_fp "$CLUSTER_OUT/cluster.crt")"
  } >"$CLUSTER_OUT/env.new"
  if cmp -s "$CLUSTER_OUT/env.new" "$CLUSTER_OUT/env"; then
    rm -f "$CLUSTER_OUT/env.new"
  else
    mv "$CLUSTER_OUT/env.new" "$CLUSTER_OUT/env"
    log "cluster: wrote $CLUSTER_OUT/env"
  fi
  out=$(curl -sS --fail-with-body --max-time 30 --cacert "$CLUSTER_OUT/cluster.crt" --cert "$OUT_DIR/client.crt" --key "$OUT_DIR/client.key" \
    "https://$CLUSTER_ADDR/1.0/instances/$CLUSTER_INSTANCE") || die "cluster: HTTPS GET failed: $out"
  log "proof: cluster member $(jq -r '.metadata.location' <<<"$out") holds $CLUSTER_INSTANCE ($(jq -r '.metadata.status' <<<"$out")) at https://$CLUSTER_ADDR"
}

install_packages
start_daemon
setup_storage
setup_image
setup_instances
setup_https
prove_transports
setup_cluster
log "done in $(elapsed)s; env: $OUT_DIR/env"
