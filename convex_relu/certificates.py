"""Duality-gap certificates: a proven bound on how far given weights are from optimal.

For either program ``P(u) = ℓ(Au) + λ R(u)`` Fenchel duality gives, for any ``z``
with ``Aᵀz`` inside the dual ball of the regulariser,

    D(z) = −ℓ*(z)  <=  p*  <=  P(u),

so ``gap = P(u) − D(z) >= P(u) − p* >= 0``. We build ``z`` from the weights
themselves: ``z = γ ∇ℓ(Au)`` with the scaling ``γ`` that keeps it dual feasible
(DESIGN §4). At the optimum the gap is zero. Nothing here trusts the solver that
produced the weights: any weights, from any solver, get a valid bound.

Dual feasibility, with ``q_{k,i} = (Aᵀz)_{k,i} = X̃ᵀD_i z_k``:

- C-GReLU: ``‖q_{k,i}‖ <= λ`` for every group;
- C-ReLU (objective ``ℓ(A(v − w)) + λΣ(‖v‖ + ‖w‖)``, ``v_i, w_i ∈ K_i``): the
  conjugate of ``λ‖·‖ + ι_{K_i}`` is the indicator of ``{y : ‖Π_{K_i}(y)‖ <= λ}``,
  evaluated at ``−q_i`` for ``v`` and at ``+q_i`` for ``w``, so
  ``‖Π_{K_i}(−q_{k,i})‖ <= λ`` and ``‖Π_{K_i}(q_{k,i})‖ <= λ``.

The outputs of a multi-output (one-vs-all) problem decouple: both ``ℓ*`` and the
constraints separate over outputs, so each output ``k`` gets its own scaling
``γ_k ∈ [0, λ/M_k]`` with ``M_k`` its largest constraint value.

A C-ReLU primal value needs feasible weights. Weights that violate a cone
constraint (an iterate of a first-order method, an interior-point solution with
round-off) are first *repaired* without changing their predictions; see
:func:`repair_weights`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import xlogy

from .cones import max_cone_projection_norm, project_columns
from .operators import adjoint

__all__ = [
    "Certificate",
    "NetworkCertificate",
    "certify",
    "certify_network",
    "dual_bound",
    "dual_constraint_values",
    "gated_dual_bound",
    "repair_weights",
    "network_patterns",
    "network_objective",
    "network_to_convex",
]


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
        Largest cone-constraint violation ``max (−Ã_i v_{k,i})⁺`` of the weights as
        given (C-ReLU; 0 for C-GReLU).
    repaired : bool
        Whether the weights had to be made feasible before evaluating ``primal``.
    repair_size : float
        ``‖repaired − given‖_F`` (0 when not repaired).
    weights : ndarray
        The weights ``primal`` was evaluated at.
    formulation : str
        ``"gated_relu"`` or ``"relu"``.
    dual_scale : ndarray (c,)
        The scalings ``γ_k`` with ``z_{:,k} = γ_k ∇ℓ(Ŷ)_{:,k}`` (at ``λ = 0``: ``β_k``
        with ``z_{:,k} = β_k P_N ∇ℓ(Ŷ)_{:,k}``).
    max_constraint : ndarray (c,)
        ``M_k``: the largest dual-constraint value of ``∇ℓ(Ŷ)_{:,k}`` (an upper bound,
        tight where ``exact``). At ``λ = 0``: that of ``z_{:,k}`` itself, the
        round-off left in ``Aᵀz = 0`` (about ``1e-16·‖A‖·‖z‖``).
    exact : bool
        Whether every cone projection behind ``max_constraint`` finished exactly.
        The certificate is valid either way; inexact only means conservative.
    residual_violation : float
        Cone violation left after the repair (round-off; 0 when not repaired).
    predictions_preserved : bool
        ``False`` only when the repair could not keep the predictions (a gate not
        strictly inside its cone) and fell back to projecting ``v`` and ``w``.
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
    formulation: str = ""
    dual_scale: np.ndarray | None = None
    max_constraint: np.ndarray | None = None
    exact: bool = True
    residual_violation: float = 0.0
    predictions_preserved: bool = True

    def to_dict(self):
        return {
            "primal": self.primal,
            "dual": self.dual,
            "gap": self.gap,
            "relative_gap": self.relative_gap,
            "violation": self.violation,
            "repaired": self.repaired,
            "repair_size": self.repair_size,
            "formulation": self.formulation,
            "exact": self.exact,
            "residual_violation": self.residual_violation,
            "predictions_preserved": self.predictions_preserved,
        }


def _relative(gap, primal):
    return gap / max(abs(primal), np.finfo(float).tiny)


# ---------------------------------------------------------------------------
# dual side
# ---------------------------------------------------------------------------


def _logistic_output_dual(m0, s, gmax):
    """``max_{γ ∈ [0, gmax]} −(1/s) Σ_j h(γ m0_j)``, ``h(μ) = μ log μ + (1−μ) log(1−μ)``.

    ``m0 = −sY∇ℓ ∈ [0, 1]`` so ``μ = γ m0`` stays in the conjugate's domain for
    ``γ <= 1``. The objective is concave in ``γ``; at the optimum of the primal the
    best ``γ`` is 1, away from it a smaller ``γ`` can tighten the bound.
    """

    def neg_dual(g):
        mu = g * m0
        return float((xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)).sum()) / s

    if gmax <= 0.0:
        return 0.0
    best, val = gmax, neg_dual(gmax)
    res = minimize_scalar(neg_dual, bounds=(0.0, gmax), method="bounded",
                          options={"xatol": 1e-12 * gmax})
    if res.success and res.fun < val:
        best = float(res.x)
    return best


def _scaled_dual_value(problem, grad, max_norm):
    """Best ``D(z)`` over ``z_{:,k} = γ_k ∇ℓ_{:,k}`` with ``γ_k ∈ [0, λ / M_k]``.

    Squared loss: ``D = Σ_k γ_k⟨ρ_k, Y_k⟩ − (s/2)γ_k²‖ρ_k‖²`` with ``ρ = −∇ℓ``,
    maximised in closed form. Logistic loss: ``γ_k <= min(1, λ/M_k)`` (``γ <= 1``
    keeps ``μ = −sYz`` inside ``[0, 1]``), maximised by a bounded 1-D search.

    ``max_norm`` is a scalar or one value per output. Returns ``(D, z, γ)``.
    """
    lam = problem.lam
    c = grad.shape[1]
    M = np.broadcast_to(np.asarray(max_norm, dtype=float), (c,))
    with np.errstate(divide="ignore"):
        cap = np.where(M > 0, lam / np.where(M > 0, M, 1.0), np.inf)
    gamma = np.zeros(c)
    if problem.loss == "squared":
        rho = -grad
        rr = np.einsum("nk,nk->k", rho, rho)
        ry = np.einsum("nk,nk->k", rho, problem.Y)
        ok = rr > 0
        gamma[ok] = np.minimum(np.maximum(ry[ok] / (problem.s * rr[ok]), 0.0), cap[ok])
    else:
        m0 = np.clip(-problem.s * problem.Y * grad, 0.0, 1.0)
        for k in range(c):
            gamma[k] = _logistic_output_dual(m0[:, k], problem.s, min(1.0, cap[k]))
    z = grad * gamma[None, :]
    return -problem.loss_conjugate(z), z, gamma


def _max_constraints(problem, G):
    """``M_k`` for every output from ``G = Aᵀ∇ℓ`` of shape ``(c, d̃, p)``; returns ``(M, exact)``."""
    if problem.formulation == "gated_relu":
        return np.linalg.norm(G, axis=1).max(axis=1), True
    M = np.empty(G.shape[0])
    exact = True
    for k in range(G.shape[0]):
        M[k], ok = max_cone_projection_norm(
            problem.X_tilde, problem.patterns.masks, np.stack([-G[k], G[k]]),
            gates=problem.patterns.gates,
        )
        exact &= ok
    return M, exact


#: λ = 0: the null space of ``Aᵀ`` is found from the ``n × n`` kernel up to this ``n``
#: (an eigendecomposition), beyond it the old scaling (bound 0) is kept.
NULL_SPACE_MAX_N = 4000


def _range_basis(problem):
    """Orthonormal basis of ``range(A)``, ``A = [D_1X̃ … D_pX̃]`` (cached on the problem).

    ``AAᵀ = Σ_i D_iX̃X̃ᵀD_i = (X̃X̃ᵀ) ∘ (MMᵀ)`` (Hadamard product) is ``n × n``; its
    eigenvectors with eigenvalues above ``n·ε·max`` span ``range(A)``.
    """
    basis = getattr(problem, "_range_basis_cache", None)
    if basis is None:
        Xt, M = problem.X_tilde, problem.masks
        K = (Xt @ Xt.T) * (M @ M.T)
        w, V = np.linalg.eigh(K)
        keep = w > K.shape[0] * np.finfo(float).eps * max(float(w[-1]), np.finfo(float).tiny)
        basis = np.ascontiguousarray(V[:, keep])
        problem._range_basis_cache = basis
    return basis


def _null_space_dual(problem, grad):
    """``λ = 0``: the best ``z = β_k P_N ∇ℓ`` with ``P_N`` the projector onto ``null(Aᵀ)``.

    With ``λ = 0`` the dual feasible set is ``{z : Aᵀz = 0}`` (and, for C-ReLU, any
    such ``z`` is feasible with zero cone multipliers), so the scaling of
    :func:`_scaled_dual_value` can only return ``z = 0``. Projecting the gradient
    onto ``null(Aᵀ)`` instead gives the exact optimal dual point for the squared
    loss at the optimum (``z* = −P_N Y / s`` and ``D = ‖P_N Y‖²/(2s) = p*``).
    ``Aᵀz`` is zero only up to round-off; the certificate reports its size in
    ``max_constraint``. Returns ``(D, z, β)`` or ``None`` when ``n`` is too large.
    """
    if problem.n > NULL_SPACE_MAX_N:
        return None
    Q = _range_basis(problem)
    zn = grad - Q @ (Q.T @ grad)
    if problem.loss == "squared":
        # the closed-form best scaling, uncapped (max_norm 0: no constraint to respect)
        return _scaled_dual_value(problem, zn, 0.0)
    c = grad.shape[1]
    beta = np.zeros(c)
    m0 = -problem.s * problem.Y * zn
    for k in range(c):
        # μ = β m0 must lie in [0, 1]: only possible when m0 >= 0
        if np.all(m0[:, k] >= 0) and m0[:, k].max() > 0:
            beta[k] = _logistic_output_dual(m0[:, k], problem.s, 1.0 / m0[:, k].max())
    z = zn * beta[None, :]
    return -problem.loss_conjugate(z), z, beta


def dual_bound(problem, pred):
    """Dual lower bound ``D(z) <= p*`` from training predictions ``pred`` of shape ``(n, c)``.

    ``z_{:,k} = γ_k ∇ℓ(pred)_{:,k}`` with ``γ_k`` the best feasible scaling (at
    ``λ = 0``: ``z`` from the projection of ``∇ℓ`` onto ``null(Aᵀ)``, see
    :func:`_null_space_dual`, for ``n <= NULL_SPACE_MAX_N``). Costs
    one adjoint pass, plus, for C-ReLU, the largest cone-projection norm per output
    (:func:`convex_relu.cones.max_cone_projection_norm`).

    Returns
    -------
    dual : float
    z : ndarray (n, c)
    gamma : ndarray (c,)
    M : ndarray (c,)
    exact : bool
    """
    grad = problem.loss_grad(pred)
    if problem.lam == 0:
        found = _null_space_dual(problem, grad)
        if found is not None:
            dual, z, gamma = found
            G = adjoint(problem.X_tilde, problem.masks, z)
            M, exact = _max_constraints(problem, G)
            return dual, z, gamma, M, exact
    G = adjoint(problem.X_tilde, problem.masks, grad)
    M, exact = _max_constraints(problem, G)
    dual, z, gamma = _scaled_dual_value(problem, grad, M)
    return dual, z, gamma, M, exact


def gated_dual_bound(problem, pred):
    """Dual lower bound for C-GReLU from training predictions ``pred`` (one adjoint pass).

    Returns ``(dual_value, dual_point)``.
    """
    if problem.formulation != "gated_relu":
        raise ValueError("gated_dual_bound needs a GatedReLUProblem; use dual_bound for C-ReLU.")
    dual, z, _, _, _ = dual_bound(problem, pred)
    return dual, z


def dual_constraint_values(problem, z):
    """Every dual-constraint value at ``z`` (the exact, slower, per-group version).

    Returns ``‖(Aᵀz)_{k,i}‖`` of shape ``(c, p)`` for C-GReLU, and for C-ReLU an
    array of shape ``(2, c, p)``: ``[0]`` holds ``‖Π_{K_i}(−q_{k,i})‖`` (the
    constraint of ``v``), ``[1]`` holds ``‖Π_{K_i}(q_{k,i})‖`` (that of ``w``).
    ``z`` is dual feasible iff all are ``<= λ``. At a C-ReLU optimum the ``v``
    value equals ``λ`` wherever ``v_{k,i} ≠ 0`` (and likewise for ``w``).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.shape != problem.Y.shape:
        raise ValueError(f"z must have shape {problem.Y.shape}; got {z.shape}.")
    G = adjoint(problem.X_tilde, problem.masks, z)
    if problem.formulation == "gated_relu":
        return np.linalg.norm(G, axis=1)
    c, d, p = G.shape
    cols = np.concatenate([-G, G]).transpose(1, 0, 2).reshape(d, 2 * c * p)
    P, _, _ = project_columns(problem.X_tilde, problem.patterns.masks, cols,
                              np.tile(np.arange(p), 2 * c))
    return np.linalg.norm(P, axis=0).reshape(2, c, p)


