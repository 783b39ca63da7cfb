#!/usr/bin/env bash
# One command: install everything, then run the whole test suite with the real models and audio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# The node install.sh chose (the pinned newest LTS when the machine's is too old, or on CI).
. scripts/node-env.sh
# The real servers some tests run against (an S3-compatible store).
bash scripts/install-test-services.sh
export SORI_MODELS_DIR=${SORI_MODELS_DIR:-$PWD/../shared/models}
export SORI_TESTDATA_DIR=${SORI_TESTDATA_DIR:-$PWD/../shared/testdata}
npm test
