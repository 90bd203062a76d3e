#!/usr/bin/env bash
# Prepare this machine as a herd control node and test machine, idempotently:
# system packages (when missing), the pinned toolchain in .venv, the Ansible
# collections of requirements.yml, the npm packages the Mastodon stand-in runs, and the
# systemd test images.
#
#   tools/setup.sh [--no-images]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${HERD_VENV:-.venv}
python=${HERD_PYTHON:-python3}

system_packages=(podman runc debootstrap uidmap slirp4netns make git
  postgresql redis-server openssh-server openssh-client pebble testssl.sh nginx
  python3-venv ruby nodejs prometheus openssl)

missing_system_packages() {
  local pkg
  for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}

install_system_packages() {
  local missing
  mapfile -t missing < <(missing_system_packages)
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing system packages: ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The test suites start their own PostgreSQL, Redis, nginx and sshd on
  # loopback; the distribution's default instances are not needed (nor
  # Prometheus's: only its promtool checks herd's alert rules).
  for service in postgresql redis-server nginx ssh prometheus; do
    "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  done
}

# npm (the scenarios fetch packages with it, e.g. tools/node-dist-mirror.sh): a machine
# whose nodejs comes from elsewhere may carry its own npm, which Debian's npm package
# conflicts with, so it is installed only when no npm command exists.
install_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  echo "installing npm"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
}

install_venv() {
  local stamp="$venv/.herd-requirements.sha256"
  local want
  want=$(sha256sum requirements/control-node.txt | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  echo "installing the control-node toolchain into $venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r requirements/control-node.txt
  "$venv/bin/pip" install -q --no-deps -e .
  echo "$want" > "$stamp"
}

install_collections() {
  # Galaxy where it answers; otherwise the collections bundled with the pinned
  # `ansible` package must satisfy requirements.yml, which the check proves.
  if "$venv/bin/python" tools/check_collections.py requirements.yml; then
    return 0
  fi
  if timeout 10 "$venv/bin/ansible-galaxy" collection list >/dev/null 2>&1 \
     && timeout 300 "$venv/bin/ansible-galaxy" collection install -r requirements.yml; then
    "$venv/bin/python" tools/check_collections.py requirements.yml
  else
    echo "requirements.yml is not satisfied by the bundled collections and Galaxy is unreachable" >&2
    return 1
  fi
}

# The stand-in's npm packages (molecule/shared/standin/npm-packages.txt), from the
# registry npm is configured with, into .cache/npm/ as `npm pack` names them; a file
# already there is kept when its digest is the pinned one.
fetch_standin_npm_packages() {
  local name version integrity _path tarball
  mkdir -p .cache/npm
  while read -r name version integrity _path; do
    case "$name" in ''|'#'*) continue ;; esac
    tarball=${name#@}-$version.tgz
    tarball=.cache/npm/${tarball//\//-}
    if [ -f "$tarball" ] && [ "$(npm_integrity "$tarball")" = "$integrity" ]; then
      continue
    fi
    echo "fetching $name@$version for the Mastodon stand-in into .cache/npm/"
    rm -f "$tarball"
    if ! npm pack --silent "$name@$version" --pack-destination .cache/npm >/dev/null; then
      echo "could not fetch $name@$version from the npm registry this machine's npm uses" \
        "(npm config get registry)" >&2
      return 1
    fi
    if [ "$(npm_integrity "$tarball")" != "$integrity" ]; then
      rm -f "$tarball"
      echo "$name@$version from the npm registry does not have the pinned digest" \
        "(molecule/shared/standin/npm-packages.txt)" >&2
      return 1
    fi
  done < molecule/shared/standin/npm-packages.txt
}

npm_integrity() {
  echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

install_system_packages
install_npm
install_venv
install_collections
fetch_standin_npm_packages
if [ "${1:-}" != "--no-images" ]; then
  # Side by side: most of a build waits on downloads and dpkg.
  tools/build-test-image.sh trixie & trixie=$!
  tools/build-test-image.sh bookworm & bookworm=$!
  wait "$trixie"
  wait "$bookworm"
fi