# ---------------------------------------------------------------------------
# primal side: making C-ReLU weights feasible without changing predictions
# ---------------------------------------------------------------------------


def _shift_to_cone(problem, V0, W0, pat):
    """Smallest ``t >= 0`` with ``V0 + t g``, ``W0 + t g`` in the cones, per column.

    ``V0``, ``W0`` have shape ``(d̃, m)``; column ``j`` belongs to pattern ``pat[j]``
    with interior gate ``g = gates[:, pat[j]]``. Returns ``(t, feasible)``; a
    column is infeasible when some row with ``ã_jᵀg <= 0`` (a gate on the boundary)
    is violated — rows with ``ã_jᵀg = 0`` are otherwise zero rows of ``X̃``.
    """
    Xt = problem.X_tilde
    S = problem.signs[:, pat]
    g = problem.patterns.gates[:, pat]
    a = S * (Xt @ g)
    need = np.maximum(np.maximum(-(S * (Xt @ V0)), -(S * (Xt @ W0))), 0.0)
    row_norm = np.linalg.norm(Xt, axis=1)[:, None]
    positive = a > 1e-12 * row_norm * np.linalg.norm(g, axis=0)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(positive, need / np.where(positive, a, 1.0), 0.0).max(axis=0)
    feasible = ~((~positive) & (need > 0)).any(axis=0)
    # a relative pad keeps the tightest row on the feasible side of round-off
    return t * (1.0 + 1e-12), feasible


