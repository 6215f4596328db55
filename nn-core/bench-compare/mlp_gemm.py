#!/usr/bin/env python3
"""Head-to-head: nn-core vs PyTorch on this machine, in one run, alternating and repeated.

Workloads (both sides on 2 threads):
  * sgemm C = A·B, n = 256, 512, 1024, 2048 (GFLOP/s; torch.mm vs nn_core::linalg::gemm);
  * one MLP training step 3072→1024→1024→10, batch 128, ReLU, softmax cross-entropy, plain SGD
    (images/s; nn.Sequential + F.cross_entropy + optim.SGD vs nn-core's Sequential + cross_entropy
    + Parameter::update, and nn-core with the fused linear+ReLU op).

Each round runs every workload once on each side (the side that goes first alternates between
rounds); a workload's figure per side is the median over rounds of the median block time in the
round ("median"), and also the fastest block of all rounds ("best": on a machine shared with other
jobs, the closest to what each side does undisturbed). Ratios > 1 mean nn-core is faster.

Run from the repository root (builds the Rust driver first):

    python nn-core/bench-compare/mlp_gemm.py [--rounds 5] [--quick] [--mlp-shapes]

The machine may be shared: the figures are only meaningful as ratios within one run.
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
DRIVER = os.path.join(ROOT, "target", "release", "examples", "perf_compare")


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


class TorchSide:
    def __init__(self, batch):
        torch.manual_seed(0)
        self.mats = {}
        self.net = torch.nn.Sequential(
            torch.nn.Linear(3072, 1024),
            torch.nn.ReLU(),
            torch.nn.Linear(1024, 1024),
            torch.nn.ReLU(),
            torch.nn.Linear(1024, 10),
        )
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.x = torch.randn(batch, 3072)
        self.y = torch.randint(0, 10, (batch,))

    def gemm(self, n, inner, n_blocks):
        if n not in self.mats:
            self.mats[n] = (torch.rand(n, n), torch.rand(n, n), torch.empty(n, n))
        a, b, c = self.mats[n]
        return blocks(inner, n_blocks, lambda: torch.mm(a, b, out=c))

    def mm(self, key, m, n, k, ta, tb, inner, n_blocks):
        if key not in self.mats:
            a = torch.rand(k, m).t() if ta else torch.rand(m, k)
            b = torch.rand(n, k).t() if tb else torch.rand(k, n)
            self.mats[key] = (a, b)
        a, b = self.mats[key]
        return blocks(inner, n_blocks, lambda: torch.mm(a, b))

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.net(self.x), self.y)
        loss.backward()
        self.opt.step()

    def mlp(self, inner, n_blocks):
        return blocks(inner, n_blocks, self.step)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds of pause between the two sides (default none: measured, a pause made the "
        "side that followed it slower, as the host deschedules idle virtual CPUs)",
    )
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--quick", action="store_true", help="fewer blocks (a smoke run)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument(
        "--mlp-shapes",
        action="store_true",
        help="also the eight products of the MLP step (forward X·Wᵀ, input and weight gradients)",
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-p", "nn-core", "--example", "perf_compare"],
            cwd=ROOT,
            check=True,
        )
    n_blocks = 3 if args.quick else 5
    # (name, rust command, torch call, work per call, unit)
    workloads = []
    for n in (256, 512, 1024, 2048):
        # Blocks of ~25 ms: with blocks of one 1.3 ms product (n = 512) the host's scheduling
        # noise made the median bimodal (0.6x or 1.1x from round to round).
        inner = max(1, round(5e9 / (2 * n**3)))
        workloads.append(
            (
                f"sgemm n={n}",
                f"gemm {n} {inner} {n_blocks}",
                (lambda n=n, inner=inner: lambda t: t.gemm(n, inner, n_blocks))(),
                2 * n**3 / 1e9,
                "GFLOP/s",
            )
        )
    b = args.batch
    if args.mlp_shapes:
        # name, m, n, k, A stored transposed, B stored transposed (a weight [out, in])
        shapes = [
            ("X·W1ᵀ", b, 1024, 3072, 0, 1),
            ("H·W2ᵀ", b, 1024, 1024, 0, 1),
            ("H·W3ᵀ", b, 10, 1024, 0, 1),
            ("g·W3", b, 1024, 10, 0, 0),
            ("gᵀ·H (dW3)", 10, 1024, b, 1, 0),
            ("g·W2", b, 1024, 1024, 0, 0),
            ("gᵀ·H (dW2)", 1024, 1024, b, 1, 0),
            ("gᵀ·X (dW1)", 1024, 3072, b, 1, 0),
        ]
        for name, m, n, k, ta, tb in shapes:
            inner = max(1, round(5e9 / (2 * m * n * k)))
            workloads.append(
                (
                    f"{name} {m}x{n}x{k}",
                    f"mm {m} {n} {k} {ta} {tb} {inner} {n_blocks}",
                    (
                        lambda key=name, m=m, n=n, k=k, ta=ta, tb=tb, inner=inner: lambda t: t.mm(
                            key, m, n, k, ta, tb, inner, n_blocks
                        )
                    )(),
                    2 * m * n * k / 1e9,
                    "GFLOP/s",
                )
            )
    mlp_inner = 3
    workloads.append(
        (f"MLP step b={b}", f"mlp {b} {mlp_inner} {n_blocks}", lambda t: t.mlp(mlp_inner, n_blocks), b, "img/s")
    )
    workloads.append(
        (
            f"MLP step b={b} (fused linear+ReLU)",
            f"mlp_fused {b} {mlp_inner} {n_blocks}",
            lambda t: t.mlp(mlp_inner, n_blocks),
            b,
            "img/s",
        )
    )

    t_side = TorchSide(b)
    r_side = Driver(DRIVER)
    results = {w[0]: ([], []) for w in workloads}
    try:
        for rnd in range(args.rounds):
            for name, cmd, tcall, _, _ in workloads:
                if rnd % 2 == 0:
                    tt = tcall(t_side)
                    time.sleep(args.settle)
                    rt = r_side.ask(cmd)
                else:
                    rt = r_side.ask(cmd)
                    time.sleep(args.settle)
                    tt = tcall(t_side)
                time.sleep(args.settle)
                results[name][0].append(tt)
                results[name][1].append(rt)
            print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    finally:
        r_side.close()

    print(f"CPU: {cpu_model()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, rounds {args.rounds}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    print(
        f"{'workload':<34} {'unit':<8} {'PyTorch':>9} {'nn-core':>9} {'ratio':>6}"
        f" | {'best PT':>9} {'best nn':>9} {'ratio':>6} | per-round ratios"
    )
    for name, _, _, work, unit in workloads:
        tt = [statistics.median(b) for b in results[name][0]]
        rt = [statistics.median(b) for b in results[name][1]]
        tm, rm = statistics.median(tt), statistics.median(rt)
        tb = min(min(b) for b in results[name][0])
        rb = min(min(b) for b in results[name][1])
        per_round = " ".join(f"{a / b:.2f}" for a, b in zip(tt, rt))
        print(
            f"{name:<34} {unit:<8} {work / tm:>9.1f} {work / rm:>9.1f} {tm / rm:>5.2f}x"
            f" | {work / tb:>9.1f} {work / rb:>9.1f} {tb / rb:>5.2f}x | {per_round}"
        )


if __name__ == "__main__":
    main()
