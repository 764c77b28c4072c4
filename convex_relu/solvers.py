"""One entry point for every solver: ``solve(problem, method=...)``.

- ``"rfista"``: R-FISTA with working sets for C-GReLU (:mod:`convex_relu.fista`);
- ``"al"``: augmented Lagrangian for C-ReLU (:mod:`convex_relu.augmented_lagrangian`);
- ``"clarabel"``, ``"scs"``, ``"mosek"``: the exact CVXPY programs (:mod:`convex_relu.cvx`);
- ``"auto"``: Clarabel while the interior-point solve stays around a second, the
  first-order method of the formulation beyond that. The choice is recorded in
  ``solution.info["auto_choice"]``.

Every method returns a :class:`~convex_relu.solution.Solution` with a certificate.
"""

from __future__ import annotations

import numpy as np

METHODS = ("auto", "rfista", "al", "clarabel", "scs", "mosek")
EXACT = ("clarabel", "scs", "mosek")

# Sizes n·p·d̃·c up to which "auto" uses Clarabel (measured on 2 cores: C-GReLU
# n=500, d=20, p=100 ≈ 2.5 s). For C-ReLU the cap is high (n=500, d=20, p=100 takes
# 35–80 s) because the augmented Lagrangian does not yet converge reliably (it stops
# at max_iter with gaps 1e-3–1e-1 on such problems): a slow certified answer beats a
# fast uncertified one.
AUTO_EXACT_SIZE = {"gated_relu": 2e5, "relu": 1.1e6}

__all__ = ["solve", "METHODS", "choose_method"]


def choose_method(problem):
    """The method ``"auto"`` picks for ``problem`` and a one-line reason."""
    size = problem.n * problem.p * problem.d * problem.c
    cap = AUTO_EXACT_SIZE[problem.formulation]
    if size <= cap:
        return "clarabel", f"n·p·d·c = {size:.3g} <= {cap:.3g}: exact interior point (Clarabel)"
    fast = "rfista" if problem.formulation == "gated_relu" else "al"
    return fast, f"n·p·d·c = {size:.3g} > {cap:.3g}: first-order method {fast}"


def solve(problem, method="auto", *, tol=1e-6, max_iter=None, verbose=False, warm_start=None,
          dtype=np.float64, **options):
    """Solve ``problem`` with ``method`` and certify the result.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    method : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}
        ``"rfista"`` solves C-GReLU only and ``"al"`` C-ReLU only.
    tol : float
        First-order methods: target certified relative gap. Exact solvers: passed as
        their tolerance (``max(tol·1e-2, 1e-10)`` for interior point, so that their
        certified gap lands near ``tol``; ``tol`` itself for SCS).
    max_iter : int, optional
        Solver default when ``None``.
    verbose : bool
    warm_start : array or Solution, optional
        Used by the first-order methods (exact solvers ignore it).
    dtype : numpy float dtype
        Arithmetic of the first-order methods.
    **options
        Passed to the underlying solver.

    Returns
    -------
    Solution
    """
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    method = method.lower()
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a positive number; got {tol}.")
    reason = None
    if method == "auto":
        method, reason = choose_method(problem)
        if verbose:
            print(f"solve(auto): {reason}")
    if method == "rfista" and problem.formulation != "gated_relu":
        raise ValueError("method='rfista' solves C-GReLU (GatedReLUProblem); use 'al' for C-ReLU.")
    if method == "al" and problem.formulation != "relu":
        raise ValueError("method='al' solves C-ReLU (ReLUProblem); use 'rfista' for C-GReLU.")
    kwargs = dict(options)
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    if method in EXACT:
        from .cvx import solve_exact

        # interior point converges fast at the end, so a 100× tighter tolerance is cheap;
        # SCS is first order and gets the requested one
        exact_tol = tol if method == "scs" else max(tol * 1e-2, 1e-10)
        sol = solve_exact(problem, solver=method, tol=exact_tol, verbose=verbose, **kwargs)
    elif method == "rfista":
        from .fista import solve_rfista

        sol = solve_rfista(problem, tol=tol, warm_start=warm_start, dtype=dtype, verbose=verbose,
                           **kwargs)
    else:
        from .augmented_lagrangian import solve_al

        sol = solve_al(problem, tol=tol, warm_start=warm_start, dtype=dtype, verbose=verbose,
                       **kwargs)
    if reason is not None:
        sol.info["auto_choice"] = reason
    return sol
