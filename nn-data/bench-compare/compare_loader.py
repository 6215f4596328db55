"""Loader throughput, nn-data vs torchvision's DataLoader, on this machine, in one run.

Workload (both sides): 20,000 random CIFAR-shaped uint8 images (3x32x32) in memory, shuffled,
batch 128, RandomCrop(32, padding=4) + RandomHorizontalFlip, output float32 in [0, 1] batches.
torchvision: transforms.v2 on uint8 tensors (its fastest path) + ToDtype(float32, scale=True),
DataLoader(num_workers=0 | 2). nn-data: DataLoader on a rayon pool of 1 | 2 threads, prefetch 2.
Rounds alternate the configurations; medians of all epochs are reported with ratios.

Run from the repository root:
    python nn-data/bench-compare/compare_loader.py [--rounds 5]
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

IMAGES = 20_000
REPS = 3  # timed epochs per configuration per round


def torch_side(workers: int, images: int, reps: int) -> None:
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import v2

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(images) % 10
    tf = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])

    class DS(Dataset):
        def __len__(self):
            return images

        def __getitem__(self, i):
            return tf(data[i]), labels[i]

    kw = dict(batch_size=128, shuffle=True, num_workers=workers)
    if workers:
        kw.update(persistent_workers=True, prefetch_factor=2)
    loader = DataLoader(DS(), **kw)
    for _ in loader:  # warm-up epoch (worker start-up)
        pass
    for _ in range(reps):
        t = time.perf_counter()
        n = 0
        for x, _ in loader:
            n += x.shape[0]
        print(f"{n / (time.perf_counter() - t):.1f}", flush=True)


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [float(v) for v in out.split()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--torch-side", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_side is not None:
        torch_side(args.torch_side, IMAGES, REPS)
        return
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nn-data", "--example", "loader_throughput"], check=True)
    rust_bin = "target/release/examples/loader_throughput"
    configs = {
        "nn-data, 1 thread": [rust_bin, "1", str(IMAGES), str(REPS)],
        "torchvision, num_workers=0": [sys.executable, __file__, "--torch-side", "0"],
        "nn-data, 2 threads": [rust_bin, "2", str(IMAGES), str(REPS)],
        "torchvision, num_workers=2": [sys.executable, __file__, "--torch-side", "2"],
    }
    results = {k: [] for k in configs}
    for r in range(args.rounds):
        for name, cmd in configs.items():
            results[name] += run(cmd)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k}: {statistics.median(v):,.0f}" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print("\n| configuration | images/s (median) |\n|---|---|")
    for k, v in med.items():
        print(f"| {k} | {v:,.0f} |")
    r1 = med["nn-data, 1 thread"] / med["torchvision, num_workers=0"]
    r2 = med["nn-data, 2 threads"] / med["torchvision, num_workers=2"]
    print(f"\nratio 1 core  (nn-data 1 thread / torchvision num_workers=0): {r1:.1f}x")
    print(f"ratio 2 cores (nn-data 2 threads / torchvision num_workers=2): {r2:.1f}x")
    print(json.dumps({"medians": med, "samples": results}))


if __name__ == "__main__":
    main()