def repair_weights(problem, weights):
    """Make C-ReLU weights feasible while keeping every ``u_{k,i} = v_{k,i} − w_{k,i}``.

    Only groups with a negative cone slack are touched. For such a group three
    candidates are formed, each followed by the shift ``(v, w) ← (v + t g_i,
    w + t g_i)`` along the interior gate ``g_i`` with the smallest ``t >= 0`` that
    makes both feasible (``Ã_i g_i > 0`` on nonzero rows), which leaves ``v − w``
    and therefore the predictions unchanged:

    1. shift only;
    2. ``v' = Π_{K_i}(v)``, ``w' = v' − u``, shift;
    3. ``w' = Π_{K_i}(w)``, ``v' = w' + u``, shift.

    Since the predictions are equal, the candidate with the least
    ``‖v‖ + ‖w‖`` has the least objective and is kept. If the gate is not strictly
    inside its cone on a violated row, no shift can help; that group falls back to
    ``(Π(v), Π(w))``, which is feasible but changes the predictions.

    Parameters
    ----------
    problem : ReLUProblem
    weights : ndarray (2, c, d̃, p)

    Returns
    -------
    repaired : ndarray (2, c, d̃, p)
    info : dict
        ``violation`` (before), ``residual_violation`` (after, round-off),
        ``n_groups`` repaired, ``repair_size`` ``= ‖repaired − weights‖_F``,
        ``predictions_preserved``.
    """
    if problem.formulation != "relu":
        raise ValueError("repair_weights needs a ReLUProblem (C-GReLU has no constraints).")
    W = problem.check_weights(weights)
    slack = problem.cone_slacks(W)  # (2, n, c, p)
    violation = float(max(0.0, -slack.min()))
    out = W.copy()
    info = {
        "violation": violation,
        "residual_violation": 0.0,
        "n_groups": 0,
        "repair_size": 0.0,
        "predictions_preserved": True,
    }
    groups = (slack < 0).any(axis=(0, 1))  # (c, p)
    if not groups.any():
        return out, info
    ks, pat = np.nonzero(groups)
    V = W[0][ks, :, pat].T  # (d̃, m)
    Wm = W[1][ks, :, pat].T
    U = V - Wm
    masks = problem.patterns.masks
    proj, _, _ = project_columns(problem.X_tilde, masks, np.hstack([V, Wm]), np.concatenate([pat, pat]))
    PV, PW = proj[:, : V.shape[1]], proj[:, V.shape[1]:]
    gates = problem.patterns.gates[:, pat]

    best_cost = np.full(V.shape[1], np.inf)
    best_V, best_W = PV.copy(), PW.copy()  # the fallback
    for V0, W0 in ((V, Wm), (PV, PV - U), (PW + U, PW)):
        t, feasible = _shift_to_cone(problem, V0, W0, pat)
        Vc, Wc = V0 + t * gates, W0 + t * gates
        cost = np.linalg.norm(Vc, axis=0) + np.linalg.norm(Wc, axis=0)
        better = feasible & (cost < best_cost)
        best_cost[better] = cost[better]
        best_V[:, better], best_W[:, better] = Vc[:, better], Wc[:, better]
    kept = np.isfinite(best_cost)
    for _ in range(3):
        # the slack of the tightest row is ~0 up to round-off; a second tiny shift
        # makes it non-negative as evaluated in floating point
        t, _ok = _shift_to_cone(problem, best_V, best_W, pat)
        t = np.where(kept, t, 0.0)
        if not np.any(t > 0):
            break
        best_V, best_W = best_V + t * gates, best_W + t * gates
    out[0][ks, :, pat] = best_V.T
    out[1][ks, :, pat] = best_W.T
    info["n_groups"] = int(ks.size)
    info["predictions_preserved"] = bool(np.isfinite(best_cost).all())
    info["repair_size"] = float(np.linalg.norm(out - W))
    info["residual_violation"] = problem.cone_violation(out)
    return out, info


