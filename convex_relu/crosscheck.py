"""Cross-check a fast solver against an exact one, line by line, with stated tolerances.

Two solutions of the same problem are compared through quantities that *must*
agree if both solvers are right, each judged against a tolerance derived from the
certificates (so a check can fail only when something is wrong, not because a
solver stopped at its tolerance):

``fast: relative gap``, ``exact: relative gap``
    Each solution's certified relative duality gap (re-computed here with
    :func:`~convex_relu.certificates.certify`, never taken from the solver) is at
    most ``tol``.
``certificates consistent``
    Every dual bound is below every primal value: ``max(D_f, D_e) <= min(P_f, P_e)``
    (up to ``rtol``). Each dual bound is a lower bound on ``p*`` and each primal an
    upper bound, so a violation proves one certificate wrong.
``objective agreement``
    ``|P_f − P_e| <= max(gap_f, gap_e) + rtol·|P_e|`` (both ``P`` lie in
    ``[p*, p* + gap]``).
``dual points agree``
    The dual objective is strongly concave (modulus ``μ = s`` for the squared loss,
    ``4s`` for the logistic loss, ``s = n·c``), so its maximiser ``z*`` is unique and
    every dual-feasible ``z`` satisfies ``‖z − z*‖ <= r(z) = √(2(p* − D(z))/μ)``; with
    ``p* <= min(P_f, P_e)`` the two certificates' dual points must be within
    ``r_f + r_e``.
``predictions agree``
    Squared loss: ``F(u) − p* >= ‖ŷ(u) − ŷ*‖²/(2s)`` (strong convexity of the loss
    in the predictions plus optimality of ``u*``), so ``‖ŷ_f − ŷ_e‖ <=
    √(2s(P_f − D)) + √(2s(P_e − D))``, ``D`` the best dual bound. Logistic loss: not
    strongly convex, the line is informational (the dual-point line carries the
    check, since ``z* = ∇ℓ(ŷ*)`` determines ``ŷ*``).
``inactive groups (gap-safe)``
    A group whose dual constraint is certified slack at the optimum,
    ``c_g(ẑ) + L_g r(ẑ) < λ`` (``c_g`` the constraint value at the best dual point
    ``ẑ``, ``L_g = ‖D_iX̃‖₂``; for C-ReLU ``c_g = ‖Π_{K_i}(∓q_g)‖``, nonexpansive in
    ``q``), is zero in *every* optimal solution. Both solutions must have norm
    ``<= active_tol · max group norm`` there.
``cone violation`` (C-ReLU)
    Each solution's relative cone violation ``max (−Ã_iv_i)_+ / (R · max‖v_i‖)`` is
    at most ``feas_tol``: the network built from the weights realises the convex
    predictions only when this is small.
``same problem`` / ``objective as reported``
    A given solution belongs to this problem (formulation, sizes, λ, loss) and its
    stored objective equals ``problem.objective(weights)``.
``bound: …`` (C-GReLU)
    The required lines of :func:`~convex_relu.decomposition.decomposition_bound`
    (SOCP split, exact C-ReLU solve when affordable) on the fast solution when it
    is certified to ``tol`` (sparse), else on the better-certified one.

**Floors.** Every relative comparison has a scale-aware absolute floor, so that a
problem whose optimum is 0 (``y = 0``) passes: the *objective floor*
``F = 1e-12·ℓ(0)`` (``ℓ(0)`` the objective of the zero weights, ``‖Y‖²/(2s)`` or
``log 2``: the round-off of evaluating a certificate, see
:func:`convex_relu.certificates.dual_roundoff`), or ``F = 1e-12`` when ``ℓ(0) = 0``
(only for ``y = 0``). A gap counts as met when ``gap <= max(tol·|P|, F)``; a
solution whose objective is ``<= F`` is numerically the zero solution and its group
norms and cone violation are not judged relative to its own (noise-sized) largest
group; a group with ``λ‖u_g‖ <= F`` is negligible.

**Exact reference.** When this function solves the exact reference itself and its
certified gap misses ``tol``, it re-solves with a 100× tighter solver tolerance, at
most ``exact_retries`` times (down to :data:`EXACT_TOL_FLOOR`), and keeps the best
certified solve; the line ``exact: tightening`` lists each attempt.

**Claim.** The report ends with the claim of :func:`convex_relu.claims.claim` for the
better-certified of the two solutions, judged at ``tol``.

Informational lines (never failing): the relative distance of the weights, the
agreement of the active groups, the solve times. **Why the weights are not a
pass/fail check**: a group lasso has a unique optimum only when the stacked
columns of the active groups are linearly independent; with ``p·d̃`` columns
(often far more than ``n``) the optimal set is typically a face of positive
dimension, and an interior-point method returns a point near the middle of it
while a proximal method returns a sparse vertex-like point. Both are optimal; only
the predictions (strictly convex loss) and the dual point are unique, and those
are checked. The active sets differ for the same reason; what *is* certain — the
groups that are zero in every optimum — is checked by the gap-safe line.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from .decomposition import Check, _check, _format_checks, _json_float

__all__ = ["CrossCheckReport", "crosscheck", "objective_floor", "EXACT_SOLVERS", "EXACT_TOL_FLOOR"]

EXACT_SOLVERS = ("clarabel", "scs", "mosek")

#: Tightest solver tolerance the automatic tightening of the exact reference asks for.
EXACT_TOL_FLOOR = 1e-13

#: Relative size of the objective floor: ``F = OBJECTIVE_FLOOR·ℓ(0)``.
OBJECTIVE_FLOOR = 1e-12

#: The objective floor when ``ℓ(0) = 0`` (``y = 0``: the optimum is exactly 0).
ABSOLUTE_FLOOR = 1e-12


@dataclass
class CrossCheckReport:
    """Result of :func:`crosscheck`.

    Attributes
    ----------
    problem : GatedReLUProblem or ReLUProblem
    fast, exact : Solution
    lines : list of Check
        Every line (``checks`` is an alias). ``passed`` is ``None`` for an
        informational line.
    bound : BoundReport or None
        C-GReLU only.
    tol, rtol, active_tol, feas_tol : float
        The tolerances the lines were judged with.
    times : dict
        Seconds: the two solves (as reported by the solvers, compile + solve) and the
        checks.
    """

    problem: object
    fast: object
    exact: object
    lines: list
    bound: object = None
    tol: float = 1e-6
    rtol: float = 1e-6
    active_tol: float = 1e-3
    feas_tol: float = 1e-6
    times: dict = field(default_factory=dict)
    floor: float = 0.0
    claim: object = None

    @property
    def checks(self):
        return self.lines

    @property
    def failed_lines(self):
        return [c for c in self.lines if c.passed is False]

    @property
    def passed(self):
        return not self.failed_lines

    def line(self, name):
        """The line called ``name`` (``KeyError`` if absent)."""
        for c in self.lines:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self):
        pr = self.problem
        return {
            "passed": self.passed,
            "failed": [c.name for c in self.failed_lines],
            "problem": {
                "formulation": pr.formulation,
                "n": pr.n,
                "d": pr.d,
                "c": pr.c,
                "p": pr.p,
                "lam": pr.lam,
                "loss": pr.loss,
            },
            "fast": _solution_summary(self.fast),
            "exact": _solution_summary(self.exact),
            "tolerances": {
                "tol": self.tol,
                "rtol": self.rtol,
                "active_tol": self.active_tol,
                "feas_tol": self.feas_tol,
            },
            "lines": [c.to_dict() for c in self.lines],
            "bound": None if self.bound is None else self.bound.to_dict(),
            "times": {k: _json_float(v) for k, v in self.times.items()},
            "floor": self.floor,
            "claim_level": None if self.claim is None else self.claim.level,
            "claim": None if self.claim is None else self.claim.sentence,
        }

    def __str__(self):
        pr = self.problem
        name = "C-ReLU" if pr.formulation == "relu" else "C-GReLU"
        head = [
            f"Cross-check: {name}, n = {pr.n}, d̃ = {pr.d}, c = {pr.c}, p = {pr.p}, "
            f"λ = {pr.lam:g}, loss = {pr.loss}",
            f"  fast  {_describe(self.fast)}",
            f"  exact {_describe(self.exact)}",
            f"  tolerances: tol = {self.tol:g} (relative gap), rtol = {self.rtol:g}, "
            f"active_tol = {self.active_tol:g}, feas_tol = {self.feas_tol:g}, "
            f"objective floor = {self.floor:.1e}",
            "",
        ]
        body = _format_checks(self.lines)
        bad = [c.name for c in self.failed_lines]
        tail = ["", "RESULT: " + ("PASS" if not bad else "FAIL — failing lines: " + "; ".join(bad))]
        if self.claim is not None:
            tail.append("CLAIM: " + self.claim.sentence)
        return "\n".join(head + body + tail)


def _describe(sol):
    own = (getattr(sol, "info", None) or {}).get("solver_status", sol.status)
    said = "" if own == sol.status else f" (solver reported {own})"
    return (
        f"{sol.solver}: status {sol.status}{said}, objective {sol.objective:.10g}, "
        f"{sol.n_iter} iterations, {sol.compile_time + sol.solve_time:.3g} s"
    )


def _solution_summary(sol):
    return {
        "solver": sol.solver,
        "status": sol.status,
        "solver_status": (getattr(sol, "info", None) or {}).get("solver_status", sol.status),
        "converged": bool(sol.converged),
        "objective": _json_float(sol.objective),
        "n_iter": None if sol.n_iter is None else int(sol.n_iter),
        "time": _json_float(sol.compile_time + sol.solve_time),
    }


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _positive(name, value, *, allow_zero=False):
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0; got {value!r}.")
    return float(value)


def _default_fast(problem):
    return "rfista" if problem.formulation == "gated_relu" else "al"


def fast_support(problem, method=None):
    """``(supported, reason)``: whether the first-order ``method`` (default the
    formulation's: R-FISTA for C-GReLU, the AL for C-ReLU) solves ``problem`` with its
    penalty. R-FISTA takes every penalty (it asks the penalty for its prox); so does the
    AL (:func:`convex_relu.augmented_lagrangian.al_supports`: the face variant for radial,
    neuron-separable penalties, the plain variant of :mod:`convex_relu.al_penalized`
    for ``l1``, ``feature_group`` and other penalties)."""
    method = _default_fast(problem) if method in (None, "auto") else method
    pen = getattr(problem, "penalty", None)
    name = getattr(pen, "name", "neuron_group")
    if method == "al" and problem.formulation == "relu":
        from .augmented_lagrangian import al_supports

        if not al_supports(pen):
            return False, (f"the fast method 'al' (augmented Lagrangian) does not support the "
                           f"{name} penalty on C-ReLU (it needs a radial penalty: neuron_group, "
                           "l2, group_elastic_net), so there is no fast solution to cross-check; "
                           "certify the exact solution alone, or use the gated program "
                           "(R-FISTA supports every penalty)")
    return True, f"{method} supports the {name} penalty"


def objective_floor(problem):
    """The absolute floor ``F`` of the objective comparisons (see the module docstring).

    ``F = 1e-12·ℓ(0)`` with ``ℓ(0)`` the objective at zero weights; ``1e-12`` when
    ``ℓ(0) = 0`` (squared loss with ``y = 0``, where ``p* = 0``).
    """
    ell0 = float(problem.loss_value(np.zeros_like(problem.Y)))
    return OBJECTIVE_FLOOR * ell0 if ell0 > 0 else ABSOLUTE_FLOOR


def _gap_met(cert, tol, floor):
    """``gap <= max(tol·|P|, F)`` (finite values only)."""
    gap, primal = float(cert.gap), float(cert.primal)
    return math.isfinite(gap) and math.isfinite(primal) and gap <= max(tol * abs(primal), floor)


def _floored_relative_gap(cert, tol, floor):
    """``gap / max(|P|, F/tol)``: ``<= tol`` exactly when :func:`_gap_met`."""
    return float(cert.gap) / max(abs(float(cert.primal)), floor / tol, np.finfo(float).tiny)


def _solve_reference(problem, solver, *, tol, exact_tol, retries, floor):
    """Solve the exact reference, tightening the solver tolerance while the gap misses ``tol``.

    Returns ``(solution, log)`` where ``log`` lists ``(solver tol, certified relative
    gap, solver's own status)`` per attempt. Warnings of attempts that were superseded
    are dropped; those of the kept attempt are re-issued when it still misses ``tol``.
    """
    from .certificates import certify
    from .cvx import DEFAULT_TOL, solve_exact

    kwargs = {}
    if "gap_tol" in inspect.signature(solve_exact).parameters:
        kwargs["gap_tol"] = tol
    t = DEFAULT_TOL[solver] if exact_tol is None else exact_tol
    best = None
    log = []
    for attempt in range(retries + 1):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sol = solve_exact(problem, solver=solver, tol=t, **kwargs)
        cert = certify(problem, problem.check_weights(sol.weights, "exact weights"))
        info = getattr(sol, "info", None) or {}
        own = info.get("solver_status", sol.status)
        said = str(own)
        if info.get("resolves"):
            said += f"; {info['resolves']} re-solve(s) inside solve_exact"
        if info.get("polished_with"):
            said += f"; polished with {info['polished_with']}"
        log.append((t, float(cert.relative_gap), said))
        if best is None or (math.isfinite(cert.gap) and not cert.gap >= best[1].gap):
            best = (sol, cert, caught)
        if _gap_met(best[1], tol, floor):
            break
        if own in ("user_limit", "max_iter") or t <= EXACT_TOL_FLOOR:
            break  # an iteration limit is not cured by a tighter tolerance
        t = max(t * 1e-2, EXACT_TOL_FLOOR)
    sol, cert, caught = best
    if not _gap_met(cert, tol, floor):
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return sol, log


def _obtain(problem, spec, which, *, tol, max_iter, exact_tol=None, retries=0, floor=0.0):
    """A Solution for ``spec`` (a Solution, a method name, or None/"auto")."""
    from .solution import Solution

    if isinstance(spec, Solution):
        W = np.asarray(spec.weights)
        if W.shape != problem.weights_shape:
            raise ValueError(
                f"{which} solution has weights of shape {W.shape}; the problem needs "
                f"{problem.weights_shape}."
            )
        return spec, "given", []
    if which == "exact":
        if not isinstance(spec, str) or spec.lower() not in EXACT_SOLVERS:
            raise ValueError(f"exact must be one of {EXACT_SOLVERS} or a Solution; got {spec!r}.")
        sol, log = _solve_reference(problem, spec.lower(), tol=tol, exact_tol=exact_tol,
                                    retries=retries, floor=floor)
        return sol, "solved", log
    if spec is None or spec == "auto":
        spec = _default_fast(problem)
    if not isinstance(spec, str):
        raise ValueError(f"fast must be None, 'auto', a method name or a Solution; got {spec!r}.")
    ok, why = fast_support(problem, spec)
    if not ok:
        raise ValueError(f"fast={spec!r}: {why}.")
    from .solvers import solve

    kwargs = {"method": spec, "tol": tol}
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    return solve(problem, **kwargs), "solved", []


def _problem_mismatch(problem, sol):
    """Human-readable differences between ``problem`` and the one ``sol`` was solved for."""
    other = getattr(sol, "problem", None)
    if other is None or other is problem:
        return []
    diffs = []
    for attr in ("formulation", "loss", "n", "d", "c", "p", "lam"):
        a, b = getattr(problem, attr, None), getattr(other, attr, None)
        if a != b:
            diffs.append(f"{attr} {b!r} vs {a!r}")
    if not diffs:
        same_data = (
            np.array_equal(problem.X_tilde, other.X_tilde)
            and np.array_equal(problem.Y, other.Y)
            and np.array_equal(problem.masks, other.masks)
        )
        if not same_data:
            diffs.append("data or patterns differ")
    return diffs


def _pattern_lipschitz(problem):
    """``L_i = ‖D_iX̃‖₂`` for every pattern (largest eigenvalue of ``X̃ᵀD_iX̃``)."""
    Xt = problem.X_tilde
    G = np.einsum("np,ni,nj->pij", problem.masks, Xt, Xt, optimize=True)
    return np.sqrt(np.maximum(np.linalg.eigvalsh(G)[:, -1], 0.0))


def _constraint_values(problem, z):
    """Dual-constraint values at ``z``: ``(c, p)`` for C-GReLU, ``(2, c, p)`` for C-ReLU."""
    from .certificates import dual_constraint_values

    return dual_constraint_values(problem, z)


def _group_norms(problem, W):
    # (c, p) for C-GReLU, (2, c, p) for C-ReLU
    return np.linalg.norm(W, axis=-2)


def _strong_concavity(problem):
    return problem.s * (1.0 if problem.loss == "squared" else 4.0)


# ---------------------------------------------------------------------------
# the cross-check
# ---------------------------------------------------------------------------


def crosscheck(
    problem,
    fast=None,
    exact="clarabel",
    *,
    tol=1e-6,
    rtol=1e-6,
    active_tol=1e-3,
    feas_tol=1e-6,
    max_iter=None,
    bound=True,
    bound_exact_relu="auto",
    exact_tol=None,
    exact_retries=3,
    floor=None,
):
    """Compare a fast and an exact solution of ``problem``; see the module docstring.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    fast : None, "auto", str or Solution
        ``None``/``"auto"``: ``solve(problem, method="rfista")`` for C-GReLU,
        ``"al"`` for C-ReLU; a method name is passed to
        :func:`convex_relu.solvers.solve` with ``tol``; a Solution is used as given.
    exact : {"clarabel", "scs", "mosek"} or Solution
        Solved with :func:`convex_relu.cvx.solve_exact` at solver tolerance
        ``exact_tol``, tightened automatically (``exact_retries``) while its certified
        gap misses ``tol``. A given Solution is used as given.
    tol : float
        Relative duality gap asked of the fast solver and required of both
        certificates (with the objective floor).
    rtol : float
        Relative slack for round-off in the comparisons (objectives, dual points,
        predictions, reported objectives).
    active_tol : float
        A group counts as active when its norm exceeds ``active_tol`` times the
        largest group norm of its solution.
    feas_tol : float
        Allowed relative cone violation (C-ReLU).
    max_iter : int, optional
        Passed to the fast solver.
    bound : bool
        C-GReLU: add the decomposition bound's lines.
    bound_exact_relu : None, "auto" or Solution
        Passed to :func:`~convex_relu.decomposition.decomposition_bound`.
    exact_tol : float, optional
        First solver tolerance of the exact reference (default: the solver's default,
        :data:`convex_relu.cvx.DEFAULT_TOL`).
    exact_retries : int >= 0
        At most this many re-solves of the exact reference, each at a 100× tighter
        solver tolerance (not below :data:`EXACT_TOL_FLOOR`), while its certified gap
        misses ``tol``. 0 disables the tightening.
    floor : float >= 0, optional
        Absolute objective floor ``F``; default :func:`objective_floor`.

    Returns
    -------
    CrossCheckReport
        ``passed`` is true when no line fails; ``claim`` the graded claim
        (:func:`convex_relu.claims.claim`) of the better-certified solution.
    """
    from .certificates import certify
    from .claims import claim as make_claim
    from .problems import GatedReLUProblem, ReLUProblem

    if not isinstance(problem, (GatedReLUProblem, ReLUProblem)):
        raise ValueError(
            f"problem must be a GatedReLUProblem or ReLUProblem; got {type(problem).__name__}."
        )
    tol = _positive("tol", tol)
    rtol = _positive("rtol", rtol, allow_zero=True)
    active_tol = _positive("active_tol", active_tol, allow_zero=True)
    feas_tol = _positive("feas_tol", feas_tol, allow_zero=True)
    if exact_tol is not None:
        exact_tol = _positive("exact_tol", exact_tol)
    if (isinstance(exact_retries, bool) or not isinstance(exact_retries, (int, np.integer))
            or exact_retries < 0):
        raise ValueError(f"exact_retries must be an integer >= 0; got {exact_retries!r}.")
    floor = objective_floor(problem) if floor is None else _positive("floor", floor, allow_zero=True)
    t_all = time.perf_counter()

    if fast is None or isinstance(fast, str):
        # refuse before the (costly) exact solve when the fast method cannot run
        ok, why = fast_support(problem, fast)
        if not ok:
            raise ValueError(f"fast={fast!r}: {why}.")
    exact_sol, exact_how, exact_log = _obtain(
        problem, exact, "exact", tol=tol, max_iter=None, exact_tol=exact_tol,
        retries=int(exact_retries), floor=floor,
    )
    fast_sol, fast_how, _ = _obtain(problem, fast, "fast", tol=tol, max_iter=max_iter)

    t0 = time.perf_counter()
    sols = {"fast": fast_sol, "exact": exact_sol}
    # each solver's cone multipliers (C-ReLU) make the bound of the non-radial penalties
    # tight; certify ignores them where a closed form exists, and any γ >= 0 is valid
    def _cert(k, s):
        W = problem.check_weights(s.weights, f"{k} weights")
        m = _duals(problem, s) if not getattr(problem.penalty, "radial", True) else None
        return certify(problem, W) if m is None else certify(problem, W, multipliers=m)

    certs = {k: _cert(k, s) for k, s in sols.items()}
    pen = getattr(problem, "penalty", None)
    pen_name = getattr(pen, "name", "neuron_group")
    neuron_group = pen_name == "neuron_group"
    lines = []

    # the solutions belong to this problem -------------------------------------------
    for key, sol in sols.items():
        diffs = _problem_mismatch(problem, sol)
        lines.append(
            _check(f"{key}: same problem", float(len(diffs)), 0.0,
                   detail="; ".join(diffs) if diffs else "formulation, sizes, λ, loss and data match")
        )
    for key, sol in sols.items():
        recomputed = problem.objective(sol.weights)
        diff = abs(float(sol.objective) - recomputed)
        lines.append(
            _check(f"{key}: objective as reported", diff, max(rtol * abs(recomputed), floor),
                   detail=f"reported {float(sol.objective):.10g}, recomputed {recomputed:.10g}")
        )

    # certificates ---------------------------------------------------------------------
    P = {k: c.primal for k, c in certs.items()}
    D = {k: c.dual for k, c in certs.items()}
    # a solution whose objective is below the floor is numerically the zero solution
    negligible = {k: math.isfinite(P[k]) and abs(P[k]) <= floor for k in sols}
    for key in sols:
        c = certs[key]
        lines.append(
            _check(f"{key}: relative gap", _floored_relative_gap(c, tol, floor), tol,
                   detail=f"P = {c.primal:.10g}, D = {c.dual:.10g}, gap = {c.gap:.2e} "
                          f"(gap / max(|P|, F/tol), F = {floor:.1e})")
        )
    if exact_log:
        lines.append(
            _check("exact: tightening", float(len(exact_log) - 1), None, required=False,
                   detail="; ".join(f"solver tol {t:.0e} → relative gap {g:.2e} ({own})"
                                    for t, g, own in exact_log))
        )
    p_min, d_max = min(P.values()), max(D.values())
    scale = max(abs(p_min), abs(d_max), 1e-300)
    lines.append(
        _check("certificates consistent", d_max - p_min, rtol * scale + floor,
               detail=f"max dual {d_max:.10g} <= min primal {p_min:.10g}")
    )
    gap_f, gap_e = certs["fast"].gap, certs["exact"].gap
    lines.append(
        _check("objective agreement", abs(P["fast"] - P["exact"]),
               max(gap_f, gap_e, 0.0) + rtol * scale + floor,
               detail="|P_fast − P_exact|, allowed max(gap_fast, gap_exact) + rtol·|P| + F")
    )

    # dual points and predictions ------------------------------------------------------
    mu = _strong_concavity(problem)
    radius = {k: math.sqrt(2.0 * max(p_min - D[k], 0.0) / mu) for k in sols}
    z_f, z_e = certs["fast"].dual_point, certs["exact"].dual_point
    z_scale = max(float(np.linalg.norm(z_e)), float(np.linalg.norm(z_f)), 1e-300)
    lines.append(
        _check("dual points agree", float(np.linalg.norm(z_f - z_e)),
               radius["fast"] + radius["exact"] + rtol * z_scale,
               detail=f"‖z_fast − z_exact‖ <= r_fast + r_exact = {radius['fast']:.2e} + {radius['exact']:.2e}")
    )
    pred = {k: problem.predict(certs[k].weights if certs[k].weights is not None else sols[k].weights)
            for k in sols}
    pdist = float(np.linalg.norm(pred["fast"] - pred["exact"]))
    pnorm = max(float(np.linalg.norm(pred["exact"])), float(np.linalg.norm(pred["fast"])), 1e-300)
    if problem.loss == "squared":
        allowed = sum(math.sqrt(2.0 * problem.s * max(P[k] - d_max, 0.0)) for k in sols) + rtol * pnorm
        lines.append(
            _check("predictions agree", pdist / pnorm, allowed / pnorm,
                   detail="relative ‖ŷ_fast − ŷ_exact‖; allowed from strong convexity and the gaps")
        )
    else:
        lines.append(
            _check("predictions agree", pdist / pnorm, None, required=False,
                   detail="relative; logistic loss is not strongly convex (see dual points)")
        )

    # weights and support ---------------------------------------------------------------
    Wf, We = np.asarray(fast_sol.weights), np.asarray(exact_sol.weights)
    wdist = float(np.linalg.norm(Wf - We)) / max(float(np.linalg.norm(We)), 1e-300)
    lines.append(
        _check("weights distance", wdist, None, required=False,
               detail="relative; optima of a group lasso need not be unique")
    )
    norms = {k: _group_norms(problem, np.asarray(s.weights)) for k, s in sols.items()}
    active = {}
    for k, nrm in norms.items():
        top = float(nrm.max()) if nrm.size else 0.0
        active[k] = nrm > active_tol * top if top > 0 else np.zeros(nrm.shape, dtype=bool)
    both = int((active["fast"] & active["exact"]).sum())
    only_f = int((active["fast"] & ~active["exact"]).sum())
    only_e = int((~active["fast"] & active["exact"]).sum())
    lines.append(
        _check("active groups differ", float(only_f + only_e), None, required=False,
               detail=f"active in both {both}, only fast {only_f}, only exact {only_e} "
                      f"(threshold {active_tol:g}·max norm)")
    )

    best = "fast" if D["fast"] >= D["exact"] else "exact"
    r_best = radius[best]
    if neuron_group:
        _gap_safe(problem, certs, best, r_best, norms, negligible, floor, active_tol, sols, lines)
    else:
        lines.append(_check("inactive groups (gap-safe)", 0.0, None, required=False,
                            detail=f"not available for the {pen_name} penalty (the screening "
                                   "rule c_g + L_g r < λ is the neuron-group one)"))
    _cone_lines(problem, sols, norms, negligible, P, floor, feas_tol, lines)
    return _finish(problem, sols, certs, lines, fast_sol, exact_sol, fast_how, exact_how, t0, t_all,
                   bound and neuron_group, bound_exact_relu, tol, rtol, active_tol, feas_tol, floor,
                   pen_name, bound)


def _duals(problem, sol):
    if problem.formulation != "relu":
        return None
    d = getattr(sol, "duals", None)
    if d is None:
        return None
    d = np.asarray(d, dtype=float)
    return d if d.shape == (2, problem.n, problem.c, problem.p) else None


def _gap_safe(problem, certs, best, r_best, norms, negligible, floor, active_tol, sols, lines):
    cvals = np.asarray(_constraint_values(problem, certs[best].dual_point))
    L = _pattern_lipschitz(problem)  # (p,)
    screened = cvals + L * r_best < problem.lam  # (c, p) or (2, c, p)
    # a group with λ‖u_g‖ <= F is negligible: floor the reference norm at F/(λ·active_tol)
    w_floor = floor / (problem.lam * active_tol) if problem.lam > 0 and active_tol > 0 else 0.0
    worst = 0.0
    for k, nrm in norms.items():
        top = max(float(nrm.max()) if nrm.size else 0.0, w_floor)
        if top > 0 and screened.any() and not negligible[k]:
            worst = max(worst, float(nrm[screened].max()) / top)
    exempt = [k for k in sols if negligible[k]]
    lines.append(
        _check("inactive groups (gap-safe)", worst, active_tol,
               detail=f"{int(screened.sum())} of {screened.size} groups certified zero at every "
                      f"optimum; largest of them / max(max norm, F/(λ·active_tol))"
                      + (f"; {' and '.join(exempt)} exempt (objective <= F)" if exempt else ""))
    )


def _cone_lines(problem, sols, norms, negligible, P, floor, feas_tol, lines):
    # cone feasibility ------------------------------------------------------------------
    if problem.formulation == "relu":
        R = float(np.linalg.norm(problem.X_tilde, axis=1).max())
        for key, sol in sols.items():
            viol = problem.cone_violation(sol.weights)
            top = float(norms[key].max()) if norms[key].size else 0.0
            rel = viol / (R * top) if R * top > 0 else 0.0
            if negligible[key]:
                lines.append(Check(f"{key}: cone violation", float(rel), feas_tol, True,
                                   f"relative; absolute {viol:.2e}; exempt: objective "
                                   f"{P[key]:.2e} <= F = {floor:.1e} (numerically zero weights)"))
            else:
                lines.append(
                    _check(f"{key}: cone violation", rel, feas_tol,
                           detail=f"relative; absolute {viol:.2e}")
                )


def _finish(problem, sols, certs, lines, fast_sol, exact_sol, fast_how, exact_how, t0, t_all,
            bound, bound_exact_relu, tol, rtol, active_tol, feas_tol, floor, pen_name, bound_asked):
    from .claims import claim as make_claim

    # times -----------------------------------------------------------------------------
    times = {
        "fast_solve": float(fast_sol.compile_time + fast_sol.solve_time),
        "exact_solve": float(exact_sol.compile_time + exact_sol.solve_time),
    }
    for key in sols:
        how = fast_how if key == "fast" else exact_how
        lines.append(
            _check(f"{key}: time (s)", times[f"{key}_solve"], None, required=False,
                   detail=f"{sols[key].solver}, {how}; compile {sols[key].compile_time:.3g} s + "
                          f"solve {sols[key].solve_time:.3g} s")
        )
    times["checks"] = time.perf_counter() - t0

    # the decomposition bound (C-GReLU) ---------------------------------------------------
    bound_report = None
    if bound and problem.formulation == "gated_relu":
        from .decomposition import decomposition_bound

        t0 = time.perf_counter()
        # the fast solution when it is certified to tol: first-order output is sparse,
        # while interior-point output has every group ~1e-9 and inflates |D̃|
        if _gap_met(certs["fast"], tol, floor) or certs["fast"].gap <= certs["exact"].gap:
            best_gap = "fast"
        else:
            best_gap = "exact"
        bound_report = decomposition_bound(
            problem, sols[best_gap].weights, "socp", exact_relu=bound_exact_relu
        )
        for c in bound_report.checks:
            if c.passed is not None:
                lines.append(Check(f"bound: {c.name}", c.value, c.tolerance, c.passed, c.detail))
        lines.append(
            _check("bound: κ̂ (realised) vs κ̄ (a priori)", bound_report.kappa_hat, None, required=False,
                   detail=f"κ̂ = {bound_report.kappa_hat:.4g}, κ̄ = {bound_report.kappa_bar:.4g}, "
                          f"|D̃| = {bound_report.n_split}, S̃ = {bound_report.s_tilde:.4g}, "
                          f"p_CD = {bound_report.p_cd:.10g}, weights of the {best_gap} solution")
        )
        times["bound"] = time.perf_counter() - t0
    elif bound_asked and problem.formulation == "gated_relu":
        lines.append(_check("bound: cone decomposition", 0.0, None, required=False,
                            detail=f"not available for the {pen_name} penalty (the bound is "
                                   "derived for the neuron-group program)"))
    times["total"] = time.perf_counter() - t_all

    # the claim: of the better-certified solution, judged at tol --------------------------
    def _key(k):
        g = certs[k].gap
        return g if math.isfinite(g) else math.inf

    chosen = min(sols, key=_key)
    model = "network" if problem.formulation == "relu" else "gated model"
    report_claim = make_claim(problem, certs[chosen], tol=tol,
                              subject=f"the {model} of the {chosen} solution ({sols[chosen].solver})")

    return CrossCheckReport(
        problem=problem,
        fast=fast_sol,
        exact=exact_sol,
        lines=lines,
        bound=bound_report,
        tol=tol,
        rtol=rtol,
        active_tol=active_tol,
        feas_tol=feas_tol,
        times=times,
        floor=floor,
        claim=report_claim,
    )
