#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/ on this machine, one after another (they share 2 cores),
# each writing bench/results/<name>.json; then the summary table docs/benchmarks.md quotes.
set -euo pipefail
# onnxruntime-node (the pretrained teacher's runtime) ships its CPU library in the package; its install script would also
# fetch GPU files from outside the npm registry, which must not happen: skip that step on every install.
export ONNXRUNTIME_NODE_INSTALL=skip
# Why `npm install` and not `npm ci`: chdb 3.4 names optional macOS/arm64 engine packages that the npm
# registry does not have (404), so npm cannot record them and `npm ci` calls the lock file out of sync.
# `npm install` installs exactly what package-lock.json pins all the same.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -d node_modules ] || npm install --no-audit --no-fund --loglevel=error
# Benchmarks measure the product as it ships: the built JavaScript under dist/ (what bin/driftline.js runs).
npm run --silent build
bash scripts/services.sh up
mkdir -p bench/results
only="${1:-}"
for bench in ingest model-runtime drift-metrics aggregator scorer api pipeline cbpe; do
  [ -n "$only" ] && [ "$only" != "$bench" ] && continue
  [ -f "bench/$bench.ts" ] || continue
  echo "== bench/$bench.ts (dist/bench/$bench.js)"
  node "dist/bench/$bench.js"
done
[ -f bench/summary.ts ] && node dist/bench/summary.js