# ---------------------------------------------------------------------------
# the certificate
# ---------------------------------------------------------------------------


def certify(problem, weights):
    """Certify ``weights`` for ``problem``: primal, dual lower bound and gap.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    weights : ndarray of ``problem.weights_shape``

    Returns
    -------
    Certificate
        ``dual <= p* <= primal``. For C-ReLU, weights with any negative cone slack
        are repaired first (:func:`repair_weights`) and ``primal`` is evaluated at
        the repaired weights; ``violation`` reports how large the violation was.

    Notes
    -----
    Cost: one forward and one adjoint pass; for C-ReLU also the largest of the
    ``2cp`` cone-projection norms, found by a batched NNLS that stops every column
    as soon as it provably cannot be the largest.
    """
    W = problem.check_weights(weights)
    violation, repaired, repair_size = 0.0, False, 0.0
    residual, preserved = 0.0, True
    if problem.formulation == "relu":
        violation = problem.cone_violation(W)
        if violation > 0:
            W, info = repair_weights(problem, W)
            repaired, repair_size = True, info["repair_size"]
            residual, preserved = info["residual_violation"], info["predictions_preserved"]
    pred = problem.predict(W)
    primal = problem.loss_value(pred) + problem.regularizer(W)
    dual, z, gamma, M, exact = dual_bound(problem, pred)
    gap = primal - dual
    return Certificate(
        primal=primal,
        dual=dual,
        gap=gap,
        relative_gap=_relative(gap, primal),
        dual_point=z,
        violation=violation,
        repaired=repaired,
        repair_size=repair_size,
        weights=W,
        formulation=problem.formulation,
        dual_scale=gamma,
        max_constraint=M,
        exact=bool(exact),
        residual_violation=residual,
        predictions_preserved=preserved,
    )


