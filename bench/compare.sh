#!/usr/bin/env bash
# Runs `lenet5 bench` and bench/pytorch_lenet5.py in alternation (A B A B …, so drift hits
# both) for batch 64 and 256 at 1 and 2 threads, and prints the ratios of the medians.
#   PYTHON=/path/to/python-with-torch bench/compare.sh [ROUNDS]
# BATCHES="64 256" and THREADS="1 2" (the defaults) pick the rows; STEPS, REPS as below.
# ARCH="conv(16,3,p=1) relu … linear(10)" INPUT=1,28,28 benchmarks any spec instead, against
# bench/pytorch_arch.py (the same nn.Sequential), and with ONNX=1 also its inference on ONNX
# Runtime (the network exported by torch.onnx.export), printing both ratios.
# Needs PyTorch in $PYTHON (default python3). Quiet the machine first: ratios in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
ROUNDS=${1:-3}
STEPS=${STEPS:-20}
REPS=${REPS:-5}
cargo build --release -q -p models --bin lenet5
RUST=target/release/lenet5
results=$(mktemp)
trap 'rm -f "$results"' EXIT
ARCH=${ARCH:-}
INPUT=${INPUT:-}
arch_args=()
if [ -n "$ARCH" ]; then
  arch_args=(--arch "$ARCH")
  [ -n "$INPUT" ] && arch_args+=(--input "$INPUT")
fi
for batch in ${BATCHES:-64 256}; do
  for threads in ${THREADS:-1 2}; do
    for _ in $(seq "$ROUNDS"); do
      common=(--batch-size "$batch" --threads "$threads" --steps "$STEPS" --reps "$REPS")
      echo "rust $($RUST bench "${common[@]}" "${arch_args[@]}" --json)" >>"$results"
      if [ -n "$ARCH" ]; then
        echo "torch $("$PYTHON" bench/pytorch_arch.py "${common[@]}" "${arch_args[@]}")" >>"$results"
        if [ -n "${ONNX:-}" ]; then
          echo "onnx $("$PYTHON" bench/pytorch_arch.py "${common[@]}" "${arch_args[@]}" --onnx 2>/dev/null)" >>"$results"
        fi
      else
        echo "torch $("$PYTHON" bench/pytorch_lenet5.py "${common[@]}")" >>"$results"
      fi
    done
  done
done
"$PYTHON" - "$results" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, js = line.split(" ", 1)
    r = json.loads(js)
    rows.setdefault((r["batch"], r["threads"], who), []).append(r)
def med(key, field):
    return statistics.median(r[field] for r in rows[key])
onnx = any(who == "onnx" for (_, _, who) in rows)
paths = sorted({r.get("kernels", "?") for (_, _, who), rs in rows.items() if who == "rust" for r in rs})
print(f"lenet5-rs convolution kernels: {', '.join(paths)}")
print(f"{'batch':>5} {'thr':>3} | {'rust train':>10} {'torch train':>11} {'ratio':>6} | {'rust infer':>10} {'torch infer':>11} {'ratio':>6} |"
      + (f" {'onnx infer':>10} {'ratio':>6} |" if onnx else "") + f" {'rust RSS MiB':>12} {'torch RSS MiB':>13} | allocs/step")
for (batch, threads) in sorted({(b, t) for (b, t, _) in rows}):
    r, t = (batch, threads, "rust"), (batch, threads, "torch")
    rt, tt = med(r, "train_img_per_s"), med(t, "train_img_per_s")
    ri, ti = med(r, "infer_img_per_s"), med(t, "infer_img_per_s")
    rm, tm = med(r, "peak_rss_bytes") / 2**20, med(t, "peak_rss_bytes") / 2**20
    o = ""
    if onnx:
        oi = med((batch, threads, "onnx"), "infer_img_per_s")
        o = f" {oi:>10.0f} {ri/oi:>6.2f} |"
    print(f"{batch:>5} {threads:>3} | {rt:>10.0f} {tt:>11.0f} {rt/tt:>6.2f} | {ri:>10.0f} {ti:>11.0f} {ri/ti:>6.2f} |{o} {rm:>12.1f} {tm:>13.1f} | {med(r, 'allocs_per_step'):.0f}")
PY
