"""The augmented Lagrangian for C-ReLU with non-radial penalties (``l1``, ``feature_group``).

:func:`convex_relu.augmented_lagrangian.solve_al` has two variants, chosen from the
penalty's flags (never its name):

- **face** (``radial`` and ``separable_over_neurons``: neuron group, ``l2``, group
  elastic net): the AL identifies the support, then the exact prox of
  ``λR + ι_K`` (radial shrink of the cone projection) finishes on the faces;
- **plain** (every other penalty): the classical AL of Mishkin et al. (2022), the
  cone constraints ``Ã_iv_i >= 0``, ``Ã_iw_i >= 0`` in the smooth part,

      L_δ(v, w; γ, ξ) = ℓ(A(v − w)) + λ(R(v) + R(w))
                        + (δ/2) Σ_i [‖(γ_i/δ − Ã_iv_i)₊‖² + ‖(ξ_i/δ − Ã_iw_i)₊‖²],

  each subproblem solved by the same warm-started R-FISTA kernel with only the
  penalty's own prox (:meth:`Penalty.prox_columns` on the full ``[V | W]`` layout,
  blocks ``(2, c, p)``), followed by the multiplier steps ``γ ← (γ − δÃv)₊``,
  ``ξ ← (ξ − δÃw)₊``. There is no face solve (the prox of ``λ‖·‖₁ + ι_K`` has no
  closed form), and the AL alone stalls at violations ~1e-5 (its multipliers move by
  ``δ·violation`` per update). So after ``polish_after`` updates its iterate and
  multipliers start :func:`split_finish`, a Davis–Yin splitting of ``ℓ + ι_K + λR``
  that uses the exact cone projection and the penalty's prox separately, keeps an
  exactly feasible iterate and produces cone multipliers; it converges linearly on
  the benchmark rows. The certificate is :func:`convex_relu.certificates.certify` with
  those multipliers (and, if they leave the gap above ``tol``, the certificate's own,
  computed ones), so ``converged`` follows the one-truth rule.

This module holds the flag test, the dual bounds of the AL phase and the splitting;
the loop is :func:`~convex_relu.augmented_lagrangian.solve_al`'s.

Dual bounds along a ray. Both AL bounds (the subproblem's and the Lagrangian one
from the multipliers) have the form, for a gradient point scaled by ``τ >= 0``,

    D(τ) = −ℓ*(τg) + τ⟨P, Λ⟩ − τ²δ‖P‖²/2 − (λR)*(−τG_v) − (λR)*(−τG_w),

``G = (G_v, G_w)`` the two blocks of the (Lagrangian) gradient in weight layout. For
a norm the conjugate is the indicator of ``R°(τG_b) <= λ`` (a cap on ``τ``); else
``τ ↦ (λR)*(−τG_b)`` is convex, zero at ``τ = 0`` and non-decreasing, so ``D`` is
concave and its maximiser lies below that of the quadratic part: one bounded 1-D
search. Every ``τ`` gives a valid bound (weak duality).
"""

from __future__ import annotations

import numpy as np

from . import losses

__all__ = ["al_variant", "ray_dual", "block_conjugate", "split_finish", "weights_from_columns"]


def al_variant(penalty):
    """``"face"`` for radial, neuron-separable penalties (and the default), else ``"plain"``."""
    if penalty is None:
        return "face"
    from .penalties import DEFAULT_PENALTY

    if penalty is DEFAULT_PENALTY or (getattr(penalty, "radial", False)
                                      and getattr(penalty, "separable_over_neurons", False)):
        return "face"
    return "plain"


def weights_from_columns(x, c, d, p):
    """``[V | W]`` (d̃ × 2cp) -> ``(2, c, d̃, p)``, the AL's column layout back to weights."""
    return np.ascontiguousarray(x.reshape(d, 2, c, p).transpose(1, 2, 0, 3))


