#!/usr/bin/env python3
"""Winograd F(m, 3) by Toom-Cook: derive Aᵀ, G, Bᵀ for a set of interpolation points (plus ∞),
measure the f32 rounding of the 2-D algorithm F(m×m, 3×3) on Gaussian data, and print the
matrices of F(7×7, 3×3) as `nn-core/src/ops/conv/direct/winograd/f7.rs` holds them.

    python nn-core/bench-compare/winograd_points.py            # the error table and f7.rs's constants
    python nn-core/bench-compare/winograd_points.py --search   # also the search that picked F(7×7)'s points

Needs sympy and numpy. The error is max |y − y_ref| / max |y_ref| of one output tile whose
products sum over 64 input channels (inputs N(0, 1), kernels N(0, 1/(9·64))), y in f32 with the
matrices rounded to f32, y_ref in f64; the median and maximum over the trials.
"""
import argparse
import itertools
from fractions import Fraction as Fr

import numpy as np
import sympy as sp


def derive(m, points):
    """Aᵀ (m × n), G (n × 3), Bᵀ (n × n), n = m + 2, for the finite points and ∞ (exact)."""
    r, n = 3, m + 2
    at, g = sp.zeros(m, n), sp.zeros(n, r)
    for j, p in enumerate(points):
        p = sp.Rational(p)
        for i in range(m):
            at[i, j] = p**i
        norm = sp.prod([p - sp.Rational(q) for q in points if sp.Rational(q) != p])
        for k in range(r):
            g[j, k] = p**k / norm
    at[m - 1, n - 1] = 1
    g[n - 1, r - 1] = 1
    # Bᵀ from y_i = Σ_j Aᵀ[i][j] (G g)_j (Bᵀ d)_j = Σ_k g_k d_{i+k} for every g and d.
    bt = sp.Matrix(n, n, lambda a, b: sp.Symbol(f"b{a}_{b}"))
    eqs = [
        sum(at[i, j] * g[j, k] * bt[j, l] for j in range(n)) - (1 if l == i + k else 0)
        for i in range(m)
        for k in range(r)
        for l in range(n)
    ]
    bt = bt.subs(sp.solve(eqs, list(bt)))
    return at, g, bt


def error(m, points, trials=60, channels=64, seed=1):
    at, g, bt = (np.array(x, dtype=np.float64).astype(np.float32) for x in derive(m, points))
    n, rng, errs = m + 2, np.random.default_rng(seed), []
    for _ in range(trials):
        d = rng.standard_normal((channels, n, n)).astype(np.float32)
        k = (rng.standard_normal((channels, 3, 3)) / np.sqrt(9 * channels)).astype(np.float32)
        u = np.einsum("ij,cjk,lk->cil", g, k, g).astype(np.float32)
        v = np.einsum("ij,cjk,lk->cil", bt, d, bt).astype(np.float32)
        y = (at @ (u * v).sum(0, dtype=np.float32) @ at.T).astype(np.float32)
        d64, k64 = d.astype(np.float64), k.astype(np.float64)
        ref = np.array(
            [[(d64[:, i : i + 3, j : j + 3] * k64).sum() for j in range(m)] for i in range(m)]
        )
        errs.append(np.abs(y - ref).max() / np.abs(ref).max())
    return float(np.median(errs)), float(np.max(errs))


HALF = Fr(1, 2)
F7_POINTS = [Fr(1), Fr(2), Fr(2, 3), Fr(1, 4)]  # each with its negative, and ∞


def search():
    """F(7, 3) needs 8 finite points: pairs ±p from a list of candidates, and the F(6, 3)
    points 0, ±1, ±2, ±½ with one more."""
    pairs = [Fr(x) for x in ["1", "2", "1/2", "3/2", "3/4", "1/4", "4", "2/3", "4/3", "3", "1/3"]]
    sets = {tuple(sorted(x for p in c for x in (p, -p))) for c in itertools.combinations(pairs, 4)}
    base = [0, 1, -1, 2, -2, HALF, -HALF]
    for extra in pairs + [-p for p in pairs]:
        if extra not in base:
            sets.add(tuple(sorted(base + [extra])))
    found = sorted((error(7, list(s), trials=30), s) for s in sets)
    print("F(7×7, 3×3), best point sets (median, max error):")
    for (med, mx), s in found[:8]:
        print(f"  {med:.2e} {mx:.2e}  {', '.join(str(p) for p in s)}, ∞")


def rust_constants():
    points = [x for p in F7_POINTS for x in (p, -p)]
    at, g, bt = derive(7, points)
    lit = lambda x: repr(float(x))  # noqa: E731
    # The structure f7.rs relies on: rows +p, −p of Bᵀ share the odd columns and negate the even
    # ones; d7's entry is 1 and d6's is p; the ∞ row has only even columns and d8's entry 1.
    for k, p in enumerate(F7_POINTS):
        plus, minus = bt[2 * k, :], bt[2 * k + 1, :]
        assert all(plus[l] == (minus[l] if l % 2 else -minus[l]) for l in range(9))
        assert plus[7] == 1 and plus[6] == p and plus[8] == 0
        assert all(at[i, 2 * k] == p**i and at[i, 2 * k + 1] == (-p) ** i for i in range(7))
    assert bt[8, 8] == 1 and all(bt[8, l] == 0 for l in range(1, 9, 2))
    print("const P: [f32; 4] = [" + ", ".join(lit(p) for p in F7_POINTS) + "];")
    row = lambda k, cols: "[" + ", ".join(lit(bt[2 * k, l]) for l in cols) + "]"  # noqa: E731
    print("const BE: [[f32; 3]; 4] = [" + ", ".join(row(k, (1, 3, 5)) for k in range(4)) + "];")
    print("const BO: [[f32; 3]; 4] = [" + ", ".join(row(k, (0, 2, 4)) for k in range(4)) + "];")
    print("const BINF: [f32; 4] = [" + ", ".join(lit(bt[8, l]) for l in (0, 2, 4, 6)) + "];")
    rows = ("[" + ", ".join(lit(g[j, k]) for k in range(3)) + "]" for j in range(9))
    print("const G: [[f32; 3]; 9] = [" + ", ".join(rows) + "];")
    pows = ("[" + ", ".join(lit(p**i) for i in range(7)) + "]" for p in F7_POINTS)
    print("const POW: [[f32; 7]; 4] = [" + ", ".join(pows) + "];")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", action="store_true", help="search F(7×7)'s points too")
    args = ap.parse_args()
    print("f32 error of one output tile, 64 channels (median, max):")
    for name, m, pts in [
        ("F(2×2, 3×3) on 0, ±1", 2, [0, 1, -1]),
        ("F(4×4, 3×3) on 0, ±1, ±2", 4, [0, 1, -1, 2, -2]),
        ("F(6×6, 3×3) on 0, ±1, ±2, ±1/2", 6, [0, 1, -1, 2, -2, HALF, -HALF]),
        ("F(7×7, 3×3) on ±1, ±2, ±2/3, ±1/4", 7, [x for p in F7_POINTS for x in (p, -p)]),
    ]:
        med, mx = error(m, pts)
        print(f"  {name}: {med:.2e} {mx:.2e}")
    if args.search:
        search()
    rust_constants()


if __name__ == "__main__":
    main()
