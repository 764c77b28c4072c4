"""What every solver returns: weights, status, timings and, where computed, a certificate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Solution", "ConvergenceWarning", "SolverWarning"]


class SolverWarning(UserWarning):
    """A solver finished with a status other than ``optimal`` (inaccurate, infeasible, …)."""


class ConvergenceWarning(SolverWarning):
    """An iterative solver stopped at ``max_iter`` before its certified tolerance."""


@dataclass
class Solution:
    """The result of solving a problem.

    Attributes
    ----------
    problem : GatedReLUProblem or ReLUProblem
    weights : ndarray
        ``(c, d̃, p)`` for C-GReLU, ``(2, c, d̃, p)`` for C-ReLU.
    objective : float
        The problem's objective at ``weights`` (recomputed by us, not the solver's).
    status : str
        ``"optimal"``, ``"optimal_inaccurate"``, ``"max_iter"``, ``"infeasible"``, …
    solver : str
    converged : bool
        ``True`` only when the solver met its tolerance.
    n_iter : int or None
    solve_time, compile_time : float
        Seconds.
    certificate : Certificate or None
        Duality gap computed by :func:`convex_relu.certificates.certify`.
    history : dict of lists or None
        ``iteration``, ``time``, ``objective``, ``gap`` (first-order solvers).
    duals : ndarray or None
        Multipliers of the cone constraints (C-ReLU), shape ``(2, n, c, p)``.
    info : dict
        Solver-specific extras (its own reported objective, dual objective, …).
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

    @property
    def gap(self):
        """Certified duality gap (``nan`` when no certificate was computed)."""
        return float("nan") if self.certificate is None else self.certificate.gap

    @property
    def relative_gap(self):
        return float("nan") if self.certificate is None else self.certificate.relative_gap

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
