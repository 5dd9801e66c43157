#!/usr/bin/env python3
"""One epoch of LeNet-5 training in PyTorch over tensors already in memory: the reference of
the issue's full-epoch target (`lenet5 train --epochs 1`, data loading and evaluation
included, must take no longer).

The MNIST training images are read and preprocessed (pad 2, /255, normalise) *before* the
clock starts; timed is the loop alone: a seeded shuffle, then 60000/B steps of forward +
backward + SGD (momentum 0.9, weight decay 5e-4, lr 0.05 cosine-annealed per step, as
`lenet5 train`'s defaults). Prints one JSON line.

    python bench/pytorch_epoch.py --data ../shared/data/mnist --batch-size 64 --threads 2
"""

import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from pytorch_lenet5 import LeNet5


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{stem} not found in {folder}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=os.environ.get("MNIST_DIR", "data/mnist"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--lr", type=float, default=0.05)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = read_idx(find(a.data, "train-images-idx3-ubyte"))
    labels = torch.from_numpy(read_idx(find(a.data, "train-labels-idx1-ubyte")).astype(np.int64))
    x = torch.from_numpy(np.pad(images, ((0, 0), (2, 2), (2, 2))).astype(np.float32) / 255.0)
    x = ((x - 0.1307) / 0.3081).unsqueeze(1).contiguous()
    model = LeNet5()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    n, b = x.shape[0], a.batch_size
    steps = math.ceil(n / b)
    t0 = time.perf_counter()
    order = torch.randperm(n)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = 0.5 * a.lr * (1 + math.cos(math.pi * step / steps))
        idx = order[step * b : (step + 1) * b]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), labels[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "system": "pytorch-" + torch.__version__,
        "batch": b,
        "threads": a.threads,
        "epoch_seconds": round(seconds, 3),
        "last_loss": round(loss.item(), 4),
    }))


if __name__ == "__main__":
    main()
