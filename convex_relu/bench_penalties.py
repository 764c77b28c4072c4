"""Benchmark of the penalties: time to a certified relative gap, and the default's cost.

Run ``python -m convex_relu.bench_penalties [--quick]``. Prints one table:

- per penalty and synthetic row, seconds (median of ``repeats``) for R-FISTA on
  C-GReLU and, for C-ReLU, the augmented Lagrangian (every penalty: the face variant
  for radial ones, the plain variant with its splitting finish for ``l1`` /
  ``feature_group``, :mod:`convex_relu.al_penalized`) and Clarabel, to a certified
  relative gap ``1e-6`` — every time judged by our certificate
  (``Solution.converged``); the C-ReLU cells run once (Clarabel takes seconds);
- for the neuron group, the same-run ratios new/old against the committed code
  (``git archive HEAD convex_relu`` unpacked into a temporary package
  ``convex_relu_head``), runs interleaved, one BLAS thread for both: R-FISTA on
  C-GReLU and (``NG AL new/old``) the AL on C-ReLU.

Peers (C-GReLU rows): scnn's R-FISTA with its ``FeatureGL1``, ``L1`` and ``L2``
regularisers (:func:`run_scnn`), its weights judged by OUR certificate; the column
``scnn/ours`` is the same-run ratio of medians. Scalings (checked by comparing scnn's
own objective with ours at random weights, ``tests/test_penalties.py``):

- ``L1(λ_s)``: ``λ_s‖U‖₁``, so ``λ_s = λ``;
- ``L2(λ_s)``: scnn's public docstring says ``λ_s Σ‖U_i‖²`` but its internal
  regulariser and prox use ``(λ_s/2)‖U‖²``, ours ``(λ/2)‖U‖²_F``: ``λ_s = λ``;
- ``FeatureGL1(λ_s)``: ``√d̃ · λ_s Σ_j ‖U_{:,j,:}‖`` (scnn multiplies by the square
  root of the last axis of its ``(c, p, d̃)`` weights, ``d̃`` with the bias column):
  ``λ_s = λ/√d̃``.

scnn has no group elastic net; adelie (its ``grpnet``, in its own interpreter through
:mod:`convex_relu._adelie_worker`, ``$CONVEX_RELU_ADELIE_PYTHON``) is the peer of the
``neuron_group`` (``α = 1``) and ``group_elastic_net`` rows (its ``α``; same
``λ_a = c·λ`` mapping, checked in ``tests/test_bench.py``), squared-loss rows; its
time is that of the ``grpnet`` calls, at the loosest of its tolerances whose weights
OUR certificate puts within the gap (:func:`adelie_time_to_gap`).

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


#: our penalty name → (scnn public regulariser class name, λ_s from (λ, d̃))
SCNN_REGULARIZERS = {
    "feature_group": ("FeatureGL1", lambda lam, dt: lam / np.sqrt(dt)),
    "l1": ("L1", lambda lam, dt: lam),
    "l2": ("L2", lambda lam, dt: lam),
    "neuron_group": ("NeuronGL1", lambda lam, dt: lam),
}


def scnn_available():
    """Whether scnn (``pip install pyscnn``) imports here."""
    try:
        import lab  # noqa: F401
        import scnn.regularizers  # noqa: F401
    except Exception:
        return False
    return True


def _scnn_parts(problem):
    """scnn's internal C-GReLU model for ``problem`` (our X̃, masks, gates) and the public
    regulariser with the converted λ (see the module docstring)."""
    import lab
    import scnn.regularizers as regs
    from scnn.private.interface import build_internal_regularizer, set_device
    from scnn.private.models import ConvexMLP

    if problem.formulation != "gated_relu":
        raise ValueError("the scnn adapter runs C-GReLU (its R-FISTA) only")
    name = problem.penalty.name
    if name not in SCNN_REGULARIZERS:
        raise ValueError(f"scnn has no regulariser for the {name} penalty")
    cls_name, conv = SCNN_REGULARIZERS[name]
    dt = problem.X_tilde.shape[1]
    public_reg = getattr(regs, cls_name)(float(conv(problem.lam, dt)))
    set_device("cpu", "float64", 0)
    Xt, Y, D, G = (lab.tensor(np.ascontiguousarray(a, dtype=np.float64), dtype=lab.get_dtype())
                   for a in (problem.X_tilde, problem.Y, problem.masks, problem.patterns.gates))
    model = ConvexMLP(problem.d, D, G, "einsum", regularizer=build_internal_regularizer(public_reg),
                      c=problem.c)
    return model, public_reg, (Xt, Y)


def scnn_objective(problem, weights):
    """scnn's own objective of its model at our ``weights`` (c, d̃, p) (for the scaling test)."""
    import lab

    model, _, (Xt, Y) = _scnn_parts(problem)
    W = np.swapaxes(np.asarray(weights, dtype=np.float64), -1, -2)  # scnn: (c, p, d̃)
    model.weights = lab.tensor(np.ascontiguousarray(W), dtype=lab.get_dtype())
    return float(model.objective(Xt, Y))


