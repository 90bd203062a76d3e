#!/usr/bin/env bash
# Build a systemd-capable Debian image for the Molecule scenarios from Debian
# packages alone (no container registry is needed), and cache it: the image
# carries the hash of its recipe as a label and is rebuilt only when the
# recipe (this script, or the test login key) changes.
#
# The scenarios log in over SSH as production does: an unprivileged admin user
# (herd-admin) with passwordless sudo, so every task that needs root has to ask
# for it with become. The login key is the machine's own test key (made once
# under ~/.cache/herd/test-ssh), never a key in the project.
#
#   tools/build-test-image.sh trixie|bookworm
set -euo pipefail

suite=${1:?usage: $0 trixie|bookworm}
case "$suite" in
  trixie) version=13 ;;
  bookworm) version=12 ;;
  *) echo "unknown Debian suite '$suite' (use trixie or bookworm)" >&2; exit 2 ;;
esac

prefix=${HERD_IMAGE_PREFIX:-localhost/herd-debian}
image="$prefix:$version"
packages=systemd,systemd-sysv,python3,python3-apt,dbus,sudo,ca-certificates,iproute2,procps,gnupg,locales,openssh-server
admin_user=herd-admin
# The same path .config/molecule/config.yml logs in with.
key_dir=$HOME/.cache/herd/test-ssh
mkdir -p -m 0700 "$key_dir"
# Two builds at once must agree on one key.
(
  flock 9
  [ -s "$key_dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C herd-test-login -f "$key_dir/id_ed25519" </dev/null
) 9>"$key_dir/.lock"
# What the roles and scenarios install (tools/image-packages.py reads them from where
# they are named): installed here, or only downloaded for those that bring a service.
# Read with the venv tools/setup.sh made (HERD_VENV, relative to the project), which has PyYAML.
venv=${HERD_VENV:-.venv}
case "$venv" in /*) ;; *) venv=$(dirname "$0")/../$venv ;; esac
python=$venv/bin/python
[ -x "$python" ] || python=python3
role_packages=$("$python" "$(dirname "$0")/image-packages.py" "$version" install | tr '\n' ' ')
service_packages=$("$python" "$(dirname "$0")/image-packages.py" "$version" download | tr '\n' ' ')
recipe_hash=$( (cat "$0"; echo "$packages $role_packages $service_packages"; cat "$key_dir/id_ed25519.pub") \
  | sha256sum | cut -c1-16)

if [ "$(podman image inspect --format '{{ index .Labels "herd.recipe" }}' "$image" 2>/dev/null)" = "$recipe_hash" ]; then
  echo "$image is up to date (recipe $recipe_hash)"
  exit 0
fi

# The mirror comes from this machine's own apt configuration, so the project
# names no package registry itself.
debian_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt sources; set HERD_DEBIAN_MIRROR" >&2; exit 3; }
  echo "$uri"
}
mirror=${HERD_DEBIAN_MIRROR:-$(debian_mirror)}

rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/herd-rootfs-$suite.XXXXXX")
trap 'rm -rf --one-file-system "$rootfs"' EXIT

echo "building $image from $suite ($mirror)"
debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >/dev/null

# A container has no console to log in on, and no hardware clock to sync.
rm -f "$rootfs"/etc/machine-id && touch "$rootfs"/etc/machine-id
for unit in getty.target systemd-timesyncd.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# The suite's own updates and security archives, from the same mirror layout.
echo "deb $mirror $suite main" > "$rootfs/etc/apt/sources.list"
echo 'en_US.UTF-8 UTF-8' > "$rootfs/etc/locale.gen"
chroot "$rootfs" locale-gen >/dev/null
# The roles' packages, so no scenario waits on apt for them. Nothing starts in the
# chroot (policy-rc.d), and its name resolution is this machine's for the build only.
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
cp --remove-destination /etc/resolv.conf "$rootfs/etc/resolv.conf"
mount -t proc proc "$rootfs/proc"
trap 'umount "$rootfs/proc" 2>/dev/null || true; rm -rf --one-file-system "$rootfs"' EXIT
in_chroot_apt() {
  chroot "$rootfs" env LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@" >/dev/null
}
# A test container is thrown away after its scenario: dpkg need not fsync every file
# (what Debian's own container images set), nor rebuild the man page index after each
# install, which is most of a package's install time on a loaded machine.
echo force-unsafe-io > "$rootfs/etc/dpkg/dpkg.cfg.d/herd-test-unsafe-io"
chroot "$rootfs" sh -c 'echo "man-db man-db/auto-update boolean false" | debconf-set-selections'
rm -f "$rootfs/var/lib/man-db/auto-update"
in_chroot_apt update
# shellcheck disable=SC2086 # word splitting intended: one argument per package
in_chroot_apt install $role_packages
# Installed packages need no archive copy; only the services' downloads are kept.
in_chroot_apt clean
# shellcheck disable=SC2086
in_chroot_apt install --download-only $service_packages
umount "$rootfs/proc"
rm -f "$rootfs/usr/sbin/policy-rc.d" "$rootfs/etc/resolv.conf"
# The login: herd-admin with the test key and passwordless sudo, as an operator's
# admin account on a real host. Every container shares the build's host keys.
chroot "$rootfs" useradd --create-home --shell /bin/bash "$admin_user"
install -d -m 0700 -o 0 -g 0 "$rootfs/home/$admin_user/.ssh"
install -m 0600 "$key_dir/id_ed25519.pub" "$rootfs/home/$admin_user/.ssh/authorized_keys"
chroot "$rootfs" chown -R "$admin_user:$admin_user" "/home/$admin_user/.ssh"
echo "$admin_user ALL=(ALL:ALL) NOPASSWD: ALL" > "$rootfs/etc/sudoers.d/$admin_user"
chmod 0440 "$rootfs/etc/sudoers.d/$admin_user"
# The package lists go (the scenarios fetch their own); the service packages' downloads
# stay in the archive, where apt finds them when a role installs one.
rm -rf "$rootfs"/var/lib/apt/lists/*
# An empty package list must look stale, so `apt: cache_valid_time` refreshes it
# on the first run instead of trusting the build-time directory mtime.
touch -d @0 "$rootfs"/var/lib/apt/lists

tar -C "$rootfs" -c . | podman import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change "LABEL herd.recipe=$recipe_hash" \
  --change 'ENV container=podman' \
  - "$image" >/dev/null
echo "built $image (recipe $recipe_hash)"
