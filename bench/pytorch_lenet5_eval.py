"""LeNet-5 weights written by `lenet5 train` read back by PyTorch (`load_state_dict(strict=True)`)
and evaluated on MNIST's test set with the preprocessing in the file's metadata.

Usage: python bench/pytorch_lenet5_eval.py WEIGHTS.safetensors [MNIST_DIR]
"""
import gzip
import sys

import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file
path = sys.argv[1]
MNIST = sys.argv[2] if len(sys.argv) > 2 else "data/mnist"
with safe_open(path, "pt") as f: meta = f.metadata()
class LeNet5(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(1, 6, 5); s.c3 = nn.Conv2d(6, 16, 5); s.c5 = nn.Conv2d(16, 120, 5)
        s.f6 = nn.Linear(120, 84); s.f7 = nn.Linear(84, 10)
    def forward(s, x):
        x = F.max_pool2d(F.relu(s.c1(x)), 2); x = F.max_pool2d(F.relu(s.c3(x)), 2)
        x = F.relu(s.c5(x)).flatten(1); return s.f7(F.relu(s.f6(x)))
m = LeNet5(); m.load_state_dict(load_file(path), strict=True); m.eval()
def idx(p):
    with gzip.open(p) as f: d = f.read()
    n = int.from_bytes(d[4:8], "big")
    return np.frombuffer(d, np.uint8, offset=16 if d[3] == 3 else 8).reshape((n, 28, 28) if d[3] == 3 else (n,))
x = idx(MNIST + "/t10k-images-idx3-ubyte.gz"); y = idx(MNIST + "/t10k-labels-idx1-ubyte.gz")
pad, mean, std = int(meta["preprocess.pad"]), float(meta["preprocess.mean"]), float(meta["preprocess.std"])
t = (torch.tensor(x, dtype=torch.float32) / 255 - mean) / std
t = F.pad(t, (pad,) * 4, value=(0 - mean) / std).unsqueeze(1)
with torch.no_grad(): acc = (m(t).argmax(1).numpy() == y).mean()
print(f"{path}: PyTorch strict=True load, test accuracy {100*acc:.2f} %, metadata pad {pad} mean {mean} std {std}")