def run_scnn(problem, tol=1e-6, max_iters=1_000_000):
    """scnn's R-FISTA on ``problem`` (C-GReLU, penalty feature_group / l1 / l2 / neuron_group).

    Returns ``(weights (c, d̃, p), seconds, certificate)``: the weights judged by OUR
    :func:`convex_relu.certificates.certify`, never by scnn's own exit status.
    """
    import lab
    from scnn.metrics import Metrics
    from scnn.models import ConvexGatedReLU
    from scnn.private.interface import build_metrics_tuple, build_optimizer, get_logger
    from scnn.solvers import RFISTA

    from .certificates import certify

    model, public_reg, data = _scnn_parts(problem)
    metrics = Metrics(metric_freq=10**9, objective=False, grad_norm=False, time=False)
    opt = RFISTA(ConvexGatedReLU(problem.patterns.gates, c=problem.c), max_iters=max_iters, tol=tol)
    procedure = build_optimizer(opt, public_reg, metrics)
    t0 = time.perf_counter()
    _, model, _ = procedure(get_logger("scnn", False), model, lambda m: m, data, data,
                            build_metrics_tuple(metrics))
    elapsed = time.perf_counter() - t0
    W = np.swapaxes(np.asarray(lab.to_np(model.weights), dtype=np.float64), -1, -2)
    return W, elapsed, certify(problem, W)


#: scnn's own tolerances tried, loosest first, until OUR certified gap meets the target
SCNN_TOLS = (1e-6, 1e-8, 1e-10, 1e-12)


def scnn_time_to_gap(problem, gap=1e-6, repeats=3, tols=SCNN_TOLS):
    """Median seconds of scnn's R-FISTA at the loosest of its tolerances ``tols`` whose
    weights OUR certificate puts within relative gap ``gap`` (every repeat must meet it).

    Returns ``(seconds, scnn_tol, worst_gap, met)``; when no tolerance meets ``gap`` the
    last one's time and gap are returned with ``met = False``.
    """
    out = None
    for t in tols:
        runs = [run_scnn(problem, tol=t) for _ in range(repeats)]
        secs = statistics.median(r[1] for r in runs)
        worst = max(r[2].relative_gap for r in runs)
        out = (secs, t, worst, bool(worst <= gap))
        if out[3]:
            break
    return out


#: adelie's ``tol`` tried, loosest first, until OUR certified gap meets the target
ADELIE_TOLS = (1e-7, 1e-9, 1e-11, 1e-13, 1e-16)
#: our penalty names with an adelie peer (group lasso / group elastic net)
ADELIE_PENALTIES = ("neuron_group", "group_elastic_net")


def adelie_time_to_gap(problem, python, gap=1e-6, repeats=3, tols=ADELIE_TOLS):
    """Median seconds of adelie's ``grpnet`` at the loosest ``tol`` of ``tols`` whose weights
    OUR certificate puts within relative gap ``gap`` (every repeat must meet it).

    Returns ``(seconds, adelie_tol, worst_gap, met)`` like :func:`scnn_time_to_gap`.
    """
    from .bench import _run_adelie
    from .certificates import certify

    cache, out = {}, None
    for t in tols:
        runs = [_run_adelie(problem, t, cache, python, 1) for _ in range(repeats)]
        secs = statistics.median(r["time"] for r in runs)
        worst = max(certify(problem, r["weights"]).relative_gap for r in runs)
        out = (secs, t, worst, bool(worst <= gap))
        if out[3]:
            break
    return out


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


def _cell(fn):
    """``"1.234s"`` (``" (NC)"`` when not certified) or ``"failed (Error)"``."""
    try:
        t, ok = _time(fn, 1)
    except Exception as exc:  # solver trouble is reported, not hidden
        return f"failed ({type(exc).__name__})", None
    return f"{t:.3f}s{'' if ok else ' (NC)'}", (t if ok else None)


