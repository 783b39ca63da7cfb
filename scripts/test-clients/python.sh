#!/usr/bin/env bash
# Installs Python's `requests` (pinned) into the tests' venv .test-tools/py (git-ignored), for the
# compatibility suite's Python client: test/compat/python/clova_requests.py, run by
# test/compat/python-requests.int.test.ts. scripts/install-test-services.sh calls this script;
# it can also be run alone. Needs python3 with venv; the venv is the one grpcio goes into.
set -euo pipefail
cd "$(dirname "$0")/../.."
REQUESTS_VERSION=2.34.2
PY="$PWD/.test-tools/py"
if [ ! -x "$PY/bin/python" ]; then
  python3 -m venv "$PY"
fi
if ! "$PY/bin/python" -c "import sys, requests; sys.exit(requests.__version__ != '$REQUESTS_VERSION')" >/dev/null 2>&1; then
  echo "installing requests $REQUESTS_VERSION for the Python compatibility client..." >&2
  "$PY/bin/pip" install -q --disable-pip-version-check "requests==$REQUESTS_VERSION"
fi
