#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/ on this machine, one after another (they share 2 cores),
# each writing bench/results/<name>.json; then the summary table docs/benchmarks.md quotes.
set -euo pipefail
# Benchmarks measure the product as it ships: the built JavaScript under dist/.
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
bash scripts/services.sh up
mkdir -p bench/results
only="${1:-}"
for bench in ingest model-runtime drift-metrics aggregator scorer api pipeline cbpe; do
  [ -n "$only" ] && [ "$only" != "$bench" ] && continue
  [ -f "bench/$bench.ts" ] || continue
  echo "== bench/$bench.ts (dist/bench/$bench.js)"
  node "dist/bench/$bench.js"
  # The aggregator once more with its state on the local 3-master Redis Cluster (bench/results/aggregator-cluster.json).
  if [ "$bench" = aggregator ]; then node dist/bench/aggregator.js --redis cluster; fi
done
[ -f bench/summary.ts ] && node dist/bench/summary.js
