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

    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int in [2, 442]; got {n_samples!r}.")
    if not 2 <= n_samples <= 442:
        raise ValueError(f"n_samples must be an int in [2, 442]; got {n_samples}.")
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

    Blank lines and lines starting with ``#`` are ignored. Messages name the file and
    the line number in the file.

    Raises
    ------
    TypeError
        When ``path`` is not a str or os.PathLike.
    FileNotFoundError
        When ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When the file is not UTF-8 text, is empty, ragged, non-numeric (complex
        numbers included), has fewer than two columns, or holds NaN or infinite values.
    """
    import os

    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {path!r} (type {type(path).__name__}).")
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"data file {path} is a folder, not a CSV file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [(no, ln.strip()) for no, ln in enumerate(fh, start=1)
                     if ln.strip() and not ln.lstrip().startswith("#")]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start}).") from None
    if not lines:
        raise ValueError(f"{path}: no data rows.")
    rows = [(no, [v.strip() for v in ln.split(",")]) for no, ln in lines]

    def numeric(row):
        try:
            [float(v) for v in row]
            return True
        except ValueError:
            return False

    if not numeric(rows[0][1]):
        rows = rows[1:]  # header
    if not rows:
        raise ValueError(f"{path}: only a header, no data rows.")
    width = len(rows[0][1])
    for no, row in rows:
        if len(row) != width:
            raise ValueError(f"{path}: line {no} has {len(row)} columns, expected {width}.")
        if not numeric(row):
            bad = next(v for v in row if not numeric([v]))
            raise ValueError(
                f"{path}: line {no} has a non-numeric value {bad[:40]!r} (expected real numbers): "
                f"{','.join(row)[:80]}"
            )
    if width < 2:
        raise ValueError(f"{path}: need at least two columns (features, then the target); got {width}.")
    A = np.array([row for _, row in rows], dtype=np.float64)
    if not np.all(np.isfinite(A)):
        i = int(np.flatnonzero(~np.all(np.isfinite(A), axis=1))[0])
        raise ValueError(f"{path}: line {rows[i][0]} contains NaN or infinite values.")
    return A[:, :-1], A[:, -1]
