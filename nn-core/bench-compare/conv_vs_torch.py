"""Head-to-head: nn-core vs PyTorch (2 threads each) on the conv/pool/BN benchmark shapes.

Run from the workspace root:
    python nn-core/bench-compare/conv_vs_torch.py [--rounds 5] [--reps 5] [--only NAME]

It builds `examples/conv_timing.rs` in release mode, then alternates rounds: PyTorch times every
workload in-process, then the nn-core binary times the same workloads; each round reports the
median of `reps` runs (after a warm-up) per workload. The table gives the median over rounds and
the ratio PyTorch time / nn-core time (> 1: nn-core is faster). The machine is shared: rerun and
compare; alternating rounds keeps slow phases of the host from favouring one side.
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
from cpu_info import cpu_model  # noqa: E402

BATCH = 128
CONVS = [("conv_3_64_32", 3, 64, 32), ("conv_64_64_32", 64, 64, 32),
         ("conv_128_128_16", 128, 128, 16), ("conv_256_256_8", 256, 256, 8)]


def median_ms(reps, setup, f):
    f(setup())
    ts = []
    for _ in range(reps):
        s = setup()
        t0 = time.perf_counter()
        f(s)
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def torch_round(reps, only):
    out = {}
    g = torch.Generator().manual_seed(0)
    for name, cin, cout, hw in CONVS:
        if only and only not in name:
            continue
        x = torch.randn(BATCH, cin, hw, hw, generator=g)
        w = (torch.randn(cout, cin, 3, 3, generator=g) * 0.1).requires_grad_()
        b = (torch.randn(cout, generator=g) * 0.1).requires_grad_()
        xg = x.clone().requires_grad_(cin != 3)
        gy = torch.ones(BATCH, cout, hw, hw)
        with torch.no_grad():
            out[name + "_fwd"] = median_ms(reps, lambda: None, lambda _: F.conv2d(x, w, b, padding=1))

        def fb(_):
            y = F.conv2d(xg, w, b, padding=1)
            y.backward(gy)
            w.grad = None
            b.grad = None
            xg.grad = None
        out[name + "_fwdbwd"] = median_ms(reps, lambda: None, fb)
    if not only or only in "maxpool":
        x = torch.randn(BATCH, 64, 32, 32, generator=g).requires_grad_()
        gy = torch.ones(BATCH, 64, 16, 16)

        def mp(_):
            F.max_pool2d(x, 2).backward(gy)
            x.grad = None
        out["maxpool_64_32_fwdbwd"] = median_ms(reps, lambda: None, mp)
    if not only or only in "batchnorm":
        x = torch.randn(BATCH, 64, 32, 32, generator=g).requires_grad_()
        bn = torch.nn.BatchNorm2d(64)
        gy = torch.ones(BATCH, 64, 32, 32)

        def bnf(_):
            bn(x).backward(gy)
            x.grad = None
            bn.weight.grad = None
            bn.bias.grad = None
        out["bn2d_64_32_fwdbwd"] = median_ms(reps, lambda: None, bnf)
    return out


def rust_round(binary, reps, only):
    args = [binary, str(reps)] + ([only] if only else [])
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    res = subprocess.run(args, check=True, capture_output=True, text=True, env=env)
    out = {}
    for line in res.stdout.splitlines():
        k, v = line.split()
        out[k] = float(v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default=None)
    ap.add_argument("--binary", default=None, help="prebuilt conv_timing binary")
    a = ap.parse_args()
    torch.set_num_threads(2)
    binary = a.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "nn-core", "--example",
                        "conv_timing"], check=True)
        target = os.environ.get("CARGO_TARGET_DIR", "target")
        binary = os.path.join(target, "release", "examples", "conv_timing")
    tr, rr = {}, {}
    for r in range(a.rounds):
        for k, v in torch_round(a.reps, a.only).items():
            tr.setdefault(k, []).append(v)
        for k, v in rust_round(binary, a.reps, a.only).items():
            rr.setdefault(k, []).append(v)
        print(f"round {r + 1}/{a.rounds} done", flush=True)
    print(f"\n{'workload':<26}{'PyTorch ms':>12}{'nn-core ms':>12}{'ratio':>8}   (ratio = PyTorch / nn-core; > 1 = nn-core faster)")
    for k in tr:
        if k not in rr:
            continue
        t, n = statistics.median(tr[k]), statistics.median(rr[k])
        print(f"{k:<26}{t:>12.1f}{n:>12.1f}{t / n:>8.2f}")
    print(f"CPU: {cpu_model()}")
    print(f"\ntorch {torch.__version__}, threads {torch.get_num_threads()}; {a.rounds} alternating "
          f"rounds x {a.reps} reps, medians")


if __name__ == "__main__":
    main()
