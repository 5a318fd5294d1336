#!/usr/bin/env bash
# The README's test command (`npm test`), and exactly what .ci/run runs: installs, builds, starts the
# real services (scripts/services.sh), runs every test (unit, integration, fault), prints the totals.
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

step() { printf '\n== %s\n' "$*"; }

if [ "${CI:-}" = "true" ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm install (from package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error
fi

# The compose file is validated by `docker compose config` in tests/deploy; no Docker engine is needed for that,
# only a client: Debian packages the standalone docker-compose (the v2 plugin comes from Docker's own repo).
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  step "installing docker-compose (client only, to validate docker-compose.yml)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null) || echo "docker-compose install failed; the compose CLI check will be skipped"
fi

step "typecheck (sources and tests) + build"
npm run --silent typecheck
npm run --silent build

step "services"
bash scripts/services.sh up

step "teacher model (bge-small from Maven Central, once; the accurate tier's tests and the tokenizer test use it)"
bash scripts/fetch-teacher.sh

step "tests"
status=0
npx vitest run --reporter=default --reporter=json --outputFile=.run/vitest-report.json "$@" || status=$?

# One plain closing line, 'N passed, N failed, N skipped', from the runner's own JSON report.
node -e '
  const fs = require("node:fs");
  try {
    const r = JSON.parse(fs.readFileSync(".run/vitest-report.json", "utf8"));
    const skipped = r.numPendingTests + r.numTodoTests;
    console.log(`\nvitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  } catch (e) { console.log("vitest: no report written (" + e.message + ")"); }
'
exit $status
