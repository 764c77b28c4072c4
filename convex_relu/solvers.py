"""One entry point for every solver: :func:`solve`.

- ``"rfista"``: R-FISTA with working sets for C-GReLU (:func:`convex_relu.fista.solve_rfista`);
- ``"al"``: augmented Lagrangian (with a face-identification phase) for C-ReLU
  (:func:`convex_relu.augmented_lagrangian.solve_al`);
- ``"clarabel"``, ``"scs"``, ``"mosek"``: the exact CVXPY programs
  (:func:`convex_relu.cvx.solve_exact`);
- ``"auto"``: an interior-point solve (Clarabel) when the problem is small enough for
  it to take about a second (:data:`AUTO_EXACT_SIZE`), else the first-order method of
  the formulation.

Every solution carries a duality-gap certificate (:func:`convex_relu.certificates.certify`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["solve", "METHODS", "AUTO_EXACT_SIZE", "choose_method"]

METHODS = ("auto", "rfista", "al", "clarabel", "scs", "mosek")
_FAST = {"gated_relu": "rfista", "relu": "al"}
_EXACT = ("clarabel", "scs", "mosek")

#: ``"auto"`` uses Clarabel when ``n·p·d̃·c`` is at most this (per formulation).
#: Measured (one thread, Clarabel 0.11): C-GReLU takes 0.5 s at n·p·d̃ = 5.5e5
#: (n=500, d̃=11, p=100) and 3 s at 2.2e6; C-ReLU, whose 2·n·p cone rows make the conic
#: program much larger, 0.6 s at 6e4 and 2.4 s at 2.2e5 (n=200, d̃=11, p=100).
AUTO_EXACT_SIZE = {"gated_relu": 500_000, "relu": 100_000}


def choose_method(problem):
    """The method ``"auto"`` picks for ``problem`` and a one-line reason."""
    size = problem.n * problem.p * problem.d * problem.c
    limit = AUTO_EXACT_SIZE[problem.formulation]
    if size <= limit:
        return "clarabel", (
            f"n·p·d̃·c = {size} <= {limit}: small enough for the interior-point solver (Clarabel)"
        )
    fast = _FAST[problem.formulation]
    return fast, f"n·p·d̃·c = {size} > {limit}: first-order method {fast!r}"


def solve(
    problem,
    method="auto",
    *,
    tol=1e-6,
    max_iter=None,
    verbose=False,
    warm_start=None,
    dtype=np.float64,
    **options,
):
    """Solve a C-GReLU or C-ReLU problem.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    method : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}
        ``"rfista"`` only for :class:`GatedReLUProblem`, ``"al"`` only for
        :class:`ReLUProblem`. ``"auto"`` (see :func:`choose_method`) records its
        choice in ``solution.info["auto_choice"]`` and why in ``info["auto_reason"]``.
    tol : float
        First-order methods: target certified relative duality gap (default
        ``1e-6``). Exact solvers: Clarabel and MOSEK get ``max(tol·1e-2, 1e-10)``
        (interior point converges fast at the end, and its certified gap then lands
        near ``tol``), SCS gets ``tol``.
    max_iter : int, optional
        Iteration limit (solver defaults when omitted).
    verbose : bool
        Progress lines (first-order methods) or the solver log (exact ones).
    warm_start : array, Solution or None
        Starting weights for the first-order methods. The exact solvers cannot start
        from given weights; there it is ignored (noted in ``info["warm_start_ignored"]``),
        except ``warm_start=True`` which is passed on (SCS re-solves).
    dtype : float64 or float32
        Arithmetic of the first-order methods (certificates are always float64).
    **options
        Passed to the underlying solver function.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        Unknown method, a method that does not solve the problem's formulation, or
        invalid options.
    """
    formulation = getattr(problem, "formulation", None)
    if formulation not in _FAST:
        raise ValueError(
            f"problem must be a GatedReLUProblem or ReLUProblem; got {type(problem).__name__}."
        )
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    method = method.lower()
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)) or not (
        np.isfinite(tol) and tol > 0
    ):
        raise ValueError(f"tol must be a positive number; got {tol!r}.")
    reason = None
    if method == "auto":
        method, reason = choose_method(problem)
        if verbose:
            print(f"[solve] method='auto' chose {method!r}: {reason}")
    if method == "rfista" and formulation != "gated_relu":
        raise ValueError(
            "method='rfista' solves the gated program (GatedReLUProblem); for a "
            "ReLUProblem use method='al' or an exact solver."
        )
    if method == "al" and formulation != "relu":
        raise ValueError(
            "method='al' solves the ReLU program (ReLUProblem); for a GatedReLUProblem "
            "use method='rfista' or an exact solver."
        )
    kwargs = dict(options)
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    ignored = False
    if method in _EXACT:
        from .cvx import solve_exact

        # interior point converges fast at the end, so a 100× tighter tolerance is cheap
        # and lands the certified gap near ``tol``; SCS (first order) gets ``tol``
        exact_tol = tol if method == "scs" else max(tol * 1e-2, 1e-10)
        ignored = warm_start is not None and not isinstance(warm_start, bool)
        sol = solve_exact(
            problem,
            solver=method,
            tol=exact_tol,
            verbose=verbose,
            warm_start=warm_start if isinstance(warm_start, bool) else None,
            **kwargs,
        )
    elif method == "rfista":
        from .fista import solve_rfista

        sol = solve_rfista(
            problem, tol=tol, warm_start=warm_start, dtype=dtype, verbose=verbose, **kwargs
        )
    else:
        from .augmented_lagrangian import solve_al

        sol = solve_al(
            problem, tol=tol, warm_start=warm_start, dtype=dtype, verbose=verbose, **kwargs
        )
    if ignored:
        sol.info["warm_start_ignored"] = True
    if reason is not None:
        sol.info["auto_choice"] = method
        sol.info["auto_reason"] = reason
    return sol
