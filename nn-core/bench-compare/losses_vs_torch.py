"""Head-to-head: nn-core's fused cross-entropy, softmax and GELU (forward + backward) against
PyTorch on the same machine, alternating rounds, medians and ratios.

Run from the repository root:
    python nn-core/bench-compare/losses_vs_torch.py [rounds]

Each round runs the criterion bench `cargo bench -p nn-core --bench losses` (short settings) and
then the same computations in PyTorch (2 threads, best-of timing loops); the table reports the
median over rounds of each side and the ratio PyTorch time / nn-core time (> 1: nn-core faster).
"""
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpu_info import cpu_model  # noqa: E402

torch.set_num_threads(2)
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
UNIT = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def rust_round():
    out = subprocess.run(
        ["cargo", "bench", "-p", "nn-core", "--bench", "losses", "--",
         "--warm-up-time", "1", "--measurement-time", "2"],
        capture_output=True, text=True, check=True).stdout
    res = {}
    for m in re.finditer(r"losses/(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+)", out):
        res[m.group(1)] = float(m.group(2)) * UNIT[m.group(3)]
    return res


def timeit(fn, min_time=1.0):
    for _ in range(5):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_time:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def torch_round():
    res = {}
    for n, k in [(128, 10), (1024, 1000)]:
        x0 = torch.randn(n, k)
        y = torch.tensor([(i * 7) % k for i in range(n)])

        def ce():
            x = x0.detach().requires_grad_()
            F.cross_entropy(x, y).backward()
            return x.grad

        def sm():
            x = x0.detach().requires_grad_()
            F.softmax(x, 1).sum().backward()
            return x.grad

        res[f"cross_entropy_fwd_bwd_{n}x{k}"] = timeit(ce)
        res[f"softmax_fwd_bwd_{n}x{k}"] = timeit(sm)
    x0 = torch.randn(128, 1024)

    def gelu():
        x = x0.detach().requires_grad_()
        F.gelu(x).sum().backward()
        return x.grad

    res["gelu_fwd_bwd_128x1024"] = timeit(gelu)
    return res


rust, tch = [], []
for r in range(ROUNDS):
    rust.append(rust_round())
    tch.append(torch_round())
    print(f"round {r + 1}/{ROUNDS} done", file=sys.stderr)

print(f"CPU: {cpu_model()}")
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {ROUNDS} alternating rounds")
print(f"{'bench':36} {'nn-core':>12} {'PyTorch':>12} {'ratio':>7}")
for name in rust[0]:
    a = statistics.median(r[name] for r in rust)
    b = statistics.median(t[name] for t in tch)
    print(f"{name:36} {a * 1e6:10.1f}µs {b * 1e6:10.1f}µs {b / a:7.2f}")
