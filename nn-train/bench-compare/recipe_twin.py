#!/usr/bin/env python3
"""PyTorch twin of an nn-train Fashion-MNIST recipe (jobs/recipes/fashion-*.toml).

Trains the job's network with the same data split, preprocessing, augmentation, loss, optimizer,
schedule, batch size, best-snapshot rule and (optional) EMA as `nn-train train`, for one or more
seeds, and prints the test accuracy of each seed and their mean +- sd. Learning parity, not
bit-parity: the random draws differ, so compare means over seeds (BENCHMARKS.md, "Fashion-MNIST
recipes").

Needs a Python environment with torch (>= 2.0) and Debian's dataset-fashion-mnist package
(or --data DIR with the four IDX .gz files). The split comes from nn-train itself:

    cargo run --release -p nn-train --example split_indices -- jobs/recipes/fashion-resnet.toml > split.json
    python nn-train/bench-compare/recipe_twin.py --job jobs/recipes/fashion-resnet.toml \
        --split split.json --seeds 0 1 2 --out twin-resnet.json

What the twin reproduces (and how nn-train does it):
- data: the 60,000 training images split by `split.json` (nn_data's seeded stratified split),
  the 10,000 test images; pixels / 255; `data.limit_train` keeps the first N training indices.
- preprocess = "standardize": per-channel population mean and std of the training split.
- augmentation, on the raw [0, 1] image before standardisation (nn-train's order), with
  torchvision's semantics: random_crop (zero padding), horizontal_flip, random_erasing (up to 10
  tries of area ~ U(scale)*H*W, log-uniform aspect ratio, h = round(sqrt(area*r)),
  w = round(sqrt(area/r)), kept if h < H and w < W). Vectorised over the batch.
- models: `resnet` (CIFAR ResNet-(6n+2), projection shortcuts 1x1 conv + BN), `cnn`
  ((Conv3x3 no bias - BN - ReLU - MaxPool2 ceil)* - GAP - [Dropout] - Linear), `mlp`
  (Linear - [BN] - ReLU - [Dropout])* - Linear), PyTorch's default initialisation.
- loss: cross-entropy with `label_smoothing`; validation/test loss without smoothing.
- optimizer: SGD (momentum, Nesterov, weight decay; no decay on 1-d parameters when
  `no_decay_on_1d`, nn-train's default), Adam/AdamW.
- schedule: nn-train's default, per step: linear warm-up over the first epoch from lr/W
  (W = steps per epoch, W - 1 ramp steps), then cosine to 0 over the remaining steps.
- batches: a new random order every epoch; the last partial batch is kept (dropped only if it
  would hold one image).
- best snapshot: validated after every epoch, the first epoch with the highest validation
  accuracy is kept and tested; with `[ema]` the EMA weights (decay min(d, (1+t)/(10+t)), buffers
  copied) are validated too and the better of raw and EMA (raw on ties) is kept.
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn-core", "bench-compare"))
from cpu_info import cpu_model  # noqa: E402
from twin_data import DEBIAN_DIR, build_augment, load_fashion  # noqa: E402


# ---------------------------------------------------------------- models


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
        s = x if self.shortcut is None else self.shortcut(x)
        return F.relu(h + s)


class ResNet(nn.Module):
    def __init__(self, c_in, n, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, c = [], width
        for stage, mult in enumerate([1, 2, 4]):
            blocks = []
            for b in range(n):
                stride = 2 if stage > 0 and b == 0 else 1
                blocks.append(BasicBlock(c, width * mult, stride))
                c = width * mult
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build_model(m, input_shape, classes):
    kind = m.get("kind", "mlp")
    known = {
        "resnet": {"kind", "blocks_per_stage", "width"},
        "cnn": {"kind", "channels", "convs_per_stage", "dropout"},
        "mlp": {"kind", "hidden", "batch_norm", "dropout", "activation"},
    }
    if kind not in known:
        sys.exit(f"the twin does not implement model kind {kind!r}")
    extra = set(m) - known[kind]
    if extra:
        sys.exit(f"the twin does not implement [model] fields {sorted(extra)} of {kind}")
    c, h, w = input_shape
    if kind == "resnet":
        return ResNet(c, m.get("blocks_per_stage", 3), m.get("width", 16), classes)
    if kind == "cnn":
        layers, c_in = [], c
        for ch in m.get("channels", [32, 64]):
            for _ in range(m.get("convs_per_stage", 1)):
                layers += [
                    nn.Conv2d(c_in, ch, 3, padding=1, bias=False),
                    nn.BatchNorm2d(ch),
                    nn.ReLU(),
                ]
                c_in = ch
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if m.get("dropout", 0.0) > 0:
            layers.append(nn.Dropout(m["dropout"]))
        layers.append(nn.Linear(c_in, classes))
        return nn.Sequential(*layers)
    if m.get("activation", {"kind": "relu"}).get("kind") != "relu":
        sys.exit("the twin's MLP has ReLU only")
    layers, d = [nn.Flatten()], c * h * w
    for width in m.get("hidden", [256, 256]):
        layers.append(nn.Linear(d, width))
        if m.get("batch_norm", False):
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if m.get("dropout", 0.0) > 0:
            layers.append(nn.Dropout(m["dropout"]))
        d = width
    layers.append(nn.Linear(d, classes))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- optimizer, schedule, EMA


def build_optimizer(model, o, no_decay_on_1d):
    kind = o.get("kind", "sgd")
    wd = o.get("weight_decay", 0.0)
    decay = [p for p in model.parameters() if not (no_decay_on_1d and p.ndim <= 1)]
    no_decay = [p for p in model.parameters() if no_decay_on_1d and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": wd}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    lr = o.get("lr", 0.1 if kind == "sgd" else 1e-3)
    if kind == "sgd":
        return torch.optim.SGD(
            groups,
            lr=lr,
            momentum=o.get("momentum", 0.0),
            dampening=o.get("dampening", 0.0),
            nesterov=o.get("nesterov", False),
        )
    if kind in ("adam", "adamw"):
        cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return cls(groups, lr=lr, betas=tuple(o.get("betas", [0.9, 0.999])), eps=o.get("eps", 1e-8))
    sys.exit(f"the twin does not implement optimizer {kind!r}")


def default_schedule_factor(steps_per_epoch, epochs):
    """nn-train's default schedule as a factor of the base rate at step t (trainer.rs)."""
    warm = max(1, steps_per_epoch)
    total = steps_per_epoch * epochs
    ramp = warm - 1
    t_max = max(1, total - ramp)

    def cosine(t):
        t = min(t, t_max)
        return (1.0 + math.cos(math.pi * t / t_max)) / 2.0

    def factor(t):
        if ramp == 0:
            return cosine(t)
        if t < ramp:
            s = 1.0 / warm
            return cosine(0) * (s + (1.0 - s) * t / ramp)
        return cosine(t - ramp)

    return factor


