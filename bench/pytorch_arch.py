#!/usr/bin/env python3
"""Any `lenet5 --arch` spec as PyTorch's nn.Sequential, with the protocol of `lenet5 bench
--arch SPEC --input C,H,W`, printing the same JSON line; `--onnx` measures inference of the
same network exported with torch.onnx.export on ONNX Runtime's CPU provider instead
(intra_op_num_threads = threads).

One fixed seeded batch of N(0, 1) inputs N×C×H×W and random labels of the network's
output classes; a train step is forward + backward + SGD (momentum 0.9, weight decay 5e-4,
lr 0.01); 3 warm-up steps, then R repetitions of K steps, reporting the median images per
second. Inference is the no-grad forward of the same batch.

    python bench/pytorch_arch.py --arch "conv(16,3,p=1) relu maxpool(2) flatten linear(10)" \\
        --input 1,28,28 --batch-size 64 --threads 1 [--onnx]

PyTorch (and ONNX Runtime for --onnx) is the user's own install; nothing in CI needs it.
"""

import argparse
import json
import re
import resource
import statistics
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRESETS = {
    "lenet5": "conv(6,5) relu maxpool(2) conv(16,5) relu maxpool(2) conv(120,5) relu flatten linear(84) relu linear(10)",
    "lenet5-1998": "conv(6,5,p=2) tanh avgpool(2) conv(16,5) tanh avgpool(2) conv(120,5) tanh flatten linear(84) tanh linear(10)",
}


def split(text: str, sep: str):
    """`text` split at `sep` outside parentheses (`" "`: at runs of whitespace)."""
    out, cur, depth = [], "", 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and (ch == sep or (sep == " " and ch.isspace())):
            if cur.strip():
                out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return out + ([cur.strip()] if cur.strip() else [])


def tokens(spec: str):
    return split(spec, " ")


class Residual(nn.Module):
    """`res(BODY | SHORTCUT)`: body(x) + shortcut(x), the identity without a shortcut."""

    def __init__(self, body, shortcut):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if hasattr(self, "shortcut") else x)

    @staticmethod
    def from_spec(x, text: str):
        """The block `res(TEXT)` for the input `x`."""
        paths = split(text, "|")
        body = build_layers(paths[0], x)[0]
        shortcut = build_layers(paths[1], x)[0] if len(paths) > 1 else None
        return Residual(body, shortcut)


def resnet(n: int) -> str:
    """He et al.'s CIFAR ResNet-(6n+2), as `models/src/arch/resnet.rs` writes it."""

    def conv(c, s):
        return f"conv({c},3{'' if s == 1 else f',s={s}'},p=1,bias=false) batchnorm"

    layers = [conv(16, 1) + " relu"]
    for stage, c in enumerate([16, 32, 64]):
        for block in range(n):
            s = 2 if stage > 0 and block == 0 else 1
            shortcut = "" if s == 1 else f" | conv({c},1,s=2,bias=false) batchnorm"
            layers.append(f"res({conv(c, s)} relu {conv(c, 1)}{shortcut}) relu")
    return " ".join(layers + ["gap flatten linear(10)"])


PRESETS.update({f"resnet{6 * n + 2}": resnet(n) for n in (3, 5, 7, 9)})


