# Sourced (not run) by the scripts that run the built product, bench.sh and train-default.sh: from the
# repository root, installs the locked dependencies when node_modules is missing, then builds dist/
# (what bin/driftline.js runs). Leaves ROOT set to the repository root.
# onnxruntime-node (the pretrained teacher's runtime) ships its CPU library in the package; its install script would also
# fetch GPU files from outside the npm registry, which must not happen: skip that step on every install.
export ONNXRUNTIME_NODE_INSTALL=skip
# Why `npm install` and not `npm ci`: chdb 3.4 names optional macOS/arm64 engine packages that the npm
# registry does not have (404), so npm cannot record them and `npm ci` calls the lock file out of sync.
# `npm install` installs exactly what package-lock.json pins all the same.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ -d node_modules ] || npm install --no-audit --no-fund --loglevel=error
npm run --silent build
