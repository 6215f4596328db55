#!/usr/bin/env python3
"""Per-layer profile of a CIFAR ResNet training step and evaluation step: nn (its per-op
profiler, `examples/resnet_profile.rs`) next to PyTorch (torch.profiler), on this machine, 2
threads each, batch 128 (training) and 256 (evaluation), 3x32x32 random inputs.

Every figure is milliseconds per step, summed over the step's calls of that kind of layer:
convolutions by shape (forward and backward separately), BatchNorm, ReLU, the residual add,
pooling, the linear layer, the loss, the optimizer and the rest (graph, allocation, dispatch:
the step's wall time minus the listed rows). nn's row times are wall times per op; PyTorch's are
the profiler's CPU time of the op (including its children). Profilers add overhead: the
"step" rows give the profiled wall time of a whole step on each side.

Needs a Python environment with torch. Run from the repository root:

    python nn-train/bench-compare/profile_resnet.py [--model resnet20] [--steps 10] [--no-build]
"""

import argparse
import collections
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "nn-core", "bench-compare"))
from cpu_info import cpu_model  # noqa: E402
from steps_vs_torch import build  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER = os.path.join(ROOT, "target", "release", "examples", "resnet_profile")


def conv_label(x, w, out_hw):
    """'cin->cout kK sS @H' from input [N,C,H,W], weight [O,C,k,k] and the output height."""
    s = max(1, round(x[2] / out_hw))
    return f"conv {x[1]}->{w[0]} k{w[2]} s{s} @{x[2]}"


def category_nn(op, out, ins):
    """The category of an nn op (its output and input shapes as lists of ints)."""
    if op == "conv2d":
        return conv_label(ins[0], ins[1], out[2])
    return {
        "batch_norm": "batch_norm",
        "relu": "relu",
        "add": "add (residual)",
        "adaptive_avg_pool2d": "avg_pool",
        "flatten": "flatten/reshape",
        "reshape": "flatten/reshape",
        "linear": "linear",
        "cross_entropy": "loss",
        "sum_all": "sum",
    }.get(op, op)


def parse_shape(s):
    return [int(v) for v in s.split("x")] if s not in ("scalar", "-") else []


def run_nn(model, steps, batch, eval_batch):
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    out = subprocess.run(
        [DRIVER, model, str(steps), str(batch), str(eval_batch)],
        env=env, check=True, capture_output=True, text=True,
    ).stdout
    table = collections.defaultdict(float)
    step = {}
    for line in out.splitlines():
        w = line.split()
        if w[0] == "op":
            mode, phase, name, out_s, in_s, _calls, ms = w[1:]
            ins = [parse_shape(s) for s in in_s.split(",")] if in_s != "-" else []
            table[(mode, phase, category_nn(name, parse_shape(out_s), ins))] += float(ms)
        elif w[0] == "step":
            step[w[1]] = float(w[2])
    return table, step


# PyTorch: the events counted, by name, and their category. Events nested in a counted event
# are not counted again.
TORCH_FWD = {
    "aten::conv2d": "conv",
    "aten::batch_norm": "batch_norm",
    "aten::relu": "relu",
    "aten::relu_": "relu",
    "aten::add": "add (residual)",
    "aten::add_": "add (residual)",
    "aten::adaptive_avg_pool2d": "avg_pool",
    "aten::flatten": "flatten/reshape",
    "aten::linear": "linear",
    "aten::cross_entropy_loss": "loss",
    "aten::sum": "sum",
}
TORCH_BWD = {
    "ConvolutionBackward0": "conv",
    "NativeBatchNormBackward0": "batch_norm",
    "ReluBackward0": "relu",
    "AddBackward0": "add (residual)",
    "MeanBackward1": "avg_pool",
    "ViewBackward0": "flatten/reshape",
    "ReshapeAliasBackward0": "flatten/reshape",
    "AddmmBackward0": "linear",
    "TBackward0": "linear",
    "NllLossBackward0": "loss",
    "LogSoftmaxBackward0": "loss",
    "torch::autograd::AccumulateGrad": "grad accumulation",
}


