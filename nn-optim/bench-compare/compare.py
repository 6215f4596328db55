"""Head-to-head: one optimizer step over 10 M parameters, nn-optim vs PyTorch, same machine,
same run, alternating, repeated; prints medians and ratios (PyTorch time / nn-optim time, > 1
means nn-optim is faster).

Run from the repository root:
    python nn-optim/bench-compare/compare.py [--rounds 5] [--n 10000000] [--tensors 1]
"""

import argparse
import json
import os
import statistics
import subprocess
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def torch_step_ms(make, n, tensors, reps):
    torch.manual_seed(0)
    per = n // tensors
    ps = [torch.nn.Parameter(torch.randn(per) * 0.1) for _ in range(tensors)]
    for p in ps:
        p.grad = torch.randn(per) * 1e-2
    opt = make(ps)
    times = []
    for r in range(reps + 3):
        t0 = time.perf_counter()
        opt.step()
        dt = (time.perf_counter() - t0) * 1e3
        if r >= 3:
            times.append(dt)
    del opt, ps
    return statistics.median(times)


def rust_step_ms(binary, which, n, tensors, reps):
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    out = subprocess.run([binary, which, str(n), str(reps), str(tensors)], check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out)["median_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--tensors", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(2)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nn-optim", "--example", "bench_step"], check=True,
                   cwd=ROOT)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = os.path.join(target, "release", "examples", "bench_step")

    torch_variants = {
        "adam": {
            "torch Adam (for-loop)": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=False),
            "torch Adam (foreach)": lambda ps: torch.optim.Adam(ps, lr=1e-3, foreach=True),
            "torch Adam (fused)": lambda ps: torch.optim.Adam(ps, lr=1e-3, fused=True),
        },
        "sgd_momentum": {
            "torch SGD (for-loop)": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=5e-4,
                                                                foreach=False),
            "torch SGD (foreach)": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=5e-4,
                                                               foreach=True),
            "torch SGD (fused)": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=5e-4,
                                                             fused=True),
        },
    }
    results = {}
    for rnd in range(a.rounds):
        for which, variants in torch_variants.items():
            key = f"nn-optim {which}"
            results.setdefault(key, []).append(rust_step_ms(binary, which, a.n, a.tensors, a.reps))
            for name, make in variants.items():
                try:
                    results.setdefault(name, []).append(torch_step_ms(make, a.n, a.tensors, a.reps))
                except (RuntimeError, ValueError) as e:
                    results.setdefault(name, []).append(float("nan"))
                    print(f"{name}: {e}")
        print(f"round {rnd + 1}/{a.rounds} done", flush=True)

    print(f"\nn = {a.n} parameters in {a.tensors} tensor(s), 2 threads, {a.rounds} rounds x {a.reps} steps, "
          f"medians of round medians (ms)\n")
    print("| optimizer | nn-optim ms | PyTorch variant | PyTorch ms | ratio PyTorch / nn-optim |")
    print("|---|---|---|---|---|")
    for which, variants in torch_variants.items():
        ours = statistics.median(results[f"nn-optim {which}"])
        for name in variants:
            theirs = statistics.median(results[name])
            print(f"| {which} | {ours:.2f} | {name} | {theirs:.2f} | {theirs / ours:.2f} |")


if __name__ == "__main__":
    main()
