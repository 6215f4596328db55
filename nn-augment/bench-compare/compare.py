"""Head-to-head: nn-augment vs torchvision v2 per image, one thread each, same machine, same run.

    python nn-augment/bench-compare/compare.py [rounds]

(needs a Python environment with torch and torchvision).

Builds and runs `cargo run -p nn-augment --example bench_transforms --release` and times the same
transforms with torchvision v2 on float32 CHW tensors in [0, 1] (torch.set_num_threads(1)),
alternating the two sides for `rounds` rounds (default 3); reports the median time per image of
each side and the ratio torchvision / nn-augment (> 1: nn-augment is faster).

Times are per-thread CPU time (time.thread_time() here, /proc/thread-self/schedstat on the Rust
side): on a shared, loaded machine wall-clock time mostly measures the scheduler.
"""
import json
import statistics
import subprocess
import sys
import time

import torch
from torchvision.transforms import v2 as T
from torchvision.transforms import InterpolationMode as IM

torch.set_num_threads(1)
torch.manual_seed(0)
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
REPEATS, BUDGET = 5, 0.15


def tv_cases(s):
    return {
        "hflip": T.RandomHorizontalFlip(p=1.0),
        "random_crop_pad": T.RandomCrop(s, padding=s // 8),
        "center_crop": T.CenterCrop(s * 7 // 8),
        "resize_bilinear_half": T.Resize((s // 2, s // 2), antialias=True),
        "random_resized_crop": T.RandomResizedCrop(s),
        "color_jitter": T.ColorJitter(0.4, 0.4, 0.4, 0.1),
        "affine_bilinear": T.RandomAffine(15, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, interpolation=IM.BILINEAR),
        "rotation_nearest": T.RandomRotation(30),
        "auto_augment": T.AutoAugment(),
        "rand_augment": T.RandAugment(),
        "trivial_augment": T.TrivialAugmentWide(),
        "normalize": T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        "random_erasing": T.RandomErasing(p=1.0),
    }


def time_torchvision():
    out = {}
    for s in (32, 224):
        img = torch.rand(3, s, s)
        for name, t in tv_cases(s).items():
            n = 1
            while True:
                t0 = time.thread_time()
                for _ in range(n):
                    t(img)
                if time.thread_time() - t0 > BUDGET / 4 or n > 1 << 20:
                    break
                n *= 2
            times = []
            for _ in range(REPEATS):
                t0 = time.thread_time()
                for _ in range(n):
                    t(img)
                times.append((time.thread_time() - t0) / n)
            out[(name, s)] = statistics.median(times)
    return out


def time_rust():
    cmd = ["cargo", "run", "-q", "-p", "nn-augment", "--example", "bench_transforms", "--release", "--", str(REPEATS), str(BUDGET)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    out = {}
    for line in res.stdout.splitlines():
        r = json.loads(line)
        out[(r["case"], r["size"])] = r["seconds"]
    return out


def main():
    subprocess.run(["cargo", "build", "-q", "-p", "nn-augment", "--example", "bench_transforms", "--release"], check=True)
    ours, theirs = {}, {}
    for r in range(ROUNDS):
        for k, v in time_rust().items():
            ours.setdefault(k, []).append(v)
        for k, v in time_torchvision().items():
            theirs.setdefault(k, []).append(v)
        print(f"round {r + 1}/{ROUNDS} done", file=sys.stderr)
    print(f"torch {torch.__version__}, 1 thread, per-thread CPU time; medians of {ROUNDS} rounds x {REPEATS} repeats\n")
    print("| transform | size | nn-augment µs/img | torchvision µs/img | ratio (tv / ours) |")
    print("|---|---|---|---|---|")
    for (name, s) in sorted(ours, key=lambda k: (k[1], list(tv_cases(32)).index(k[0]))):
        a = statistics.median(ours[(name, s)]) * 1e6
        b = statistics.median(theirs[(name, s)]) * 1e6
        print(f"| {name} | {s} | {a:.1f} | {b:.1f} | {b / a:.2f}x |")


if __name__ == "__main__":
    main()