class Ema:
    def __init__(self, model, decay):
        self.decay, self.updates = decay, 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.params = {k for k, _ in model.named_parameters()}

    @torch.no_grad()
    def update(self, model):
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        self.updates += 1
        for k, v in model.state_dict().items():
            if k in self.params:
                self.shadow[k].mul_(d).add_(v.detach(), alpha=1.0 - d)
            else:
                self.shadow[k].copy_(v)


# ---------------------------------------------------------------- train / evaluate


@torch.no_grad()
def evaluate(model, x, y, mean, std, batch=500, fmt=torch.contiguous_format):
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch):
        out = model(((x[i : i + batch] - mean) / std).contiguous(memory_format=fmt))
        loss += F.cross_entropy(out, y[i : i + batch], reduction="sum").item()
        correct += (out.argmax(1) == y[i : i + batch]).sum().item()
    return loss / len(x), correct / len(x)


def run_seed(job, seed, data, args):
    (x_all, y_all), (x_test, y_test), train_idx, val_idx = data
    torch.manual_seed(seed)
    random.seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x_tr, y_tr = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]
    d = job.get("data", {})
    pre = d.get("preprocess", "standardize")
    c = x_tr.shape[1]
    if pre == "standardize":
        mean = x_tr.double().mean(dim=(0, 2, 3)).float().view(1, c, 1, 1)
        std = x_tr.double().std(dim=(0, 2, 3), unbiased=False).float().view(1, c, 1, 1)
    elif pre == "none":
        mean, std = torch.zeros(1, c, 1, 1), torch.ones(1, c, 1, 1)
    else:
        sys.exit(f"the twin does not implement preprocess {pre!r}")
    classes = int(y_all.max()) + 1
    model = build_model(job.get("model", {}), tuple(x_tr.shape[1:]), classes)
    # --channels-last: PyTorch's channels_last memory format for the model and every batch.
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = build_optimizer(model, job.get("optimizer", {}), job.get("no_decay_on_1d", True))
    batch = job.get("batch_size", 64)
    epochs = args.epochs or job.get("epochs", 30)
    n = len(x_tr)
    drop_last = n % batch == 1
    steps_per_epoch = n // batch if drop_last else math.ceil(n / batch)
    factor = default_schedule_factor(steps_per_epoch, epochs)
    base_lrs = [g["lr"] for g in opt.param_groups]
    smoothing = job.get("label_smoothing", 0.0)
    augment = build_augment(job.get("augment", {}).get("transforms"))
    ema = Ema(model, job["ema"]["decay"]) if "ema" in job else None

    history, step, start_epoch, seconds_before = [], 0, 0, 0.0
    best = {"val_acc": -1.0}
    best_ema = {"val_acc": -1.0}
    ckpt = os.path.join(args.checkpoint, f"seed-{seed}.pt") if args.checkpoint else None
    if ckpt and os.path.exists(ckpt):
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["gen"])
        torch.set_rng_state(st["torch_rng"])
        if ema is not None:
            ema.shadow, ema.updates = st["ema"], st["ema_updates"]
        history, step, best, best_ema = st["history"], st["step"], st["best"], st["best_ema"]
        start_epoch, seconds_before = len(history), st["seconds"]
        print(f"seed {seed}: resuming at epoch {start_epoch} from {ckpt}", flush=True)
    t_start = time.perf_counter() - seconds_before
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = order[b * batch : (b + 1) * batch]
            xb = ((augment(x_tr[idx], gen) - mean) / std).contiguous(memory_format=fmt)
            yb = y_tr[idx]
            for g, base in zip(opt.param_groups, base_lrs):
                g["lr"] = base * factor(step)
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update(model)
            step += 1
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
        val_loss, val_acc = evaluate(model, x_val, y_val, mean, std, fmt=fmt)
        rec = {
            "epoch": epoch,
            "lr": base_lrs[0] * factor(step - 1),
            "train_loss": loss_sum / seen,
            "train_acc": correct / seen,
            "val_loss": val_loss,
            "val_acc": val_acc,
        }
        if val_acc > best["val_acc"]:
            best = {"val_acc": val_acc, "epoch": epoch, "state": {k: v.clone() for k, v in model.state_dict().items()}}
        if ema is not None:
            raw_state = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema.shadow)
            ema_loss, ema_acc = evaluate(model, x_val, y_val, mean, std, fmt=fmt)
            model.load_state_dict(raw_state)
            rec.update(ema_val_loss=ema_loss, ema_val_acc=ema_acc)
            if ema_acc > best_ema["val_acc"]:
                best_ema = {"val_acc": ema_acc, "epoch": epoch, "state": {k: v.clone() for k, v in ema.shadow.items()}}
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        if ckpt:
            os.makedirs(args.checkpoint, exist_ok=True)
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "gen": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "ema": ema.shadow if ema is not None else None,
                    "ema_updates": ema.updates if ema is not None else 0,
                    "history": history,
                    "step": step,
                    "best": best,
                    "best_ema": best_ema,
                    "seconds": time.perf_counter() - t_start,
                },
                ckpt + ".tmp",
            )
            os.replace(ckpt + ".tmp", ckpt)
        print(
            f"seed {seed} epoch {epoch:>3} lr {rec['lr']:.5f} train loss {rec['train_loss']:.4f} "
            f"acc {rec['train_acc']:.4f} val loss {val_loss:.4f} acc {val_acc:.4f}"
            + (f" ema {rec['ema_val_acc']:.4f}" if ema is not None else "")
            + f" {rec['seconds']:.1f} s",
            flush=True,
        )
    train_seconds = time.perf_counter() - t_start
    kept = "raw"
    state = best["state"]
    if ema is not None and best_ema["val_acc"] > best["val_acc"]:
        kept, state = "ema", best_ema["state"]
    model.load_state_dict(state)
    test_loss, test_acc = evaluate(model, x_test, y_test, mean, std, fmt=fmt)
    return {
        "seed": seed,
        "epochs": epochs,
        "best_epoch": (best_ema if kept == "ema" else best)["epoch"],
        "best_val_acc": max(best["val_acc"], best_ema["val_acc"]),
        "kept": kept,
        "test_loss": test_loss,
        "test_acc": test_acc,
        "train_seconds": train_seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--job", required=True, help="the nn-train job file (TOML)")
    ap.add_argument("--split", required=True, help="split.json from the split_indices example")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, help="override the job's epochs")
    ap.add_argument("--limit-train", type=int, help="override data.limit_train")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument(
        "--channels-last",
        action="store_true",
        help="train and evaluate in torch.channels_last memory format (faster for CNNs on some CPUs)",
    )
    ap.add_argument("--data", default=DEBIAN_DIR, help="folder of the Fashion-MNIST IDX .gz files")
    ap.add_argument("--out", help="write every seed's result (and the summary) as JSON")
    ap.add_argument(
        "--checkpoint",
        help="folder for a checkpoint per seed after every epoch; a rerun with the same folder "
        "continues where it stopped",
    )
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    with open(args.job, "rb") as f:
        job = tomllib.load(f)
    for key in ("mixup", "cutout", "penalty", "schedule", "lr_scaling", "class_weights", "transfer"):
        if key in job:
            sys.exit(f"the twin does not implement `{key}` (job {args.job})")
    if job.get("grad_accumulation", 1) != 1:
        sys.exit("the twin does not implement grad_accumulation")
    with open(args.split) as f:
        split = json.load(f)
    d = job.get("data", {})
    if d.get("source") != "fashion_mnist":
        sys.exit(f"the twin reads Fashion-MNIST only (source = {d.get('source')!r})")
    want_seed = d.get("split_seed", job.get("seed", 0))
    if split["seed"] != want_seed or abs(split["val_fraction"] - d.get("val_fraction", 0.1)) > 1e-12:
        sys.exit(f"{args.split} is the split of seed {split['seed']}, fraction {split['val_fraction']}; the job wants {want_seed}, {d.get('val_fraction', 0.1)}")
    (x_all, y_all), test = load_fashion(args.data)
    train_idx = torch.tensor(split["train"])
    limit = args.limit_train or d.get("limit_train")
    if limit:
        train_idx = train_idx[:limit]
    data = ((x_all, y_all), test, train_idx, torch.tensor(split["val"]))
    print(
        f"PyTorch {torch.__version__}, {args.threads} threads"
        f"{', channels_last' if args.channels_last else ''}, {cpu_model()}; job {args.job}; "
        f"{len(train_idx)} train / {len(split['val'])} val / {len(test[0])} test images",
        flush=True,
    )
    results = []
    for seed in args.seeds:
        r = run_seed(job, seed, data, args)
        print(
            f"seed {seed}: test acc {r['test_acc']:.4f} (best epoch {r['best_epoch']}, kept {r['kept']}), "
            f"{r['train_seconds']:.0f} s training",
            flush=True,
        )
        results.append(r)
        if args.out:
            write(args.out, job, args, results)
    accs = [r["test_acc"] * 100 for r in results]
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"test accuracy over {len(accs)} seeds: {statistics.mean(accs):.2f} +- {sd:.2f} %")
    if args.out:
        write(args.out, job, args, results)


def write(path, job, args, results):
    accs = [r["test_acc"] * 100 for r in results]
    summary = {
        "job": args.job,
        "torch": torch.__version__,
        "threads": args.threads,
        "channels_last": args.channels_last,
        "cpu": cpu_model(),
        "seeds": [r["seed"] for r in results],
        "test_acc_mean": statistics.mean(accs),
        "test_acc_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        "runs": results,
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