def run(rows=ROWS, repeats=3, tol=1e-6, relu=True, stream=sys.stdout, scnn=True, adelie=True):
    from threadpoolctl import threadpool_limits

    from . import solve
    from .bench import _adelie_available, resolve_adelie_python
    from .problems import make_problem

    head = _head_package()
    lines = []
    use_scnn = scnn and scnn_available()
    ad_py = resolve_adelie_python() if adelie else None
    use_adelie = ad_py is not None and _adelie_available(ad_py) is None
    hdr = (f"{'row (n×d×gates, loss)':28s} {'penalty':18s} {'C-GReLU R-FISTA':>16s} "
           f"{'scnn (its tol)':>22s} {'scnn/ours':>9s} {'adelie (its tol)':>22s} {'ad/ours':>7s} "
           f"{'C-ReLU AL':>14s} {'C-ReLU Clarabel':>16s} {'NG new/old':>11s} {'NG AL new/old':>13s}")
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
                cell_s, ratio_s = "-", ""
                if use_scnn and pen in SCNN_REGULARIZERS and loss == "squared":
                    try:
                        ts_med, t_s, worst, met = scnn_time_to_gap(pg, tol, repeats)
                        cell_s = f"{ts_med:.3f}s @{t_s:.0e}" + ("" if met else f" NC {worst:.0e}")
                        ratio_s = f"{ts_med / tg:.2f}" if met and okg else ""
                    except Exception as exc:  # reported, not hidden
                        cell_s = f"failed ({type(exc).__name__})"
                cell_a, ratio_a = "-", ""
                if use_adelie and pen in ADELIE_PENALTIES and loss == "squared":
                    try:
                        ta, t_a, worst, met = adelie_time_to_gap(pg, ad_py, tol, repeats)
                        cell_a = f"{ta:.3f}s @{t_a:.0e}" + ("" if met else f" NC {worst:.0e}")
                        ratio_a = f"{ta / tg:.2f}" if met and okg else ""
                    except Exception as exc:  # reported, not hidden
                        cell_a = f"failed ({type(exc).__name__})"
                cell_al = cell_cl = "-"
                pr = None
                if relu and n * g <= RELU_MAX_SIZE:
                    pr = pg.relu_problem()
                    pr = pr.with_lam(_lam(pr, g))
                    cell_al, _ = _cell(lambda: solve(pr, "al", tol=tol))
                    cell_cl, _ = _cell(lambda: solve(pr, "clarabel", tol=tol))
                ratio = ratio_al = ""
                if pen == "neuron_group" and head is not None:
                    ph = head.make_problem(X, y, formulation="gated_relu", lam=pg.lam, loss=loss,
                                           bias=True, n_gates=g, seed=0)
                    ratio = _same_run_ratio(lambda: solve(pg, "rfista", tol=tol),
                                            lambda: head.solve(ph, "rfista", tol=tol), repeats)
                    if pr is not None:
                        phr = head.make_problem(X, y, formulation="relu", lam=pr.lam, loss=loss,
                                                bias=True, n_gates=g, seed=0)
                        ratio_al = _same_run_ratio(lambda: solve(pr, "al", tol=tol),
                                                   lambda: head.solve(phr, "al", tol=tol), repeats)
                line = (f"{tag:28s} {pen:18s} {f'{tg:.3f}s' + ('' if okg else ' (NC)'):>16s} "
                        f"{cell_s:>22s} {ratio_s:>9s} {cell_a:>22s} {ratio_a:>7s} "
                        f"{cell_al:>14s} {cell_cl:>16s} {ratio:>11s} {ratio_al:>13s}")
                print(line, file=stream)
                lines.append(line)
    print("times: median seconds to a certified relative gap "
          f"{tol:g} (NC: not certified), λ = {LAM_FRAC}·λ_max (l2: of the neuron group), "
          "1 BLAS thread; NG new/old: same-run median ratio against git HEAD; scnn: its "
          "R-FISTA at the loosest of its tolerances (@) whose weights OUR certificate puts "
          f"within {tol:g} (NC: none did; worst gap shown), squared-loss rows; scnn/ours the "
          "same-run ratio of medians; adelie likewise (its grpnet time), neuron_group and "
          "group_elastic_net rows; C-ReLU AL / Clarabel: one run each; NG AL new/old: the "
          "C-ReLU AL against git HEAD.", file=stream)
    return lines


def _same_run_ratio(new_fn, old_fn, repeats):
    """Median new / median old over interleaved runs (same load for both)."""
    new, old = [], []
    for _ in range(max(repeats, 5)):
        t = time.perf_counter(); old_fn(); old.append(time.perf_counter() - t)  # noqa: E702
        t = time.perf_counter(); new_fn(); new.append(time.perf_counter() - t)  # noqa: E702
    return f"{statistics.median(new) / statistics.median(old):.3f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny rows only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-relu", action="store_true")
    ap.add_argument("--no-scnn", action="store_true", help="skip the scnn peer")
    ap.add_argument("--no-adelie", action="store_true", help="skip the adelie peer")
    ap.add_argument("--rows", default=None,
                    help="rows as n,d,gates,loss;... (default: the built-in rows)")
    a = ap.parse_args(argv)
    rows = QUICK_ROWS if a.quick else ROWS
    if a.rows:
        rows = []
        for part in a.rows.split(";"):
            n, d, g, loss = part.split(",")
            rows.append((int(n), int(d), int(g), loss.strip()))
    run(rows, repeats=a.repeats, relu=not a.no_relu, scnn=not a.no_scnn, adelie=not a.no_adelie)


if __name__ == "__main__":
    main()
