"""Fashion-MNIST for the PyTorch twin (recipe_twin.py): the IDX files of Debian's
dataset-fashion-mnist package, and nn-train's augmentations with torchvision's semantics,
vectorised over the batch (each transform samples its parameters from `gen`, then applies them)."""

import gzip
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# ---------------------------------------------------------------- data


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion(data_dir):
    def pair(prefix):
        x = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        x = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)
        return x, torch.from_numpy(y.astype(np.int64))

    return pair("train"), pair("t10k")


# ---------------------------------------------------------------- augmentation (batched)


def random_crop(x, size, padding, gen):
    b, _, h, w = x.shape
    if padding:
        x = F.pad(x, (padding, padding, padding, padding))
    hp, wp = x.shape[2], x.shape[3]
    i = torch.randint(0, hp - size + 1, (b,), generator=gen)
    j = torch.randint(0, wp - size + 1, (b,), generator=gen)
    rows = (i[:, None] + torch.arange(size))[:, :, None]
    cols = (j[:, None] + torch.arange(size))[:, None, :]
    bidx = torch.arange(b)[:, None, None]
    return x.permute(0, 2, 3, 1)[bidx, rows, cols].permute(0, 3, 1, 2).contiguous()


def horizontal_flip(x, p, gen):
    flip = torch.rand(x.shape[0], generator=gen) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_erasing(x, p, scale, ratio, value, gen):
    b, c, h, w = x.shape
    x = x.clone()
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    u = torch.rand(b, generator=gen).tolist()
    for k in range(b):
        if u[k] >= p:
            continue
        for _ in range(10):
            area = h * w * (scale[0] + (scale[1] - scale[0]) * torch.rand(1, generator=gen).item())
            r = math.exp(log_r[0] + (log_r[1] - log_r[0]) * torch.rand(1, generator=gen).item())
            eh = int(round(math.sqrt(area * r)))
            ew = int(round(math.sqrt(area / r)))
            if not (eh < h and ew < w):
                continue
            top = torch.randint(0, h - eh + 1, (1,), generator=gen).item()
            left = torch.randint(0, w - ew + 1, (1,), generator=gen).item()
            if value == "random":
                x[k, :, top : top + eh, left : left + ew] = torch.randn(
                    (c, eh, ew), generator=gen
                )
            else:
                vals = value if isinstance(value, list) else [value]
                for ch in range(c):
                    x[k, ch, top : top + eh, left : left + ew] = float(vals[ch % len(vals)])
            break
    return x


def build_augment(transforms):
    steps = []
    for t in transforms or []:
        kind = t["type"]
        if kind == "random_crop":
            size = t["size"]
            size = size[0] if isinstance(size, list) else size
            pad = t.get("padding", 0) or 0
            if isinstance(pad, list) or t.get("padding_mode", "constant") != "constant" or t.get("fill", 0):
                sys.exit(f"random_crop: only one zero padding width is supported by the twin: {t}")
            steps.append(lambda x, g, size=size, pad=pad: random_crop(x, size, pad, g))
        elif kind == "horizontal_flip":
            p = t.get("p", 0.5)
            steps.append(lambda x, g, p=p: horizontal_flip(x, p, g))
        elif kind == "random_erasing":
            p = t.get("p", 0.5)
            scale = t.get("scale", [0.02, 0.33])
            ratio = t.get("ratio", [0.3, 3.3])
            value = t.get("value", 0.0)
            steps.append(
                lambda x, g, p=p, s=scale, r=ratio, v=value: random_erasing(x, p, s, r, v, g)
            )
        else:
            sys.exit(f"the twin does not implement the transform {kind!r}")

    def apply(x, gen):
        for s in steps:
            x = s(x, gen)
        return x

    return apply
