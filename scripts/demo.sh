#!/usr/bin/env bash
# The README's main command (`npm run demo`): installs, builds, starts the services, then runs
# `driftline demo` — the default model (seeded from models/default, or trained if missing), the sample
# reviews through ingest → scorer → drift aggregator → ClickHouse/alerts, an API call, and a report.
set -euo pipefail
# onnxruntime-node (the pretrained teacher's runtime) ships its CPU library in the package; its install script would also
# fetch GPU files from outside the npm registry, which must not happen: skip that step on every install.
export ONNXRUNTIME_NODE_INSTALL=skip
# Why `npm install` and not `npm ci`: chdb 3.4 names optional macOS/arm64 engine packages that the npm
# registry does not have (404), so npm cannot record them and `npm ci` calls the lock file out of sync.
# `npm install` installs exactly what package-lock.json pins all the same.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p .run
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm install (from package-lock.json)"; npm install --no-audit --no-fund --loglevel=error
fi
echo "== build"; npm run --silent build
echo "== services"; bash scripts/services.sh up
echo "== demo"; exec node bin/driftline.js demo "$@"
