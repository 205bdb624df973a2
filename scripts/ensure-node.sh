#!/usr/bin/env bash
# Prints a directory to put first on PATH so that `node` satisfies the
# project's engines (^22.13 || >=24.11; the Docker image runs Node 24), or
# nothing when the node on PATH already does. An older node gets Node 24 from
# the npm registry's `node` package, installed once into .tools/node (ignored by git).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

satisfies() {
  "$1" -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit((major === 22 && minor >= 13) || (major === 24 && minor >= 11) || major > 24 ? 0 : 1);
  ' 2>/dev/null
}

if command -v node >/dev/null 2>&1 && satisfies node; then exit 0; fi
dir=.tools/node
bin="$PWD/$dir/node_modules/.bin"
if [ ! -x "$bin/node" ] || ! satisfies "$bin/node"; then
  echo "node $(node --version 2>/dev/null || echo 'not found') is older than this project needs (^22.13 || >=24.11): installing Node 24 into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error node@24 >&2
fi
echo "$bin"
