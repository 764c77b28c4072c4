"""One entry point for every solver: :func:`solve`.

- ``"rfista"``: R-FISTA with working sets for C-GReLU (:func:`convex_relu.fista.solve_rfista`);
- ``"al"``: augmented Lagrangian (with a face-identification phase) for C-ReLU
  (:func:`convex_relu.augmented_lagrangian.solve_al`);
- ``"clarabel"``, ``"scs"``, ``"mosek"``: the exact CVXPY programs
  (:func:`convex_relu.cvx.solve_exact`);
- ``"auto"``: the cheaper of Clarabel and the first-order method of the formulation
  by a cost model in the size, the loss and ``λ/λ_max`` (:func:`choose_method`).

Exact (interior-point) solutions are never exactly sparse; by default ``solve``
applies :func:`convex_relu.cvx.cleanup_solution` to them and keeps the result only
when its certificate still meets ``tol`` (``info["cleanup"]`` says what happened).

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

__all__ = ["solve", "METHODS", "AUTO_COST_MODEL", "AUTO_EXACT_SIZE", "AUTO_PLAIN_AL_MIN_SIZE",
           "choose_method", "estimated_seconds"]

METHODS = ("auto", "rfista", "al", "clarabel", "scs", "mosek")
_FAST = {"gated_relu": "rfista", "relu": "al"}
_EXACT = ("clarabel", "scs", "mosek")

#: Cost model of ``"auto"`` (seconds, one thread), per (formulation, loss). With
#: ``size = n·p·d̃·c`` and ``r = λ / λ_max`` (``λ_max`` of the gated relaxation: one
#: adjoint pass; for C-ReLU it bounds the problem's own ``λ_max`` from above, so
#: ``r`` is underestimated and the first-order estimate errs on the slow side):
#:
#:     first order:  t_fast  = a + k · size^e · r^(−β)
#:     Clarabel:     t_exact = a + k · (size/1e5)^α · c^γ
#:
#: The first-order cost grows as ``λ`` decreases (more active groups, worse
#: conditioning); the interior-point cost does not depend on ``λ`` but grows
#: super-linearly with the size, and the logistic loss needs an exponential cone per
#: sample and output, several times the cost of the squared loss's second-order cone.
#: Fitted to the measurements in :func:`choose_method`'s docstring.
AUTO_COST_MODEL = {
    ("gated_relu", "squared"): {"fast": (0.02, 5e-8, 1.0, 0.5), "exact": (0.02, 0.10, 1.35, 0.0)},
    ("gated_relu", "logistic"): {"fast": (0.02, 5e-8, 1.0, 0.25), "exact": (0.02, 0.35, 0.75, 0.8)},
    ("relu", "squared"): {"fast": (0.25, 1.4e-4, 0.5, 0.6), "exact": (0.05, 1.0, 1.6, 0.0)},
    ("relu", "logistic"): {"fast": (0.25, 1.4e-4, 0.5, 0.6), "exact": (0.05, 1.5, 1.6, 0.8)},
}

#: Factor on Clarabel's estimate per loss: with the logistic loss the exponential-cone
#: programs are also less reliable (Clarabel stopped with "InsufficientProgress" on
#: small C-ReLU logistic problems of scikit-learn's estimator checks, and missed the
#: tolerance on wine before refinement), and it was never the faster one in the
#: measurements: a logistic problem always goes to the first-order method.
AUTO_EXACT_PENALTY = {"squared": 1.0, "logistic": float("inf")}

#: C-ReLU with a penalty of the AL's plain variant (not radial, :mod:`convex_relu.al_penalized`):
#: ``"auto"`` takes the AL for the logistic loss, for penalties whose groups couple
#: neurons (``separable_over_neurons`` false) and above this size ``n·p·d̃·c``; else
#: Clarabel. Measured (1 thread, loaded 2-core machine, tol 1e-6, λ = 0.1·λ_max,
#: seconds AL / Clarabel): l1 squared 300×5×20 3.3/1.9, 200×10×50 17.7/3.3, 600×10×30
#: 11.0/39.4; feature_group squared 2.7/4.1, 3.5/39.2, 5.6/39.9; logistic 300×5×20 l1
#: 11.0/6.4, feature_group 5.0/Clarabel failed, 500×10×30 l1 15.1/14.4,
#: feature_group 5.1/failed.
AUTO_PLAIN_AL_MIN_SIZE = 150_000

#: Kept for reference: the size limits of the earlier, loss-blind rule
#: (Clarabel when ``n·p·d̃·c`` is at most this).
AUTO_EXACT_SIZE = {"gated_relu": 500_000, "relu": 100_000}


def _gated_lam_ratio(problem):
    """``λ / λ_max`` of the gated relaxation (one adjoint pass; ``inf`` when λ_max = 0)."""
    from .operators import adjoint

    G = adjoint(problem.X_tilde, problem.masks, problem.loss_grad(np.zeros_like(problem.Y)))
    lam_max = float(np.linalg.norm(G, axis=1).max()) if G.size else 0.0
    if lam_max == 0.0:
        return float("inf")
    return float(problem.lam) / lam_max


def estimated_seconds(problem):
    """``(t_fast, t_exact)``: the cost model's seconds for the first-order method and Clarabel.

    See :data:`AUTO_COST_MODEL`. ``t_fast`` is ``inf`` at ``λ = 0`` (the first-order
    methods have no sparsity to exploit and converge slowly there) and ``a`` (the
    overhead) at ``λ >= λ_max``.
    """
    size = float(problem.n * problem.p * problem.d * problem.c)
    model = AUTO_COST_MODEL[(problem.formulation, problem.loss)]
    a, k, e, beta = model["fast"]
    r = min(_gated_lam_ratio(problem), 1.0)
    t_fast = float("inf") if r <= 0 else a + k * size**e * r ** (-beta)
    a, k, alpha, gamma = model["exact"]
    t_exact = a + k * (size / 1e5) ** alpha * float(problem.c) ** gamma
    return t_fast, t_exact


def choose_method(problem):
    """The method ``"auto"`` picks for ``problem`` and a one-line reason.

    The cheaper of the first-order method of the formulation (R-FISTA for C-GReLU,
    the augmented Lagrangian for C-ReLU) and Clarabel by the cost model
    :data:`AUTO_COST_MODEL` (:func:`estimated_seconds`), which depends on the
    formulation, the **loss**, the size ``n·p·d̃·c`` and ``λ/λ_max``.

    Measured points (one thread, tol 1e-6, 50 gates, standardised data, seconds to a
    certified gap; first-order / Clarabel):

    ===============================  ====  =========  ==========  ===============
    problem                          loss  λ/λ_max    R-FISTA/AL  Clarabel
    ===============================  ====  =========  ==========  ===============
    wine, gated, c = 3 (n = 178)     log.  0.01       0.08        2.47
    breast_cancer, gated (n = 569)   log.  0.01       0.06        1.78
    diabetes, gated (n = 442)        log.  0.01       0.21        0.65
    Gaussian n = 200, gated          log.  1e-4       0.10        0.38
    diabetes, gated                  sq.   0.01       0.14        0.23
    Gaussian n = 200, gated          sq.   0.01       0.04        0.10
    Gaussian n = 200, gated          sq.   1e-4       0.58        0.15
    Gaussian n = 1000, gated         sq.   0.01       0.23        1.05
    Gaussian n = 30, gated           sq.   1e-4       0.27        0.02
    diabetes, ReLU                   sq.   0.01       0.69 (AL)   8.34
    Gaussian n = 200, ReLU           sq.   0.01       0.78 (AL)   1.03
    Gaussian n = 100, ReLU           sq.   1e-3       2.74 (AL)   0.37
    Gaussian n = 30, ReLU            sq.   1e-4       4.78 (AL)   0.10
    breast_cancer, ReLU              log.  0.01       1.33 (AL)   29.0
    ===============================  ====  =========  ==========  ===============

    So a logistic problem goes to the first-order method (Clarabel's exponential
    cones cost 3–30× more, and missed the tolerance on wine before its refinement;
    :data:`AUTO_EXACT_PENALTY`), and Clarabel is chosen for small squared-loss
    problems at small ``λ/λ_max``.
    """
    if problem.formulation == "relu":
        from .al_penalized import al_variant

        pen = getattr(problem, "penalty", None)
        if al_variant(pen) == "plain":
            # see AUTO_PLAIN_AL_MIN_SIZE for the measurements
            name = getattr(pen, "name", type(pen).__name__)
            size = problem.n * problem.p * problem.d * problem.c
            if (problem.loss == "logistic" or not getattr(pen, "separable_over_neurons", True)
                    or size > AUTO_PLAIN_AL_MIN_SIZE):
                return "al", (f"relu with penalty {name!r} (not radial): the plain augmented "
                              "Lagrangian (logistic loss, groups coupling neurons, or "
                              f"n·p·d̃·c = {size} > {AUTO_PLAIN_AL_MIN_SIZE})")
            return "clarabel", (f"relu with penalty {name!r} (not radial, neuron-separable, "
                                f"squared loss, n·p·d̃·c = {size}): the interior point is cheaper")
    t_fast, t_exact = estimated_seconds(problem)
    penalty = AUTO_EXACT_PENALTY[problem.loss]
    fast = _FAST[problem.formulation]
    size = problem.n * problem.p * problem.d * problem.c
    detail = (
        f"{problem.formulation}, {problem.loss} loss, n·p·d̃·c = {size}: estimated "
        f"{t_fast:.2g} s for {fast!r}, {t_exact:.2g} s for Clarabel"
    )
    if penalty == 1.0 and t_exact < t_fast:
        return "clarabel", detail + " (interior point is cheaper)"
    return fast, detail + f" (first-order method {fast!r} is cheaper)"


#: Relative threshold of the default clean-up of exact solutions (``cleanup=True``).
DEFAULT_EXACT_CLEANUP = 1e-7


def solve(
    problem,
    method="auto",
    *,
    tol=1e-6,
    constraint_tol=DEFAULT_CONSTRAINT_TOL,
    max_iter=None,
    verbose=False,
    warm_start=None,
    dtype=None,
    cleanup=True,
    split_outputs="auto",
    n_jobs=1,
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
    dtype : None, float64, float32 or "mixed"
        Arithmetic of the first-order methods (certificates are always float64).
        ``None``: float32 when the problem was built from float32 ``X``
        (``problem.dtype``), else float64.
    cleanup : bool or float, default True
        Exact solvers only (the first-order methods return exact zeros): zero the
        groups below ``1e-7`` (:data:`DEFAULT_EXACT_CLEANUP`; or this relative
        threshold) times the largest, by :func:`convex_relu.cvx.cleanup_solution`, so
        that the network has one neuron per group that is really active. The cleaned
        solution is a new answer with its own certificate; it is kept only when that
        certificate still meets the request (or, for a solve that was not certified
        anyway, does not have a larger relative gap). Otherwise the solution before
        the clean-up is returned: the certified optimum is never lost.
        ``info["cleanup"]`` records ``applied``, ``n_zeroed``, the objectives before
        and after and, when not applied, ``reason`` and ``relative_gap_after``.
        ``False``: the raw interior-point solution.
    split_outputs : {"auto", True, False}
        First-order methods with ``c > 1`` outputs: solve each output as its own
        problem (targets ``Y[:, k]``, loss scaling ``s = n``, ``λ_k = c·λ``; the joint
        objective is the mean of the per-output ones) with its own step sizes and
        stopping test, then certify the stacked weights on the joint problem
        (:mod:`convex_relu.split`). ``"auto"`` splits when ``c > 1`` and the penalty
        separates over outputs (``penalty.separable_over_outputs``); ``True`` raises
        ``ValueError`` for a penalty that couples outputs. Ignored by exact solvers.
        ``n_iter`` is then the total over outputs (per output in
        ``info["split_outputs"]``).
    n_jobs : int or None, default 1
        Outputs solved in parallel (joblib processes) when split; each worker gets
        ``max(1, T // workers)`` BLAS threads, ``T`` the count in effect here.
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
    threshold = _cleanup_threshold(cleanup)
    from ._validation import check_n_jobs
    from .split import check_split_outputs, should_split, solve_split

    split_outputs = check_split_outputs(split_outputs)
    n_jobs = check_n_jobs(n_jobs)
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
    if method == "al":
        from .augmented_lagrangian import check_al_penalty

        check_al_penalty(problem)
    kwargs = dict(options)
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    if should_split(problem, method, split_outputs):
        sol = solve_split(problem, method, tol=tol, constraint_tol=constraint_tol,
                          max_iter=max_iter, warm_start=warm_start, dtype=dtype,
                          verbose=verbose, n_jobs=n_jobs, options=options)
        if reason is not None:
            sol.info["auto_choice"] = method
            sol.info["auto_reason"] = reason
        return sol

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
    if method in _EXACT and threshold is not None and "cleanup" not in sol.info:
        sol = _clean_exact(sol, threshold, verbose)
    if ignored:
        sol.info["warm_start_ignored"] = True
    if reason is not None:
        sol.info["auto_choice"] = method
        sol.info["auto_reason"] = reason
    return sol


def _cleanup_threshold(cleanup):
    """``None`` (no clean-up) or the relative threshold asked for by ``cleanup=``."""
    if cleanup is False or cleanup is None:
        return None
    if cleanup is True:
        return DEFAULT_EXACT_CLEANUP
    if isinstance(cleanup, (bool, np.bool_)) or not isinstance(cleanup, (int, float, np.floating, np.integer)):
        raise InputTypeError(f"cleanup must be True, False or a relative threshold in [0, 1); got {cleanup!r}.")
    if not (np.isfinite(cleanup) and 0 <= cleanup < 1):
        raise ValueError(f"cleanup must be True, False or a relative threshold in [0, 1); got {cleanup!r}.")
    return float(cleanup)


def _clean_exact(sol, threshold, verbose=False):
    """The clean-up of an exact solution, or ``sol`` itself when it would lose the certificate.

    Zeroing groups of ~1e-9 barely moves the objective but can raise the certified
    gap above ``tol``: the dual point of the certificate is the scaled residual, and
    at an interior-point optimum many groups sit exactly on the dual constraint
    ``‖(Aᵀz)_i‖ = λ``. When that happens the cleaned weights are polished by the
    first-order method of the formulation warm-started from them (R-FISTA for
    C-GReLU; the augmented Lagrangian with the solver's cone multipliers for C-ReLU,
    at most :data:`CLEANUP_POLISH_MAX_ITER` iterations), whose proximal steps keep
    exact zeros. Every candidate is judged by :func:`convex_relu.solution.finalize`
    against the same request; the first certified one of (cleaned, polished) is
    returned, else ``sol`` itself (or the cleaned one when ``sol`` was not certified
    either and the cleaned relative gap is not larger). ``info["cleanup"]``:
    ``applied`` (bool), ``n_zeroed``, ``objective_before`` / ``objective_after``,
    ``polished_with`` (``None`` or the method) and, when not applied, ``reason``.
    """
    from .cvx import cleanup_solution

    if not sol.converged:
        # an uncertified answer is returned as the solver gave it, so that the warning
        # already issued (with its certified gap) describes what the user gets
        sol.info["cleanup"] = {"applied": False, "n_zeroed": 0, "polished_with": None,
                               "reason": "the solution is not certified; left as solved"}
        return sol
    with warnings.catch_warnings():
        # the choice below decides what is returned; its own warning would speak of
        # a solution we may not return
        warnings.simplefilter("ignore", SolverWarning)
        cleaned = cleanup_solution(sol, threshold)
    record = dict(cleaned.info["cleanup"])
    record["polished_with"] = None
    if record["n_zeroed"] == 0:
        record.update(applied=False, reason="no group below the threshold")
        sol.info["cleanup"] = record
        return sol
    if cleaned.converged:
        record["applied"] = True
        cleaned.info["cleanup"] = record
        return cleaned
    candidate = cleaned
    from .augmented_lagrangian import al_supports

    polishable = sol.problem.formulation == "gated_relu" or al_supports(
        getattr(sol.problem, "penalty", None))
    if sol.converged and polishable:
        fast = _FAST[sol.problem.formulation]
        start = _Start(cleaned.weights, sol.duals) if fast == "al" else cleaned.weights
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SolverWarning)
            polished = solve(
                sol.problem, fast, tol=float(sol.info["gap_tol"]),
                constraint_tol=float(sol.info["constraint_tol"]), warm_start=start,
                max_iter=CLEANUP_POLISH_MAX_ITER, verbose=verbose,
            )
        record["polish"] = {
            "method": fast, "status": polished.status, "n_iter": polished.n_iter,
            "relative_gap": float(polished.relative_gap),
        }
        if polished.converged:
            info = dict(sol.info)
            info.update({k: v for k, v in polished.info.items() if k not in ("cleanup",)})
            info["solver_status"] = sol.info.get("solver_status", sol.status)
            polished.info = info
            polished.solver = sol.solver
            polished.solve_time = sol.solve_time + polished.solve_time
            polished.compile_time = sol.compile_time
            polished.n_iter = sol.n_iter  # the exact solver's; the polish's are in the record
            record.update(applied=True, polished_with=fast,
                          objective_after=float(polished.objective),
                          objective_change=float(polished.objective) - record["objective_before"])
            polished.info["cleanup"] = record
            return polished
        candidate = polished if polished.relative_gap < cleaned.relative_gap else cleaned
    keep = not sol.converged and np.isfinite(candidate.relative_gap) and (
        candidate.relative_gap <= sol.relative_gap)
    if keep:
        record["applied"] = True
        candidate.info["cleanup"] = record
        return candidate
    record.update(
        applied=False,
        relative_gap_after=float(candidate.relative_gap),
        reason=(
            f"the clean-up raised the certified relative gap to {candidate.relative_gap:.3e} "
            f"(tol {sol.info.get('gap_tol', float('nan')):g}), also after a polish; the "
            "certified solution before it is returned"
        ),
    )
    sol.info["cleanup"] = record
    return sol


#: Iteration limit of the polish after a clean-up that missed ``tol``.
CLEANUP_POLISH_MAX_ITER = 5000


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
