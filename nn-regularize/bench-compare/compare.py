"""Head-to-head timing of nn-regularize against PyTorch on this machine.

Run from the repository root (needs torch; THREADS threads on both sides, default 2):

    python nn-regularize/bench-compare/compare.py [rounds]
    THREADS=1 python nn-regularize/bench-compare/compare.py [rounds]

Builds and runs `cargo run -p nn-regularize --example timing --release` and the same workloads in
PyTorch, alternating A/B for `rounds` rounds (default 5); each side reports per-workload medians
of 30 repetitions; the script prints the median over rounds and the ratio PyTorch / ours (> 1 means
we are faster). The PyTorch equivalents: F.dropout; F.fractional_max_pool2d (kernel 2, ratio
1/sqrt 2); timm-style batch mixup (flip-mix + smoothed one-hot targets); DropConnect as
F.linear(x, F.dropout(W, 0.5), b).
"""

import json
import math
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

THREADS = int(os.environ.get("THREADS", "2"))
torch.set_num_threads(THREADS)
REPS = 30


def median_ms(f):
    f()
    ts = []
    for _ in range(REPS):
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1e3)
    return statistics.median(ts)


def torch_side():
    out = {}
    x = torch.randn(256, 1024, requires_grad=True)

    def drop():
        y = F.dropout(x, 0.5, training=True)
        y.backward(torch.ones_like(y))
        x.grad = None

    out["dropout_fwd_bwd_256x1024"] = median_ms(drop)
    x2 = torch.randn(32, 32, 32, 32, requires_grad=True)

    def fmp():
        y = F.fractional_max_pool2d(x2, 2, output_ratio=(1 / math.sqrt(2), 1 / math.sqrt(2)))
        y.backward(torch.ones_like(y))
        x2.grad = None

    out["fmp_fwd_bwd_32x32x32x32"] = median_ms(fmp)
    imgs = torch.ones(128, 3, 32, 32)
    labels = torch.arange(128) % 10

    def mix():
        lam = float(torch.distributions.Beta(1.0, 1.0).sample())
        xm = imgs.clone()
        xf = xm.flip(0).mul_(1 - lam)
        xm.mul_(lam).add_(xf)
        off = 0.1 / 10
        y1 = torch.full((128, 10), off).scatter_(1, labels.view(-1, 1), 1 - 0.1 + off)
        _ = y1 * lam + y1.flip(0) * (1 - lam)

    out["mixup_128x3x32x32"] = median_ms(mix)
    w = torch.empty(1024, 1024).uniform_(-1 / 32, 1 / 32).requires_grad_()
    b = torch.zeros(1024, requires_grad=True)
    x3 = torch.randn(128, 1024)

    def dc():
        y = F.linear(x3, F.dropout(w, 0.5, training=True), b)
        y.backward(torch.ones_like(y))
        w.grad = None
        b.grad = None

    out["dropconnect_fwd_bwd_128x1024x1024"] = median_ms(dc)
    return out


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    # TIMING_BIN: an already built `timing` example binary (else cargo builds it).
    binary = os.environ.get("TIMING_BIN")
    if binary is None:
        subprocess.run(["cargo", "build", "-q", "-p", "nn-regularize", "--example", "timing", "--release"],
                       check=True)
        binary = os.path.join("target", "release", "examples", "timing")
    ours, theirs = [], []
    for _ in range(rounds):
        env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
        r = subprocess.run([binary, str(REPS)], check=True, capture_output=True, text=True, env=env)
        ours.append(json.loads(r.stdout))
        theirs.append(torch_side())
    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {THREADS} thread(s) each side, {rounds} alternating rounds, "
          f"medians of {REPS} reps each (ms); 1-min load average at the end {load:.1f} on this machine")
    print("| workload | nn-regularize | PyTorch | PyTorch / ours |")
    print("|---|---|---|---|")
    for k in ours[0]:
        a = statistics.median(o[k] for o in ours)
        t = statistics.median(o[k] for o in theirs)
        print(f"| {k} | {a:.3f} | {t:.3f} | {t / a:.2f} |")


if __name__ == "__main__":
    main()
