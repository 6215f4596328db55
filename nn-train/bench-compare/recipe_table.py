#!/usr/bin/env python3
"""Markdown rows for BENCHMARKS.md "Fashion-MNIST recipes" from finished runs.

    python nn-train/bench-compare/recipe_table.py --runs runs/fashion-resnet runs/fashion-resnet-1 \
        [--twin twin-resnet.json] [--eval runs/ens-tta]

--runs: `nn-train train --out` folders (config.toml, report.json, timings.json): one row each
  (seed, epochs, parameters, test accuracy, which weights were kept, training time), then the
  mean +- sd of their test accuracy when there are several.
--twin: recipe_twin.py --out files: one row per seed and the mean +- sd, and the difference of
  the means against --runs (the learning-parity check: at most 0.3 pt).
--eval: `nn-train eval --run ... --out DIR` folders: the ensemble / TTA accuracy of each.
Only the Python standard library is needed.
"""

import argparse
import json
import os
import statistics

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


def mean_sd(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def nn_row(run):
    with open(os.path.join(run, "report.json")) as f:
        r = json.load(f)
    with open(os.path.join(run, "timings.json")) as f:
        t = json.load(f)
    seed = "?"
    if tomllib:
        with open(os.path.join(run, "config.toml"), "rb") as f:
            seed = tomllib.load(f).get("seed", 0)
    seconds = sum(e["seconds"] for e in t)
    return {
        "run": run,
        "seed": seed,
        "epochs": len(t),
        "parameters": r.get("parameters"),
        "test_acc": 100 * r["test_acc"],
        "kept": r.get("kept", "raw"),
        "best_epoch": r.get("best_epoch"),
        "seconds": seconds,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="*", default=[])
    ap.add_argument("--twin", nargs="*", default=[])
    ap.add_argument("--eval", nargs="*", default=[])
    args = ap.parse_args()

    nn_accs = []
    if args.runs:
        print("| run | seed | epochs | parameters | test acc | kept | best epoch | training time | s/epoch |")
        print("|---|---|---|---|---|---|---|---|---|")
        for run in args.runs:
            r = nn_row(run)
            nn_accs.append(r["test_acc"])
            print(
                f"| nn-train `{r['run']}` | {r['seed']} | {r['epochs']} | {r['parameters']:,} | "
                f"{r['test_acc']:.2f} % | {r['kept']} | {r['best_epoch']} | "
                f"{r['seconds'] / 60:.1f} min | {r['seconds'] / max(1, r['epochs']):.0f} |"
            )
    twin_accs = []
    for path in args.twin:
        with open(path) as f:
            tw = json.load(f)
        for r in tw["runs"]:
            twin_accs.append(100 * r["test_acc"])
            print(
                f"| PyTorch {tw['torch']} twin | {r['seed']} | {r['epochs']} | {r['parameters']:,} | "
                f"{100 * r['test_acc']:.2f} % | {r['kept']} | {r['best_epoch']} | "
                f"{r['train_seconds'] / 60:.1f} min | {r['train_seconds'] / r['epochs']:.0f} |"
            )
    print()
    if nn_accs:
        m, sd = mean_sd(nn_accs)
        print(f"nn-train: {m:.2f} +- {sd:.2f} % over {len(nn_accs)} run(s)")
    if twin_accs:
        m, sd = mean_sd(twin_accs)
        print(f"PyTorch twin: {m:.2f} +- {sd:.2f} % over {len(twin_accs)} run(s)")
    if nn_accs and twin_accs:
        d = statistics.mean(nn_accs) - statistics.mean(twin_accs)
        verdict = "within" if abs(d) <= 0.3 else "NOT within"
        print(f"difference of the means: {d:+.2f} pt ({verdict} 0.3 pt)")
    for run in args.eval:
        with open(os.path.join(run, "report.json")) as f:
            r = json.load(f)
        tta = r["tta"]["mode"] if isinstance(r.get("tta"), dict) else r.get("tta")
        for x in r["runs"]:
            print(f"eval (TTA {tta}) {x['run']}: {100 * x['accuracy']:.2f} %")
        if r.get("ensemble"):
            accs = [100 * x["accuracy"] for x in r["runs"]]
            print(
                f"ensemble of {len(accs)} (TTA {tta}): {100 * r['ensemble']['accuracy']:.2f} % "
                f"(members {statistics.mean(accs):.2f} % on average)"
            )


if __name__ == "__main__":
    main()
