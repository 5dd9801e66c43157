#!/usr/bin/env bash
# The full-epoch target: `lenet5 train --epochs 1` timed from start to exit (reading the IDX
# files, every step, the test-set evaluation, the checkpoint) against PyTorch training the
# same network one epoch over tensors already in memory (bench/pytorch_epoch.py), in
# alternation, ROUNDS times each; prints both medians and the ratio (torch/rust: ≥ 1 means
# lenet5 is no slower).
#   PYTHON=/path/to/python-with-torch MNIST_DIR=../shared/data/mnist bench/epoch.sh [ROUNDS]
# BATCH (64) and THREADS (the machine's cores) as in `lenet5 train`'s defaults.
# ARCH="conv(16,3,p=1) relu … linear(10)" trains that spec on both sides (`--arch`; each
# side's defaults for it: pad 0 unless lenet5, the training set's mean/std, weight decay on
# weights only); unset, LeNet-5 as always. bench/epoch_grid.sh runs it over the grid.
# MAX_STEPS=N stops both after N steps (smoke tests only: the times are then not an epoch's).
# LENET5_BIN=path uses that binary instead of building target/release/lenet5.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ROUNDS=${1:-3}
BATCH=${BATCH:-64}
THREADS=${THREADS:-$(nproc)}
DATA=${MNIST_DIR:-data/mnist}
ARCH=${ARCH:-}
MAX_STEPS=${MAX_STEPS:-}
if [ -n "${LENET5_BIN:-}" ]; then
  RUST=$LENET5_BIN
else
  cargo build --release -q -p models --bin lenet5
  RUST=target/release/lenet5
fi
extra=()
[ -n "$ARCH" ] && extra+=(--arch "$ARCH")
[ -n "$MAX_STEPS" ] && extra+=(--max-steps "$MAX_STEPS")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rust=() torch=()
for _ in $(seq "$ROUNDS"); do
  t0=$(date +%s.%N)
  "$RUST" train --data "$DATA" --epochs 1 --batch-size "$BATCH" --threads "$THREADS" ${extra[@]+"${extra[@]}"} \
    --out "$out/lenet5.safetensors" --checkpoint-every 0 >"$out/train.log" 2>&1
  t1=$(date +%s.%N)
  rust+=("$(echo "$t1 - $t0" | bc -l)")
  grep "^epoch" "$out/train.log" | tail -n 1
  "$PYTHON" bench/pytorch_epoch.py --data "$DATA" --batch-size "$BATCH" --threads "$THREADS" ${extra[@]+"${extra[@]}"} \
    >"$out/torch.json"
  torch+=("$("$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["epoch_seconds"])' <"$out/torch.json")")
done
"$PYTHON" - "${rust[*]}" "${torch[*]}" "$out/lenet5.safetensors" "$out/torch.json" "${ARCH:-lenet5}" <<'PY'
import json, math, statistics, struct, sys
r = [float(v) for v in sys.argv[1].split()]
t = [float(v) for v in sys.argv[2].split()]
# The same network on both sides: the trainable parameters of the weights lenet5 wrote
# (a PyTorch state_dict; batch-norm buffers left out) against PyTorch's.
with open(sys.argv[3], "rb") as f:
    header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
buffers = ("running_mean", "running_var", "num_batches_tracked")
rust_params = sum(
    math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__" and not k.endswith(buffers)
)
torch_params = json.load(open(sys.argv[4]))["parameters"]
same = "same" if rust_params == torch_params else "DIFFERENT NETWORKS"
print(f"parameters: lenet5 {rust_params}, pytorch {torch_params} ({same})")
print("lenet5 train --epochs 1 (everything), s:", r)
print("pytorch epoch loop (data in memory), s: ", t)
print(f"median {statistics.median(r):.2f} s vs {statistics.median(t):.2f} s: ratio (torch/rust) {statistics.median(t) / statistics.median(r):.2f} [arch: {sys.argv[5]}]")
PY