# ---------------------------------------------------------------------------
# certificates for a (non-convex) two-layer ReLU network
# ---------------------------------------------------------------------------


@dataclass
class NetworkCertificate(Certificate):
    """A certificate for a trained two-layer ReLU network.

    The network ``f(x) = relu(x̃ᵀW1) W2`` is read as the C-ReLU weights it realises on
    the training data (:func:`network_to_convex`). By AM-GM,
    ``λ‖W1_j‖·|W2_j| <= (λ/2)(‖W1_j‖² + W2_j²)``, so the convex objective at those
    weights is at most the network's, and the C-ReLU dual bound ``dual`` bounds the
    network's suboptimality:

        network_objective − dual  >=  network_objective − p*.

    With **all** activation patterns (``patterns_complete``), ``p*`` is the global
    minimum of the network objective over every width, so ``network_gap`` is a
    certified bound on how far this network is from the best two-layer ReLU network.
    With sampled patterns, ``dual`` bounds only the restricted convex program.

    Attributes (beyond :class:`Certificate`)
    ----------------------------------------
    network_objective : float
        ``ℓ(relu(X̃W1)W2) + (λ/2)(‖W1‖²_F + ‖W2‖²_F)``.
    network_gap : float
        ``network_objective − dual``.
    network_relative_gap : float
    neuron_patterns : ndarray of int (m,)
        Pattern index of each neuron; ``-2`` for neurons that are silent on the
        training data (zero output weights, zero or never-active first layer).
    patterns_complete : bool
        ``problem.patterns.method == "enumerated"``.
    """

    network_objective: float = np.nan
    network_gap: float = np.nan
    network_relative_gap: float = np.nan
    neuron_patterns: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    patterns_complete: bool = False

    def to_dict(self):
        out = super().to_dict()
        out.update(
            network_objective=self.network_objective,
            network_gap=self.network_gap,
            network_relative_gap=self.network_relative_gap,
            patterns_complete=self.patterns_complete,
        )
        return out


