#!/usr/bin/env bash
# Re-creates models/default from files in the repository: trains on the shipped reviews
# (data/reviews/reviews-dev-large.jsonl.gz) into a scratch registry under .run/, then copies version 1 and the
# training report into models/default. Training is seeded: the same data and seed give the same weights on the
# same backend (wasm here). Takes a few minutes on 2 cores; progress lines go to stderr.
#   bash scripts/train-default.sh [extra driftline train flags]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/build.sh"
SCRATCH="$ROOT/.run/train-default"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
node bin/driftline.js train --data data/reviews/reviews-dev-large.jsonl.gz --epochs 6 --base-version none \
  --registry "$SCRATCH/registry" --report "$SCRATCH/training-report.json" "$@"
version_dir="$SCRATCH/registry/reviews/versions/1"
[ -d "$version_dir" ] || { echo "train-default: no version directory at $version_dir" >&2; exit 1; }
rm -rf models/default.new && cp -r "$version_dir" models/default.new
cp "$SCRATCH/training-report.json" models/default.new/training-report.json
cp models/default/README.md models/default.new/README.md
rm -rf models/default && mv models/default.new models/default
echo "models/default re-created (report: models/default/training-report.json)"
