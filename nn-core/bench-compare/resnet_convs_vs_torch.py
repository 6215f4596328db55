#!/usr/bin/env python3
"""Head-to-head on every distinct convolution of a CIFAR ResNet-20 (batch 128, 32x32 inputs, no
bias): nn-core on channels-last activations (its direct kernels) against PyTorch, 2 threads each,
in one run, alternating and repeated.

Shapes: the 3->16 stem (and the 1->16 @28^2 stem of the Fashion-MNIST recipes), 16->16 @32^2, 16->32 stride 2 with its 1x1 stride-2 projection,
32->32 @16^2, 32->64 stride 2 with its 1x1 projection, 64->64 @8^2. For each: the forward pass
alone (no graph) and forward + backward (input gradient except for the stem, weight gradient).
Each side gets `gy.clone()` as the output gradient of every call. The calling thread takes
part in the work on both sides: PyTorch's in its OpenMP team, nn's as a worker of its pool
(`conv_driver` runs each command through `nn_core::workers::run`, as nn-train's steps run).

PyTorch runs in its default contiguous format and, for reference, channels_last; the ratio is
taken against the FASTER of the two formats (ratio = PyTorch time / nn time, > 1: nn faster).
A side's figure is the median over rounds of the round's median block; "best" uses the fastest
block of all rounds.

Needs a Python environment with torch. Run from the repository root:

    python nn-core/bench-compare/resnet_convs_vs_torch.py [--rounds 3] [--only 16-16] [--size 28]

`--size 28` times the same layers at the Fashion-MNIST recipes' sizes (28, 14 and 7 pixels a side
instead of 32, 16 and 8; the 3->16 stem is left out).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_info import Driver, cpu_model  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER = os.path.join(ROOT, "target", "release", "examples", "conv_driver")
BATCH = 128

# name, c_in, c_out, input H=W, kernel, stride
SHAPES = [
    ("3-16 k3 @32 (stem)", 3, 16, 32, 3, 1),
    ("1-16 k3 @28 (stem)", 1, 16, 28, 3, 1),
    ("16-16 k3 @32", 16, 16, 32, 3, 1),
    ("16-32 k3 s2 @32", 16, 32, 32, 3, 2),
    ("16-32 k1 s2 @32", 16, 32, 32, 1, 2),
    ("32-32 k3 @16", 32, 32, 16, 3, 1),
    ("32-64 k3 s2 @16", 32, 64, 16, 3, 2),
    ("32-64 k1 s2 @16", 32, 64, 16, 1, 2),
    ("64-64 k3 @8", 64, 64, 8, 3, 1),
]


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


def torch_times(shape, mode, fmt, inner, n_blocks):
    _, cin, cout, hw, k, s = shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, cin, hw, hw, generator=g)
    w = (torch.randn(cout, cin, k, k, generator=g) * 0.1).requires_grad_()
    mf = torch.channels_last if fmt == "cl" else torch.contiguous_format
    x = x.contiguous(memory_format=mf).requires_grad_(cin > 3)
    w = w.detach().contiguous(memory_format=mf).requires_grad_()
    if mode == "fwd":
        def f():
            with torch.no_grad():
                F.conv2d(x, w, None, s, k // 2)
        return blocks(inner, n_blocks, f)
    with torch.no_grad():
        gy = torch.ones_like(F.conv2d(x, w, None, s, k // 2))

    def fb():
        y = F.conv2d(x, w, None, s, k // 2)
        y.backward(gy.clone())
        w.grad = None
        x.grad = None
    return blocks(inner, n_blocks, fb)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--only", help="only shapes whose name contains this")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--size", type=int, default=32,
                    help="input side of the first stage (32: CIFAR; 28: Fashion-MNIST)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "nn-core", "--example",
                        "conv_driver"], cwd=ROOT, check=True)
    shapes = SHAPES
    if args.size != 32:
        def scaled(shape):
            name, cin, cout, hw, k, s = shape
            side = hw * args.size // 32
            return (name.replace(f"@{hw}", f"@{side}"), cin, cout, side, k, s)
        shapes = [s for s in SHAPES if "stem" in s[0] and s[1] == 1]
        shapes += [scaled(s) for s in SHAPES if "stem" not in s[0]]
    shapes = [s for s in shapes if not args.only or args.only in s[0]]
    work = [(s, m) for s in shapes for m in ("fwd", "fwdbwd")]
    res = {w: {"nn": [], "pt": [], "pt_cl": []} for w in work}
    rust = Driver(DRIVER)
    try:
        for rnd in range(args.rounds):
            for w in work:
                (name, cin, cout, hw, k, s), mode = w
                # Blocks of about 0.1 s at 100 GFLOP/s.
                flops = 2 * BATCH * cin * cout * (hw // s) ** 2 * k * k
                flops *= 3 if mode == "fwdbwd" else 1
                inner = min(50, max(1, int(0.1 / (flops / 100e9))))
                cmd = (f"conv {BATCH} {cin} {cout} {hw} {k} {s} cl {mode} {int(cin > 3)} "
                       f"{inner} {args.blocks}")
                sides = [
                    ("pt", lambda: torch_times(w[0], mode, "nchw", inner, args.blocks)),
                    ("pt_cl", lambda: torch_times(w[0], mode, "cl", inner, args.blocks)),
                    ("nn", lambda: rust.ask(cmd)),
                ]
                if rnd % 2 == 1:
                    sides.reverse()
                for side, run in sides:
                    res[w][side].append(run())
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    finally:
        rust.close()
    print(f"CPU: {cpu_model()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {BATCH}, "
          f"{args.rounds} rounds x {args.blocks} blocks, "
          f"load average {os.getloadavg()[0]:.2f} (1 min) at the end, "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"{'shape':22} {'pass':7} {'PT ms':>8} {'PT cl ms':>9} {'nn ms':>8} {'ratio':>6} | "
          f"{'best PT':>8} {'best nn':>8} {'ratio':>6}")
    for w in work:
        (name, *_), mode = w
        med = {k: statistics.median(statistics.median(b) for b in v) for k, v in res[w].items()}
        best = {k: min(min(b) for b in v) for k, v in res[w].items()}
        pt_m = min(med["pt"], med["pt_cl"])
        pt_b = min(best["pt"], best["pt_cl"])
        print(f"{name:22} {mode:7} {med['pt'] * 1e3:8.2f} {med['pt_cl'] * 1e3:9.2f} "
              f"{med['nn'] * 1e3:8.2f} {pt_m / med['nn']:5.2f}x | {pt_b * 1e3:8.2f} "
              f"{best['nn'] * 1e3:8.2f} {pt_b / best['nn']:5.2f}x")


if __name__ == "__main__":
    main()
