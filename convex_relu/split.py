"""One-vs-all by outputs: solve each output as its own problem, certify the joint one.

With ``c > 1`` outputs and a penalty that is additive over outputs
(``penalty.separable_over_outputs``) the programs decouple (DESIGN §0). With
``s = n·c`` the joint objective is the **mean** of per-output objectives

    F(U) = (1/(nc)) Σ_k L_k(U_k) + λ Σ_k R(U_k) = (1/c) Σ_k [ L_k(U_k)/n + (cλ) R(U_k) ],

so output ``k`` is the problem with targets ``Y[:, k]`` (loss scaling ``s = n``) and
``λ_k = c·λ``: same weights, objectives ``F_k`` with ``F = mean_k F_k``. Each output
then has its own step sizes, working sets and stopping test (one hard output no
longer keeps the easy ones iterating). Gaps add the same way, so per-output relative
gaps ``<= tol`` imply a joint relative gap ``<= tol``; still, the joint certificate of
the stacked weights (:func:`convex_relu.solution.finalize`) decides the verdict.

C-ReLU cone multipliers: the joint Lagrangian ``F − Σ_k⟨γ_k, Ãv_k⟩`` is ``1/c`` times
the sum of the per-output ones, so ``γ_joint = γ_k / c``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from .solution import SolverWarning, finalize

__all__ = ["output_problem", "should_split", "solve_split", "SPLIT_CHOICES"]

SPLIT_CHOICES = ("auto", True, False)


def check_split_outputs(value):
    """``"auto"``, ``True`` or ``False``, else a clear error naming ``split_outputs``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value == "auto":
        return "auto"
    from ._validation import InputTypeError

    raise InputTypeError(f"split_outputs must be 'auto', True or False; got {value!r}.")


def should_split(problem, method, split_outputs):
    """Whether :func:`solve_split` runs for this request (raises for an impossible ``True``)."""
    if split_outputs is False or method not in ("rfista", "al") or problem.c <= 1:
        return False
    if not getattr(problem.penalty, "separable_over_outputs", False):
        if split_outputs is True:
            raise ValueError(
                f"split_outputs=True needs a penalty that separates over outputs; "
                f"penalty {problem.penalty.name!r} couples them. Use split_outputs='auto' or False."
            )
        return False
    return True


def output_problem(problem, k):
    """Output ``k`` of ``problem`` as a one-output problem: ``Y[:, k]``, ``λ_k = c·λ`` (data shared)."""
    sub = object.__new__(type(problem))
    sub.__dict__.update(problem.__dict__)
    # the normalised twin depends on Y; the range basis only on X̃ and the masks
    sub.__dict__.pop("_normalized_cache", None)
    sub.Y = np.ascontiguousarray(problem.Y[:, k:k + 1])
    sub.lam = float(problem.lam) * problem.c
    sub.y_was_1d = False
    return sub


def _slice_start(problem, warm_start, k):
    """Output ``k`` of a joint warm start (array, Solution or weights+duals object)."""
    if warm_start is None or isinstance(warm_start, bool):
        return warm_start
    relu = problem.formulation == "relu"

    def cut(W):
        W = problem.check_weights(np.asarray(W, dtype=np.float64), "warm_start")
        return np.ascontiguousarray(W[:, k:k + 1] if relu else W[k:k + 1])

    if hasattr(warm_start, "weights"):
        from .solvers import _Start

        duals = getattr(warm_start, "duals", None)
        sub_duals = None
        if relu and duals is not None and np.shape(duals) == (2, problem.n, problem.c, problem.p):
            sub_duals = np.asarray(duals, dtype=np.float64)[:, :, k:k + 1] * problem.c
        return _Start(cut(warm_start.weights), sub_duals)
    return cut(warm_start)


