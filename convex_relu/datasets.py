"""Data that ships with the package or with scikit-learn (no network access at run time)."""

from __future__ import annotations

import numpy as np

__all__ = ["load_default", "load_diabetes_regression", "load_breast_cancer_classification", "load_csv"]


def _standardize(A):
    A = np.asarray(A, dtype=np.float64)
    std = A.std(axis=0)
    std[std == 0] = 1.0
    return (A - A.mean(axis=0)) / std


def load_default(n_samples=24):
    """The ``certify`` command's default data: two features of scikit-learn's diabetes set.

    The first ``n_samples`` rows, features ``bmi`` and ``s5`` (the two most correlated
    with the target), features and target standardised. Small enough that every
    activation pattern of ``[X, 1]`` can be enumerated
    (``2·Σ_{k<3} C(n−1, k)`` patterns: 554 for 24 rows).

    Returns
    -------
    X : (n, 2) array, y : (n,) array, description : str
    """
    from sklearn.datasets import load_diabetes

    data = load_diabetes()
    cols = [data.feature_names.index("bmi"), data.feature_names.index("s5")]
    X = _standardize(data.data[:n_samples, cols])
    y = _standardize(data.target[:n_samples, None])[:, 0]
    desc = f"scikit-learn diabetes, first {n_samples} rows, features bmi and s5, standardised"
    return X, y, desc


def load_diabetes_regression():
    """All 442 rows and 10 features of scikit-learn's diabetes set, standardised."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return _standardize(X), _standardize(y[:, None])[:, 0]


def load_breast_cancer_classification():
    """scikit-learn's breast-cancer set (569 × 30), standardised, labels in ``{−1, +1}``."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return _standardize(X), np.where(y == 1, 1.0, -1.0)


def load_csv(path):
    """Read a numeric CSV whose last column is the target; a header line is skipped.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is empty, ragged, non-numeric, or has fewer than two columns.
    """
    import os

    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        lines = [ln.strip() for ln in fh if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"{path}: no data rows.")
    rows = [ln.split(",") for ln in lines]

    def numeric(row):
        try:
            [float(v) for v in row]
            return True
        except ValueError:
            return False

    if not numeric(rows[0]):
        rows = rows[1:]  # header
    if not rows:
        raise ValueError(f"{path}: only a header, no data rows.")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"{path}: row {i + 1} has {len(row)} columns, expected {width}.")
        if not numeric(row):
            raise ValueError(f"{path}: row {i + 1} has a non-numeric value: {','.join(row)[:80]}")
    if width < 2:
        raise ValueError(f"{path}: need at least two columns (features, then the target).")
    A = np.array(rows, dtype=np.float64)
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{path}: contains NaN or infinite values.")
    return A[:, :-1], A[:, -1]
