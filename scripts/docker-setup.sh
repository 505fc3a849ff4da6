#!/usr/bin/env bash
# Prepare a working Docker engine and the offline test image for moonexec.
#
#   - installs Debian's docker.io (dockerd + containerd + runc) if dockerd is missing
#   - starts dockerd detached if the daemon does not answer, waits until it does
#   - builds the image moonexec-test:busybox from Debian's busybox-static
#     (no registry access needed) if it is missing or out of date
#   - smoke-tests the image
#   - generates TLS certificates (openssl) and makes dockerd also listen on
#     tcp://127.0.0.1:2376 with TLS, client certificates required (remote-Docker
#     tests); the unix socket stays as it is. Writes $DOCKER_TLS_DIR/env.
#
# Safe to run repeatedly; must run as root. No stdin needed (CI=true).
# Environment:
#   DOCKER                 docker client to use (default: `docker` from PATH)
#   MOONEXEC_TEST_IMAGE    image name (default: moonexec-test:busybox)
#   DOCKERD_LOG            daemon log (default: /var/log/moonexec-dockerd.log)
#   DOCKERD_WAIT_SECONDS   how long to wait for the daemon (default: 60)
#   DOCKER_TLS_DIR         certificates + env file (default: /var/lib/moonexec-test/docker-tls)
set -euo pipefail

IMAGE="${MOONEXEC_TEST_IMAGE:-moonexec-test:busybox}"
# Bump when the rootfs recipe below changes: an older image gets rebuilt.
IMAGE_VERSION=2
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/moonexec-dockerd.log}"
DOCKERD_WAIT_SECONDS="${DOCKERD_WAIT_SECONDS:-60}"
# Flags for dockerd in this sandbox (Firecracker VM, cgroup v1 hybrid, no
# systemd, no registry access). overlay2 works on the ext4 root; cgroupfs
# because there is no systemd. --iptables=false: with iptables on, dockerd
# sets the FORWARD policy to DROP (and br_netfilter is active here), which
# breaks Incus bridges on the same machine, and adds a MASQUERADE rule that
# would NAT container traffic out of eth0; there is no outside network to
# reach anyway. Container<->host and container<->container traffic on docker0
# and `-p` (docker-proxy) still work without it.
DOCKERD_FLAGS=(--storage-driver=overlay2 --exec-opt native.cgroupdriver=cgroupfs --iptables=false)
DOCKER_TLS_DIR="${DOCKER_TLS_DIR:-/var/lib/moonexec-test/docker-tls}"
# Loopback only: the TLS listener is for tests of remote daemons, never for the network.
TLS_ADDR=127.0.0.1:2376
# The unix socket for everyone as before, plus TLS on loopback; --tlsverify requires a
# client certificate signed by our CA.
TLS_FLAGS=(-H unix:///var/run/docker.sock -H "tcp://$TLS_ADDR" --tlsverify
  --tlscacert "$DOCKER_TLS_DIR/ca.pem" --tlscert "$DOCKER_TLS_DIR/server-cert.pem"
  --tlskey "$DOCKER_TLS_DIR/server-key.pem")
DOCKERD_FLAGS+=("${TLS_FLAGS[@]}")

export DEBIAN_FRONTEND=noninteractive