def torch_table(prof, steps, mode):
    table = collections.defaultdict(float)
    events = prof.events()
    counted = set()
    for ev in events:
        name = ev.name
        phase = cat = None
        if name in TORCH_FWD:
            phase, cat = "fwd", TORCH_FWD[name]
        elif name.startswith("autograd::engine::evaluate_function: "):
            short = name.split(": ", 1)[1]
            phase, cat = "bwd", TORCH_BWD.get(short, short)
        elif name.startswith("Optimizer.step#"):
            phase, cat = "opt", "optimizer"
        if cat is None:
            continue
        parent, nested = ev.cpu_parent, False
        while parent is not None:
            if id(parent) in counted:
                nested = True
                break
            parent = parent.cpu_parent
        if nested:
            continue
        counted.add(id(ev))
        if cat == "conv":
            shapes = ev.input_shapes
            if phase == "fwd":
                x, w = shapes[0], shapes[1]
                stride = 1
                # aten::conv2d(input, weight, bias, stride, padding, dilation, groups)
                for child in ev.cpu_children:
                    if child.name == "aten::convolution" and child.concrete_inputs:
                        stride = child.concrete_inputs[3][0]
                cat = f"conv {x[1]}->{w[0]} k{w[2]} s{stride} @{x[2]}"
            else:
                cat = None
                for child in ev.cpu_children:
                    if child.name == "ConvolutionBackward0":
                        for cc in child.cpu_children:
                            if cc.name == "aten::convolution_backward":
                                dy, x, w = cc.input_shapes[:3]
                                cat = conv_label(x, w, dy[2])
                cat = cat or "conv ?"
        table[(mode, phase, cat)] += ev.cpu_time_total / 1e3 / steps
    return table


def run_torch(name, steps, batch, eval_batch):
    torch.manual_seed(0)
    net = build(name)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = (time.perf_counter() - t0) * 1e3 / steps
    table = torch_table(prof, steps, "train")
    net.eval()
    xe = torch.randn(eval_batch, 3, 32, 32)

    def ev():
        with torch.inference_mode():
            net(xe).sum().item()

    for _ in range(2):
        ev()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            ev()
        total_eval = (time.perf_counter() - t0) * 1e3 / steps
    table.update(torch_table(prof, steps, "eval"))
    return table, {"total": total, "eval": total_eval}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet20", choices=["resnet8", "resnet20"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args()
    torch.set_num_threads(2)
    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-p", "nn-train", "--example", "resnet_profile"],
            cwd=ROOT, check=True,
        )
    nn_t, nn_s = run_nn(args.model, args.steps, 128, 256)
    pt_t, pt_s = run_torch(args.model, args.steps, 128, 256)
    print(f"CPU: {cpu_model()}")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model}, "
          f"{args.steps} profiled steps, load average {os.getloadavg()[0]:.2f} (1 min)")
    sep = "|" if args.markdown else " "
    head = ["mode", "phase", "layer", "PyTorch ms", "nn ms", "PT/nn"]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print(f"{'mode':5} {'phase':5} {'layer':28} {'PyTorch ms':>10} {'nn ms':>8} {'PT/nn':>6}")
    keys = sorted(set(nn_t) | set(pt_t), key=lambda k: (k[0] != "train", k[1], -pt_t.get(k, 0)))
    rows = []
    for k in keys:
        rows.append((k[0], k[1], k[2], pt_t.get(k, 0.0), nn_t.get(k, 0.0)))
    for mode, total_key in (("train", "total"), ("eval", "eval")):
        pt_rest = pt_s[total_key] - sum(v for k, v in pt_t.items() if k[0] == mode)
        nn_rest = nn_s[total_key] - sum(v for k, v in nn_t.items() if k[0] == mode)
        if mode == "train":
            nn_rest -= nn_s.get("optimizer", 0.0)
            rows.append((mode, "opt", "optimizer (nn: timed outside the profiler)", 0.0, 0.0))
            rows[-1] = (mode, "opt", "optimizer", pt_t.get((mode, "opt", "optimizer"), 0.0),
                        nn_s.get("optimizer", 0.0))
            pt_rest -= 0.0
        rows.append((mode, "-", "rest (graph, alloc, dispatch)", pt_rest, nn_rest))
        rows.append((mode, "-", "step (profiled wall time)", pt_s[total_key], nn_s[total_key]))
    seen = set()
    for mode, phase, layer, pt, nn in rows:
        if (mode, phase, layer) in seen:
            continue
        seen.add((mode, phase, layer))
        ratio = f"{pt / nn:.2f}" if nn > 0 and pt > 0 else "-"
        if args.markdown:
            print(f"| {mode} | {phase} | {layer} | {pt:.2f} | {nn:.2f} | {ratio} |")
        else:
            print(f"{mode:5} {phase:5} {layer:28} {pt:10.2f} {nn:8.2f} {ratio:>6}")
    del sep


if __name__ == "__main__":
    main()
