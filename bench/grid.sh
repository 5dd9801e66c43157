#!/usr/bin/env bash
# The speed grid of small CNNs: bench/compare.sh (lenet5 bench against PyTorch, and ONNX
# Runtime for inference when ONNX=1) for each network below, batch 64 and 256, 1 and 2
# threads.   PYTHON=/path/to/python-with-torch [ONNX=1] bench/grid.sh [ROUNDS]
# Quiet the machine first: the ratios are only meaningful within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
# name | spec | input C,H,W
# GRID_ONLY=N runs only row N (1-based).
GRID=(
  "lenet5|lenet5|1,32,32"
  "3x3 padded, 16-32 ch, 28x28|conv(16,3,p=1) relu maxpool(2) conv(32,3,p=1) relu maxpool(2) flatten linear(10)|1,28,28"
  "3x3 padded, 32-64 ch, 3x32x32|conv(32,3,p=1) relu conv(64,3,p=1) relu maxpool(2) flatten linear(10)|3,32,32"
  "stride-2 convolutions|conv(16,3,s=2,p=1) relu conv(32,3,s=2,p=1) relu flatten linear(10)|1,28,28"
  "overlapping 3x3/2 max-pool|conv(16,3,p=1) relu maxpool(3,s=2) conv(32,3,p=1) relu maxpool(3,s=2) flatten linear(10)|1,28,28"
  "1x1 convolution|conv(16,3,p=1) relu conv(8,1) relu maxpool(2) flatten linear(10)|1,28,28"
  "batch-norm blocks, 2x2 average pool|conv(16,3,p=1) batchnorm relu avgpool(2) conv(32,3,p=1) batchnorm relu avgpool(2) flatten linear(10)|1,28,28"
)
for i in "${!GRID[@]}"; do
  [ -n "${GRID_ONLY:-}" ] && [ "$((i + 1))" != "$GRID_ONLY" ] && continue
  IFS='|' read -r name spec input <<<"${GRID[$i]}"
  echo "== $name: $spec ($input)"
  ARCH="$spec" INPUT="$input" bench/compare.sh "$ROUNDS"
done
