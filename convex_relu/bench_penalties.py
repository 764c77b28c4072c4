"""Benchmark of the penalties: time to a certified relative gap, and the default's cost.

Run ``python -m convex_relu.bench_penalties [--quick]``. Prints one table:

- per penalty and synthetic row, seconds (median of ``repeats``) for R-FISTA on
  C-GReLU and, for C-ReLU, the AL (neuron group) or Clarabel (the penalties the AL
  does not support) to a certified relative gap ``1e-6`` — every time judged by our
  certificate (``Solution.converged``);
- for the neuron group, the same-run ratio new/old against the committed code
  (``git archive HEAD convex_relu`` unpacked into a temporary package
  ``convex_relu_head``), runs interleaved, one BLAS thread for both.

A benchmark, not a test: timings depend on the machine (and its load).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROWS = [  # (n, d, n_gates, loss)
    (300, 5, 20, "squared"),
    (500, 10, 50, "squared"),
    (2000, 10, 100, "squared"),
    (1000, 10, 50, "logistic"),
]
QUICK_ROWS = [(300, 5, 20, "squared"), (300, 5, 20, "logistic")]
PENALTIES = ["neuron_group", "feature_group", "l1", "l2", "group_elastic_net"]
LAM_FRAC = 0.1
#: C-ReLU cells only for rows with n·gates up to this (Clarabel takes minutes beyond)
RELU_MAX_SIZE = 15_000


def _data(n, d, loss, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0.0) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return X, y


def _head_package():
    """The committed ``convex_relu`` as an importable package ``convex_relu_head`` (or None)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tmp = tempfile.mkdtemp(prefix="cr_head_")
    try:
        tar = subprocess.run(["git", "-C", root, "archive", "HEAD", "convex_relu"],
                             check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=tar, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    os.rename(os.path.join(tmp, "convex_relu"), os.path.join(tmp, "convex_relu_head"))
    sys.path.insert(0, tmp)
    return importlib.import_module("convex_relu_head")


def _lam(prob, n_gates_prob):
    lm = prob.lam_max()
    if not np.isfinite(lm):
        lm = prob.with_penalty(None).lam_max()
    return LAM_FRAC * lm


def _time(fn, repeats):
    out, ok = [], True
    for _ in range(repeats):
        t = time.perf_counter()
        sol = fn()
        out.append(time.perf_counter() - t)
        ok &= bool(sol.converged)
    return statistics.median(out), ok


def run(rows=ROWS, repeats=3, tol=1e-6, relu=True, stream=sys.stdout):
    from threadpoolctl import threadpool_limits

    from . import solve
    from .problems import make_problem

    head = _head_package()
    lines = []
    hdr = f"{'row (n×d×gates, loss)':28s} {'penalty':18s} {'C-GReLU R-FISTA':>16s} {'C-ReLU':>18s} {'NG new/old':>11s}"
    print(hdr, file=stream)
    print("-" * len(hdr), file=stream)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n, d, g, loss in rows:
            X, y = _data(n, d, loss)
            tag = f"{n}×{d}×{g}, {loss}"
            for pen in PENALTIES:
                params = {"alpha": 0.5} if pen == "group_elastic_net" else None
                pg = make_problem(X, y, formulation="gated_relu", lam=1.0, loss=loss, bias=True,
                                  n_gates=g, seed=0, penalty=pen, penalty_params=params)
                pg = pg.with_lam(_lam(pg, g))
                tg, okg = _time(lambda: solve(pg, "rfista", tol=tol), repeats)
                cell_r = "-"
                if relu and n * g <= RELU_MAX_SIZE:
                    pr = pg.relu_problem()
                    pr = pr.with_lam(_lam(pr, g))
                    from .augmented_lagrangian import al_supports

                    meth = "al" if al_supports(pr.penalty) else "clarabel"
                    try:
                        tr, okr = _time(lambda: solve(pr, meth, tol=tol), 1)
                        cell_r = f"{tr:.3f}s {meth}{'' if okr else ' (NC)'}"
                    except Exception as exc:  # solver trouble is reported, not hidden
                        cell_r = f"{meth} failed ({type(exc).__name__})"
                ratio = ""
                if pen == "neuron_group" and head is not None:
                    ph = head.make_problem(X, y, formulation="gated_relu", lam=pg.lam, loss=loss,
                                           bias=True, n_gates=g, seed=0)
                    new, old = [], []
                    for _ in range(max(repeats, 5)):  # interleaved: same load for both
                        t = time.perf_counter(); head.solve(ph, "rfista", tol=tol); old.append(time.perf_counter() - t)
                        t = time.perf_counter(); solve(pg, "rfista", tol=tol); new.append(time.perf_counter() - t)
                    ratio = f"{statistics.median(new) / statistics.median(old):.3f}"
                line = (f"{tag:28s} {pen:18s} {f'{tg:.3f}s' + ('' if okg else ' (NC)'):>16s} "
                        f"{cell_r:>18s} {ratio:>11s}")
                print(line, file=stream)
                lines.append(line)
    print("times: median seconds to a certified relative gap "
          f"{tol:g} (NC: not certified), λ = {LAM_FRAC}·λ_max (l2: of the neuron group), "
          "1 BLAS thread; NG new/old: same-run median ratio against git HEAD.", file=stream)
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny rows only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-relu", action="store_true")
    a = ap.parse_args(argv)
    run(QUICK_ROWS if a.quick else ROWS, repeats=a.repeats, relu=not a.no_relu)


if __name__ == "__main__":
    main()
