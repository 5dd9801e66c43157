#!/usr/bin/env python3
"""Where ONNX Runtime's inference time goes, node by node, for any `lenet5 --arch` spec: the
network of bench/pytorch_arch.py exported as `--onnx` exports it, run with ONNX Runtime's
profiler, each node's median kernel time per image (ns). Compare with a `perf record` of
`lenet5 bench` to see which layer of ours is behind.

    python bench/onnx_nodes.py --arch "conv(16,3,s=2,p=1) relu conv(32,3,s=2,p=1) relu flatten linear(10)" \\
        --input 1,28,28 --batch-size 64 --threads 1 [--runs 200]

The profiler adds a little time per node: the total is a few per cent above the throughput
`pytorch_arch.py --onnx` reports. ONNX Runtime is the user's own install.
"""

import argparse
import collections
import json
import os
import statistics
import tempfile

import onnxruntime as ort
import torch

from pytorch_arch import build


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True)
    p.add_argument("--input", default="1,28,28")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=200)
    a = p.parse_args()
    shape = [int(d) for d in a.input.split(",")]
    torch.manual_seed(0)
    model, _ = build(a.arch, shape)
    model.eval()
    x = torch.randn(a.batch_size, *shape)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        torch.onnx.export(model, x, path, input_names=["x"], dynamic_axes={"x": {0: "n"}}, dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = a.threads
        opts.inter_op_num_threads = 1
        opts.enable_profiling = True
        opts.profile_file_prefix = os.path.join(tmp, "profile")
        session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        for _ in range(a.runs):
            session.run(None, feed)
        with open(session.end_profiling()) as f:
            events = json.load(f)
    times = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            times[(e["args"].get("op_name"), e["name"].removesuffix("_kernel_time"))].append(e["dur"])
    total = 0.0
    for (op, name), durations in times.items():
        ns = statistics.median(durations) * 1000 / a.batch_size
        total += ns
        print(f"{op:>16} {name:<40} {ns:9.0f} ns/image")
    print(f"{'total':>16} {'':<40} {total:9.0f} ns/image")


if __name__ == "__main__":
    main()
