#!/usr/bin/env bash
# Installs what Sori needs on a fresh Debian/Ubuntu machine: ffmpeg, espeak-ng and Python's venv
# (apt) and the npm packages. espeak-ng turns text into the IPA phonemes the Piper voice (reference
# speech) reads; Python converts the speaker model (scripts/models/speaker-campplus.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=()
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  APT_PACKAGES+=(ffmpeg)
fi
if ! command -v espeak-ng >/dev/null 2>&1; then
  APT_PACKAGES+=(espeak-ng)
fi
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  APT_PACKAGES+=(python3 python3-venv)
fi
if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${APT_PACKAGES[*]} (apt)..." >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi
# Node.js: the machine's when it is 22 or newer, else (and always on CI) the pinned newest LTS
# from the npm registry, in .tools/node; scripts/node-env.sh explains the choice.
. scripts/node-env.sh
if sori_node_pinned_wanted && ! sori_node_pinned_present; then
  sori_node_install
  . scripts/node-env.sh
fi
if ! command -v node >/dev/null 2>&1; then
  echo "Sori needs Node.js >= 22 and found none" >&2
  exit 1
fi
node -e 'const [M]=process.versions.node.split(".").map(Number); if (M < 22) { console.error("Sori needs Node.js >= 22, found " + process.version); process.exit(1); }'
echo "using Node.js $(node --version) ($(command -v node)) with npm $(npm --version)" >&2
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