def _check_network(problem, W1, W2):
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    if W2.ndim == 1:
        W2 = W2[:, None]
    if W1.ndim != 2 or W1.shape[0] != problem.d:
        raise ValueError(
            f"W1 must have shape ({problem.d}, m) (features{' plus the bias row last' if problem.bias else ''}); "
            f"got {W1.shape}."
        )
    if W2.ndim != 2 or W2.shape != (W1.shape[1], problem.c):
        raise ValueError(f"W2 must have shape ({W1.shape[1]}, {problem.c}); got {W2.shape}.")
    if not (np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))):
        raise ValueError("W1 and W2 must be finite.")
    return W1, W2


def network_objective(problem, W1, W2):
    """``ℓ(relu(X̃W1)W2) + (λ/2)(‖W1‖²_F + ‖W2‖²_F)`` on the problem's training data.

    ``W1`` is ``(d̃, m)`` with the bias row last when ``problem.bias``; ``W2`` is
    ``(m, c)``. The loss has the package's ``s = n·c`` scaling.
    """
    W1, W2 = _check_network(problem, W1, W2)
    pred = np.maximum(problem.X_tilde @ W1, 0.0) @ W2
    return problem.loss_value(pred) + 0.5 * problem.lam * (float(np.sum(W1**2)) + float(np.sum(W2**2)))


