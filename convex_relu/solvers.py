"""One entry point for every solver: :func:`solve`.

- ``"rfista"``: R-FISTA with working sets for C-GReLU (:func:`convex_relu.fista.solve_rfista`);
- ``"al"``: augmented Lagrangian (with a face-identification phase) for C-ReLU
  (:func:`convex_relu.augmented_lagrangian.solve_al`);
- ``"clarabel"``, ``"scs"``, ``"mosek"``: the exact CVXPY programs
  (:func:`convex_relu.cvx.solve_exact`);
- ``"auto"``: an interior-point solve (Clarabel) when the problem is small enough for
  it to take about a second (:data:`AUTO_EXACT_SIZE`), else the first-order method of
  the formulation.

Every solution carries a duality-gap certificate (:func:`convex_relu.certificates.certify`),
and its flags follow it: ``converged`` / ``status == "optimal"`` only when the certified
relative gap is ``<= tol`` and, for C-ReLU, the relative cone violation is
``<= constraint_tol`` (:func:`convex_relu.solution.finalize`), whatever the method said.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import InputTypeError, check_bool, check_positive_float
from .solution import DEFAULT_CONSTRAINT_TOL, SolverWarning, finalize

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
    constraint_tol=DEFAULT_CONSTRAINT_TOL,
    max_iter=None,
    verbose=False,
    warm_start=None,
    dtype=np.float64,
    **options,
):
    """Solve a C-GReLU or C-ReLU problem; the flags follow OUR certificate.

    One rule for every method, exact ones included
    (:func:`convex_relu.solution.finalize`): ``converged`` is true and ``status`` is
    ``"optimal"`` only when ``certify(problem, solution.raw_weights)`` has a relative
    gap ``<= tol`` and, for C-ReLU, the raw weights' relative cone violation
    (:func:`convex_relu.solution.relative_violation`) is ``<= constraint_tol``.
    Otherwise the status says why (``"inaccurate"`` when the solver said optimal,
    ``"max_iter"``, ``"precision_limit"``, ``"stalled"``, …) and a warning gives the
    certified gap. An exact solve whose certificate misses ``tol`` is tightened and
    re-solved or polished first (:func:`convex_relu.cvx.solve_exact`).

    Units. When the problem offers ``normalized()`` (data rescaled by powers of two,
    ``X̃/a``, ``Y/b``, ``λ/(a·b)``), the method runs in those units, and its weights
    are converted back and certified on *this* problem: ``Solution.problem`` is the
    user's problem and every number reported (weights, objective, certificate,
    history objectives, duals) is in the user's units. ``info["scaling"]`` records
    the factors: ``value_to_user`` (``b²``) and ``weights_to_user`` (``b/a``, feature
    rows). The inner run's own verdict is kept in ``info["inner_relative_gap"]``.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    method : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}
        ``"rfista"`` only for :class:`GatedReLUProblem`, ``"al"`` only for
        :class:`ReLUProblem`. ``"auto"`` (see :func:`choose_method`) records its
        choice in ``solution.info["auto_choice"]`` and why in ``info["auto_reason"]``.
    tol : float
        Target certified relative duality gap (default ``1e-6``), for every method.
        The solvers' own tolerances: Clarabel and MOSEK get ``max(tol·1e-2, 1e-10)``
        (interior point converges fast at the end, and its certified gap then lands
        near ``tol``), SCS gets ``tol``.
    constraint_tol : float
        C-ReLU: largest relative cone violation of the returned raw weights (default
        ``1e-6``, the augmented Lagrangian's own default; ignored for C-GReLU). The
        violation is ``max (−Ã_i v_i)₊ / (max_j ‖x̃_j‖ · max_g ‖W_g‖)``, a fraction of
        the largest possible slack.
    max_iter : int, optional
        Iteration limit (solver defaults when omitted).
    verbose : bool
        Progress lines (first-order methods) or the solver log (exact ones).
    warm_start : array, Solution or None
        Starting weights (user units) for the first-order methods. The exact solvers
        cannot start from given weights; there it is ignored (noted in
        ``info["warm_start_ignored"]``), except ``warm_start=True`` which is passed on
        (SCS re-solves).
    dtype : float64 or float32
        Arithmetic of the first-order methods (certificates are always float64).
    **options
        Passed to the underlying solver function.

    Returns
    -------
    Solution
        ``weights`` = the certified weights (C-ReLU: repaired onto the cones without
        changing the predictions), ``raw_weights`` = what the method returned,
        ``objective = certificate.primal``; ``info["repair_size"]``,
        ``info["certified_relative_gap"]``, ``info["relative_violation"]``.

    Raises
    ------
    ValueError
        Unknown method, a method that does not solve the problem's formulation, or
        invalid options.

    Warns
    -----
    SolverWarning, ConvergenceWarning
        Whenever ``converged`` is false; the message gives the certified gap.
    """
    formulation = getattr(problem, "formulation", None)
    if formulation not in _FAST:
        raise InputTypeError(
            f"problem must be a GatedReLUProblem or ReLUProblem; got {type(problem).__name__}."
        )
    if not isinstance(method, str):
        raise InputTypeError(f"method must be one of {METHODS}; got {method!r}.")
    if method.lower() not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    method = method.lower()
    tol = check_positive_float(tol, "tol")
    constraint_tol = check_positive_float(constraint_tol, "constraint_tol")
    verbose = check_bool(verbose, "verbose")
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

    inner, scaling = _normalized(problem)
    ignored = method in _EXACT and warm_start is not None and not isinstance(warm_start, bool)
    if scaling is None:
        sol = _run(problem, method, tol, constraint_tol, verbose, warm_start, dtype, kwargs)
    else:
        start = _warm_start_to_inner(problem, warm_start, scaling) if not ignored else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inner_sol = _run(inner, method, tol, constraint_tol, verbose, start, dtype, kwargs)
        for w in caught:
            # the verdict is re-made in the user's units below; pass every other warning on
            if not issubclass(w.category, SolverWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        sol = _to_user(problem, inner_sol, scaling, tol, constraint_tol)
    if ignored:
        sol.info["warm_start_ignored"] = True
    if reason is not None:
        sol.info["auto_choice"] = method
        sol.info["auto_reason"] = reason
    return sol


def _run(problem, method, tol, constraint_tol, verbose, warm_start, dtype, kwargs):
    """Run ``method`` on ``problem`` (in whatever units it is given)."""
    if method in _EXACT:
        from .cvx import solve_exact

        # interior point converges fast at the end, so a 100× tighter tolerance is cheap
        # and lands the certified gap near ``tol``; SCS (first order) gets ``tol``
        exact_tol = tol if method == "scs" else max(tol * 1e-2, 1e-10)
        return solve_exact(
            problem,
            solver=method,
            tol=exact_tol,
            gap_tol=tol,
            constraint_tol=constraint_tol,
            verbose=verbose,
            warm_start=warm_start if isinstance(warm_start, bool) else None,
            **kwargs,
        )
    if method == "rfista":
        from .fista import solve_rfista

        return solve_rfista(
            problem, tol=tol, warm_start=warm_start, dtype=dtype, verbose=verbose, **kwargs
        )
    from .augmented_lagrangian import solve_al

    return solve_al(
        problem, tol=tol, constraint_tol=constraint_tol, warm_start=warm_start, dtype=dtype,
        verbose=verbose, **kwargs
    )


# --------------------------------------------------------------------------------------
# normalised units
# --------------------------------------------------------------------------------------


def _normalized(problem):
    """``(inner, scaling)`` from ``problem.normalized()``, or ``(problem, None)``.

    ``None`` also when the scaling is the identity (nothing to convert).
    """
    fn = getattr(problem, "normalized", None)
    if fn is None:
        return problem, None
    inner, scaling = fn()
    if getattr(scaling, "is_identity", False):
        return problem, None
    return inner, scaling


def _value_factor(scaling):
    """``b²``: objective values in user units are ``b²`` times the inner ones."""
    return float(scaling.value_to_user(1.0))


def _warm_start_to_inner(problem, warm_start, scaling):
    """A warm start (user units) in the inner units; a Solution keeps its duals."""
    if warm_start is None or isinstance(warm_start, bool):
        return warm_start
    if hasattr(warm_start, "weights"):
        weights = np.asarray(warm_start.weights, dtype=np.float64)
        duals = getattr(warm_start, "duals", None)
        start = _Start(scaling.weights_to_inner(problem.check_weights(weights, "warm_start")), None)
        if duals is not None:
            # cone multipliers: L = F − Σ⟨γ, Ãv⟩ with F ×b² and Ãv ×b, so γ_user = b·γ_inner
            start.duals = np.asarray(duals, dtype=np.float64) / np.sqrt(_value_factor(scaling))
        return start
    return scaling.weights_to_inner(problem.check_weights(warm_start, "warm_start"))


class _Start:
    """A warm start with weights and (optionally) cone multipliers."""

    def __init__(self, weights, duals):
        self.weights = weights
        self.duals = duals


def _to_user(problem, inner_sol, scaling, tol, constraint_tol):
    """The inner solution's weights in user units, certified and judged on ``problem``."""
    raw = inner_sol.raw_weights if inner_sol.raw_weights is not None else inner_sol.weights
    W = np.asarray(scaling.weights_to_user(raw), dtype=np.float64)
    b2 = _value_factor(scaling)
    history = None
    if inner_sol.history is not None:
        history = {}
        for key, vals in inner_sol.history.items():
            # objectives are absolute (×b²); gaps, violations, V are relative already
            history[key] = [v * b2 for v in vals] if key == "objective" else list(vals)
    info = dict(inner_sol.info)
    # plain numbers (persistence stores info as JSON): the value factor b² and the
    # factor on a feature-row weight, b/a
    info["scaling"] = {
        "value_to_user": b2,
        "weights_to_user": float(np.asarray(scaling.weights_to_user(np.ones_like(W))).flat[0]),
    }
    info["inner_relative_gap"] = info.pop("certified_relative_gap", None)
    # the solvers' absolute numbers in user units: objective values ×b², cone slacks ×b
    # (Ã_user v_user = a·Ã_in·(b/a)·v_in); relative ones and ``step_size`` stay as they are
    b = np.sqrt(b2)
    for key in ("solver_objective", "solver_dual_objective", "solver_gap"):
        if info.get(key) is not None:
            info[key] = info[key] * b2
    for key in ("cone_violation", "absolute_violation"):
        if info.get(key) is not None:
            info[key] = info[key] * b
    if isinstance(info.get("cleanup"), dict):
        info["cleanup"] = dict(info["cleanup"])
        for key in ("objective_before", "objective_after", "objective_change"):
            info["cleanup"][key] = info["cleanup"][key] * b2
    # the inner verdict is evidence, not the result: judged again in user units
    status = inner_sol.status
    own = "optimal" if status in ("optimal", "inaccurate") else status
    duals = None if inner_sol.duals is None else inner_sol.duals * np.sqrt(b2)
    return finalize(
        problem,
        W,
        solver=inner_sol.solver,
        status=own,
        tol=tol,
        constraint_tol=constraint_tol,
        stacklevel=3,
        n_iter=inner_sol.n_iter,
        solve_time=inner_sol.solve_time,
        compile_time=inner_sol.compile_time,
        history=history,
        duals=duals,
        info=info,
    )
