#!/usr/bin/env bash
# Installs what a fresh machine lacks (Bun 1.4.4 through npm, then the locked dependencies) and
# starts one node on 127.0.0.1:8001 with data in ./data. Extra arguments go to scribe-node.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v bun >/dev/null 2>&1; then
  echo "installing Bun 1.4.4 with npm" >&2
  npm install -g bun@1.4.4 >&2
fi
if [ ! -d node_modules ]; then
  bun install --frozen-lockfile >&2
fi
exec bun run src/main.ts "$@"