log() { printf '[docker-setup] %s\n' "$*" >&2; }
die() { printf '[docker-setup] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"

APT_UPDATED=0
APT_LOG=/var/log/moonexec-docker-setup-apt.log
apt_run() {
  # apt/dpkg are chatty: keep their output in a log, show its tail on failure.
  if ! "$@" </dev/null >>"$APT_LOG" 2>&1; then
    tail -n 30 "$APT_LOG" >&2 || true
    die "failed: $* (full log: $APT_LOG)"
  fi
}
apt_install() {
  mkdir -p "$(dirname "$APT_LOG")"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update ..."
    apt_run apt-get -o DPkg::Lock::Timeout=300 update
    APT_UPDATED=1
  fi
  log "installing $* (apt log: $APT_LOG) ..."
  apt_run apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@"
}

# ---------------------------------------------------------------- 1. install
if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd missing: installing docker.io ..."
  apt_install docker.io
  command -v dockerd >/dev/null 2>&1 || die "dockerd still missing after installing docker.io"
else
  log "dockerd present: $(command -v dockerd)"
fi

# Pick the client: an explicit $DOCKER, else `docker` from PATH (may be the
# standalone client in /usr/local/bin, which negotiates the API version down),
# else the one that came with docker.io.
if [ -z "${DOCKER:-}" ]; then
  if command -v docker >/dev/null 2>&1; then DOCKER=docker
  elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
  else die "no docker client found"; fi
fi
dk() { "$DOCKER" "$@"; }


# ------------------------------------------------------------ 1b. TLS certificates
# A CA, a server certificate for 127.0.0.1/localhost and a client certificate, named as
# the docker CLI expects in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem); plus a second CA
# that signed nothing here (tests of a wrong tls_ca). Regenerated only when missing or
# expiring within a day.
command -v openssl >/dev/null 2>&1 || apt_install openssl
cert_ok() { [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
new_ca() { # key cert cn
  new_key "$1"
  openssl req -x509 -new -key "$1" -subj "/CN=$3" -days 3650 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$2" 2>/dev/null
}
sign_cert() { # dir name cn extensions
  new_key "$1/$2-key.pem"
  openssl req -new -key "$1/$2-key.pem" -subj "/CN=$3" -out "$1/$2.csr" 2>/dev/null
  printf '%b\n' "$4" >"$1/$2.ext"
  openssl x509 -req -in "$1/$2.csr" -CA "$1/ca.pem" -CAkey "$1/ca-key.pem" -CAcreateserial -days 3650 -sha256 \
    -extfile "$1/$2.ext" -out "$1/$2-cert.pem" 2>/dev/null
}
gen_certs() {
  local d="$DOCKER_TLS_DIR" t
  t="$(mktemp -d /tmp/moonexec-tls.XXXXXX)"
  new_ca "$t/ca-key.pem" "$t/ca.pem" "moonexec test docker CA" || die "openssl: cannot make the CA"
  new_ca "$t/wrong-ca-key.pem" "$t/wrong-ca.pem" "moonexec test unrelated CA" || die "openssl: cannot make the second CA"
  sign_cert "$t" server localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth' \
    || die "openssl: cannot make the server certificate"
  sign_cert "$t" client "moonexec test client" 'extendedKeyUsage=clientAuth' \
    || die "openssl: cannot make the client certificate"
  mkdir -p "$d"
  install -m 644 "$t/ca.pem" "$d/ca.pem"
  install -m 600 "$t/ca-key.pem" "$d/ca-key.pem"
  install -m 644 "$t/wrong-ca.pem" "$d/wrong-ca.pem"
  install -m 644 "$t/server-cert.pem" "$d/server-cert.pem"
  install -m 600 "$t/server-key.pem" "$d/server-key.pem"
  install -m 644 "$t/client-cert.pem" "$d/cert.pem"
  install -m 600 "$t/client-key.pem" "$d/key.pem"
  rm -rf "$t"
}
if cert_ok "$DOCKER_TLS_DIR/ca.pem" && cert_ok "$DOCKER_TLS_DIR/server-cert.pem" && cert_ok "$DOCKER_TLS_DIR/cert.pem" \
   && [ -s "$DOCKER_TLS_DIR/key.pem" ] && [ -s "$DOCKER_TLS_DIR/server-key.pem" ] && [ -s "$DOCKER_TLS_DIR/wrong-ca.pem" ]; then
  log "TLS certificates present in $DOCKER_TLS_DIR"
else
  log "generating TLS certificates in $DOCKER_TLS_DIR ..."
  gen_certs
fi
cat >"$DOCKER_TLS_DIR/env" <<ENV
DOCKER_TLS_TEST_HOST=tcp://$TLS_ADDR
DOCKER_TLS_TEST_CA=$DOCKER_TLS_DIR/ca.pem
DOCKER_TLS_TEST_CERT=$DOCKER_TLS_DIR/cert.pem
DOCKER_TLS_TEST_KEY=$DOCKER_TLS_DIR/key.pem
DOCKER_TLS_TEST_WRONG_CA=$DOCKER_TLS_DIR/wrong-ca.pem
ENV
tls_up() {
  dk --tlsverify --tlscacert "$DOCKER_TLS_DIR/ca.pem" --tlscert "$DOCKER_TLS_DIR/cert.pem" \
    --tlskey "$DOCKER_TLS_DIR/key.pem" -H "tcp://$TLS_ADDR" version >/dev/null 2>&1
}

# ----------------------------------------------------------------- 2. daemon
daemon_up() { dk info >/dev/null 2>&1; }
# A live (non-zombie) process? pid 1 here reaps orphans only after a while, so
# a dead dockerd can linger as a zombie that pgrep/kill -0 still see.
alive() { local st; st="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" && [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]; }
dockerd_pids() {
  local p
  for p in $(pgrep -x dockerd 2>/dev/null || true); do alive "$p" && echo "$p"; done
  return 0
}
log_tail() { # the log since our last start marker, at most 40 lines
  awk '/^==== .* docker-setup starting dockerd/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
    "$DOCKERD_LOG" 2>/dev/null | tail -n 40 >&2 || true
}

# A daemon that answers on the socket but not on the TLS listener was started without it
# (by an earlier version of this script, or by systemd): restart it once with the
# listener. Containers running on it stop with it (no live-restore), so this happens only
# when the listener is missing.
if daemon_up && ! tls_up; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
    log "docker.service (systemd) runs dockerd: adding the TLS listener in a drop-in and restarting it ..."
    mkdir -p /etc/systemd/system/docker.service.d
    cat >/etc/systemd/system/docker.service.d/moonexec-tls.conf <<UNIT
# scripts/docker-setup.sh: TLS on loopback for moonexec's remote-Docker tests
[Service]
ExecStart=
ExecStart=$(command -v dockerd) -H fd:// \$DOCKER_OPTS -H tcp://$TLS_ADDR --tlsverify --tlscacert $DOCKER_TLS_DIR/ca.pem --tlscert $DOCKER_TLS_DIR/server-cert.pem --tlskey $DOCKER_TLS_DIR/server-key.pem
UNIT
    systemctl daemon-reload
    systemctl restart docker
  else
    pids="$(dockerd_pids)"
    [ -n "$pids" ] || die "docker answers but no dockerd process is visible here: add ${TLS_FLAGS[*]} to its flags yourself"
    log "restarting dockerd (pid $(echo $pids)) to add the TLS listener on $TLS_ADDR ..."
    # shellcheck disable=SC2086
    kill -TERM $pids
    deadline=$((SECONDS + DOCKERD_WAIT_SECONDS))
    for p in $pids; do
      while alive "$p"; do
        [ "$SECONDS" -lt "$deadline" ] || die "dockerd (pid $p) did not stop within ${DOCKERD_WAIT_SECONDS}s"
        sleep 0.2
      done
    done
  fi
fi

if daemon_up; then
  log "docker daemon already answering"
else
  if [ -n "$(dockerd_pids)" ]; then
    log "dockerd running (pid $(dockerd_pids | tr '\n' ' ')) but not answering yet: waiting ..."
  else
    # /run is on the persistent disk here: pid files of a daemon from an
    # earlier boot would make dockerd/containerd refuse to start.
    for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
      if [ -f "$f" ]; then
        pid="$(cat "$f" 2>/dev/null || true)"
        if [ -z "$pid" ] || ! alive "$pid" \
           || ! grep -qE 'dockerd|containerd' "/proc/$pid/comm" 2>/dev/null; then
          log "removing stale $f"
          rm -f "$f"
        fi
      fi
    done
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    log "starting dockerd ${DOCKERD_FLAGS[*]} (log: $DOCKERD_LOG) ..."
    printf '\n==== %s docker-setup starting dockerd %s\n' "$(date -Is)" "${DOCKERD_FLAGS[*]}" >>"$DOCKERD_LOG"
    setsid dockerd "${DOCKERD_FLAGS[@]}" </dev/null >>"$DOCKERD_LOG" 2>&1 &
    started_pid=$!
    disown || true
  fi
  deadline=$((SECONDS + DOCKERD_WAIT_SECONDS))
  until daemon_up; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not answer within ${DOCKERD_WAIT_SECONDS}s; last log lines:"
      log_tail
      die "docker daemon not available"
    fi
    if { [ -n "${started_pid:-}" ] && ! alive "$started_pid"; } \
       || { [ -z "${started_pid:-}" ] && [ -z "$(dockerd_pids)" ]; }; then
      sleep 0.5
      daemon_up && break
      log "dockerd exited; last log lines:"
      log_tail
      die "dockerd failed to start"
    fi
    sleep 0.5
  done
  log "docker daemon answering"
fi
wait_tls=$((SECONDS + 10))
until tls_up; do
  [ "$SECONDS" -lt "$wait_tls" ] || die "dockerd answers on the socket but not with TLS on $TLS_ADDR (see $DOCKERD_LOG)"
  sleep 0.5
done
log "TLS listener on $TLS_ADDR answering (client certificates from $DOCKER_TLS_DIR)"
log "client $(dk version --format '{{.Client.Version}}' 2>/dev/null || echo '?'), server $(dk version --format '{{.Server.Version}}' 2>/dev/null || echo '?')"

# ------------------------------------------------------------------ 3. image
have_image() {
  local v
  v="$(dk image inspect --format '{{ index .Config.Labels "moonexec.image-version" }}' "$IMAGE" 2>/dev/null)" || return 1
  [ "$v" = "$IMAGE_VERSION" ]
}

busybox_bin() {
  # Debian's busybox-static installs /bin/busybox (statically linked).
  local b
  for b in /bin/busybox /usr/bin/busybox; do
    if [ -x "$b" ] && file_is_static "$b"; then echo "$b"; return 0; fi
  done
  return 1
}
file_is_static() {
  # A static binary has no PT_INTERP; ldd says "not a dynamic executable".
  ! LC_ALL=C ldd "$1" >/dev/null 2>&1
}

if have_image; then
  log "image $IMAGE present (version $IMAGE_VERSION)"
else
  log "building image $IMAGE offline from busybox-static ..."
  if ! BB="$(busybox_bin)"; then
    apt_install busybox-static
    BB="$(busybox_bin)" || die "no static busybox after installing busybox-static"
  fi
  tmp="$(mktemp -d /tmp/moonexec-rootfs.XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
  root="$tmp/rootfs"
  # (No /scratch etc. in the image: a --tmpfs on a path that exists in the image
  # takes that directory's mode, one that does not exist gets 1777.)
  mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,home,var,run,usr}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  cp "$BB" "$root/bin/busybox"
  chmod 0755 "$root/bin/busybox"
  # Make /sbin, /usr/bin, /usr/sbin point at /bin so any applet path works.
  ln -s bin "$root/sbin"
  ln -s ../bin "$root/usr/bin"
  ln -s ../bin "$root/usr/sbin"
  n=0
  while read -r applet; do
    if [ -z "$applet" ] || [ "$applet" = busybox ]; then continue; fi
    ln -sf busybox "$root/bin/$applet"
    n=$((n + 1))
  done < <("$BB" --list)
  for a in sh cat echo head dd sleep printf kill ls wc sort env id ip true false yes grep sed tr; do
    [ -e "$root/bin/$a" ] || die "busybox has no '$a' applet"
  done
  cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  old_id="$(dk image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
  log "rootfs: $n applets; importing ..."
  tar --numeric-owner --owner=0 --group=0 -C "$root" -c . \
    | dk import \
        --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin' \
        --change "LABEL moonexec.image-version=$IMAGE_VERSION" \
        - "$IMAGE" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  # An older version of the image is now untagged: drop it unless in use.
  if [ -n "$old_id" ] && [ "$old_id" != "$(dk image inspect --format '{{.Id}}' "$IMAGE")" ]; then
    dk rmi "$old_id" >/dev/null 2>&1 || true
  fi
  log "image $IMAGE built"
fi

# ----------------------------------------------------------------- 4. verify
log "verifying: docker run --rm $IMAGE sh -c 'echo ok; id' ..."
out="$(dk run --rm --label moonexec=1 "$IMAGE" sh -c 'echo ok; id' 2>&1)" \
  || die "test container failed: $out"
case "$out" in
  ok*uid=0*) ;;
  *) die "unexpected output from test container: $out" ;;
esac
log "ok ($(printf '%s' "$out" | tr '\n' ' '))"
log "done"