def _one(sub, method, tol, constraint_tol, max_iter, start, dtype, verbose, options, threads):
    """Solve one output (a worker); returns plain arrays and numbers, and the warnings."""
    from .solvers import solve

    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = solve(sub, method, tol=tol, constraint_tol=constraint_tol, max_iter=max_iter,
                        verbose=verbose, warm_start=start, dtype=dtype, split_outputs=False,
                        **options)
        others = [(w.category, str(w.message)) for w in caught
                  if not issubclass(w.category, SolverWarning)]
        raw = sol.raw_weights if sol.raw_weights is not None else sol.weights
        return {
            "raw": np.asarray(raw, dtype=np.float64),
            "duals": None if sol.duals is None else np.asarray(sol.duals, dtype=np.float64),
            "n_iter": int(sol.n_iter or 0),
            "status": sol.status,
            "converged": bool(sol.converged),
            "relative_gap": float(sol.relative_gap),
            "solve_time": float(sol.solve_time or 0.0),
            "warnings": others,
        }

    if threads is None:
        return run()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return run()


def _current_threads():
    """The BLAS thread count in effect here (the caller's threadpoolctl limit included)."""
    try:
        from threadpoolctl import threadpool_info

        counts = [int(i.get("num_threads", 1)) for i in threadpool_info()
                  if i.get("user_api") == "blas"]
        return max(counts) if counts else 1
    except Exception:  # pragma: no cover - threadpoolctl is a dependency
        return 1


def solve_split(problem, method, *, tol, constraint_tol, max_iter, warm_start, dtype,
                verbose, n_jobs, options):
    """Solve ``problem`` output by output (module docstring) and certify the joint weights.

    Each output ``k`` runs :func:`convex_relu.solvers.solve` on :func:`output_problem`
    ``(problem, k)``, warm-started from output ``k`` of ``warm_start``, with the same
    ``tol``/``max_iter`` (each output its own iteration budget). ``n_jobs > 1`` runs
    the outputs in joblib processes, each limited to ``max(1, T // workers)`` BLAS
    threads where ``T`` is the count in effect in the caller (no oversubscription).
    The stacked raw weights are judged by :func:`convex_relu.solution.finalize` on the
    joint problem. ``n_iter`` is the total over outputs; ``info["split_outputs"]``
    holds the per-output iterations, statuses and relative gaps.
    """
    from ._validation import check_n_jobs

    n_jobs = check_n_jobs(n_jobs)
    c = problem.c
    t0 = time.perf_counter()
    subs = [output_problem(problem, k) for k in range(c)]
    starts = [_slice_start(problem, warm_start, k) for k in range(c)]
    workers = 1
    if n_jobs is not None and n_jobs != 1:
        from joblib import effective_n_jobs

        workers = max(1, min(c, effective_n_jobs(n_jobs)))
    if workers == 1:
        results = [_one(subs[k], method, tol, constraint_tol, max_iter, starts[k], dtype,
                        verbose, options, None) for k in range(c)]
    else:
        from joblib import Parallel, delayed

        threads = max(1, _current_threads() // workers)
        results = Parallel(n_jobs=workers)(
            delayed(_one)(subs[k], method, tol, constraint_tol, max_iter, starts[k], dtype,
                          verbose, options, threads) for k in range(c))
    for r in results:
        for cat, msg in r["warnings"]:
            warnings.warn(msg, cat, stacklevel=3)
    relu = problem.formulation == "relu"
    W = np.concatenate([r["raw"] for r in results], axis=1 if relu else 0)
    duals = None
    if relu and all(r["duals"] is not None for r in results):
        duals = np.concatenate([r["duals"] for r in results], axis=2) / c
    statuses = [r["status"] for r in results]
    bad = [s for s in statuses if s != "optimal"]
    own = "optimal" if not bad else ("max_iter" if "max_iter" in bad else bad[0])
    info = {
        "split_outputs": {
            "n_outputs": c,
            "n_jobs": workers,
            "n_iter": [r["n_iter"] for r in results],
            "statuses": statuses,
            "relative_gaps": [r["relative_gap"] for r in results],
            "solve_times": [r["solve_time"] for r in results],
        }
    }
    solver = {"rfista": "rfista", "al": "al"}[method]
    return finalize(
        problem, W, solver=solver, status=own, tol=tol, constraint_tol=constraint_tol,
        stacklevel=3, n_iter=int(sum(r["n_iter"] for r in results)),
        solve_time=time.perf_counter() - t0, duals=duals, info=info,
    )
