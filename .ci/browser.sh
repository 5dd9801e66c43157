#!/usr/bin/env bash
# The explorer page in a real browser: Debian's chromium driven by playwright-core
# (tests/browser/explorer.mjs). Installs what is missing, builds the runner, runs the test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null; then
  echo "== installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "== installing node"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  echo "== installing playwright-core"
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
fi

echo "== building lenet5 (its serve command is the explorer)"
cargo build -q --release -p models --bin lenet5

echo "== the explorer in chromium"
target="${CARGO_TARGET_DIR:-target}"
SCREENSHOT="${SCREENSHOT:-$target/browser/explorer.png}" \
  SCREENSHOT_ARCH="${SCREENSHOT_ARCH:-$target/browser/explorer-arch.png}" \
  SCREENSHOT_RESIDUAL="${SCREENSHOT_RESIDUAL:-$target/browser/explorer-residual.png}" \
  EXPLORER_BIN="$target/release/lenet5" \
  node tests/browser/explorer.mjs
