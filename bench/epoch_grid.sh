#!/usr/bin/env bash
# The full-epoch target over the grid: bench/epoch.sh (`lenet5 train --epochs 1`, everything,
# against PyTorch's loop over MNIST tensors in memory) for each network of
# bench/grid_networks.sh that trains on MNIST, ROUNDS rounds each, then one table: network,
# median seconds of each side, ratio torch/rust (≥ 1: lenet5 is no slower), and whether both
# sides counted the same parameters.
#   PYTHON=/path/to/python-with-torch MNIST_DIR=../shared/data/mnist bench/epoch_grid.sh [ROUNDS]
# MNIST is 1×28×28: rows with another input are skipped, except LeNet-5 (its 1×32×32 is
# MNIST padded by 2, which both sides do for it). GRID_ONLY=N runs only row N (1-based);
# BATCH, THREADS, MAX_STEPS (smoke tests), LENET5_BIN as in bench/epoch.sh.
# Quiet the machine first: the ratios are only meaningful within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
source bench/grid_networks.sh
if [ -z "${LENET5_BIN:-}" ]; then
  cargo build --release -q -p models --bin lenet5
  export LENET5_BIN=target/release/lenet5
fi
table=$(mktemp)
trap 'rm -f "$table"' EXIT
for i in "${!GRID[@]}"; do
  [ -n "${GRID_ONLY:-}" ] && [ "$((i + 1))" != "$GRID_ONLY" ] && continue
  grid_row "${GRID[$i]}"
  if [ "$input" != "1,28,28" ] && [ "$spec" != "lenet5" ]; then
    echo "== $name: skipped (input $input; MNIST is 1,28,28)"
    printf '%s\t-\t-\t-\tskipped: input %s, MNIST is 1,28,28\n' "$name" "$input" >>"$table"
    continue
  fi
  echo "== $name: $spec"
  log=$(ARCH="$spec" bench/epoch.sh "$ROUNDS" | tee /dev/stderr)
  median=$(grep '^median ' <<<"$log" | tail -n 1)
  params=$(grep '^parameters: ' <<<"$log" | tail -n 1)
  read -r rust torch ratio <<<"$(sed -E 's/^median ([0-9.]+) s vs ([0-9.]+) s: ratio \(torch\/rust\) ([0-9.]+).*/\1 \2 \3/' <<<"$median")"
  same=$([[ "$params" == *"(same)" ]] && echo "${params#parameters: }" || echo "${params#parameters: } !")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rust" "$torch" "$ratio" "$same" >>"$table"
done
echo
echo "full epoch on MNIST, batch ${BATCH:-64}, ${THREADS:-$(nproc)} thread(s), median of $ROUNDS${MAX_STEPS:+ (MAX_STEPS=$MAX_STEPS: not whole epochs)}"
{
  printf 'network\trust s\ttorch s\ttorch/rust\tparameters\n'
  cat "$table"
} | column -t -s $'\t'
