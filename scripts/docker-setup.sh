#!/usr/bin/env bash
# Prepare a working Docker engine and the offline test image for moonexec.
#
#   - installs Debian's docker.io (dockerd + containerd + runc) if dockerd is missing
#   - starts dockerd detached if the daemon does not answer, waits until it does
#   - builds the image moonexec-test:busybox from Debian's busybox-static
#     (no registry access needed) if it is missing or out of date
#   - smoke-tests the image
#
# Safe to run repeatedly; must run as root. No stdin needed (CI=true).
# Environment:
#   DOCKER                 docker client to use (default: `docker` from PATH)
#   MOONEXEC_TEST_IMAGE    image name (default: moonexec-test:busybox)
#   DOCKERD_LOG            daemon log (default: /var/log/moonexec-dockerd.log)
#   DOCKERD_WAIT_SECONDS   how long to wait for the daemon (default: 60)
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
