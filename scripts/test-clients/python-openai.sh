#!/usr/bin/env bash
# Installs OpenAI's Python SDK (pinned) into the tests' venv .test-tools/py (git-ignored), for the
# OpenAI-compatible API's Python client: test/api/openai/openai_sdk.py, run by
# test/api/openai/python-sdk.int.test.ts. scripts/install-test-services.sh calls this script
# (with every script of this folder); it can also be run alone. Needs python3 with venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENAI_VERSION=3.63.0
PY="$PWD/.test-tools/py"
if [ ! -x "$PY/bin/python" ]; then
  python3 -m venv "$PY"
fi
if ! "$PY/bin/python" -c "import sys, openai; sys.exit(openai.__version__ != '$OPENAI_VERSION')" >/dev/null 2>&1; then
  echo "installing openai $OPENAI_VERSION for the Python OpenAI SDK client..." >&2
  "$PY/bin/pip" install -q --disable-pip-version-check "openai==$OPENAI_VERSION"
fi