# One entry per layer kind of the spec language, as `Kinds::builtin()` lists them in Rust
# (models/src/arch/kinds/; a test checks that the two lists hold the same names): the
# PyTorch module for an input `x` of shape [1, C, H, W] or [1, F], positional arguments
# `pos` and named ones `kw`.
MODULES = {
    "conv": lambda x, pos, kw: nn.Conv2d(
        x.shape[1], pos[0], pos[1], stride=kw.get("s", 1), padding=kw.get("p", 0), bias=kw.get("bias", True)
    ),
    "maxpool": lambda x, pos, kw: nn.MaxPool2d(pos[0], stride=kw.get("s", pos[0]), padding=kw.get("p", 0)),
    "avgpool": lambda x, pos, kw: nn.AvgPool2d(pos[0], stride=kw.get("s", pos[0]), padding=kw.get("p", 0)),
    "gap": lambda x, pos, kw: nn.AdaptiveAvgPool2d(1),
    "batchnorm": lambda x, pos, kw: nn.BatchNorm2d(x.shape[1]) if x.dim() == 4 else nn.BatchNorm1d(x.shape[1]),
    "dropout": lambda x, pos, kw: nn.Dropout(float(pos[0])),
    "relu": lambda x, pos, kw: nn.ReLU(),
    "leakyrelu": lambda x, pos, kw: nn.LeakyReLU(float(pos[0]) if pos else 0.01),
    "tanh": lambda x, pos, kw: nn.Tanh(),
    "sigmoid": lambda x, pos, kw: nn.Sigmoid(),
    "flatten": lambda x, pos, kw: nn.Flatten(),
    "linear": lambda x, pos, kw: nn.Linear(x.shape[1], pos[0]),
    "res": lambda x, pos, kw: Residual.from_spec(x, pos[0]),
}


def value(v: str):
    """A named argument: a whole number, or true/false (`bias=false`)."""
    flags = {"true": True, "false": False}
    return flags[v.lower()] if v.lower() in flags else int(v)


def build_layers(spec: str, x):
    """nn.Sequential of the spec for the input `x` (sizes inferred), and its output."""
    layers = []
    for tok in tokens(spec):
        m = re.fullmatch(r"([\w-]+)(?:\((.*)\))?", tok, re.S)
        name, args = m.group(1), (m.group(2) or "")
        items = [] if name == "res" else split(args, ",")
        pos = [args] if name == "res" else [float(a) if "." in a else int(a) for a in items if "=" not in a]
        kw = {k: value(v) for k, v in (a.split("=") for a in items if "=" in a)}
        if name not in MODULES:
            raise SystemExit(f"unknown layer {tok!r}")
        layer = MODULES[name](x, pos, kw)
        layers.append(layer)
        x = layer.eval()(x)
    return nn.Sequential(*layers), x


def build(spec: str, shape):
    """nn.Sequential of the spec for inputs of shape [1, C, H, W] (sizes inferred)."""
    model, x = build_layers(PRESETS.get(spec.strip(), spec), torch.zeros(1, *shape))
    return model, x.shape[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="lenet5")
    p.add_argument("--input", default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--onnx", action="store_true")
    a = p.parse_args()
    shape = [int(d) for d in (a.input or ("1,32,32" if a.arch == "lenet5" else "1,28,28")).split(",")]
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model, classes = build(a.arch, shape)
    x = torch.randn(a.batch_size, *shape)
    y = torch.randint(0, classes, (a.batch_size,))

    def timed(step):
        for _ in range(3):
            step()
        rates = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                step()
            rates.append(a.batch_size * a.steps / (time.perf_counter() - t0))
        return statistics.median(rates)

    result = {"batch": a.batch_size, "threads": a.threads, "arch": a.arch, "input": ",".join(map(str, shape))}
    if a.onnx:
        import onnxruntime as ort

        model.eval()
        with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
            torch.onnx.export(model, x, f.name, input_names=["x"], dynamic_axes={"x": {0: "n"}}, dynamo=False)
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = a.threads
            opts.inter_op_num_threads = 1
            session = ort.InferenceSession(f.name, opts, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        result.update(system="onnxruntime-" + ort.__version__, train_img_per_s=None,
                      infer_img_per_s=round(timed(lambda: session.run(None, feed)), 1))
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

        def train_step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        model.train()
        train = timed(train_step)
        model.eval()
        with torch.no_grad():
            infer = timed(lambda: model(x))
        result.update(system="pytorch-" + torch.__version__, train_img_per_s=round(train, 1),
                      infer_img_per_s=round(infer, 1))
    result.update(peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, allocs_per_step=None)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