def block_conjugate(penalty, lam, G_cols, c, p):
    """``(cap, conj)`` for the two-block conjugate term of :func:`ray_dual`.

    ``G_cols`` is ``d̃ × 2cp`` (columns ``b·cp + k·p + i``). A norm: ``cap = λ /
    max_b R°(G_b)`` and ``conj = None``; otherwise ``cap = inf`` and ``conj(τ) =
    Σ_b Σ_k (λR)*(−τG_b)_k``.
    """
    d = G_cols.shape[0]
    Gw = np.asarray(G_cols, dtype=np.float64).reshape(d, 2, c, p).transpose(1, 2, 0, 3)
    if penalty.homogeneous:
        M = max(float(np.max(penalty.dual_norm(Gw[b]))) for b in range(2)) if Gw.size else 0.0
        return (np.inf if M <= 0 else lam / M), None
    return np.inf, lambda t: float(sum(np.sum(penalty.conjugate(-t * Gw[b], lam)) for b in range(2)))


def ray_dual(problem, g, cap, conj=None, pl=0.0, pp=0.0, delta=0.0):
    """``max_{0 <= τ <= cap} −ℓ*(τg) + τpl − τ²δpp/2 − conj(τ)`` (module docstring).

    ``g`` the loss gradient ``(n, c)``, ``pl = ⟨P, Λ⟩``, ``pp = ‖P‖²`` (0 for the
    Lagrangian bound), ``conj`` ``None`` for a norm (its cap is in ``cap``).
    """
    from scipy.optimize import minimize_scalar

    from .datafits import make_datafit

    g = np.asarray(g, dtype=np.float64)
    fit = make_datafit(problem.loss, problem.Y, problem.row_weights)
    h, _ = fit.conjugate_along(g)
    c = g.shape[1]

    def f(t):
        val = float(np.sum(h(np.full(c, t)))) + t * pl - 0.5 * t * t * delta * pp
        if conj is not None:
            val -= conj(t)
        return -val

    if problem.loss == "squared":
        rr = losses.weighted_sumsq(g, problem.row_weights)
        a = pl - float(np.vdot(g, problem.Y))
        b = problem.s * rr + delta * pp
        top = max(a / b, 0.0) if b > 0 else 0.0
    else:
        top = 1.0
    top = min(top, cap)
    ts = [0.0, top]
    if top > 0:
        res = minimize_scalar(f, bounds=(0.0, top), method="bounded", options={"xatol": 1e-13 * top})
        if res.success:
            ts.append(float(res.x))
    vals = [f(t) for t in ts]
    best = min(v for v in vals if np.isfinite(v)) if any(np.isfinite(vals)) else np.inf
    return -best


#: Davis–Yin step ``η = ETA_FACTOR / L`` (convergent for ``η < 2/L``).
ETA_FACTOR = 1.8
#: Relaxation ``ρ`` of the splitting's update ``z ← z + ρ(x_R − x_K)``. Davis–Yin converges
#: for ``ηL < 2`` and ``ρ < 2 − ηL/2`` (1.1 at ``ηL = 1.8``). Larger pairs (1.9, 1.9)
#: took 1.8× fewer iterations on the benchmark rows but have no convergence guarantee.
RELAX = 1.05
#: Iterations between two certificates of the splitting (a certificate costs about
#: as much as 5–10 iterations).
SPLIT_CHECK_EVERY = 50


