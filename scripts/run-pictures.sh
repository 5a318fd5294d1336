#!/usr/bin/env bash
# Re-creates the run pictures shown in the README (docs/images/) from a real run: the shipped model
# (models/default, seeded into a scratch registry under .run/) evaluated with `driftline evaluate --held-out` on
# the shipped sample (data/sample/reviews-sample.jsonl: the reviews the trainer's hash split holds out). The
# evaluation is recorded as an eval_ run; its sentiment confusion matrix and reliability diagram are copied.
#   bash scripts/run-pictures.sh
set -euo pipefail
export ONNXRUNTIME_NODE_INSTALL=skip
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -d node_modules ] || npm install --no-audit --no-fund --loglevel=error
SCRATCH="$ROOT/.run/run-pictures"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
driftline() {
  DRIFTLINE_RUNS_DIR="$SCRATCH/runs" node --import tsx --input-type=module \
    -e 'const { main } = await import("./cli/main.ts"); process.exitCode = await main(process.argv.slice(1));' "$@"
}
driftline models seed reviews models/default --registry "$SCRATCH/registry" --no-publish
driftline evaluate --data data/sample/reviews-sample.jsonl --held-out --registry "$SCRATCH/registry"
run_dir="$(ls -d "$SCRATCH"/runs/eval_* | head -n 1)"
mkdir -p docs/images
cp "$run_dir/artifacts/confusion-sentiment.png" docs/images/run-confusion-sentiment.png
cp "$run_dir/artifacts/calibration-sentiment.png" docs/images/run-calibration-sentiment.png
echo "docs/images/run-confusion-sentiment.png and run-calibration-sentiment.png from run $(basename "$run_dir")"
