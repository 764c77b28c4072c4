"""Duality-gap certificates: a proven bound on how far given weights are from optimal.

For either program ``P(u) = ℓ(Au) + λ R(u)`` Fenchel duality gives, for any ``z``
with ``(Aᵀz)`` inside the dual ball of the regulariser,

    D(z) = −ℓ*(z)  <=  p*  <=  P(u),

so ``gap = P(u) − D(z) >= P(u) − p* >= 0``. We build ``z`` from the weights
themselves: ``z = γ ∇ℓ(Au)`` with the scaling ``γ`` that keeps it dual feasible
(DESIGN §4). At the optimum the gap is zero.

C-GReLU: feasibility is ``‖(Aᵀz)_{k,i}‖ <= λ`` for every group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .operators import adjoint

__all__ = ["Certificate", "certify", "gated_dual_bound"]


@dataclass
class Certificate:
    """A certified bound ``dual <= p* <= primal``.

    Attributes
    ----------
    primal : float
        ``P`` at the (possibly repaired) weights.
    dual : float
        ``D(z)`` at the dual-feasible point ``dual_point``: a lower bound on ``p*``.
    gap : float
        ``primal − dual >= primal − p*``.
    relative_gap : float
        ``gap / max(|primal|, tiny)``.
    dual_point : ndarray (n, c)
        The dual-feasible ``z`` (``−ρ`` in DESIGN's notation for the squared loss).
    violation : float
        Largest cone-constraint violation of the weights as given (C-ReLU; 0 for C-GReLU).
    repaired : bool
        Whether the weights had to be made feasible before evaluating ``primal``.
    repair_size : float
        ``‖repaired − given‖_F`` (0 when not repaired).
    weights : ndarray
        The weights ``primal`` was evaluated at.
    """

    primal: float
    dual: float
    gap: float
    relative_gap: float
    dual_point: np.ndarray
    violation: float = 0.0
    repaired: bool = False
    repair_size: float = 0.0
    weights: np.ndarray | None = None

    def to_dict(self):
        return {
            "primal": self.primal,
            "dual": self.dual,
            "gap": self.gap,
            "relative_gap": self.relative_gap,
            "violation": self.violation,
            "repaired": self.repaired,
            "repair_size": self.repair_size,
        }


def _relative(gap, primal):
    return gap / max(abs(primal), np.finfo(float).tiny)


def _scaled_dual_value(problem, grad, max_norm):
    """Best ``D(γ ∇ℓ)`` over the feasible scalings ``γ ∈ [0, λ / max_norm]``.

    Squared loss: ``D(−γρ) = γ⟨ρ, Y⟩ − (s/2)γ²‖ρ‖²`` with ``ρ = −∇ℓ``, maximised in
    closed form. Logistic loss: ``γ = min(1, λ / max_norm)`` (``γ <= 1`` keeps
    ``μ = −sYz`` inside ``[0, 1]``).
    """
    lam = problem.lam
    cap = np.inf if max_norm == 0 else lam / max_norm
    if problem.loss == "squared":
        rho = -grad
        rr = float(np.vdot(rho, rho))
        if rr == 0.0:
            return 0.0, np.zeros_like(grad)
        ry = float(np.vdot(rho, problem.Y))
        gamma = min(max(ry / (problem.s * rr), 0.0), cap)
    else:
        gamma = min(1.0, cap)
    z = gamma * grad
    return -problem.loss_conjugate(z), z


def gated_dual_bound(problem, pred):
    """Dual lower bound for C-GReLU from training predictions ``pred`` (one adjoint pass).

    Returns ``(dual_value, dual_point)``.
    """
    grad = problem.loss_grad(pred)
    G = adjoint(problem.X_tilde, problem.masks, grad)
    max_norm = float(np.linalg.norm(G, axis=1).max())
    return _scaled_dual_value(problem, grad, max_norm)


def certify(problem, weights):
    """Certify ``weights`` for ``problem``: primal, dual lower bound and gap.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    weights : ndarray of ``problem.weights_shape``

    Returns
    -------
    Certificate
    """
    W = problem.check_weights(weights)
    if problem.formulation == "gated_relu":
        pred = problem.predict(W)
        primal = problem.loss_value(pred) + problem.regularizer(W)
        dual, z = gated_dual_bound(problem, pred)
        gap = primal - dual
        return Certificate(primal, dual, gap, _relative(gap, primal), z, weights=W)
    raise NotImplementedError("C-ReLU certificates are being implemented")
