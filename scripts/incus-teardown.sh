#!/usr/bin/env bash
# Tear down what scripts/incus-setup.sh made for moonexec's Incus tests.
#
#   scripts/incus-teardown.sh           show the test instances; change nothing
#   scripts/incus-teardown.sh --all     delete the test instances
#                                       (moonexec-test, moonexec-stopped, moonexec-frozen)
#   scripts/incus-teardown.sh --purge   --all, plus the moonexec-busybox image, the
#                                       trusted client certificate and
#                                       /var/lib/moonexec-test/incus
#
# The Incus daemon, its storage pool and its HTTPS listener are left alone, and
# no package is removed (Incus shares dependencies with docker.io: purging e.g.
# libnftnl11 removes iptables and docker.io and wipes /var/lib/docker).
# Running scripts/incus-setup.sh afterwards recreates everything.
set -euo pipefail

readonly INSTANCES=(moonexec-test moonexec-stopped moonexec-frozen)
readonly IMAGE_ALIAS=moonexec-busybox
readonly OUT_DIR=/var/lib/moonexec-test/incus
export PATH=/usr/libexec/incus:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[incus-teardown] %s\n' "$*" >&2; }

mode=status
case "${1:-}" in
  "") ;;
  --all) mode=all ;;
  --purge) mode=purge ;;
  -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
  *) log "unknown argument: $1 (use --all or --purge)"; exit 2 ;;
esac

if ! command -v incus >/dev/null 2>&1 || ! timeout 10 incus query /1.0 >/dev/null 2>&1; then
  log "Incus is not installed or its daemon is not answering: nothing to do"
  exit 0
fi

exec 9>/run/moonexec-incus-setup.lock
flock -w 600 9 || { log "incus-setup is still running"; exit 1; }

for name in "${INSTANCES[@]}"; do
  status=$(incus query "/1.0/instances/$name" 2>/dev/null | jq -r '.status' || true)
  if [ -z "$status" ]; then
    log "$name: absent"
  elif [ "$mode" = status ]; then
    log "$name: $status (left alone; --all deletes it)"
  else
    log "$name: $status: deleting"
    incus delete --force "$name"
  fi
done

if [ "$mode" = purge ]; then
  if incus image show "$IMAGE_ALIAS" >/dev/null 2>&1; then
    log "deleting image $IMAGE_ALIAS"
    incus image delete "$IMAGE_ALIAS"
  fi
  if [ -s "$OUT_DIR/client.crt" ]; then
    fp=$(openssl x509 -in "$OUT_DIR/client.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
    if incus query /1.0/certificates | jq -e --arg fp "$fp" 'any(.[]; endswith("/" + $fp))' >/dev/null; then
      log "removing trusted client certificate ${fp:0:12}"
      incus config trust remove "$fp"
    fi
  fi
  log "removing $OUT_DIR"
  rm -rf "$OUT_DIR"
fi
