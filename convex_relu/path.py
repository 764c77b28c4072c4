"""Regularisation paths: solutions over a decreasing grid of ``λ``.

:func:`regularization_path` solves one problem at every ``λ`` of a grid that
starts at ``λ_max`` (the smallest ``λ`` at which the zero network is optimal,
:meth:`~convex_relu.problems.GatedReLUProblem.lam_max`) and decreases
geometrically, as scikit-learn's ``lasso_path`` does.

- Fast methods (R-FISTA, augmented Lagrangian) are warm-started from the
  solution at the previous, larger ``λ``: solutions change little between
  neighbouring ``λ`` and the first ones are very sparse.
- Exact methods (CVXPY with Clarabel, SCS or MOSEK) build the conic program once
  with ``λ`` as a ``cvxpy.Parameter``. The program is DPP, so CVXPY compiles it
  once and each further ``λ`` only re-applies the stored parameter map before
  calling the solver (SCS additionally reuses its previous iterate).
- At ``λ >= λ_max`` the zero weights are optimal by definition of ``λ_max``; they
  are returned without calling a solver (interior-point methods would return
  groups of size ~1e-9 instead).

Parallelism. Independent runs go through :class:`joblib.Parallel`: the chunks of
one grid (``n_chunks``) in :func:`regularization_path`, whole paths (datasets,
folds) in :func:`path_many`. Nothing names a backend, so
``joblib.parallel_config(backend="dask")`` sends the same runs to a Dask cluster.
Whenever there is more than one run, each run limits BLAS and OpenMP to one
thread (threadpoolctl), in a worker or in this process alike: ``n_jobs`` workers
then do not oversubscribe the cores, and since the solvers are deterministic and
see the same arithmetic wherever they run, results are bitwise independent of
``n_jobs`` and of the backend. A single run keeps the default thread pools.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import (
    InputTypeError,
    check_bool,
    check_n_jobs,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from .certificates import certify
from .problems import make_problem
from .solution import SolverWarning

__all__ = ["PathResult", "regularization_path", "path_many", "lambda_grid", "EXACT_METHODS"]

EXACT_METHODS = ("clarabel", "scs", "mosek")
FAST_METHODS = ("auto", "rfista", "al")
DEFAULT_N_LAMS = 20


@dataclass(eq=False)
class PathResult:
    """Solutions along a regularisation path (arrays indexed by the ``λ`` position).

    Attributes
    ----------
    lams : ndarray (L,)
        The grid, in decreasing order.
    weights : ndarray (L, *weights_shape)
        Convex weights at each ``λ``: ``(c, d̃, p)`` (gated) or ``(2, c, d̃, p)`` (ReLU).
        C-ReLU iterates with round-off cone violations are replaced by the
        certificate's repaired, feasible weights.
    objectives : ndarray (L,)
        The convex objective at ``weights[l]`` and ``λ = lams[l]`` (recomputed by
        the problem, not the solver's own value).
    gaps, relative_gaps : ndarray (L,)
        Certified duality gaps (``objective − dual bound``; ``nan`` without certificate).
    n_active : ndarray of int (L,)
        Active neurons: groups (output, pattern; ``v`` and ``w`` separately for
        C-ReLU) with norm ``> active_tol ·`` the largest group norm at that ``λ``.
        These are the neurons of the network built from ``weights[l]``.
    times : ndarray (L,)
        Wall-clock seconds per ``λ`` (solver plus, for the first exact solve of a
        chunk, building and compiling the program).
    n_iter : ndarray of int (L,)
        Solver iterations (``0`` at ``λ >= λ_max``, ``-1`` when not reported).
    status : list of str
    converged : ndarray of bool (L,)
    lam_max : float
    method : str
        The method used (``"auto"`` resolved).
    problem : GatedReLUProblem or ReLUProblem
        The problem at ``lams[0]``; :meth:`problem_at` gives it at any ``λ``.
    chunks : list of ndarray
        Indices of the grid solved as one warm-started run.
    compile_times : ndarray (L,)
        Part of ``times`` spent building the CVXPY program and in CVXPY's
        canonicalisation (``get_problem_data``; cheap after the first ``λ`` of a
        chunk thanks to DPP). 0 for the first-order methods.
    active_tol : float
        The relative threshold of ``n_active``.
    """

    lams: np.ndarray
    weights: np.ndarray
    objectives: np.ndarray
    gaps: np.ndarray
    relative_gaps: np.ndarray
    n_active: np.ndarray
    times: np.ndarray
    n_iter: np.ndarray
    status: list
    converged: np.ndarray
    lam_max: float
    method: str
    problem: object
    chunks: list = field(default_factory=list)
    compile_times: np.ndarray | None = None
    active_tol: float = 1e-6

    def __len__(self):
        return self.lams.size

    def problem_at(self, index):
        """The problem at ``lams[index]`` (data and patterns shared)."""
        return self.problem.with_lam(float(self.lams[index]))

    def network(self, index):
        """The network of ``weights[index]``: one neuron per active group (``n_active[index]``).

        Groups at or below ``active_tol`` times the largest group norm are dropped.
        """
        from .networks import network_from_weights

        W = np.array(self.weights[index], copy=True)
        norms = np.linalg.norm(W, axis=-2)
        if norms.size and norms.max() > 0:
            small = norms <= self.active_tol * norms.max()
            W[np.broadcast_to(small[..., None, :], W.shape)] = 0.0
        return network_from_weights(self.problem_at(index), W)

    def to_dict(self):
        """The per-``λ`` arrays (without weights) as a dict of lists, e.g. for pandas."""
        return {
            "lam": self.lams.tolist(),
            "objective": self.objectives.tolist(),
            "gap": self.gaps.tolist(),
            "relative_gap": self.relative_gaps.tolist(),
            "n_active": self.n_active.tolist(),
            "time": self.times.tolist(),
            "n_iter": self.n_iter.tolist(),
            "status": list(self.status),
            "converged": self.converged.tolist(),
        }


# --------------------------------------------------------------------------------------
# grids and argument checks
# --------------------------------------------------------------------------------------


def lambda_grid(lam_max, n_lams=DEFAULT_N_LAMS, lam_min_ratio=1e-3):
    """``n_lams`` values from ``lam_max`` down to ``lam_min_ratio · lam_max``, geometric.

    ``λ_l = λ_max · r^{l/(L−1)}``, ``l = 0..L−1``, ``r = lam_min_ratio`` (``[λ_max]`` if ``L = 1``).
    """
    n_lams = check_positive_int(n_lams, "n_lams")
    r = _check_ratio(lam_min_ratio)
    if isinstance(lam_max, (bool, np.bool_)) or not isinstance(lam_max, (numbers.Real, np.floating, np.integer)):
        raise InputTypeError(f"lam_max must be a real number > 0; got {lam_max!r}.")
    if not np.isfinite(lam_max) or lam_max <= 0:
        raise ValueError(
            f"lam_max = {lam_max}: the zero network is optimal for every λ (are all targets "
            "zero?); pass the grid explicitly as lams=array."
        )
    if n_lams == 1:
        return np.array([float(lam_max)])
    return float(lam_max) * np.power(r, np.arange(n_lams) / (n_lams - 1))


def _check_ratio(lam_min_ratio):
    if isinstance(lam_min_ratio, (bool, np.bool_)) or not isinstance(lam_min_ratio, numbers.Real):
        raise InputTypeError(f"lam_min_ratio must be a number in (0, 1); got {lam_min_ratio!r}.")
    if not (0 < lam_min_ratio < 1):
        raise ValueError(f"lam_min_ratio must be a number in (0, 1); got {lam_min_ratio!r}.")
    return float(lam_min_ratio)


def _resolve_grid(lams, lam_max, lam_min_ratio):
    if lams is None:
        return lambda_grid(lam_max, DEFAULT_N_LAMS, lam_min_ratio)
    if isinstance(lams, (numbers.Integral, np.integer)) and not isinstance(lams, bool):
        return lambda_grid(lam_max, int(lams), lam_min_ratio)
    if isinstance(lams, (str, bytes, bool, np.bool_)) or np.iscomplexobj(lams):
        raise InputTypeError(f"lams must be None, an int or a 1-D array of real λ >= 0; got {lams!r}.")
    try:
        grid = np.asarray(lams, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"lams must be None, an int or a 1-D array of λ >= 0; got {lams!r}.") from exc
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"lams must be a non-empty 1-D array; got shape {grid.shape}.")
    if not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError("lams must hold finite values >= 0.")
    # decreasing, as in scikit-learn's paths: warm starts go from sparse to dense
    return np.sort(grid)[::-1].copy()


def _check_method(method):
    choices = FAST_METHODS + EXACT_METHODS
    if not isinstance(method, str):
        raise InputTypeError(f"method must be one of {choices}; got {method!r}.")
    if method not in choices:
        raise ValueError(f"method must be one of {choices}; got {method!r}.")
    return method


def _check_tol(tol):
    if tol is None:
        return None
    return check_positive_float(tol, "tol")


def _check_verbose(verbose):
    if not isinstance(verbose, (bool, np.bool_, numbers.Integral, np.integer)):
        raise InputTypeError(f"verbose must be a bool or an int; got {verbose!r}.")
    return verbose


#: ``dtype`` values of a path (passed to :func:`convex_relu.solvers.solve`).
DTYPE_CHOICES = ("float32", "float64", "mixed")


def _check_dtype(dtype):
    if dtype is None:
        return None
    if isinstance(dtype, str):
        if dtype not in DTYPE_CHOICES:
            raise ValueError(f"dtype must be None or one of {DTYPE_CHOICES}; got {dtype!r}.")
        return dtype
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InputTypeError(f"dtype must be None or one of {DTYPE_CHOICES}; got {dtype!r}.")
    return dt.name


def _check_callback(callback, n_chunks):
    if callback is None:
        return None
    if not callable(callback):
        raise InputTypeError(f"callback must be None or callable(index, problem, weights); got {callback!r}.")
    if n_chunks is not None and n_chunks > 1:
        raise ValueError(f"callback stops one warm-started run: it needs n_chunks=1; got n_chunks={n_chunks}.")
    return callback


def _check_settings(*, method, tol, max_iter, active_tol, n_chunks, n_jobs, random_state, bias,
                    verbose, dtype=None, callback=None, **_ignored):
    """Validate the scalar settings of a path (before any work); returns the cleaned ones.

    Data, ``formulation``, ``loss``, ``n_gates`` and ``patterns`` are checked by
    :func:`convex_relu.problems.make_problem`.
    """
    out = {"method": _check_method(method), "tol": _check_tol(tol)}
    out["max_iter"] = None if max_iter is None else check_positive_int(max_iter, "max_iter")
    if isinstance(active_tol, (bool, np.bool_)) or not isinstance(active_tol, numbers.Real):
        raise InputTypeError(f"active_tol must be a number in [0, 1); got {active_tol!r}.")
    if not 0 <= active_tol < 1:
        raise ValueError(f"active_tol must be a number in [0, 1); got {active_tol!r}.")
    out["n_chunks"] = None if n_chunks is None else check_positive_int(n_chunks, "n_chunks")
    out["n_jobs"] = check_n_jobs(n_jobs, "n_jobs")
    out["random_state"] = check_seed(random_state, "random_state")
    out["bias"] = check_bool(bias, "bias")
    _check_verbose(verbose)
    out["dtype"] = _check_dtype(dtype)
    out["callback"] = _check_callback(callback, out["n_chunks"])
    return out


def _chunk_indices(n_lams, n_chunks):
    """Contiguous, nearly equal chunks of ``range(n_lams)`` (the larger ones first)."""
    n_chunks = min(n_chunks, n_lams)
    return [np.asarray(c) for c in np.array_split(np.arange(n_lams), n_chunks)]


# --------------------------------------------------------------------------------------
# one chunk: the unit of work a worker runs
# --------------------------------------------------------------------------------------


def _certify_or_none(problem, weights):
    try:
        return certify(problem, weights)
    except NotImplementedError:
        return None


def _record(sol_weights, objective, certificate, status, converged, n_iter, seconds, compile_s):
    if certificate is not None and certificate.repaired:
        # C-ReLU iterates may violate the cones by round-off: keep the certificate's
        # feasible weights, which the gap is about (as the estimators do)
        sol_weights, objective = certificate.weights, certificate.primal
    return {
        "weights": sol_weights,
        "objective": float(objective),
        "gap": np.nan if certificate is None else float(certificate.gap),
        "relative_gap": np.nan if certificate is None else float(certificate.relative_gap),
        "status": str(status),
        "converged": bool(converged),
        "n_iter": -1 if n_iter is None else int(n_iter),
        "time": float(seconds),
        "compile_time": float(compile_s),
    }


def _thread_limit(limit_threads):
    if not limit_threads:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _solve_chunk(problem, lams, lam_max, method, tol, max_iter, dtype, limit_threads):
    """Solve ``problem`` at each of ``lams`` (decreasing) in order; list of records.

    The unit of work of a worker: everything comes in through the arguments and
    plain arrays go out, so it pickles cheaply for process and Dask backends.
    """
    with _thread_limit(limit_threads):
        return list(_iter_chunk(problem, lams, lam_max, method, tol, max_iter, dtype))


def _iter_chunk(problem, lams, lam_max, method, tol, max_iter, dtype=None, callback=None):
    """Yield one record per ``λ`` of a chunk (warm starts / one program inside it).

    ``callback(index, problem_at_lam, weights)`` is called after each record; a true
    return ends the chunk after that record (the later ``λ`` are never solved).
    """
    if method in EXACT_METHODS:
        records = _exact_chunk(problem, lams, lam_max, method, tol, max_iter)
    else:
        records = _fast_chunk(problem, lams, lam_max, method, tol, max_iter, dtype)
    for index, rec in enumerate(records):
        yield rec
        if callback is not None and callback(index, problem.with_lam(float(lams[index])), rec["weights"]):
            records.close()
            return


def _zero_record(problem, lam):
    prob = problem.with_lam(lam)
    t0 = time.perf_counter()
    W = prob.zero_weights()
    cert = _certify_or_none(prob, W)
    return _record(W, prob.objective(W), cert, "optimal", True, 0, time.perf_counter() - t0, 0.0)


def _fast_chunk(problem, lams, lam_max, method, tol, max_iter, dtype=None):
    from .solvers import solve

    warm = None
    for lam in lams:
        if lam >= lam_max:
            rec = _zero_record(problem, lam)
            warm = rec["weights"]
            yield rec
            continue
        prob = problem.with_lam(lam)
        kwargs = {"method": method, "warm_start": warm}
        if tol is not None:
            kwargs["tol"] = tol
        if max_iter is not None:
            kwargs["max_iter"] = max_iter
        if dtype is not None:
            kwargs["dtype"] = dtype
        t0 = time.perf_counter()
        sol = _solve_float32_then_float64(solve, prob, kwargs) if dtype == "float32" else solve(prob, **kwargs)
        seconds = time.perf_counter() - t0
        cert = sol.certificate if sol.certificate is not None else _certify_or_none(prob, sol.weights)
        # Weights only: seeding the augmented Lagrangian's multipliers too (passing the
        # Solution) was measured to stall it at some λ.
        warm = sol.weights
        yield _record(sol.weights, sol.objective, cert, sol.status, sol.converged, sol.n_iter, seconds, 0.0)


def _solve_float32_then_float64(solve, prob, kwargs):
    """``solve(prob, dtype="float32")``, finished in float64 when float32 round-off stops it.

    As the estimators do for ``dtype="auto"``: when the float32 run ends at
    ``precision_limit`` without certifying ``tol``, a float64 run continues from its
    weights, and the float32 run's convergence warnings (about an iterate that is not
    returned) are dropped. The certificate is float64 either way.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve(prob, **kwargs)
    finish = not sol.converged and sol.status == "precision_limit"
    for w in caught:
        if not (finish and issubclass(w.category, SolverWarning)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if finish:
        sol = solve(prob, **{**kwargs, "dtype": "float64", "warm_start": sol.weights})
    return sol


def _exact_tol(method, tol):
    """The conic solver's tolerance for a requested ``tol``, as :func:`convex_relu.solvers.solve`
    sets it (interior point ``max(tol·1e-2, 1e-10)``, SCS ``tol``; ``None``: solver default)."""
    if tol is None or method == "scs":
        return tol
    return max(tol * 1e-2, 1e-10)


def _exact_chunk(problem, lams, lam_max, method, tol, max_iter):
    from .cvx import build_program, solve_exact

    program = None
    n_solved = 0
    for lam in lams:
        if lam >= lam_max:
            yield _zero_record(problem, lam)
            continue
        prob = problem.with_lam(lam)
        t0 = time.perf_counter()
        build_s = 0.0
        if program is None:
            # λ is a Parameter: CVXPY canonicalises once (on the first solve) and
            # re-applies the compiled parameter map for every further λ.
            program = build_program(prob, parameterized_lam=True)
            build_s = time.perf_counter() - t0
        sol = solve_exact(
            prob,
            solver=method,
            tol=_exact_tol(method, tol),
            max_iter=max_iter,
            program=program,
            # only SCS warm starts: CVXPY hands it its previous iterate of this program
            warm_start=method == "scs" and n_solved > 0,
        )
        seconds = time.perf_counter() - t0
        compile_s = build_s + sol.compile_time
        n_solved += 1
        cert = sol.certificate if sol.certificate is not None else _certify_or_none(prob, sol.weights)
        yield _record(sol.weights, sol.objective, cert, sol.status, sol.converged, sol.n_iter, seconds, compile_s)


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def _n_active(weights, active_tol):
    norms = np.linalg.norm(weights, axis=-2)
    largest = float(norms.max()) if norms.size else 0.0
    if largest == 0.0:
        return 0
    return int(np.sum(norms > active_tol * largest))


def _parallel_map(func, arg_lists, n_jobs, verbose, desc, unit):
    """``[func(*args, limit_threads) for args in arg_lists]`` through joblib.

    Returns results in input order, with a tqdm bar over the runs when verbose.
    With more than one run every run limits BLAS/OpenMP to one thread, whether the
    runs go to workers or stay in this process: the thread count changes the order
    of floating-point reductions, and iterative solvers amplify such differences,
    so the rule keeps results bitwise independent of ``n_jobs`` and the backend
    (and keeps ``n_jobs`` workers from oversubscribing the cores).
    """
    import joblib

    n_tasks = len(arg_lists)
    limit_threads = n_tasks > 1
    tasks = [joblib.delayed(func)(*args, limit_threads) for args in arg_lists]
    bar = _progress(n_tasks, desc, unit) if verbose else None
    results = []
    try:
        if n_tasks == 1 or joblib.effective_n_jobs(n_jobs) == 1:
            # in-process: no pickling of the data, and a bar that moves per run
            for f, args, kwargs in tasks:
                results.append(f(*args, **kwargs))
                if bar is not None:
                    bar.update(1)
        else:
            runner = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
            for res in runner(tasks):
                results.append(res)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return results


def _progress(total, desc, unit):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def regularization_path(
    X,
    y,
    lams=None,
    *,
    formulation="gated_relu",
    loss="squared",
    bias=True,
    n_gates=50,
    random_state=0,
    patterns=None,
    max_patterns=10_000,
    method="auto",
    lam_min_ratio=1e-3,
    tol=None,
    max_iter=None,
    n_chunks=None,
    n_jobs=None,
    active_tol=1e-6,
    sample_weight=None,
    verbose=False,
    penalty=None,
    penalty_params=None,
    dtype=None,
    callback=None,
):
    """Solve the convex program along a decreasing grid of ``λ``.

    ``penalty`` / ``penalty_params``: as in :func:`convex_relu.problems.make_problem`
    (default the neuron group). A penalty without a finite ``λ_max`` (``"l2"``, where
    no ``λ`` makes 0 optimal) takes its grid from the neuron-group ``λ_max`` of the
    same data.

    Parameters
    ----------
    X : array (n, d)
    y : array (n,) or (n, c); ``±1`` labels for ``loss="logistic"``
    lams : None, int or array
        ``None``: 20 values; an int ``L``: ``L`` values, both geometric from
        ``λ_max`` down to ``lam_min_ratio · λ_max`` (:func:`lambda_grid`). An array
        is used as given, sorted in decreasing order.
    formulation : {"gated_relu", "relu"}
    loss : {"squared", "logistic"}
    bias : bool
    n_gates : int or None
        Gaussian gates sampled with ``random_state``; ``None`` enumerates all
        patterns (up to ``max_patterns``). Ignored when ``patterns`` is given.
    random_state : int
        Seed of the gate draw.
    patterns : Patterns, optional
        Precomputed patterns of ``X`` (same ``bias``).
    method : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}
        ``"rfista"`` (C-GReLU) and ``"al"`` (C-ReLU) are warm-started;
        ``"clarabel"``, ``"scs"``, ``"mosek"`` re-solve one compiled CVXPY program.
        ``"auto"`` picks one of these once for the whole path by the problem's
        size, loss and ``λ/λ_max`` (:func:`convex_relu.solvers.choose_method`),
        evaluated at the geometric mean of the grid's positive values.
    lam_min_ratio : float in (0, 1)
    tol, max_iter : optional
        ``None``: the solver's default. ``tol`` is the target certified relative gap of
        the first-order methods; exact solvers get it as :func:`convex_relu.solvers.solve`
        passes it.
    n_chunks : int, optional
        The grid is cut into ``n_chunks`` contiguous chunks, each a run of its own
        (warm-started from zero / compiled afresh at its first ``λ``) that a worker
        solves. Default: 1 for the warm-started methods (one continuous warm-started
        run; splitting changes the iterates, within ``tol``), and the number of
        jobs for Clarabel and MOSEK (which never warm start, so chunks change
        nothing but the number of compilations). For a given ``n_chunks`` the
        result does not depend on ``n_jobs``: with more than one chunk, every chunk
        runs with BLAS/OpenMP limited to one thread, serial or parallel.
    n_jobs : int, optional
        Workers for the chunks (joblib semantics; ``None`` is 1 unless inside a
        ``joblib.parallel_config``).
    active_tol : float
        Relative threshold defining active neurons (see :class:`PathResult`).
    sample_weight : array (n,), optional
        Weights of the samples in the loss, passed to
        :func:`convex_relu.problems.make_problem` (only when given).
    verbose : bool
        Show a tqdm progress bar over the grid (over the chunks when parallel).
    dtype : None, "float32", "float64" or "mixed"
        Arithmetic of the first-order solves (``dtype`` of
        :func:`convex_relu.solvers.solve`; ignored by the exact methods). ``None``: the
        solver's default. ``"float32"``: a solve that float32 round-off stops short of
        ``tol`` (status ``precision_limit``) is finished in float64 from its point. The
        certificates, and so every gap and flag of the result, are float64 whatever
        this says.
    callback : callable, optional
        ``callback(index, problem, weights) -> bool``, called after each ``λ`` in grid
        order with the problem at ``lams[index]`` and its (certified) weights. A true
        return stops the path there: the result then holds only ``lams[:index + 1]``
        (every array is that long) and the smaller ``λ`` are never solved. Needs one
        chunk (``n_chunks`` 1 or ``None``, which then means 1). Under a process or Dask
        backend (:func:`path_many`) it runs in the worker, so it must pickle.

    Returns
    -------
    PathResult
    """
    result = _compute_path(
        X, y, lams, formulation=formulation, loss=loss, bias=bias, n_gates=n_gates,
        random_state=random_state, patterns=patterns, max_patterns=max_patterns, method=method,
        lam_min_ratio=lam_min_ratio, tol=tol, max_iter=max_iter, n_chunks=n_chunks,
        n_jobs=n_jobs, active_tol=active_tol, sample_weight=sample_weight, verbose=verbose,
        penalty=penalty, penalty_params=penalty_params, dtype=dtype, callback=callback,
    )
    _warn_unconverged(result)
    return result


#: Keyword defaults of :func:`regularization_path` (the settings a :func:`path_many` task may set).
_PATH_DEFAULTS = {
    name: par.default
    for name, par in inspect.signature(regularization_path).parameters.items()
    if par.kind is inspect.Parameter.KEYWORD_ONLY
}


def _compute_path(
    X, y, lams, *, formulation, loss, bias, n_gates, random_state, patterns, max_patterns,
    method, lam_min_ratio, tol, max_iter, n_chunks, n_jobs, active_tol, verbose,
    penalty=None, penalty_params=None,
    sample_weight=None, dtype=None, callback=None,
):
    """:func:`regularization_path` without the summary warning (also run inside workers)."""
    checked = _check_settings(
        method=method, tol=tol, max_iter=max_iter, active_tol=active_tol, n_chunks=n_chunks,
        n_jobs=n_jobs, random_state=random_state, bias=bias, verbose=verbose, dtype=dtype,
        callback=callback,
    )
    method, tol, max_iter = checked["method"], checked["tol"], checked["max_iter"]
    dtype = checked["dtype"]
    n_chunks, n_jobs = checked["n_chunks"], checked["n_jobs"]
    if lams is not None and not (isinstance(lams, (numbers.Integral, np.integer)) and not isinstance(lams, bool)):
        _resolve_grid(lams, 1.0, 0.5)  # a bad explicit grid is refused before any work
    elif lams is not None:
        check_positive_int(lams, "lams")
    _check_ratio(lam_min_ratio)
    extra = {}
    if sample_weight is not None:
        if "sample_weight" not in inspect.signature(make_problem).parameters:
            raise NotImplementedError(
                "sample_weight: this version of make_problem does not accept sample weights."
            )
        extra["sample_weight"] = sample_weight
    problem = make_problem(
        X,
        y,
        formulation=formulation,
        lam=0.0,
        loss=loss,
        bias=bias,
        n_gates=n_gates,
        seed=random_state,
        patterns=patterns,
        max_patterns=max_patterns,
        penalty=penalty,
        penalty_params=penalty_params,
        **extra,
    )
    needs = {"rfista": "gated_relu", "al": "relu"}
    if method in needs and problem.formulation != needs[method]:
        raise ValueError(
            f"method={method!r} solves formulation={needs[method]!r}; got "
            f"formulation={problem.formulation!r}."
        )
    lam_max = float(problem.lam_max())
    grid_top = lam_max
    if not np.isfinite(lam_max):
        # e.g. (λ/2)‖U‖²: 0 is never optimal; the neuron group's λ_max sets the scale
        grid_top = float(problem.with_penalty(None).lam_max())
    grid = _resolve_grid(lams, grid_top, lam_min_ratio)
    if method == "auto":
        from .solvers import choose_method

        # resolved once for the whole path, so that an exact choice compiles once; the
        # cost model depends on λ/λ_max: judged at a typical λ of the grid
        method, _ = choose_method(problem.with_lam(_typical_lam(grid)))
    problem = problem.with_lam(float(grid[0]))

    import joblib

    if n_chunks is None:
        warm_started = method in FAST_METHODS or method == "scs"
        n_chunks = 1 if (warm_started or callback is not None) else max(1, joblib.effective_n_jobs(n_jobs))
    chunks = _chunk_indices(grid.size, n_chunks)

    if callback is not None:
        # one run in this process (or this worker), stopped when the callback says so
        records = (_run_with_bar(problem, grid, lam_max, method, tol, max_iter, dtype, callback)
                   if verbose else
                   list(_iter_chunk(problem, grid, lam_max, method, tol, max_iter, dtype, callback)))
        grid = grid[: len(records)].copy()
        chunks = [np.arange(len(records))]
    elif len(chunks) == 1 and verbose:
        records = _run_with_bar(problem, grid, lam_max, method, tol, max_iter, dtype)
    else:
        args = [(problem, grid[idx], lam_max, method, tol, max_iter, dtype) for idx in chunks]
        parts = _parallel_map(_solve_chunk, args, n_jobs, verbose, "λ path chunks", "chunk")
        records = [rec for part in parts for rec in part]

    return _assemble(records, grid, lam_max, method, problem, chunks, active_tol)


def _typical_lam(grid):
    """The geometric mean of the grid's positive values (0 when there are none)."""
    pos = grid[grid > 0]
    return float(np.exp(np.mean(np.log(pos)))) if pos.size else 0.0


def _warn_unconverged(result, label="regularization_path"):
    """One summary warning for the solves that did not converge.

    The solvers warn as they go, but warnings raised in worker processes never reach
    this process; the statuses do, so the summary is issued here.
    """
    bad = np.flatnonzero(~result.converged)
    if bad.size == 0:
        return
    shown = ", ".join(f"λ={result.lams[i]:.3g} ({result.status[i]})" for i in bad[:5])
    more = "" if bad.size <= 5 else f", … {bad.size - 5} more"
    warnings.warn(
        f"{label}: {bad.size} of {len(result)} solves did not converge: {shown}{more}. Their "
        "weights are the solver's last iterates; see PathResult.status and relative_gaps.",
        SolverWarning,
        stacklevel=3,
    )


def _run_with_bar(problem, grid, lam_max, method, tol, max_iter, dtype=None, callback=None):
    """One warm-started run over ``grid`` with a tqdm bar advancing per ``λ``."""
    bar = _progress(grid.size, "λ path", "λ")
    records = []
    try:
        for rec in _iter_chunk(problem, grid, lam_max, method, tol, max_iter, dtype, callback):
            records.append(rec)
            bar.set_postfix(lam=f"{grid[len(records) - 1]:.3g}", rel_gap=f"{rec['relative_gap']:.1e}")
            bar.update(1)
    finally:
        bar.close()
    return records


def _assemble(records, grid, lam_max, method, problem, chunks, active_tol):
    weights = np.stack([r["weights"] for r in records])
    return PathResult(
        lams=grid,
        weights=weights,
        objectives=np.array([r["objective"] for r in records]),
        gaps=np.array([r["gap"] for r in records]),
        relative_gaps=np.array([r["relative_gap"] for r in records]),
        n_active=np.array([_n_active(W, active_tol) for W in weights], dtype=np.int64),
        times=np.array([r["time"] for r in records]),
        n_iter=np.array([r["n_iter"] for r in records], dtype=np.int64),
        status=[r["status"] for r in records],
        converged=np.array([r["converged"] for r in records], dtype=bool),
        lam_max=lam_max,
        method=method,
        problem=problem,
        chunks=chunks,
        compile_times=np.array([r["compile_time"] for r in records]),
        active_tol=float(active_tol),
    )


def _path_task(task, common, limit_threads):
    """One whole path (a :func:`path_many` task), serially inside its worker."""
    ctx = _thread_limit(limit_threads)
    kwargs = dict(common)
    kwargs.update(task)
    X = kwargs.pop("X")
    y = kwargs.pop("y")
    kwargs["n_jobs"] = 1
    kwargs["verbose"] = False
    with ctx:
        return _compute_path(X, y, kwargs.pop("lams", None), **{**_PATH_DEFAULTS, **kwargs})


def path_many(tasks, *, n_jobs=None, verbose=False, **common):
    """Several independent regularisation paths (datasets, folds, settings) in parallel.

    Parameters
    ----------
    tasks : iterable
        Each task is ``(X, y)`` or a dict with keys ``"X"``, ``"y"`` and any
        keyword of :func:`regularization_path` that overrides ``common`` for it.
        (e.g. a ``callback`` per fold, which then runs in that task's worker).
    n_jobs : int, optional
        joblib workers (one path per task; each path runs serially in its worker,
        with BLAS/OpenMP limited to one thread when there is more than one task,
        also for ``n_jobs=1``, so that results do not depend on ``n_jobs``).
        Under ``joblib.parallel_config(backend="dask")`` the paths run on the
        Dask cluster.
    verbose : bool
        A tqdm bar over the tasks.
    **common
        Keywords of :func:`regularization_path` shared by every task.

    Returns
    -------
    list of PathResult, in the order of ``tasks``.
    """
    n_jobs = check_n_jobs(n_jobs, "n_jobs")
    _check_verbose(verbose)
    if isinstance(tasks, (str, bytes, dict)) or not hasattr(tasks, "__iter__"):
        raise InputTypeError(
            f"tasks must be an iterable of (X, y) pairs or dicts with 'X' and 'y'; got "
            f"{type(tasks).__name__}."
        )
    task_list = []
    for i, task in enumerate(tasks):
        if isinstance(task, dict):
            if "X" not in task or "y" not in task:
                raise ValueError(f"tasks[{i}] must hold keys 'X' and 'y'; got {sorted(task)}.")
            task_list.append(dict(task))
        elif isinstance(task, (tuple, list)) and len(task) == 2:
            task_list.append({"X": task[0], "y": task[1]})
        else:
            raise InputTypeError(
                f"tasks[{i}] must be (X, y) or a dict with 'X' and 'y'; got {type(task).__name__}."
            )
    if not task_list:
        raise ValueError("tasks is empty.")
    unknown = set(common).union(*task_list) - set(_PATH_DEFAULTS) - {"X", "y", "lams"}
    if unknown:
        raise ValueError(f"unknown keyword(s) for regularization_path: {sorted(unknown)}.")
    # every task's settings are checked here, before any path starts (a bad one would
    # otherwise surface only when its worker runs, after the others' work)
    for i, task in enumerate(task_list):
        settings = {**_PATH_DEFAULTS, **common, **task}
        try:
            _check_settings(**settings)
            _check_ratio(settings["lam_min_ratio"])
        except ValueError as exc:
            raise type(exc)(f"tasks[{i}]: {exc}") from None
    args = [(task, common) for task in task_list]
    results = _parallel_map(_path_task, args, n_jobs, verbose, "paths", "path")
    for i, res in enumerate(results):
        _warn_unconverged(res, label=f"path_many, task {i}")
    return results
