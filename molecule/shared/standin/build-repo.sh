#!/bin/bash
# Build the Mastodon stand-in's git repository: a bare repository at DEST holding the
# release tags v4.5.15 and v4.6.5 (branch main = v4.6.5), clone-able like upstream's.
#
# Usage: bash build-repo.sh [--no-safe-directory] DEST
#        e.g. bash build-repo.sh /srv/standin/mastodon.git
#
# Deterministic: fixed authors, dates, file modes and order, so every run (on any host)
# produces the same commit ids. A DEST that already holds them is left untouched
# ("unchanged" on stdout, exit 0), so a provisioning step can report changed/ok from it.
set -euo pipefail

trust_dest=yes
if [ "${1:-}" = "--no-safe-directory" ]; then
  trust_dest=no
  shift
fi
if [ "$#" -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 [--no-safe-directory] DEST (path of the bare repository to create)" >&2
  exit 2
fi
dest=$1
here=$(cd "$(dirname "$0")" && pwd)
releases=(v4.5.15 v4.6.5)               # oldest first; the last one is main's head
dates=("2026-04-14T12:00:00+00:00" "2026-08-06T12:00:00+00:00")

command -v git >/dev/null || { echo "build-repo.sh: git is not installed" >&2; exit 1; }

# The npm packages the stand-in runs (npm-packages.txt) as tools/setup.sh fetched them:
# next to this script when tasks/build-repo.yml shipped them, else in the checkout's
# .cache/npm/. Each is unpacked into every tag's tree, where upstream's yarn install
# would have put it in node_modules (the stand-in's yarn install is offline).
npm_dir=$here/npm
[ -d "$npm_dir" ] || npm_dir=$here/../../../.cache/npm
npm_packages=()
while read -r name version _integrity path; do
  case "$name" in ''|'#'*) continue ;; esac
  tarball=${name#@}-$version.tgz
  tarball=$npm_dir/${tarball//\//-}
  if [ ! -f "$tarball" ]; then
    echo "build-repo.sh: $name@$version is missing ($tarball): run tools/setup.sh" >&2
    exit 1
  fi
  npm_packages+=("$tarball" "$path")
done < "$here/npm-packages.txt"

export GIT_AUTHOR_NAME="Mastodon stand-in" GIT_AUTHOR_EMAIL="standin@herd.invalid"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null TZ=UTC LC_ALL=C

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git init -q "$work/repo"
git -C "$work/repo" symbolic-ref HEAD refs/heads/main
git -C "$work/repo" config core.fileMode true

for i in "${!releases[@]}"; do
  release=${releases[$i]}
  # Each tag is the common tree plus that release's overlay, from scratch.
  find "$work/repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  cp -R "$here/tree/." "$work/repo/"
  cp -R "$here/releases/$release/." "$work/repo/"
  for ((j = 0; j < ${#npm_packages[@]}; j += 2)); do
    mkdir -p "$work/repo/${npm_packages[j + 1]}"
    tar -xzf "${npm_packages[j]}" -C "$work/repo/${npm_packages[j + 1]}" \
      --strip-components=1 --no-same-owner --no-same-permissions
  done
  # Leftovers of running the stand-in's Python in the source tree are no part of it.
  find "$work/repo" -name __pycache__ -prune -exec rm -rf {} +
  # Modes as upstream's: executables 0755, everything else 0644 (copies may lose bits).
  find "$work/repo" -path "$work/repo/.git" -prune -o -type f -exec chmod 0644 {} +
  find "$work/repo" -path "$work/repo/.git" -prune -o -type d -exec chmod 0755 {} +
  chmod 0755 "$work/repo"/bin/* "$work/repo"/vendor/standin/*/exe/*
  git -C "$work/repo" add -A
  GIT_AUTHOR_DATE=${dates[$i]} GIT_COMMITTER_DATE=${dates[$i]} \
    git -C "$work/repo" commit -q --no-gpg-sign -m "Bump version to ${release}"
  GIT_COMMITTER_DATE=${dates[$i]} \
    git -C "$work/repo" tag -a -m "Mastodon stand-in ${release}" "$release"
done

# The role clones as its own user from this root-owned path; git refuses repositories
# owned by someone else ("dubious ownership") unless the system configuration trusts
# them. Upstream's clone comes over https, where the question does not arise.
trust() {
  local abs
  [ "$trust_dest" = yes ] && [ "$(id -u)" = 0 ] || return 0
  abs=$(cd "$(dirname "$dest")" && pwd)/$(basename "$dest")
  if ! GIT_CONFIG_NOSYSTEM=0 git config --system --get-all safe.directory 2>/dev/null \
      | grep -qxF "$abs"; then
    GIT_CONFIG_NOSYSTEM=0 git config --system --add safe.directory "$abs"
    echo "trusted for all users: $abs (safe.directory in the system git configuration)"
  fi
}

want=$(git -C "$work/repo" for-each-ref --format='%(objectname) %(refname)' refs/tags refs/heads)
if [ -d "$dest" ] && have=$(git -C "$dest" for-each-ref --format='%(objectname) %(refname)' \
    refs/tags refs/heads 2>/dev/null) && [ "$have" = "$want" ]; then
  echo "unchanged: $dest"
  trust
  exit 0
fi

mkdir -p "$(dirname "$dest")"
rm -rf "$dest.tmp"
git clone -q --bare --no-local "$work/repo" "$dest.tmp"
rm -rf "$dest"
mv "$dest.tmp" "$dest"
# World-readable, so any account (the role's mastodon user) can clone it.
chmod -R a+rX "$dest"
trust
echo "built: $dest"
git -C "$dest" for-each-ref --format='%(refname:short) %(objectname)' refs/tags refs/heads
