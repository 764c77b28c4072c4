"""Input validation at the package boundary.

Every public entry point calls these before any numerical work, so that a user
sees one clear exception naming the argument and what was expected instead of a
NaN (or numpy's own message) deep inside a solver.

Exception convention (scikit-learn's):

- a value of the right type but outside its domain (``lam=-1``, ``seed=-1``,
  ``n_jobs=0``, an ``X`` with NaN) raises :class:`ValueError`;
- a value of the wrong type (``seed="1"``, ``seed=1.5``, ``bias="no"``,
  ``n_jobs="two"``, complex or sparse data, string weights) raises
  :class:`InputTypeError`, a subclass of **both** :class:`TypeError` and
  :class:`ValueError` (like scikit-learn's ``InvalidParameterError``), so code
  that catches ``ValueError`` for every bad input keeps working.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

LOSSES = ("squared", "logistic")


class InputTypeError(TypeError, ValueError):
    """An argument has the wrong type; the message names it and what was expected.

    Subclasses both ``TypeError`` (the right category) and ``ValueError`` (what
    this package raised for every bad input before), so either ``except`` works.
    """


def _is_int(value):
    """A Python or numpy integer, not a bool."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def _refuse_sparse(X, name, expected):
    """Raise a clear error for scipy.sparse input (every kernel here is dense)."""
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        return
    if sp.issparse(X):
        raise InputTypeError(
            f"{name} is a scipy.sparse matrix ({type(X).__name__}, shape {X.shape}); convex_relu "
            f"needs a dense {expected}: use {name}.toarray()."
        )


def _refuse_complex(arr, name):
    if np.iscomplexobj(arr):
        raise InputTypeError(
            f"{name} must be real; got complex dtype {arr.dtype} (convex_relu does not drop "
            f"imaginary parts: pass {name}.real if that is what you mean)."
        )


def _as_real_array(value, name, expected):
    """``np.asarray(value)`` checked to be real numeric (or boolean), without casting yet."""
    _refuse_sparse(value, name, expected)
    try:
        with warnings.catch_warnings():
            # ragged nested sequences: numpy warns, then fails or builds an object array
            warnings.simplefilter("ignore", np.exceptions.VisibleDeprecationWarning
                                  if hasattr(np, "exceptions") else DeprecationWarning)
            arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array ({exc}); expected {expected}.") from exc
    _refuse_complex(arr, name)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InputTypeError(
            f"{name} must be numeric; got dtype {arr.dtype} (expected {expected} of real numbers)."
        )
    return arr