def network_patterns(problem, W1, *, rtol=1e-9):
    """Index in ``problem.patterns`` of each neuron's activation pattern ``1[X̃W1_j >= 0]``.

    Rows where ``|x̃_jᵀW1_j| <= rtol·‖x̃_j‖‖W1_j‖`` are undecided and match either
    value. Returns an int array of length ``m``: the first matching pattern, ``-1``
    when none matches, ``-2`` for a neuron that is never active on a decided row
    (it contributes nothing to the training predictions).
    """
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or W1.shape[0] != problem.d:
        raise ValueError(f"W1 must have shape ({problem.d}, m); got {W1.shape}.")
    H = problem.X_tilde @ W1
    scale = np.linalg.norm(problem.X_tilde, axis=1)[:, None] * np.linalg.norm(W1, axis=0)[None, :]
    decided = np.abs(H) > rtol * scale
    sgn = np.where(decided, np.sign(H), 0.0)
    # agreement count: a pattern matches when it agrees on every decided row
    score = sgn.T @ (2.0 * problem.masks - 1.0)
    need = decided.sum(axis=0)[:, None]
    match = score >= need - 0.5
    idx = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    silent = ~(decided & (H > 0)).any(axis=0)
    idx[silent] = -2
    return idx


def network_to_convex(problem, W1, W2):
    """The C-ReLU weights a ReLU network realises on the training data.

    Neuron ``j`` with pattern ``i`` adds ``W1_j·W2[j,k]`` to ``v_{k,i}`` when
    ``W2[j,k] > 0`` and ``W1_j·|W2[j,k]|`` to ``w_{k,i}`` when ``W2[j,k] < 0``; since
    ``relu(X̃W1_j) = D_iX̃W1_j`` the training predictions are unchanged.

    Returns ``(weights, neuron_patterns)``. Raises ``ValueError`` when a neuron's
    pattern is not in ``problem.patterns``, or when a neuron feeds several outputs
    (the one-vs-all convex program describes networks whose hidden neurons each
    feed one output; a dense second layer is a different, non-separable problem).
    """
    W1, W2 = _check_network(problem, W1, W2)
    if problem.formulation != "relu":
        problem = problem.relu_problem()
    if problem.c > 1 and np.any((W2 != 0).sum(axis=1) > 1):
        raise ValueError(
            "W2 has neurons feeding several outputs; the one-vs-all convex program (one group "
            "per output and pattern) certifies networks whose hidden neurons each feed one "
            "output (block-diagonal second layer)."
        )
    idx = network_patterns(problem, W1)
    idx[np.all(W2 == 0, axis=1) | np.all(W1 == 0, axis=0)] = -2
    missing = np.flatnonzero(idx == -1)
    if missing.size:
        raise ValueError(
            f"{missing.size} of {W1.shape[1]} neurons have activation patterns outside "
            f"problem.patterns (neurons {missing[:10].tolist()}{'…' if missing.size > 10 else ''}); "
            "use enumerated patterns or add these patterns."
        )
    W = problem.zero_weights()
    for j in np.flatnonzero(idx >= 0):
        for k in range(problem.c):
            a = W2[j, k]
            if a > 0:
                W[0, k, :, idx[j]] += W1[:, j] * a
            elif a < 0:
                W[1, k, :, idx[j]] += W1[:, j] * (-a)
    return W, idx


def certify_network(problem, W1, W2):
    """Certify a trained two-layer ReLU network (see :class:`NetworkCertificate`).

    Parameters
    ----------
    problem : ReLUProblem (a GatedReLUProblem is converted)
        Defines the data, ``λ``, loss and pattern set.
    W1 : (d̃, m) array
        First layer, one column per neuron, bias row last when ``problem.bias``.
    W2 : (m, c) or (m,) array
        Second layer.

    Returns
    -------
    NetworkCertificate
    """
    if problem.formulation != "relu":
        problem = problem.relu_problem()
    W1, W2 = _check_network(problem, W1, W2)
    W, idx = network_to_convex(problem, W1, W2)
    cert = certify(problem, W)
    net = network_objective(problem, W1, W2)
    fields = {k: getattr(cert, k) for k in Certificate.__dataclass_fields__}
    return NetworkCertificate(
        **fields,
        network_objective=net,
        network_gap=net - cert.dual,
        network_relative_gap=_relative(net - cert.dual, net),
        neuron_patterns=idx,
        patterns_complete=problem.patterns.method == "enumerated",
    )
