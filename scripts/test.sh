#!/usr/bin/env bash
# One command: install everything, then run the whole test suite with the real models and audio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The node install.sh chose (the pinned newest LTS when the machine's is too old, or on CI).
. scripts/node-env.sh
# The real servers some tests run against (an S3-compatible store).
bash scripts/install-test-services.sh
# The tests' models: the shared ones (linked, never written to) plus the speaker model that
# scripts/models/speaker-campplus.sh makes from the registry.
SHARED_MODELS=${SORI_MODELS_DIR:-$PWD/../shared/models}
TEST_MODELS="$PWD/.test-tools/models"
mkdir -p "$TEST_MODELS"
for model in "$SHARED_MODELS"/*/; do ln -sfn "${model%/}" "$TEST_MODELS/$(basename "$model")"; done
bash scripts/models/speaker-campplus.sh "$TEST_MODELS"
export SORI_MODELS_DIR="$TEST_MODELS"
export SORI_TESTDATA_DIR=${SORI_TESTDATA_DIR:-$PWD/../shared/testdata}
npm test