def check_matrix(X, name="X", *, dtype=np.float64, allow_empty=False, accept_sparse=False):
    """Return ``X`` as a finite 2-D float array or raise naming it.

    ``None``, non-numeric, complex (``InputTypeError``; the imaginary part is never
    dropped) and scipy.sparse input (``InputTypeError``: every kernel is dense) are
    refused, as are wrong shapes, empty arrays and NaN/inf (``ValueError``).

    ``accept_sparse=True`` (only for the paths whose products support it: the
    problem classes): a scipy.sparse matrix or array is returned as a canonical CSR
    matrix of ``dtype`` (duplicates summed, indices sorted), checked the same way
    (real numeric, 2-D, non-empty, finite stored values).
    """
    expected = "2-D array of shape (n_samples, n_features)"
    if X is None:
        raise InputTypeError(f"{name} is None; expected a {expected}.")
    if accept_sparse:
        import scipy.sparse as sp

        if sp.issparse(X):
            if np.issubdtype(X.dtype, np.complexfloating):
                raise InputTypeError(
                    f"{name} must be real; got complex dtype {X.dtype} (convex_relu does not "
                    f"drop imaginary parts: pass {name}.real if that is what you mean)."
                )
            if not (np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)):
                raise InputTypeError(f"{name} must be numeric; got dtype {X.dtype}.")
            if len(X.shape) != 2:
                raise ValueError(
                    f"{name} must be 2-D of shape (n_samples, n_features); got shape {X.shape}."
                )
            if not allow_empty and (X.shape[0] == 0 or X.shape[1] == 0):
                raise ValueError(
                    f"{name} is empty (shape {X.shape}); expected at least one row and column."
                )
            out = sp.csr_matrix(X, dtype=dtype, copy=True)
            out.sum_duplicates()
            out.sort_indices()
            if not np.all(np.isfinite(out.data)):
                raise ValueError(f"{name} contains NaN or infinite values.")
            return out
    arr = _as_real_array(X, name, expected)
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
    -1 or +1 (one-vs-all coding for several outputs). Complex, sparse and
    non-numeric targets raise :class:`InputTypeError`.
    """
    expected = "array of shape (n_samples,) or (n_samples, n_outputs)"
    if y is None:
        raise InputTypeError(f"{name} is None; expected an {expected}.")
    arr = _as_real_array(y, name, expected)
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


def check_weights_array(weights, shape, name="weights"):
    """Return ``weights`` as a finite float array of exactly ``shape``, or raise naming it.

    For :func:`convex_relu.problems.check_weights` and :func:`convex_relu.certify`:
    ``None`` (``InputTypeError``, instead of an ``AttributeError`` later), strings,
    objects, complex and sparse input (``InputTypeError``), a wrong shape or
    non-finite entries (``ValueError``).
    """
    shape = tuple(int(s) for s in shape)
    expected = f"array of shape {shape}"
    if weights is None:
        raise InputTypeError(f"{name} is None; expected an {expected}.")
    if isinstance(weights, (str, bytes)):
        raise InputTypeError(f"{name} must be a numeric {expected}; got a string {weights!r:.40}.")
    arr = _as_real_array(weights, name, expected)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {arr.shape}.")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def check_seed(seed, name="seed"):
    """Return ``seed`` as ``None`` or a Python ``int >= 0``, or raise naming it.

    Python and numpy integers are accepted; ``bool``, floats (even ``1.0``),
    strings and everything else raise :class:`InputTypeError`; negative integers
    raise ``ValueError`` (numpy's ``default_rng`` would refuse them with its own
    message).
    """
    if seed is None:
        return None
    if not _is_int(seed):
        raise InputTypeError(
            f"{name} must be None or a non-negative integer; got {seed!r} "
            f"(type {type(seed).__name__})."
        )
    if seed < 0:
        raise ValueError(f"{name} must be None or a non-negative integer; got {seed}.")
    return int(seed)


def check_bool(value, name):
    """Return ``value`` as a Python ``bool``; only ``bool`` and ``numpy.bool_`` are accepted.

    ``0``/``1``, ``"no"``, ``"False"`` and ``None`` raise :class:`InputTypeError`:
    a string such as ``"no"`` is truthy, so accepting it would silently do the
    opposite of what was meant.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name} must be True or False; got {value!r} (type {type(value).__name__}).")
    return bool(value)


def check_n_jobs(n_jobs, name="n_jobs"):
    """Return ``n_jobs`` as ``None`` or a non-zero Python ``int`` (joblib's convention).

    ``None``: joblib's default (one job unless a ``parallel_config`` says otherwise);
    ``k > 0``: ``k`` workers; ``-1``: all cores, ``-2``: all but one, and so on.
    Non-integers (``"two"``, ``2.0``, ``True``) raise :class:`InputTypeError`,
    ``0`` raises ``ValueError``.
    """
    if n_jobs is None:
        return None
    if not _is_int(n_jobs):
        raise InputTypeError(
            f"{name} must be None or a non-zero integer (-1 for all cores); got {n_jobs!r} "
            f"(type {type(n_jobs).__name__})."
        )
    if n_jobs == 0:
        raise ValueError(f"{name} must be None or a non-zero integer (-1 for all cores); got 0.")
    return int(n_jobs)


def check_positive_float(value, name, *, allow_zero=False):
    """Return ``value`` as a finite float ``> 0`` (``>= 0`` with ``allow_zero``), or raise.

    Non-real types (strings, ``None``, ``bool``, complex) raise :class:`InputTypeError`.
    """
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise InputTypeError(f"{name} must be a finite real number {bound}; got {value!r}.")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite real number {bound}; got {value}.")
    return value


def check_lam(lam, name="lam"):
    """Return ``lam`` as a float >= 0 or raise."""
    if isinstance(lam, (bool, np.bool_)) or not isinstance(lam, (numbers.Real, np.floating, np.integer)):
        raise InputTypeError(f"{name} must be a real number >= 0; got {lam!r}.")
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {lam}.")
    return lam


def check_loss(loss, name="loss"):
    if not isinstance(loss, str):
        raise InputTypeError(f"{name} must be one of {LOSSES}; got {loss!r}.")
    if loss not in LOSSES:
        raise ValueError(f"{name} must be one of {LOSSES}; got {loss!r}.")
    return loss


def check_positive_int(value, name, *, minimum=1):
    if not _is_int(value):
        raise InputTypeError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def add_bias_column(X, bias):
    """``X̃ = [X, 1]`` when ``bias`` else ``X``; the bias lives inside each group norm."""
    if not bias:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])
