#!/usr/bin/env bash
# The local example target of inventories/local: one systemd container named
# herd-local that playbooks/site.yml provisions with every tier.
#
#   tools/local-target.sh up      start it (building the test image when missing)
#   tools/local-target.sh down    remove it (and everything provisioned in it)
#   tools/local-target.sh status  show whether it runs
#
# HERD_IMAGE_PREFIX picks the image (default localhost/herd-debian, tag 13);
# HERD_LOCAL_HTTPS_PORT, when set, publishes the container's 443 on that
# loopback port of this machine (e.g. 8443: https://social.herd.localhost:8443).
set -euo pipefail
cd "$(dirname "$0")/.."

name=herd-local
prefix=${HERD_IMAGE_PREFIX:-localhost/herd-debian}
image="$prefix:13"

running() {
  [ "$(podman container inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = "true" ]
}

up() {
  if running; then
    echo "$name is running"
    return 0
  fi
  if podman container exists "$name"; then
    podman start "$name" >/dev/null
    echo "$name started again"
    return 0
  fi
  if ! podman image exists "$image"; then
    case "$prefix" in
      localhost/*) tools/build-test-image.sh trixie ;;
      *) podman pull "$image" ;;
    esac
  fi
  local publish=()
  if [ -n "${HERD_LOCAL_HTTPS_PORT:-}" ]; then
    publish=(--publish "127.0.0.1:${HERD_LOCAL_HTTPS_PORT}:443")
  fi
  podman run --detach --name "$name" --hostname "$name" --systemd=always \
    "${publish[@]}" "$image" /lib/systemd/systemd >/dev/null
  # Ansible connects once systemd has finished booting the container.
  for _ in $(seq 1 30); do
    state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) echo "$name is up ($state)"; return 0 ;; esac
    sleep 1
  done
  echo "$name did not finish booting; see: podman logs $name" >&2
  exit 1
}

down() {
  podman rm --force --ignore "$name" >/dev/null
  echo "$name removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if running; then echo "$name is running"; else echo "$name is not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
