"""Input validation at the package boundary.

Every public entry point calls these before any numerical work, so that a user
sees one clear ``ValueError`` naming the argument instead of a NaN deep inside a
solver.
"""

from __future__ import annotations

import numbers

import numpy as np

LOSSES = ("squared", "logistic")


def check_matrix(X, name="X", *, dtype=np.float64, allow_empty=False):
    """Return ``X`` as a finite 2-D float array or raise ``ValueError`` naming it."""
    if X is None:
        raise ValueError(f"{name} is None; expected a 2-D array of shape (n_samples, n_features).")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; got complex dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features); got shape {arr.shape}."
        )
    if not allow_empty and (arr.shape[0] == 0 or arr.shape[1] == 0):
        raise ValueError(f"{name} is empty (shape {arr.shape}); expected at least one row and column.")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def check_targets(y, n_samples, *, loss="squared", name="y"):
    """Return targets as a finite ``(n, c)`` float array.

    A 1-D ``y`` becomes one column. For the logistic loss every entry must be
    -1 or +1 (one-vs-all coding for several outputs).
    """
    if y is None:
        raise ValueError(f"{name} is None; expected an array of shape (n_samples,) or (n_samples, n_outputs).")
    arr = np.asarray(y)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric; got dtype {arr.dtype}.")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D; got shape {np.shape(y)}.")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} rows but X has {n_samples}; they must match."
        )
    if arr.shape[1] == 0:
        raise ValueError(f"{name} has no output columns.")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if loss == "logistic" and not np.all(np.isin(arr, (-1.0, 1.0))):
        bad = np.unique(arr[~np.isin(arr, (-1.0, 1.0))])[:5]
        raise ValueError(
            f"{name} must hold labels in {{-1, +1}} for the logistic loss; found {bad.tolist()}."
        )
    return arr


def check_lam(lam, name="lam"):
    """Return ``lam`` as a float >= 0 or raise."""
    if isinstance(lam, bool) or not isinstance(lam, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number >= 0; got {lam!r}.")
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {lam}.")
    return lam


def check_loss(loss, name="loss"):
    if loss not in LOSSES:
        raise ValueError(f"{name} must be one of {LOSSES}; got {loss!r}.")
    return loss


def check_positive_int(value, name, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def add_bias_column(X, bias):
    """``X̃ = [X, 1]`` when ``bias`` else ``X``; the bias lives inside each group norm."""
    if not bias:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])
