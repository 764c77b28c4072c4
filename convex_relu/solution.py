"""What every solver returns, and the one rule that decides its flags.

The rule (:func:`finalize`), applied by every solver and by :func:`convex_relu.solve`:

    converged  ⇔  status == "optimal"
               ⇔  certify(problem, raw_weights).relative_gap <= tol
                  and (C-ReLU) relative_violation(problem, raw_weights) <= constraint_tol.

A solver's own "optimal" is evidence to check, never the result: when it said optimal
but the certificate misses the request, the status is ``"inaccurate"``; any other
status of its own (``"max_iter"``, ``"precision_limit"``, ``"user_limit"``, …) is kept.
Whenever ``converged`` is false a :class:`SolverWarning` (a
:class:`ConvergenceWarning` for iteration limits) says so and gives the certified gap.

Weights. ``Solution.weights`` are the weights the certificate was evaluated at
(``certificate.weights``), so ``objective == certificate.primal ==
problem.objective(weights)``. For C-GReLU these are the solver's weights; for C-ReLU
they are the solver's weights *repaired* onto the cones without changing the
predictions (:func:`convex_relu.certificates.repair_weights`), so the network built
from them realises the reported objective. ``Solution.raw_weights`` keep what the
solver returned, and ``repair_size = ‖weights − raw_weights‖_F``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Solution",
    "ConvergenceWarning",
    "SolverWarning",
    "DEFAULT_CONSTRAINT_TOL",
    "finalize",
    "meets_request",
    "relative_violation",
]

#: Default relative cone-violation tolerance (C-ReLU), the augmented Lagrangian's.
DEFAULT_CONSTRAINT_TOL = 1e-6

#: Statuses that report an iteration or time limit (warned as ConvergenceWarning).
_LIMIT_STATUSES = ("max_iter", "user_limit")


class SolverWarning(UserWarning):
    """A solve whose certificate does not meet the request (inaccurate, stalled, …)."""


class ConvergenceWarning(SolverWarning):
    """An iterative solver stopped at ``max_iter`` before its certified tolerance."""


@dataclass
class Solution:
    """The result of solving a problem.

    Attributes
    ----------
    problem : GatedReLUProblem or ReLUProblem
        The user's problem: everything below is in its units.
    weights : ndarray
        ``(c, d̃, p)`` for C-GReLU, ``(2, c, d̃, p)`` for C-ReLU: the weights the
        certificate was evaluated at (for C-ReLU the solver's weights repaired onto the
        cones, predictions unchanged; see the module docstring).
    objective : float
        The certified primal value ``certificate.primal = problem.objective(weights)``.
    status : str
        ``"optimal"`` only when the certificate meets the request (module docstring);
        else ``"inaccurate"`` (the solver said optimal, the certificate disagrees),
        ``"optimal_inaccurate"``, ``"max_iter"``, ``"user_limit"``,
        ``"precision_limit"``, ``"stalled"``, ``"non_finite"``, …
    solver : str
    converged : bool
        ``status == "optimal"``.
    n_iter : int or None
    solve_time, compile_time : float
        Seconds.
    certificate : Certificate or None
        Duality gap computed by :func:`convex_relu.certificates.certify` on the
        solver's weights (``raw_weights``).
    history : dict of lists or None
        ``iteration``, ``time``, ``objective``, ``gap`` (first-order solvers; ``gap``
        is relative).
    duals : ndarray or None
        Multipliers of the cone constraints (C-ReLU), shape ``(2, n, c, p)``.
    info : dict
        Solver-specific extras. Always: ``solver_status`` (the solver's own word),
        ``gap_tol`` and ``constraint_tol`` (the request), ``certified_relative_gap``,
        ``relative_violation`` and ``repair_size``.
    raw_weights : ndarray or None
        The weights the solver returned (equal to ``weights`` for C-GReLU and for
        feasible C-ReLU weights).
    """

    problem: Any
    weights: np.ndarray
    objective: float
    status: str
    solver: str
    converged: bool
    n_iter: int | None = None
    solve_time: float = 0.0
    compile_time: float = 0.0
    certificate: Any = None
    history: dict | None = None
    duals: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    raw_weights: np.ndarray | None = None

    @property
    def gap(self):
        """Certified duality gap (``nan`` when no certificate was computed)."""
        return float("nan") if self.certificate is None else self.certificate.gap

    @property
    def relative_gap(self):
        return float("nan") if self.certificate is None else self.certificate.relative_gap

    @property
    def repair_size(self):
        """``‖weights − raw_weights‖_F`` (0 for C-GReLU and feasible C-ReLU weights)."""
        return 0.0 if self.certificate is None else float(self.certificate.repair_size)

    def predict(self):
        """Training predictions of the convex model, shape ``(n, c)``."""
        return self.problem.predict(self.weights)

    def active_groups(self, tol=0.0):
        """Boolean mask of groups with norm ``> tol`` (shape ``weights.shape[:-2] + (p,)``)."""
        return np.linalg.norm(self.weights, axis=-2) > tol

    def __repr__(self):
        gap = "" if self.certificate is None else f", gap={self.gap:.3g}"
        return (
            f"Solution(solver={self.solver!r}, status={self.status!r}, objective={self.objective:.10g}"
            f"{gap}, n_iter={self.n_iter}, time={self.compile_time + self.solve_time:.3g}s)"
        )


# --------------------------------------------------------------------------------------
# the rule
# --------------------------------------------------------------------------------------


def relative_violation(problem, weights):
    """Cone violation of C-ReLU weights relative to the scale of the weights.

    ``max_{j,k,i} (−(Ã_i v_{k,i})_j)₊ / (max_j ‖x̃_j‖ · max_g ‖W_g‖)`` over ``v`` and
    ``w``: ``max_j ‖x̃_j‖·‖W_g‖`` bounds ``|x̃_jᵀW_g|``, so this is the violation as a
    fraction of the largest possible slack. It is invariant under rescaling ``X`` and
    ``Y``. 0 for C-GReLU, for zero weights and for ``X̃ = 0``.
    """
    if getattr(problem, "formulation", None) != "relu":
        return 0.0
    W = np.asarray(weights, dtype=np.float64)
    wmax = float(np.linalg.norm(W, axis=-2).max()) if W.size else 0.0
    row = float(np.linalg.norm(problem.X_tilde, axis=1).max()) if problem.n else 0.0
    if wmax == 0.0 or row == 0.0:
        return 0.0
    return problem.cone_violation(W) / (row * wmax)


def meets_request(certificate, violation, tol, constraint_tol):
    """Whether a certificate meets ``relative_gap <= tol`` and ``violation <= constraint_tol``.

    Non-finite gaps (overflow) never meet it.
    """
    rg = float(certificate.relative_gap)
    return math.isfinite(rg) and rg <= tol and float(violation) <= constraint_tol


def finalize(
    problem,
    weights,
    *,
    solver,
    status,
    tol,
    constraint_tol=DEFAULT_CONSTRAINT_TOL,
    certificate=None,
    warn=True,
    hint="",
    stacklevel=2,
    info=None,
    **fields,
):
    """Build the :class:`Solution` of ``weights`` with flags from OUR certificate.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    weights : ndarray
        The solver's (raw) weights, finite.
    solver : str
    status : str
        The solver's own status (kept in ``info["solver_status"]``).
    tol, constraint_tol : float
        The request: certified relative gap and relative cone violation.
    certificate : Certificate, optional
        ``certify(problem, weights)`` if already computed (it must be of these weights).
    warn : bool
        Issue the warning for an unconverged solve.
    hint : str
        Appended to the warning (what to try).
    stacklevel : int
        As for :func:`warnings.warn`, counted from the function calling ``finalize``
        (2: its caller).
    info : dict, optional
        Solver extras; the rule's entries are added to a copy.
    **fields
        Other :class:`Solution` fields (``n_iter``, ``solve_time``, ``history``, …).

    Returns
    -------
    Solution
    """
    from .certificates import certify

    raw = np.asarray(weights, dtype=np.float64)
    if certificate is None:
        # cone multipliers tighten the bound of penalties without a closed-form cone
        # conjugate (certify ignores them otherwise)
        duals = fields.get("duals")
        mult = duals if duals is not None and np.shape(duals) == (2, problem.n, problem.c, problem.p) else None
        cert = certify(problem, raw, multipliers=mult) if mult is not None else certify(problem, raw)
    else:
        cert = certificate
    viol = relative_violation(problem, raw)
    ok = meets_request(cert, viol, tol, constraint_tol)
    own = str(status)
    if ok:
        final = "optimal"
    elif own in ("optimal", "converged"):
        final = "inaccurate"
    else:
        final = own
    info = dict(info or {})
    info.setdefault("solver_status", own)
    info.update(
        gap_tol=float(tol),
        constraint_tol=float(constraint_tol),
        certified_relative_gap=float(cert.relative_gap),
        relative_violation=float(viol),
        repair_size=float(cert.repair_size),
    )
    sol = Solution(
        problem=problem,
        weights=cert.weights if cert.weights is not None else raw,
        objective=float(cert.primal),
        status=final,
        solver=solver,
        converged=ok,
        certificate=cert,
        info=info,
        raw_weights=raw,
        **fields,
    )
    if warn and not ok:
        warn_unconverged(sol, hint=hint, stacklevel=stacklevel + 1)
    return sol


def unconverged_message(sol, hint=""):
    """The sentence of the warning for an unconverged ``sol`` (gives the certified gap)."""
    info = sol.info
    own = info.get("solver_status", sol.status)
    said = f" (the solver's own status: {own!r})" if own != sol.status else ""
    msg = (
        f"{sol.solver} finished with status {sol.status!r}{said}: certified relative gap "
        f"{sol.relative_gap:.3e} (tol {info.get('gap_tol', float('nan')):g})"
    )
    if getattr(sol.problem, "formulation", None) == "relu":
        msg += (
            f", relative cone violation {info.get('relative_violation', float('nan')):.3e} "
            f"(constraint_tol {info.get('constraint_tol', float('nan')):g})"
        )
    msg += "; the solution is not certified optimal."
    if hint:
        msg += " " + hint
    return msg


def warn_unconverged(sol, *, hint="", stacklevel=2):
    """Warn that ``sol`` is not certified optimal (ConvergenceWarning for limits)."""
    cls = ConvergenceWarning if sol.status in _LIMIT_STATUSES else SolverWarning
    warnings.warn(unconverged_message(sol, hint), cls, stacklevel=stacklevel + 1)