def split_finish(problem, x, Lam, cone, *, tol, max_iter, check_every=SPLIT_CHECK_EVERY,
                 patience=20):
    """Finish of the plain variant: Davis–Yin three-operator splitting from the AL iterate.

    ``min f(x) + ι_K(x) + λR(x)`` over all ``2cp`` columns ``x = [V | W]`` (``f`` the
    loss of the predictions), with step ``η = ETA_FACTOR/L`` (``L = L_ℓ‖A‖²``; the
    method needs ``η < 2/L``):

        x_K = Π_K(z),   x_R = prox_{ηλR}(2x_K − z − η∇f(x_K)),   z ← z + ρ(x_R − x_K)

    (``ρ = RELAX``).

    ``Π_K`` is the exact cone projection of every column, ``cone.project`` (the
    warm-started NNLS of :class:`~convex_relu.augmented_lagrangian._ConeProx` built on
    all ``2cp`` columns by the caller: ``cone.P[j]`` the passive rows of column ``j``,
    ``cone.alpha[j]`` their multipliers), so ``x_K`` is feasible, and
    ``Π_K(z) = z + Ã_Pᵀα`` gives the normal vector ``(z − x_K)/η = −Ãᵀ(α/η)``: the cone
    multipliers ``ν = α/η >= 0`` of the Lagrangian ``F − ⟨ν, Ãx⟩``, which tend to optimal
    ones as ``z`` converges. Each check certifies ``x_K`` with them
    (:func:`convex_relu.certificates.certify`); only the penalty's prox and the cone
    projection are used (a first-order method). The start is ``z = x − ηÃᵀΛ`` from the
    AL's iterate and multipliers, so that ``Π_K(z) ≈ x`` when they are nearly optimal.

    Returns ``(weights (2, c, d̃, p), certificate, multipliers (2, n, c, p), n_iter,
    status)``, ``status`` ``"converged"``, ``"stalled"`` (``patience`` checks without
    halving the best certified gap: the method converges linearly, about 3× per few
    hundred iterations, when it converges) or ``"max_iter"``; the best certified point
    is returned.
    """
    from .certificates import certify
    from .fista import loss_smoothness
    from .operators import ColumnOperator

    prob = problem
    pen = prob.penalty
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    cp_ = c * p
    m = 2 * cp_
    layout = (2, c, p)
    Xt, S, M = prob.X_tilde, prob.signs, prob.masks
    j = np.arange(m)
    blk, out, pat = j // cp_, (j % cp_) // p, j % p
    order = np.argsort(out, kind="stable")  # the operator wants columns grouped by output
    sign_b = np.where(blk == 0, 1.0, -1.0)
    op = ColumnOperator.from_mask_columns(Xt, (M[:, pat] * sign_b)[:, order], out[order], c)
    S_cols = S[:, pat]
    Lc = np.maximum(np.asarray(Lam, dtype=float).reshape(n, m), 0.0)
    lip = max(loss_smoothness(prob) * op.norm_sq(), np.finfo(float).tiny)
    eta = ETA_FACTOR / lip
    lam = prob.lam
    z = np.asarray(x, dtype=np.float64) - eta * (Xt.T @ (S_cols * Lc))

    def grad(xc):
        pred = op.forward(xc[:, order])
        G = np.empty_like(xc)
        G[:, order] = op.adjoint(prob.loss_grad(pred))
        return G

    def multipliers():
        nu = np.zeros((n, m))
        for col in range(m):
            rows = cone.P[col]
            if rows.size:
                nu[rows, col] = np.maximum(cone.alpha[col, : rows.size], 0.0) / eta
        return np.ascontiguousarray(nu.reshape(n, 2, c, p).transpose(1, 0, 2, 3))

    best = None
    stall, ref_gap = 0, np.inf
    status = "max_iter"
    it = 0
    next_check, last = check_every, None  # (iteration, gap) of the previous check
    while it < max_iter:
        xk = cone.project(z)
        it += 1
        if it >= next_check or it == max_iter:
            # x_K and the multipliers of the same projection
            W = weights_from_columns(xk, c, d, p)
            nu = multipliers()
            cert = certify(prob, W, multipliers=nu)
            if best is None or cert.relative_gap < 0.5 * ref_gap:
                stall, ref_gap = 0, cert.relative_gap
            else:
                stall += 1
            if best is None or cert.relative_gap < best[1].relative_gap:
                best = (W, cert, nu)
            if cert.relative_gap <= tol:
                status = "converged"
                break
            if stall >= patience or not np.isfinite(cert.primal):
                status = "stalled"
                break
            # a certificate costs several iterations: far from tol, schedule the next
            # one at half the iterations the observed linear rate needs (at most 10×)
            wait = check_every
            g = cert.relative_gap
            if last is not None and 0 < g < last[1] and g > tol:
                rate = np.log(g / last[1]) / (it - last[0])  # < 0 per iteration
                wait = int(np.clip(0.5 * np.log(tol / g) / rate, check_every, 10 * check_every))
            last = (it, g)
            next_check = it + wait
        xr, _ = pen.prox_columns(2.0 * xk - z - eta * grad(xk), eta * lam, layout)
        z += RELAX * (xr - xk)
    if best is None:
        W = weights_from_columns(cone.project(z), c, d, p)
        nu = multipliers()
        best = (W, certify(prob, W, multipliers=nu), nu)
    return best[0], best[1], best[2], it, status
