#!/usr/bin/env python3
"""One epoch of LeNet-5 (or any `lenet5 train --arch` spec) training in PyTorch over tensors
already in memory: the reference of the issue's full-epoch target (`lenet5 train --epochs 1`,
data loading and evaluation included, must take no longer).

The MNIST training images are read and preprocessed (pad, /255, normalise) *before* the
clock starts; timed is the loop alone: a seeded shuffle, then 60000/B steps of forward +
backward + SGD (momentum 0.9, weight decay 5e-4, lr 0.05 cosine-annealed per step, as
`lenet5 train`'s defaults). Prints one JSON line.

    python bench/pytorch_epoch.py --data ../shared/data/mnist --batch-size 64 --threads 2

Without --arch: LeNet-5 of bench/pytorch_lenet5.py, pad 2, MNIST's customary mean/std
0.1307/0.3081, weight decay on every parameter (as before). With --arch SPEC: the
nn.Sequential of bench/pytorch_arch.py's builder, preprocessed as `lenet5 train --arch SPEC`
by default: pad 2 for `lenet5`, else 0 (--pad overrides); mean and population std of the
training set's pixels (MNIST: 0.13066/0.30811); weight decay only on parameters whose name
does not end in `bias` (the Rust optimizer's filter; batch-norm γ decays, β does not); the
model in training mode (batch norm, dropout). --max-steps N stops after N steps (smoke
tests; the cosine still spans the whole epoch, as `lenet5 train --max-steps`).

    python bench/pytorch_epoch.py --arch "conv(16,3,p=1) relu maxpool(2) flatten linear(10)" \\
        --data ../shared/data/mnist --max-steps 20

--optimizer adam --schedule constant: Adam (no weight decay, as `lenet5 train --optimizer
adam`) at a constant --lr. --eval: after the timed loop, the test set's accuracy in
evaluation mode (not timed). --weights F: no training; F (a `lenet5 train` checkpoint of
the same --arch) is loaded with strict=True, the test set preprocessed as F's metadata says
(pad, mean, std), and its accuracy printed: PyTorch's accuracy with the Rust weights.
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

from pytorch_arch import build
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
    p.add_argument("--arch", default=None, help="a `lenet5 train --arch` spec (default: LeNet-5 as before)")
    p.add_argument("--pad", type=int, default=None, help="default: 2 for lenet5 or no --arch, else 0")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--eval", action="store_true", help="the test accuracy after the epoch")
    p.add_argument("--weights", default=None, help="evaluate this lenet5 checkpoint instead of training")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed: the initial weights and the data order")
    a = p.parse_args()
    if a.weights:
        return evaluate_weights(a)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = read_idx(find(a.data, "train-images-idx3-ubyte"))
    labels = torch.from_numpy(read_idx(find(a.data, "train-labels-idx1-ubyte")).astype(np.int64))
    pad = a.pad if a.pad is not None else (2 if a.arch in (None, "lenet5") else 0)
    if a.arch is None:
        mean, std = 0.1307, 0.3081
    else:
        # As Preprocess::fit: population statistics of b/255 over the unpadded pixels.
        counts = np.bincount(images.ravel(), minlength=256).astype(np.float64)
        values = np.arange(256, dtype=np.float64) / 255.0
        mean = float((counts * values).sum() / counts.sum())
        std = math.sqrt(max(float((counts * values**2).sum() / counts.sum()) - mean * mean, 0.0))
    x = normalised(images, pad, mean, std)
    if a.arch is None:
        model = LeNet5()
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    else:
        model, _ = build(a.arch, list(x.shape[1:]))
        named = list(model.named_parameters())
        groups = [
            {"params": [q for k, q in named if not k.endswith("bias")], "weight_decay": 5e-4},
            {"params": [q for k, q in named if k.endswith("bias")], "weight_decay": 0.0},
        ]
        if a.optimizer == "adam":
            opt = torch.optim.Adam(model.parameters(), lr=a.lr)
        else:
            opt = torch.optim.SGD([g for g in groups if g["params"]], lr=a.lr, momentum=0.9)
    model.train()
    parameters = sum(q.numel() for q in model.parameters())
    n, b = x.shape[0], a.batch_size
    steps = math.ceil(n / b)
    taken = steps if a.max_steps is None else min(steps, a.max_steps)
    t0 = time.perf_counter()
    order = torch.randperm(n)
    for step in range(taken):
        for group in opt.param_groups:
            cosine = 0.5 * (1 + math.cos(math.pi * step / steps))
            group["lr"] = a.lr * (cosine if a.schedule == "cosine" else 1.0)
        idx = order[step * b : (step + 1) * b]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x[idx]), labels[idx])
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    accuracy = None
    if a.eval:
        test = normalised(read_idx(find(a.data, "t10k-images-idx3-ubyte")), pad, mean, std)
        accuracy = test_accuracy(model, test, read_idx(find(a.data, "t10k-labels-idx1-ubyte")))
    print(json.dumps({
        "system": "pytorch-" + torch.__version__,
        "arch": a.arch or "lenet5 (pytorch_lenet5.LeNet5)",
        "input": ",".join(map(str, x.shape[1:])),
        "mean_std": [round(mean, 5), round(std, 5)],
        "parameters": parameters,
        "steps": taken,
        "batch": b,
        "threads": a.threads,
        "epoch_seconds": round(seconds, 3),
        "last_loss": round(loss.item(), 4),
        "optimizer": a.optimizer,
        "schedule": a.schedule,
        "lr": a.lr,
        "test_accuracy": accuracy,
    }))


def normalised(images, pad, mean, std):
    """N×1×H×W floats: the images padded by `pad`, (b/255 − mean)/std."""
    x = torch.from_numpy(np.pad(images, ((0, 0), (pad, pad), (pad, pad))).astype(np.float32) / 255.0)
    return ((x - mean) / std).unsqueeze(1).contiguous()


def test_accuracy(model, x, labels):
    """The share of `x` the model (in evaluation mode) classifies as `labels`, in batches of 1000."""
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(x[i : i + 1000]).argmax(1) for i in range(0, x.shape[0], 1000)])
    return float((predicted.numpy() == labels).mean())


def evaluate_weights(a):
    """PyTorch's test accuracy with the weights of a `lenet5 train` checkpoint (strict=True)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(a.weights, "pt") as f:
        meta = f.metadata() or {}
    pad = int(meta.get("preprocess.pad", "0"))
    mean, std = float(meta["preprocess.mean"]), float(meta["preprocess.std"])
    x = normalised(read_idx(find(a.data, "t10k-images-idx3-ubyte")), pad, mean, std)
    model, _ = build(a.arch or meta["arch"], list(x.shape[1:]))
    model.load_state_dict(load_file(a.weights), strict=True)
    accuracy = test_accuracy(model, x, read_idx(find(a.data, "t10k-labels-idx1-ubyte")))
    print(json.dumps({"weights": a.weights, "strict": True, "images": x.shape[0], "test_accuracy": accuracy}))


if __name__ == "__main__":
    main()
