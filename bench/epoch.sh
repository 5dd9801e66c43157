#!/usr/bin/env bash
# The full-epoch target: `lenet5 train --epochs 1` timed from start to exit (reading the IDX
# files, every step, the test-set evaluation, the checkpoint) against PyTorch training the
# same network one epoch over tensors already in memory (bench/pytorch_epoch.py), in
# alternation, ROUNDS times each; prints both medians and the ratio.
#   PYTHON=/path/to/python-with-torch MNIST_DIR=../shared/data/mnist bench/epoch.sh [ROUNDS]
# BATCH (64) and THREADS (the machine's cores) as in `lenet5 train`'s defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ROUNDS=${1:-3}
BATCH=${BATCH:-64}
THREADS=${THREADS:-$(nproc)}
DATA=${MNIST_DIR:-data/mnist}
cargo build --release -q -p models --bin lenet5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rust=() torch=()
for _ in $(seq "$ROUNDS"); do
  t0=$(date +%s.%N)
  target/release/lenet5 train --data "$DATA" --epochs 1 --batch-size "$BATCH" --threads "$THREADS" \
    --out "$out/lenet5.safetensors" --checkpoint-every 0 >"$out/train.log" 2>&1
  t1=$(date +%s.%N)
  rust+=("$(echo "$t1 - $t0" | bc -l)")
  tail -n 1 "$out/train.log"
  torch+=("$("$PYTHON" bench/pytorch_epoch.py --data "$DATA" --batch-size "$BATCH" --threads "$THREADS" |
    "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["epoch_seconds"])')")
done
"$PYTHON" - "${rust[*]}" "${torch[*]}" <<'PY'
import statistics, sys
r = [float(v) for v in sys.argv[1].split()]
t = [float(v) for v in sys.argv[2].split()]
print("lenet5 train --epochs 1 (everything), s:", r)
print("pytorch epoch loop (data in memory), s: ", t)
print(f"median {statistics.median(r):.2f} s vs {statistics.median(t):.2f} s: ratio (torch/rust) {statistics.median(t) / statistics.median(r):.2f}")
PY
