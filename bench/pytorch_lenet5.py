#!/usr/bin/env python3
"""LeNet-5 in PyTorch with the protocol of `lenet5 bench`, printing the same JSON line.

One fixed seeded batch of N(0, 1) inputs N×1×32×32 and random labels; a train step is
forward + backward + SGD (momentum 0.9, weight decay 5e-4, lr 0.01); 3 warm-up steps,
then R repetitions of K steps, reporting the median images per second. Inference is the
no-grad forward of the same batch. Peak RSS is the process's maximum resident set size.

    python bench/pytorch_lenet5.py --batch-size 64 --threads 1 --steps 20 --reps 5

PyTorch is the user's own install (pip install torch); nothing in CI needs it.
"""

import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.f7 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2, 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2, 2)
        x = F.relu(self.c5(x)).flatten(1)
        return self.f7(F.relu(self.f6(x)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--reps", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = LeNet5()
    x = torch.randn(a.batch_size, 1, 32, 32)
    y = torch.randint(0, 10, (a.batch_size,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        train_step()
    train = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            train_step()
        train.append(a.batch_size * a.steps / (time.perf_counter() - t0))
    infer = []
    with torch.no_grad():
        model(x)
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                model(x)
            infer.append(a.batch_size * a.steps / (time.perf_counter() - t0))
    print(json.dumps({
        "system": "pytorch-" + torch.__version__,
        "batch": a.batch_size,
        "threads": a.threads,
        "train_img_per_s": round(statistics.median(train), 1),
        "infer_img_per_s": round(statistics.median(infer), 1),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "allocs_per_step": None,
    }))


if __name__ == "__main__":
    main()
