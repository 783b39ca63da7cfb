#!/usr/bin/env bash
# Installs what Sori needs on a fresh Debian/Ubuntu machine: ffmpeg (apt) and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ffmpeg (apt)..." >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg >/dev/null
fi
node -e 'const [M]=process.versions.node.split(".").map(Number); if (M < 20) { console.error("Sori needs Node.js >= 20, found " + process.version); process.exit(1); }'
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
