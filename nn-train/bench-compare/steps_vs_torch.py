#!/usr/bin/env python3
"""Head-to-head: whole-model training and inference steps of the nn-train model zoo vs the same
networks in PyTorch, on this machine, in one run, alternating and repeated (2 threads each).

Workloads (3x32x32 inputs unless --input says otherwise, 10 classes, random data):
  * train: forward in training mode, softmax cross-entropy, backward, SGD momentum 0.9, weight
    decay 5e-4, batch 128 — MLP 3072-1024-1024-10 with BatchNorm, ReLU, dropout 0.5 ("mlp_bn"),
    the same MLP without BN and dropout ("mlp"), CIFAR ResNet-8 and ResNet-20 (BasicBlocks,
    projection shortcuts: conv1x1 + BN) and ResNet-20 at width 32 ("wrn20_2", WRN-20-2: 32-128
    channels);
  * eval: inference in evaluation mode without autograd, batch 256, ResNet-8, ResNet-20 and
    WRN-20-2.

Each round runs every workload once on each side (the side that goes first alternates between
rounds). A side's figure is the median over rounds of the round's median block time; "best" is
the fastest block of all rounds. Ratio = PyTorch time / nn time (> 1: nn is faster).

PyTorch runs the ResNets twice per round, in its default contiguous format and in
`torch.channels_last` (model and input converted, as PyTorch's performance guide recommends on
CPU); nn's CIFAR ResNets run channels-last by default. The ratio is taken against the FASTER of
PyTorch's two formats, per round ("PT cl" column: the channels_last figure).

Run from the repository root (needs a Python environment with torch):

    python nn-train/bench-compare/steps_vs_torch.py [--rounds 3] [--only resnet8] [--input 1x28x28]

With `--input 1x28x28` the models take Fashion-MNIST-shaped inputs, as the recipes'
`nn-train train` runs do (the MLPs' first layer then has 784 inputs).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn-core", "bench-compare"))
from cpu_info import Driver, cpu_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER = os.path.join(ROOT, "target", "release", "examples", "step_driver")


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (x if self.shortcut is None else self.shortcut(x)))


# The input's shape (C, H, W): --input.
INPUT = (3, 32, 32)


def resnet(n, width=16, classes=10):
    layers = [nn.Conv2d(INPUT[0], width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    c_in = width
    for stage, mult in enumerate((1, 2, 4)):
        for b in range(n):
            stride = 2 if stage > 0 and b == 0 else 1
            layers.append(BasicBlock(c_in, width * mult, stride))
            c_in = width * mult
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]
    return nn.Sequential(*layers)


def mlp(bn_dropout):
    layers = [nn.Flatten()]
    width = INPUT[0] * INPUT[1] * INPUT[2]
    for h in (1024, 1024):
        layers.append(nn.Linear(width, h))
        if bn_dropout:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if bn_dropout:
            layers.append(nn.Dropout(0.5))
        width = h
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def build(name):
    return {
        "mlp_bn": lambda: mlp(True),
        "mlp": lambda: mlp(False),
        "resnet8": lambda: resnet(1),
        "resnet20": lambda: resnet(3),
        "wrn20_2": lambda: resnet(3, 32),
    }[name]()


def blocks(inner, n_blocks, f):
    for _ in range(inner):
        f()
    out = []
    for _ in range(n_blocks):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        out.append((time.perf_counter() - t) / inner)
    return out


def torch_workload(kind, name, batch, inner, n_blocks, channels_last=False):
    torch.manual_seed(0)
    net = build(name)
    x = torch.randn(batch, *INPUT)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if kind == "eval":
        net.eval()

        def f():
            with torch.inference_mode():
                net(x).sum().item()

        return blocks(inner, n_blocks, f)
    y = torch.randint(0, 10, (batch,))
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    return blocks(inner, n_blocks, step)


WORKLOADS = [
    # kind, model, batch, inner, blocks
    ("train", "mlp", 128, 4, 5),
    ("train", "mlp_bn", 128, 4, 5),
    ("train", "resnet8", 128, 1, 5),
    ("train", "resnet20", 128, 1, 3),
    ("eval", "resnet8", 256, 1, 5),
    ("eval", "resnet20", 256, 1, 5),
    # ResNet-20 at width 32 (WRN-20-2, the Fashion-MNIST WRN recipe's model on CIFAR inputs).
    ("train", "wrn20_2", 128, 1, 3),
    ("eval", "wrn20_2", 256, 1, 3),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="run only workloads whose model contains this string")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument(
        "--input",
        default="3x32x32",
        help="the inputs' shape CxHxW (1x28x28: Fashion-MNIST's, as the recipes train on)",
    )
    args = ap.parse_args()
    global INPUT
    INPUT = tuple(int(d) for d in args.input.split("x"))
    assert len(INPUT) == 3, "--input is CxHxW, e.g. 1x28x28"
    torch.set_num_threads(2)
    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-p", "nn-train", "--example", "step_driver"],
            cwd=ROOT,
            check=True,
        )
    work = [w for w in WORKLOADS if not args.only or args.only in w[1]]
    rust = Driver(DRIVER)
    # Per workload: PyTorch contiguous, PyTorch channels_last (ResNets only), nn; block times.
    res = {w: ([], [], []) for w in work}
    try:
        for rnd in range(args.rounds):
            for w in work:
                kind, name, batch, inner, nb = w
                cmd = f"{kind} {name} {batch} {inner} {nb} {args.input}"
                conv = name.startswith(("resnet", "wrn"))

                def torch_side():
                    res[w][0].append(torch_workload(*w))
                    if conv:
                        res[w][1].append(torch_workload(*w, channels_last=True))

                if rnd % 2 == 0:
                    torch_side()
                    res[w][2].append(rust.ask(cmd))
                else:
                    res[w][2].append(rust.ask(cmd))
                    torch_side()
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        rust.close()
    print(f"CPU: {cpu_model()}")
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, rounds {args.rounds}, "
        f"input {args.input}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"{'workload':28} {'PT img/s':>9} {'PT cl':>8} {'nn img/s':>9} {'ratio':>7} | "
        f"{'best PT':>8} {'best nn':>8} {'ratio':>7} | per-round ratios"
    )
    for w in work:
        kind, name, batch, _, _ = w
        contiguous, cl, r_rounds = res[w]
        # Per round, PyTorch's faster format (by the round's median block).
        fmts = [contiguous, cl] if cl else [contiguous]
        t_rounds = [
            min((f[i] for f in fmts), key=statistics.median) for i in range(len(contiguous))
        ]
        med = lambda rounds: statistics.median(statistics.median(b) for b in rounds)
        tm, rm = med(t_rounds), med(r_rounds)
        tb = min(min(b) for f in fmts for b in f)
        rb = min(min(b) for b in r_rounds)
        per = " ".join(
            f"{statistics.median(t) / statistics.median(r):.2f}" for t, r in zip(t_rounds, r_rounds)
        )
        cl_col = f"{batch / med(cl):8.1f}" if cl else f"{'-':>8}"
        print(
            f"{kind + ' ' + name + ' b=' + str(batch):28} {batch / med(contiguous):9.1f} {cl_col} "
            f"{batch / rm:9.1f} {tm / rm:6.2f}x | {batch / tb:8.1f} {batch / rb:8.1f} "
            f"{tb / rb:6.2f}x | {per}"
        )


if __name__ == "__main__":
    main()
