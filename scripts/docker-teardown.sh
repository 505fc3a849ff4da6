#!/usr/bin/env bash
# Remove every container labelled moonexec=1 (running or not). Leaves dockerd,
# images and other containers alone. Safe to run repeatedly, and a no-op when
# docker or its daemon is not there.
set -euo pipefail

DOCKER="${DOCKER:-docker}"
log() { printf '[docker-teardown] %s\n' "$*" >&2; }

if ! command -v "$DOCKER" >/dev/null 2>&1; then
  log "no docker client: nothing to do"; exit 0
fi
if ! "$DOCKER" info >/dev/null 2>&1; then
  log "docker daemon not answering: nothing to do"; exit 0
fi

mapfile -t ids < <("$DOCKER" ps -aq --filter label=moonexec=1)
if [ "${#ids[@]}" -eq 0 ]; then
  log "no moonexec=1 containers"
  exit 0
fi
log "removing ${#ids[@]} moonexec=1 container(s) ..."
# -v also drops their anonymous volumes. A container already being removed
# (e.g. --rm racing with us) may be gone: ignore "No such container".
"$DOCKER" rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
left=$("$DOCKER" ps -aq --filter label=moonexec=1 | wc -l)
if [ "$left" -ne 0 ]; then
  log "ERROR: $left moonexec=1 container(s) still present"
  "$DOCKER" ps -a --filter label=moonexec=1 >&2 || true
  exit 1
fi
log "done"
