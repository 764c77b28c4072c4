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

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .decomposition import Check, _check, _format_checks, _json_float

__all__ = ["CrossCheckReport", "crosscheck", "add_cli"]

EXACT_SOLVERS = ("clarabel", "scs", "mosek")


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
            f"active_tol = {self.active_tol:g}, feas_tol = {self.feas_tol:g}",
            "",
        ]
        body = _format_checks(self.lines)
        bad = [c.name for c in self.failed_lines]
        tail = ["", "RESULT: " + ("PASS" if not bad else "FAIL — failing lines: " + "; ".join(bad))]
        return "\n".join(head + body + tail)


def _describe(sol):
    return (
        f"{sol.solver}: status {sol.status}, objective {sol.objective:.10g}, "
        f"{sol.n_iter} iterations, {sol.compile_time + sol.solve_time:.3g} s"
    )


def _solution_summary(sol):
    return {
        "solver": sol.solver,
        "status": sol.status,
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


def _obtain(problem, spec, which, *, tol, max_iter):
    """A Solution for ``spec`` (a Solution, a method name, or None/"auto")."""
    from .solution import Solution

    if isinstance(spec, Solution):
        W = np.asarray(spec.weights)
        if W.shape != problem.weights_shape:
            raise ValueError(
                f"{which} solution has weights of shape {W.shape}; the problem needs "
                f"{problem.weights_shape}."
            )
        return spec, "given"
    if which == "exact":
        if not isinstance(spec, str) or spec.lower() not in EXACT_SOLVERS:
            raise ValueError(f"exact must be one of {EXACT_SOLVERS} or a Solution; got {spec!r}.")
        from .cvx import solve_exact

        return solve_exact(problem, solver=spec.lower()), "solved"
    if spec is None or spec == "auto":
        spec = _default_fast(problem)
    if not isinstance(spec, str):
        raise ValueError(f"fast must be None, 'auto', a method name or a Solution; got {spec!r}.")
    from .solvers import solve

    kwargs = {"method": spec, "tol": tol}
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    return solve(problem, **kwargs), "solved"


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
        Solved with :func:`convex_relu.cvx.solve_exact` at its default tolerance.
    tol : float
        Relative duality gap asked of the fast solver and required of both
        certificates.
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

    Returns
    -------
    CrossCheckReport
        ``passed`` is true when no line fails.
    """
    from .certificates import certify
    from .problems import GatedReLUProblem, ReLUProblem

    if not isinstance(problem, (GatedReLUProblem, ReLUProblem)):
        raise ValueError(
            f"problem must be a GatedReLUProblem or ReLUProblem; got {type(problem).__name__}."
        )
    tol = _positive("tol", tol)
    rtol = _positive("rtol", rtol, allow_zero=True)
    active_tol = _positive("active_tol", active_tol, allow_zero=True)
    feas_tol = _positive("feas_tol", feas_tol, allow_zero=True)
    t_all = time.perf_counter()

    exact_sol, exact_how = _obtain(problem, exact, "exact", tol=tol, max_iter=None)
    fast_sol, fast_how = _obtain(problem, fast, "fast", tol=tol, max_iter=max_iter)

    t0 = time.perf_counter()
    sols = {"fast": fast_sol, "exact": exact_sol}
    certs = {k: certify(problem, problem.check_weights(s.weights, f"{k} weights")) for k, s in sols.items()}
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
            _check(f"{key}: objective as reported", diff, rtol * max(abs(recomputed), 1e-300),
                   detail=f"reported {float(sol.objective):.10g}, recomputed {recomputed:.10g}")
        )

    # certificates ---------------------------------------------------------------------
    P = {k: c.primal for k, c in certs.items()}
    D = {k: c.dual for k, c in certs.items()}
    for key in sols:
        c = certs[key]
        lines.append(
            _check(f"{key}: relative gap", c.relative_gap, tol,
                   detail=f"P = {c.primal:.10g}, D = {c.dual:.10g}, gap = {c.gap:.2e}")
        )
    p_min, d_max = min(P.values()), max(D.values())
    scale = max(abs(p_min), abs(d_max), 1e-300)
    lines.append(
        _check("certificates consistent", d_max - p_min, rtol * scale,
               detail=f"max dual {d_max:.10g} <= min primal {p_min:.10g}")
    )
    gap_f, gap_e = certs["fast"].gap, certs["exact"].gap
    lines.append(
        _check("objective agreement", abs(P["fast"] - P["exact"]),
               max(gap_f, gap_e, 0.0) + rtol * scale,
               detail=f"|P_fast − P_exact|, allowed max(gap_fast, gap_exact) + rtol·|P|")
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
    pnorm = max(float(np.linalg.norm(pred["exact"])), 1e-300)
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
    cvals = np.asarray(_constraint_values(problem, certs[best].dual_point))
    L = _pattern_lipschitz(problem)  # (p,)
    screened = cvals + L * r_best < problem.lam  # (c, p) or (2, c, p)
    worst = 0.0
    for k, nrm in norms.items():
        top = float(nrm.max()) if nrm.size else 0.0
        if top > 0 and screened.any():
            worst = max(worst, float(nrm[screened].max()) / top)
    lines.append(
        _check("inactive groups (gap-safe)", worst, active_tol,
               detail=f"{int(screened.sum())} of {screened.size} groups certified zero at every "
                      f"optimum; largest of them / max norm")
    )

    # cone feasibility ------------------------------------------------------------------
    if problem.formulation == "relu":
        R = float(np.linalg.norm(problem.X_tilde, axis=1).max())
        for key, sol in sols.items():
            viol = problem.cone_violation(sol.weights)
            top = float(norms[key].max()) if norms[key].size else 0.0
            rel = viol / (R * top) if R * top > 0 else 0.0
            lines.append(
                _check(f"{key}: cone violation", rel, feas_tol,
                       detail=f"relative; absolute {viol:.2e}")
            )

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
        if certs["fast"].relative_gap <= tol or certs["fast"].gap <= certs["exact"].gap:
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
    times["total"] = time.perf_counter() - t_all

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
    )


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


def add_cli(subparsers, add_data_args, load, make_problem_from_args):
    """Register ``convex-relu crosscheck`` (called by :func:`convex_relu.cli.build_parser`)."""
    p = subparsers.add_parser(
        "crosscheck",
        help="solve with a fast and an exact solver and check that they agree",
        description=(
            "Solve the problem with a fast first-order method and an exact conic solver, "
            "certify both, and compare objectives, dual points, predictions, inactive "
            "groups, cone feasibility and (gated) the cone-decomposition bound. Exit "
            "status 1 when a check fails."
        ),
    )
    add_data_args(p)
    p.add_argument("--fast", default="auto",
                   help="fast method passed to convex_relu.solvers.solve (default: rfista for "
                        "gated_relu, al for relu)")
    p.add_argument("--exact", default="clarabel", choices=EXACT_SOLVERS, help="exact conic solver")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="relative duality gap asked of the fast solver and required of both (1e-6)")
    p.add_argument("--rtol", type=float, default=1e-6,
                   help="relative round-off slack of the comparisons (1e-6)")
    p.add_argument("--max-iter", type=int, default=None, help="iteration limit of the fast solver")
    p.add_argument("--no-bound", dest="bound", action="store_false",
                   help="skip the cone-decomposition bound (gated problems)")

    def handler(args):
        import json

        from .cli import CLIError

        X, y, desc = load(args)
        problem = make_problem_from_args(args, X, y)
        try:
            report = crosscheck(
                problem, fast=args.fast, exact=args.exact, tol=args.tol, rtol=args.rtol,
                max_iter=args.max_iter, bound=args.bound,
            )
        except (ValueError, RuntimeError, ImportError) as exc:
            raise CLIError(str(exc)) from None
        if args.json:
            out = report.to_dict()
            out["data"] = desc
            print(json.dumps(out, indent=2))
        else:
            print(f"data: {desc}")
            print(report)
        return 0 if report.passed else 1

    p.set_defaults(func=handler)
    return p
