#!/usr/bin/env bash
# The speed grid of small CNNs: bench/compare.sh (lenet5 bench against PyTorch, and ONNX
# Runtime for inference when ONNX=1) for each network below, batch 64 and 256, 1 and 2
# threads.   PYTHON=/path/to/python-with-torch [ONNX=1] bench/grid.sh [ROUNDS]
# Quiet the machine first: the ratios are only meaningful within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
# The rows: bench/grid_networks.sh ("name|spec|input C,H,W").
# GRID_ONLY=N runs only row N (1-based).
source bench/grid_networks.sh
for i in "${!GRID[@]}"; do
  [ -n "${GRID_ONLY:-}" ] && [ "$((i + 1))" != "$GRID_ONLY" ] && continue
  grid_row "${GRID[$i]}"
  echo "== $name: $spec ($input)"
  ARCH="$spec" INPUT="$input" bench/compare.sh "$ROUNDS"
done
