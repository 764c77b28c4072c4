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

Where the scaled point is poor, other provably feasible points are used:

- ``λ = 0``: the feasible set is ``{z : Aᵀz = 0}``; ``z = β P_N∇ℓ`` with ``P_N`` the
  projector onto a numerically *verified* basis of ``null(Aᵀ)``, and the trivial
  bound 0 (with its reason in ``Certificate.dual_note``) when that null space is
  trivial, the gradient has no component in it above round-off, or the residual
  ``‖Aᵀz‖`` exceeds round-off;
- small ``λ`` (the scaled point capped far below ``γ = 1``): the combination
  ``a·P_N∇ℓ + b·(I − P_N)∇ℓ``, feasible by the sublinearity of the constraints
  evaluated at the computed values (:func:`_null_space_candidate`).

Sample weights (``problem.row_weights`` ``ŵ``, :mod:`convex_relu.losses`): the
conjugate becomes ``ℓ*(z) = ⟨z, Y⟩ + (s/2)Σ z²/ŵ`` (squared) and
``(1/s)Σ ŵ_j h(μ_j)``, ``μ = −sYz/ŵ`` (logistic); the scaled points are
``γ∇ℓ_ŵ``, which vanish on zero-weight rows as the conjugate's domain requires (there
``μ`` is unconstrained and counts 0). The null-space points ``P_N∇ℓ`` do not vanish
on those rows, so with zero weights they are not used (the scaled point, or at
``λ = 0`` the trivial bound 0, with a note). Integer weights and duplicated rows
give the same scaled dual value.

A final guard in :func:`certify` never lets the dual exceed the primal by more than
:func:`dual_roundoff`; if it would, the plain scaled bound (or 0) is used and
``dual_note`` says so.

A C-ReLU primal value needs feasible weights. Weights that violate a cone
constraint (an iterate of a first-order method, an interior-point solution with
round-off) are first *repaired* without changing their predictions; see
:func:`repair_weights`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import xlogy

from .cones import max_cone_projection_norm, project_columns
from .losses import inverse_weights, logistic_mu
from .operators import adjoint, forward

__all__ = [
    "Certificate",
    "NetworkCertificate",
    "certify",
    "certify_network",
    "dual_bound",
    "dual_constraint_values",
    "dual_roundoff",
    "null_space_dual",
    "optimal_cone_multipliers",
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
        with ``z_{:,k} = β_k P_N ∇ℓ(Ŷ)_{:,k}``; for the null-space combination of
        small ``λ``, the coefficient ``b_k`` of ``(I − P_N)∇ℓ``, see ``dual_note``).
    max_constraint : ndarray (c,)
        ``M_k``: the largest dual-constraint value of ``∇ℓ(Ŷ)_{:,k}`` (an upper bound,
        tight where ``exact``). At ``λ = 0``: ``max_i ‖(Aᵀz_{:,k})_i‖`` of ``z`` itself,
        the round-off left in ``Aᵀz = 0`` (about ``1e-16·‖A‖·‖z‖``).
    exact : bool
        Whether every cone projection behind ``max_constraint`` finished exactly.
        The certificate is valid either way; inexact only means conservative.
    residual_violation : float
        Cone violation left after the repair (round-off; 0 when not repaired).
    predictions_preserved : bool
        ``False`` only when the repair could not keep the predictions (a gate not
        strictly inside its cone) and fell back to projecting ``v`` and ``w``.
    dual_note : str
        How the dual point was built when it is not the plain scaled gradient
        (empty otherwise): at ``λ = 0`` the null-space point and its residual, or the
        trivial bound 0 and why; at small ``λ`` the null-space combination; and any
        fallback of the final guard (``dual`` above ``primal`` beyond round-off).
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
    dual_note: str = ""

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
            "dual_note": self.dual_note,
        }


def _relative(gap, primal):
    return gap / max(abs(primal), np.finfo(float).tiny)


# ---------------------------------------------------------------------------
# dual side
# ---------------------------------------------------------------------------


def _logistic_output_dual(m0, s, gmax, w=None):
    """``max_{γ ∈ [0, gmax]} −(1/s) Σ_j ŵ_j h(γ m0_j)``, ``h(μ) = μ log μ + (1−μ) log(1−μ)``.

    ``m0 = −sY∇ℓ/ŵ ∈ [0, 1]`` (``ŵ = 1`` unweighted) so ``μ = γ m0`` stays in the conjugate's domain for
    ``γ <= 1``. The objective is concave in ``γ``; at the optimum of the primal the
    best ``γ`` is 1, away from it a smaller ``γ`` can tighten the bound.
    """

    def neg_dual(g):
        mu = g * m0
        h = xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)
        return float(h.sum() if w is None else w @ h) / s

    if gmax <= 0.0:
        return 0.0
    # φ(γ) = Σ ŵ h(γ m0) is convex with φ'(γ) = Σ ŵ m0 log(μ/(1−μ)), μ = γ m0: when
    # φ'(γmax) <= 0 it decreases on the whole interval and γmax is exact (the common case
    # near the optimum, where the best γ is 1), with no search
    mu = gmax * m0
    with np.errstate(divide="ignore", invalid="ignore"):
        dphi = np.where(m0 > 0, m0 * (np.log(mu) - np.log1p(-mu)), 0.0)
    slope = float(dphi.sum() if w is None else w @ dphi)
    if slope <= 0.0:  # NaN (never expected) falls through to the search
        return gmax
    best, val = gmax, neg_dual(gmax)
    res = minimize_scalar(neg_dual, bounds=(0.0, gmax), method="bounded",
                          options={"xatol": 1e-12 * gmax})
    if res.success and res.fun < val:
        best = float(res.x)
    return best


def _scaled_dual_value(problem, grad, max_norm):
    """Best ``D(z)`` over ``z_{:,k} = γ_k ∇ℓ_{:,k}`` with ``γ_k ∈ [0, λ / M_k]``.

    Squared loss: ``D = Σ_k γ_k⟨ρ_k, Y_k⟩ − (s/2)γ_k²Σ_j ρ_jk²/ŵ_j`` with ``ρ = −∇ℓ``,
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
        rr = problem.conjugate_curvature(rho, axis=0)
        ry = np.einsum("nk,nk->k", rho, problem.Y)
        ok = rr > 0
        gamma[ok] = np.minimum(np.maximum(ry[ok] / (problem.s * rr[ok]), 0.0), cap[ok])
    else:
        w = _weights_1d(problem)
        m0 = np.clip(logistic_mu(grad, problem.Y, problem.row_weights), 0.0, 1.0)
        for k in range(c):
            gamma[k] = _logistic_output_dual(m0[:, k], problem.s, min(1.0, cap[k]), w)
    z = grad * gamma[None, :]
    return -problem.loss_conjugate(z), z, gamma


def _weights_1d(problem):
    """``ŵ`` as an ``(n,)`` array, or None for an unweighted problem."""
    rw = getattr(problem, "row_weights", None)
    return None if rw is None else rw[:, 0]


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


#: The null space of ``Aᵀ`` is computed only up to this ``n`` (an SVD of the explicit
#: ``A`` when ``p·d̃ <= n``, else an eigendecomposition of the ``n × n`` kernel
#: ``AAᵀ``); beyond it ``λ = 0`` gets the trivial bound 0.
NULL_SPACE_MAX_N = 4000

#: ``λ > 0``: the basis is computed *for* a certificate only when this is cheap
#: (``p·d̃ < n`` and ``n·(p·d̃)²`` below this many flops, a fraction of a second);
#: a basis already cached on the problem (from a ``λ = 0`` certificate, or any
#: earlier one) is always used.
NULL_SPACE_MAX_FLOPS = 1e9

#: ``λ = 0`` with ``p·d̃ > n``: the explicit SVD of ``A`` (accurate) is used while
#: ``n²·p·d̃`` stays below this many flops; beyond it the ``n × n`` kernel route.
EXPLICIT_SVD_MAX_FLOPS = 2e9

_EPS = np.finfo(float).eps

#: The explicit ``n × p·d̃`` operator is formed for an SVD only up to this many entries
#: (128 MB) when ``p·d̃ > n``.
_EXPLICIT_MAX_ENTRIES = 1 << 24

#: Budget (flops) for checking the candidate null directions of the eigendecomposition
#: route with the adjoint (``k·n·p·d̃``).
_VERIFY_MAX_FLOPS = 8e10


@dataclass
class _NullSpace:
    """A numerical basis of ``null(Aᵀ)``, ``A = [D_1X̃ … D_pX̃]`` (``n × p·d̃``).

    ``kind == "range"``: ``basis`` is an orthonormal basis ``Q`` of ``range(A)`` and
    ``P_N g = g − QQᵀg`` (applied twice: the second pass removes the round-off
    range component the first leaves, so ``P_N g`` is a null vector to working
    precision even when it is tiny). ``kind == "null"``: ``basis`` is an orthonormal
    ``N`` with ``P_N g = NNᵀg``.

    ``cut`` is the singular-value threshold ``max(n, p·d̃)·ε·σ_max`` (numpy's
    ``matrix_rank`` and ``lstsq`` default): directions of ``A`` with a larger singular
    value count as range. Keeping a borderline direction in the range can only
    *lower* the bound ``D = ‖P_N y‖²/(2s)``, so the conservative side is the range.
    ``verified``: every null direction was checked by computing ``‖Aᵀv‖ <= cut``
    directly (not through the squared kernel).
    """

    kind: str
    basis: np.ndarray
    rank: int
    n: int
    cut: float
    a_fro: float
    verified: bool = True

    @property
    def dim(self):
        """Dimension of the numerical null space ``n − rank``."""
        return self.n - self.rank

    def project(self, G):
        """``P_N G`` for ``G`` of shape ``(n, c)``."""
        B = self.basis
        if self.kind == "null":
            return B @ (B.T @ G)
        Z = G - B @ (B.T @ G)
        return Z - B @ (B.T @ Z)


def _explicit_operator(Xt, M):
    """``A = [D_1X̃ … D_pX̃]`` as an ``n × (p·d̃)`` array (small problems only)."""
    return (M[:, :, None] * Xt[:, None, :]).reshape(Xt.shape[0], -1)


def _adjoint_rows(Xt, M, V, chunk_floats=1 << 22):
    """``(AᵀV)ᵀ`` of shape ``(k, p·d̃)`` for ``V`` of shape ``(n, k)``, in chunks of columns."""
    n, k = V.shape
    width = Xt.shape[1] * M.shape[1]
    out = np.empty((k, width))
    step = max(1, chunk_floats // max(width, 1))
    for a in range(0, k, step):
        out[a:a + step] = adjoint(Xt, M, V[:, a:a + step]).reshape(-1, width)
    return out


def _pow2_scale(X):
    """The power of two nearest ``max|X|`` (1 for zero or non-finite ``X``)."""
    top = float(np.abs(X).max()) if X.size else 0.0
    if not (np.isfinite(top) and top > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(top)))))


def _null_space(problem, *, build=True):
    """The cached :class:`_NullSpace` of the problem, computed on first use.

    Returns ``None`` when ``n > NULL_SPACE_MAX_N`` or when it is not cached and
    ``build`` is false. Cost, once per problem (the cache is shared by
    :meth:`with_lam` copies):

    - ``p·d̃ <= n``, or ``p·d̃ > n`` with ``n²·p·d̃ <= EXPLICIT_SVD_MAX_FLOPS`` and
      ``A`` under 128 MB: an SVD of the explicit ``A`` (accurate);
    - otherwise an ``n × n`` eigendecomposition of ``AAᵀ = (X̃X̃ᵀ) ∘ (MMᵀ)`` whose
      small-eigenvalue directions ``V₀`` are then checked by an SVD of ``V₀ᵀA``
      computed with the adjoint (``O(k·n·p·d̃)``, ``k = dim V₀``). Only directions
      with ``‖Aᵀv‖ <= cut`` *as computed from A* enter the null basis. The
      eigenvalues of ``AAᵀ`` carry an absolute error ``~n·ε·σ_max²`` (it squares the
      condition number), so its eigenvectors are null vectors only to about
      ``√ε·σ_max``: a true null space can fail the check and be counted as range,
      which only lowers the bound (to 0 at worst), never raises it.
    """
    cached = getattr(problem, "_range_basis_cache", None)
    if isinstance(cached, _NullSpace):
        return cached
    n = problem.n
    if n > NULL_SPACE_MAX_N or not build:
        return None
    width = problem.d * problem.p
    # null(Aᵀ) does not change when X̃ is scaled: work with X̃/a (a a power of two,
    # exact) so that X̃X̃ᵀ and the SVD neither overflow nor underflow, and carry
    # the scale back into the thresholds
    scale = _pow2_scale(problem.X_tilde)
    Xt, M = problem.X_tilde / scale, problem.masks
    # ‖A‖_F² = Σ_j ‖x̃_j‖²·(number of patterns active on row j)
    a_fro = float(np.sqrt(np.sum(np.sum(Xt * Xt, axis=1) * M.sum(axis=1))))
    tiny = np.finfo(float).tiny
    if width <= n or (n * width <= _EXPLICIT_MAX_ENTRIES and n * n * float(width) <= EXPLICIT_SVD_MAX_FLOPS):
        # accurate: singular values of A itself, good to ε·σ_max
        U, sv, _ = np.linalg.svd(_explicit_operator(Xt, M), full_matrices=False)
        cut = max(n, width) * _EPS * (float(sv[0]) if sv.size else 0.0)
        rank = int(np.sum(sv > max(cut, tiny)))
        if width <= n:
            ns = _NullSpace("range", np.ascontiguousarray(U[:, :rank]), rank, n, cut, a_fro)
        else:  # U is n × n: its trailing columns span null(Aᵀ)
            ns = _NullSpace("null", np.ascontiguousarray(U[:, rank:]), rank, n, cut, a_fro)
    else:
        K = (Xt @ Xt.T) * (M @ M.T)
        w, V = np.linalg.eigh(K)
        wmax = max(float(w[-1]), 0.0)
        cut = max(n, width) * _EPS * np.sqrt(wmax)
        # Candidates for null(Aᵀ), resolved below by an SVD of V₀ᵀA computed with the
        # adjoint (not through the squared kernel). A computed eigenvector leaks
        # ~ε·wmax/w_j into each direction j of eigenvalue w_j (Davis–Kahan), which
        # adds ε·wmax/σ_j to ‖Aᵀv‖; so every direction with σ_j < 10·σ_max/n, i.e.
        # w_j < 100·wmax/n², must be inside V₀ for the check ‖Aᵀv‖ <= cut to pass
        # on true null vectors. With fewer (budget), true null directions may fail
        # the check and count as range: conservative.
        must = w <= 100.0 * n * _EPS * wmax  # eigenvalues indistinguishable from 0
        want = w <= max(100.0 * wmax / (n * n), 100.0 * n * _EPS * wmax)
        k_max = int(_VERIFY_MAX_FLOPS // max(n * float(width), 1.0))
        k_must, k_want = int(must.sum()), int(want.sum())
        if k_must == 0:
            ns = _NullSpace("null", np.zeros((n, 0)), n, n, cut, a_fro)
        elif k_must > k_max:
            # too many candidates to check: an eigenvector of AAᵀ is a null vector only
            # to ~√ε·σ_max, which can lift D above p* by round-off; use none (rank n,
            # the trivial bound) rather than unchecked ones
            ns = _NullSpace("null", np.zeros((n, 0)), n, n, cut, a_fro, verified=False)
        else:
            V0 = V[:, : min(k_want, k_max)]  # eigh sorts ascending
            B = _adjoint_rows(Xt, M, V0)  # (k, p·d̃): row j is (Aᵀv_j)ᵀ
            W, S, _ = np.linalg.svd(B, full_matrices=False)  # ‖Aᵀ(V₀W_j)‖ = S_j
            null = S <= max(cut, tiny) if wmax > 0 else np.ones(S.size, bool)
            N = np.ascontiguousarray(V0 @ W[:, null])
            ns = _NullSpace("null", N, n - N.shape[1], n, cut, a_fro)
    ns.cut *= scale
    ns.a_fro *= scale
    problem._range_basis_cache = ns
    return ns


def _residual_tol(ns, z_norm):
    """Largest ``‖Aᵀz‖_F`` accepted as round-off for a null vector ``z`` of norm ``z_norm``.

    A verified null direction has ``‖Aᵀv‖ <= cut``; evaluating ``Aᵀz`` in floating
    point adds about ``ε·‖A‖_F·‖z‖`` per entry. Ten times the larger of the two.
    """
    return 10.0 * max(ns.cut, max(ns.n, 1) * _EPS * ns.a_fro) * z_norm


# -- best dual value on the family z = a·z_n + b·z_r ---------------------------


def _squared_pair(zn, zr, y, s, amax, bmax, winv=None):
    """``max −⟨z, y⟩ − (s/2)Σ z²/ŵ`` over ``z = a·zn + b·zr``, ``|a| <= amax(b)``, ``0 <= b <= bmax``.

    ``amax(b) = amax[0] − amax[1]·b`` (``amax[0] = inf``: ``a`` free). Only five inner
    products are needed; the inner maximum over ``a`` is a clipped closed form and
    the outer function of ``b`` is concave (partial maximum of a jointly concave
    function over a convex set), maximised by a bounded scalar search.
    Returns ``(a, b)``.
    """
    cn, cr = -float(zn @ y), -float(zr @ y)
    wn = zn if winv is None else zn * winv  # weighted inner products ⟨a, b⟩_{1/ŵ}
    wr = zr if winv is None else zr * winv
    nn, nr, rr = s * float(zn @ wn), s * float(zn @ wr), s * float(zr @ wr)

    def best_a(b):
        if nn <= 0.0:
            return 0.0
        a = (cn - nr * b) / nn
        lim = max(amax[0] - amax[1] * b, 0.0)
        return float(np.clip(a, -lim, lim)) if np.isfinite(lim) else a

    def value(a, b):
        return cn * a + cr * b - 0.5 * (nn * a * a + 2.0 * nr * a * b + rr * b * b)

    if bmax <= 0.0:
        return best_a(0.0), 0.0
    res = minimize_scalar(lambda b: -value(best_a(b), b), bounds=(0.0, bmax), method="bounded",
                          options={"xatol": 1e-13 * bmax})
    cands = [0.0, bmax] + ([float(res.x)] if res.success else [])
    b = max(cands, key=lambda t: value(best_a(t), t))
    return best_a(b), b


def _entropy_sum(mu, w=None):
    mu = np.clip(mu, 0.0, 1.0)
    h = xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)
    return float(h.sum() if w is None else w @ h)


def _a_interval(mn, mr, b, lim):
    """``{a : 0 <= a·mn + b·mr <= 1} ∩ [−lim, lim]`` as ``(lo, hi)``; ``lo > hi`` when empty."""
    base = b * mr
    if np.any((mn == 0) & ((base < 0) | (base > 1))):
        return 1.0, -1.0
    pos, neg = mn > 0, mn < 0
    lo, hi = -lim, lim
    if pos.any():
        lo = max(lo, float(np.max(-base[pos] / mn[pos])))
        hi = min(hi, float(np.min((1.0 - base[pos]) / mn[pos])))
    if neg.any():
        lo = max(lo, float(np.max((1.0 - base[neg]) / mn[neg])))
        hi = min(hi, float(np.min(-base[neg] / mn[neg])))
    return lo, hi


def _logistic_pair(mn, mr, s, amax, bmax, w=None):
    """Logistic version of :func:`_squared_pair` in terms of ``μ = −sY z/ŵ = a·mn + b·mr``.

    Maximises ``−(1/s) Σ ŵ_j h(μ_j)`` with ``μ ∈ [0, 1]`` (the conjugate's domain).
    ``(a, b) = (0, 0)`` is always feasible, so the set of feasible ``b`` is an
    interval ``[0, b_hi]``, found by bisection. Returns ``(a, b)``.
    """

    def lim(b):
        return max(amax[0] - amax[1] * b, 0.0) if np.isfinite(amax[0]) else np.inf

    def inner(b):
        lo, hi = _a_interval(mn, mr, b, lim(b))
        if lo > hi:
            return None, np.inf
        if not np.any(mn != 0):
            return 0.0, _entropy_sum(b * mr, w)
        lo_f, hi_f = lo, hi
        if not np.isfinite(lo_f) or not np.isfinite(hi_f):  # cannot happen with mn != 0
            return 0.0, _entropy_sum(b * mr, w)
        f = lambda a: _entropy_sum(a * mn + b * mr, w)
        best = min((lo_f, hi_f, 0.0 if lo_f <= 0.0 <= hi_f else lo_f), key=f)
        if hi_f > lo_f:
            r = minimize_scalar(f, bounds=(lo_f, hi_f), method="bounded",
                                options={"xatol": 1e-13 * max(hi_f - lo_f, 1e-300)})
            if r.success and r.fun < f(best):
                best = float(r.x)
        return best, f(best)

    b_hi = bmax
    if inner(b_hi)[0] is None:
        lo_b, hi_b = 0.0, bmax
        for _ in range(60):
            mid = 0.5 * (lo_b + hi_b)
            lo_b, hi_b = (mid, hi_b) if inner(mid)[0] is not None else (lo_b, mid)
        b_hi = lo_b
    if b_hi <= 0.0:
        a, _ = inner(0.0)
        return (a if a is not None else 0.0), 0.0
    res = minimize_scalar(lambda b: inner(b)[1], bounds=(0.0, b_hi), method="bounded",
                          options={"xatol": 1e-13 * b_hi})
    cands = [0.0, b_hi] + ([float(res.x)] if res.success else [])
    b = min(cands, key=lambda t: inner(t)[1])
    a, _ = inner(b)
    return (a if a is not None else 0.0), b


def _pair_dual(problem, zn, zr, amax, bmax):
    """Best ``z_{:,k} = a_k zn_{:,k} + b_k zr_{:,k}`` per output; ``amax``, ``bmax`` per output.

    Returns ``(D, z, a, b)``.
    """
    c = zn.shape[1]
    a, b = np.zeros(c), np.zeros(c)
    w = _weights_1d(problem)
    winv = None if w is None else inverse_weights(w)
    for k in range(c):
        if problem.loss == "squared":
            a[k], b[k] = _squared_pair(zn[:, k], zr[:, k], problem.Y[:, k], problem.s, amax[k],
                                       bmax[k], winv)
        else:
            y = problem.Y[:, k]
            mn, mr = -problem.s * y * zn[:, k], -problem.s * y * zr[:, k]
            if winv is not None:
                mn, mr = mn * winv, mr * winv
            a[k], b[k] = _logistic_pair(mn, mr, problem.s, amax[k], bmax[k], w)
    z = zn * a[None, :] + zr * b[None, :]
    return -problem.loss_conjugate(z), z, a, b


def _group_max(G):
    """``max_i ‖G_{k,:,i}‖`` per output: an upper bound on every dual-constraint value."""
    return np.linalg.norm(G, axis=1).max(axis=1) if G.size else np.zeros(G.shape[0])


def _lam_zero_dual(problem, grad):
    """``λ = 0``: the dual feasible set is ``{z : Aᵀz = 0}``; the best ``z = β P_N ∇ℓ``.

    (For C-ReLU too: any such ``z`` is feasible with zero cone multipliers.) For the
    squared loss at any weights ``P_N ∇ℓ = −P_N Y/s``, so ``D = ‖P_N Y‖²/(2s) = p*``.
    Built to be valid by construction:

    - no null space (``rank A = n``, the usual case when ``p·d̃ >= n``): the trivial
      bound ``D = 0 <= p*`` (both losses are non-negative), with the reason;
    - otherwise ``P_N ∇ℓ`` from the verified basis; an output whose projection is at
      round-off level relative to ``∇ℓ`` gets ``β = 0`` (scaling round-off up is how
      a bound above ``p*`` arises), and a dual point whose computed residual
      ``‖Aᵀz‖`` exceeds round-off (:func:`_residual_tol`) is rejected.

    Returns ``(D, z, β, M, note)`` with ``M_k = max_i ‖(Aᵀz)_{k,i}‖`` (the residual).
    """
    c = grad.shape[1]
    zero = (0.0, np.zeros_like(grad), np.zeros(c), np.zeros(c))
    if getattr(problem, "has_zero_weights", False):
        # P_N∇ℓ does not vanish on zero-weight rows, where ℓ* needs z = 0
        return (*zero, "λ = 0: trivial bound 0 (zero sample weights: the null-space "
                       "point is not in the conjugate's domain)")
    ns = _null_space(problem)
    if ns is None:
        return (*zero, f"λ = 0: trivial bound 0 (n = {problem.n} > NULL_SPACE_MAX_N = "
                       f"{NULL_SPACE_MAX_N}: null(Aᵀ) not computed)")
    if ns.dim == 0:
        why = (f"null(Aᵀ) numerically trivial: rank A = n = {ns.n}" if ns.verified else
               "the candidate null directions of AAᵀ are too many to verify at this size")
        return (*zero, f"λ = 0: trivial bound 0 ({why})")
    zn = ns.project(grad)
    gnorm = np.linalg.norm(grad, axis=0)
    znorm = np.linalg.norm(zn, axis=0)
    live = znorm > 10.0 * max(problem.n, 1) * _EPS * gnorm
    zn = zn * live[None, :]
    inf2 = np.full((c, 2), [np.inf, 0.0])
    dual, z, beta, _ = _pair_dual(problem, zn, np.zeros_like(zn), inf2, np.zeros(c))
    G = adjoint(problem.X_tilde, problem.masks, z)
    res = np.sqrt(np.sum(G * G, axis=(1, 2)))
    bad = ~(res <= _residual_tol(ns, np.linalg.norm(z, axis=0)))  # NaN counts as bad
    if bad.any():
        beta[bad] = 0.0
        z[:, bad] = 0.0
        dual = -problem.loss_conjugate(z)
        G = adjoint(problem.X_tilde, problem.masks, z)
    M = _group_max(G)
    parts = [f"λ = 0: dual point in null(Aᵀ) (dim {ns.dim}, rank A = {ns.rank}) up to round-off "
             f"residual ‖Aᵀz‖ = {float(np.sqrt(np.sum(G * G))):.1e}"]
    if (~live).any():
        parts.append(f"outputs {np.flatnonzero(~live).tolist()}: gradient has no component in "
                     "null(Aᵀ) above round-off, trivial bound 0")
    if bad.any():
        parts.append(f"outputs {np.flatnonzero(bad).tolist()}: residual above round-off, "
                     "rejected, trivial bound 0")
    return dual, z, beta, M, "; ".join(parts)


def _null_space_candidate(problem, grad, M_g):
    """``λ > 0``: the best ``z = a·P_N∇ℓ + b·(I − P_N)∇ℓ`` that is provably feasible.

    With ``z_n = P_N∇ℓ`` and ``z_r = ∇ℓ − z_n``, each constraint value is a
    support function (a norm, or ``‖Π_K(·)‖ = sup_{u∈K, ‖u‖<=1}⟨·, u⟩``), hence
    sublinear, so for every group

        value(a z_n + b z_r) <= |a|·M_n + |b|·(M_g + M_n),

    with ``M_n = max_i ‖(Aᵀz_n)_i‖`` *as computed* (round-off small: ``z_n`` is a
    null vector) and ``M_g`` the gradient's own maximum. Keeping that bound ``<= λ``
    makes ``z`` feasible as evaluated, so the bound is rigorous at any ``λ > 0``.
    At small ``λ`` an inexact solution has ``M_g ≫ λ``: the scaled point ``γ∇ℓ`` is
    then ~0 (gap ≈ 100 %), while ``a ≈ 1`` keeps the null component, which carries
    nearly all of the dual optimum. Returns ``(D, z, b, note)`` or ``None`` (also with
    zero sample weights: ``z_n`` does not vanish on those rows).
    """
    if getattr(problem, "has_zero_weights", False):
        return None
    ns = _null_space(problem, build=False)
    if ns is None:
        width = problem.d * problem.p
        if width >= problem.n or problem.n * float(width) ** 2 > NULL_SPACE_MAX_FLOPS:
            return None
        ns = _null_space(problem)
        if ns is None:
            return None
    if ns.dim == 0:
        return None
    zn = ns.project(grad)
    gnorm = np.linalg.norm(grad, axis=0)
    live = np.linalg.norm(zn, axis=0) > 10.0 * max(problem.n, 1) * _EPS * gnorm
    if not live.any():
        return None
    zn = zn * live[None, :]
    zr = grad - zn
    M_n = _group_max(adjoint(problem.X_tilde, problem.masks, zn))
    M_r = np.asarray(M_g, dtype=float) + M_n
    lam = problem.lam
    with np.errstate(divide="ignore"):
        amax = np.stack([np.where(M_n > 0, lam / np.where(M_n > 0, M_n, 1.0), np.inf),
                         np.where(M_n > 0, M_r / np.where(M_n > 0, M_n, 1.0), 0.0)], axis=1)
        bmax = np.where(M_r > 0, lam / np.where(M_r > 0, M_r, 1.0), 0.0)
    if problem.loss == "logistic":
        bmax = np.minimum(bmax, 1.0)
    dual, z, a, b = _pair_dual(problem, zn, zr, amax, bmax)
    # the computed (a, b) must satisfy the bound as evaluated: shrink by round-off if not
    used = np.abs(a) * M_n + np.abs(b) * M_r
    over = used > lam
    if over.any():
        f = np.where(over, lam / np.where(over, used, 1.0) * (1.0 - 4 * _EPS), 1.0)
        a, b = a * f, b * f
        z = zn * a[None, :] + zr * b[None, :]
        dual = -problem.loss_conjugate(z)
    note = (f"null-space dual point (dim null(Aᵀ) = {ns.dim}): z = a·P_N∇ℓ + b·(I − P_N)∇ℓ, "
            f"a = {np.array2string(a, precision=3)}, b = {np.array2string(b, precision=3)}, "
            f"constraint bound {np.array2string(np.abs(a) * M_n + np.abs(b) * M_r, precision=3)} <= λ")
    return dual, z, b, note


def null_space_dual(problem, grad, max_norm):
    """The small-``λ`` dual candidate for a solver's own stopping test (``λ > 0``).

    ``grad = ∇ℓ(pred)`` and ``max_norm`` its largest dual-constraint value per output
    (an upper bound; for C-ReLU the cone-projection norm). Returns ``(D, z)`` with
    ``D <= p*`` from :func:`_null_space_candidate`, or ``None`` when it does not
    apply (``λ = 0``, ``n > NULL_SPACE_MAX_N``, no cached basis and ``p·d̃ >= n`` or
    too costly, or ``null(Aᵀ)`` trivial). Worth calling only when the scaled bound
    is capped (``max_norm > λ``) and below ``ℓ(pred)``; :func:`certify` does so.
    The first call may build the basis (cached on ``problem``); later calls cost a
    projection and one adjoint pass.
    """
    if problem.lam <= 0:
        return None
    found = _null_space_candidate(problem, np.asarray(grad, dtype=float),
                                  np.broadcast_to(np.asarray(max_norm, dtype=float), (problem.c,)))
    if found is None or not np.isfinite(found[0]):
        return None
    return found[0], found[1]

# ---------------------------------------------------------------------------
# any penalty (DESIGN §10): D(z) = −ℓ*(z) − (λR)*(−Aᵀz), cones by a polar point
# ---------------------------------------------------------------------------


def _uses_generic(problem):
    """Whether the problem's penalty is not the default neuron group (the fast, specialised path)."""
    from .penalties import DEFAULT_PENALTY

    return getattr(problem, "penalty", DEFAULT_PENALTY) is not DEFAULT_PENALTY


def _cone_projections(problem, G):
    """``Π_{K_i}(−G_{k,:,i})`` and ``Π_{K_i}(G_{k,:,i})`` as ``(2, c, d̃, p)``, and whether all are exact.

    Each returned column is ``y + Ã_iᵀα`` with ``α >= 0`` (:func:`project_columns`),
    so ``μ = −Ã_iᵀα`` lies in the polar cone ``K_i°`` whether or not it is exact:
    every bound built from these vectors is valid.
    """
    c, d, p = G.shape
    cols = np.concatenate([-G, G]).transpose(1, 0, 2).reshape(d, 2 * c * p)
    P, ok, _ = project_columns(problem.X_tilde, problem.patterns.masks, cols,
                               np.tile(np.arange(p), 2 * c))
    return P.reshape(d, 2, c, p).transpose(1, 2, 0, 3), bool(np.all(ok))


def _multiplier_vectors(problem, G, multipliers):
    """``Ã_iᵀγ_{k,i} − G_{k,i}`` and ``Ã_iᵀξ_{k,i} + G_{k,i}`` (``(2, c, d̃, p)``) from cone multipliers.

    For the Lagrangian ``F − Σ⟨γ, Ãv⟩ − Σ⟨ξ, Ãw⟩`` with ``γ, ξ >= 0`` (clipped here),
    ``inf_v ⟨Aᵀz, v⟩ + λR(v) − ⟨Ãᵀγ, v⟩ = −(λR)*(Ãᵀγ − Aᵀz)``: these are the arguments
    of the conjugates, and the bound is valid for any non-negative multipliers.
    """
    n, c, p = problem.n, problem.c, problem.p
    L = np.maximum(np.asarray(multipliers, dtype=float), 0.0)  # (2, n, c, p)
    S = problem.signs[:, None, :]
    out = np.empty((2, c, problem.d, p))
    for b in range(2):
        T = problem.X_tilde.T @ (S * L[b]).reshape(n, c * p)  # (d̃, cp)
        out[b] = T.reshape(problem.d, c, p).transpose(1, 0, 2)
    out[0] -= G
    out[1] += G
    return out


def _best_gamma(problem, grad, kind, data):
    """Best ``D(γ) = −ℓ*(γ∇ℓ) − conj(γ)`` for one family of dual points; returns ``(D, z, γ, M)``.

    ``kind == "norm"``: ``data`` is ``M`` (per output, or one float when the dual norm
    couples the outputs, which then share one ``γ``), feasible for ``γ <= λ/M``.
    ``kind == "conj"``: ``data`` is ``γ ↦ conj`` per output ``(c,)``, the penalty's
    conjugate along the direction (finite everywhere), maximised by a 1-D search.
    """
    from .datafits import make_datafit

    lam, c = problem.lam, problem.c
    if kind == "norm" and np.ndim(data) > 0:
        dual, z, gamma = _scaled_dual_value(problem, grad, data)
        return dual, z, gamma, np.asarray(data, dtype=float)
    fit = make_datafit(problem.loss, problem.Y, problem.row_weights)
    h, hi = fit.conjugate_along(grad)
    if kind == "norm":  # one scaling for all outputs
        M = float(data)
        cap = np.inf if M <= 0 else lam / M
        top = float(min(np.max(hi) if hi.size else 0.0, cap))
        f = lambda t: -float(np.sum(h(np.full(c, t))))
        ts = [0.0, top]
        if top > 0:
            r = minimize_scalar(f, bounds=(0.0, top), method="bounded", options={"xatol": 1e-13 * top})
            if r.success:
                ts.append(float(r.x))
        t = min(ts, key=f)
        gamma = np.full(c, t)
        Mv = np.full(c, M)
    elif np.size(data(np.zeros(c))) == 1 and c > 1:
        # a conjugate that couples the outputs (or one block of all columns): one γ
        conj = data
        top = float(np.max(hi)) if hi.size else 0.0
        f = lambda t: -float(np.sum(h(np.full(c, t))) - np.sum(conj(np.full(c, t))))
        ts = [0.0, top]
        if top > 0:
            r = minimize_scalar(f, bounds=(0.0, top), method="bounded", options={"xatol": 1e-13 * top})
            if r.success:
                ts.append(float(r.x))
        gamma = np.full(c, min(ts, key=f))
        Mv = np.full(c, np.nan)
    else:
        conj = data
        gamma = np.zeros(c)
        for k in range(c):
            if not hi[k] > 0:
                continue

            def f(t, k=k):
                g = np.full(c, t)
                return -float(h(g)[k] - conj(g)[k])

            ts = [0.0, float(hi[k])]
            r = minimize_scalar(f, bounds=(0.0, hi[k]), method="bounded",
                                options={"xatol": 1e-13 * hi[k]})
            if r.success:
                ts.append(float(r.x))
            gamma[k] = min(ts, key=f)
        Mv = np.full(c, np.nan)
    z = grad * gamma[None, :]
    dual = -problem.loss_conjugate(z)
    if kind == "conj":
        dual -= float(np.sum(data(gamma)))
    return dual, z, gamma, Mv


#: :func:`optimal_cone_multipliers` is run (one Clarabel SOCP/LP) only while the cone
#: constraints have at most this many rows ``2·n·c·p`` (about 0.2 s at 12 000 rows, one
#: thread); above it the certificate keeps the conservative polar point (its note says
#: so): pass the solver's multipliers there.
CONE_MULTIPLIER_MAX_ROWS = 100_000


def optimal_cone_multipliers(problem, G):
    """Cone multipliers ``(2, n, c, p)`` minimising the dual norm of ``Ãᵀγ ∓ G`` (norm penalties).

    For C-ReLU with a norm ``R`` that is not radial, the conjugate of ``λR + ι_{K_i}``
    at ``y`` is ``inf_{γ >= 0} ι{R°(y + Ã_iᵀγ) <= λ}``: the best dual scaling of
    ``z = τ∇ℓ`` is ``τ <= λ / M`` with ``M = min_{γ, ξ >= 0} max(R°(Ãᵀγ − G),
    R°(Ãᵀξ + G))`` (per output when ``R`` separates over outputs). By conic duality
    ``min_{γ>=0} R°(Ãᵀγ − G) = max {⟨−G, u⟩ : Ãu >= 0, R(u) <= 1}`` (for ``v``; ``+G``
    for ``w``), whose cone-constraint multipliers are the minimising ``γ``. Both
    blocks (and, for output-separable norms, every output's ball ``R(U_k) <= 1``)
    go into one CVXPY program solved by Clarabel (the penalty's ``cvx_expression``:
    no penalty is known by name). The solver's multipliers are only a candidate:
    :func:`_multiplier_vectors` clips them to ``>= 0`` and the dual norm is then
    evaluated exactly, so the bound stays valid whatever their accuracy.

    Returns ``None`` when the program is too large (:data:`CONE_MULTIPLIER_MAX_ROWS`)
    or the solve fails.
    """
    n, c, p, d = problem.n, problem.c, problem.p, problem.d
    pen = problem.penalty
    if not pen.homogeneous or 2 * n * c * p > CONE_MULTIPLIER_MAX_ROWS or n * c * p == 0:
        return None
    try:
        import cvxpy as cp
    except ImportError:  # pragma: no cover - cvxpy is a dependency
        return None
    Xt, S = problem.X_tilde, problem.signs
    Sc = np.tile(S, (1, c))
    Gc = np.asarray(G, dtype=float).transpose(1, 0, 2).reshape(d, c * p)
    # scale the objective to O(1) (Clarabel's tolerances are absolute-ish)
    scale = float(np.abs(Gc).max())
    if scale == 0.0:
        return np.zeros((2, n, c, p))
    Gs = Gc / scale
    cons, blocks, obj = [], [], 0
    for sign in (-1.0, 1.0):
        U = cp.Variable((d, c * p))
        cone = cp.multiply(Sc, Xt @ U) >= 0
        cons.append(cone)
        blocks.append(cone)
        obj = obj + sign * cp.sum(cp.multiply(Gs, U))
        if pen.separable_over_outputs:
            cons += [pen.cvx_expression(U[:, k * p:(k + 1) * p], 1, p) <= 1 for k in range(c)]
        else:
            cons.append(pen.cvx_expression(U, c, p) <= 1)
    prog = cp.Problem(cp.Maximize(obj), cons)
    try:
        with warnings.catch_warnings():
            # an inaccurate helper solve is still a candidate: its bound is evaluated exactly
            warnings.simplefilter("ignore")
            prog.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    except Exception:  # a failed helper solve only loses the candidate
        return None
    out = np.zeros((2, n, c, p))
    for b, cone in enumerate(blocks):
        dv = cone.dual_value
        if dv is None or not np.all(np.isfinite(dv)):
            return None
        out[b] = np.maximum(np.asarray(dv, dtype=float), 0.0).reshape(n, c, p) * scale
    return out


def _block_candidate(pen, Pv, Pw, lam):
    """The dual family from the conjugate arguments ``Pv`` (of ``v``) and ``Pw`` (of ``w``)."""
    if pen.homogeneous:
        return "norm", np.maximum(pen.dual_norm(Pv), pen.dual_norm(Pw))
    fv, fw = pen.conjugate_profile(Pv, lam), pen.conjugate_profile(Pw, lam)
    return "conj", lambda g: fv(g) + fw(g)


def _penalty_dual(problem, grad, multipliers=None):
    """Dual bound for a problem with any :class:`~convex_relu.penalties.Penalty` (``λ > 0``).

    C-GReLU: ``z = γ∇ℓ``, ``D = −ℓ*(z) − (λR)*(−γAᵀ∇ℓ)`` (a norm: ``γ <= λ/R°``).
    C-ReLU: the conjugate of ``λR + ι_{K_i}`` at ``y`` is ``inf_{μ ∈ K_i°} (λR)*(y − μ)``.
    Radial penalties (``R = Σ_g φ(‖u_g‖)``): exactly ``Σ_g (λφ)*(‖Π_{K_i}(y_g)‖)``.
    Others: bounded above with the polar points ``μ = y − Π_K(y)`` and, when given,
    ``μ = −Ãᵀ(multipliers)``; the better of the two dual values is kept (both valid;
    at an optimum with optimal multipliers the second is tight).

    Returns ``(D, z, γ, M, exact, note)``.
    """
    pen, lam = problem.penalty, problem.lam
    G = adjoint(problem.X_tilde, problem.masks, grad)  # (c, d̃, p)
    exact, note, computed = True, "", False
    cands = []
    if problem.formulation == "gated_relu":
        if pen.homogeneous:
            cands.append(("norm", pen.dual_norm(G)))
        else:
            cands.append(("conj", pen.conjugate_profile(-G, lam)))
    else:
        P, exact = _cone_projections(problem, G)
        if pen.radial:
            r = np.sqrt(np.einsum("bkdp,bkdp->bkp", P, P))  # (2, c, p)
            if pen.homogeneous:
                cands.append(("norm", r.max(axis=(0, 2))))
            else:
                cands.append(("conj", lambda g: pen.radial_conjugate(
                    np.asarray(g)[None, :, None] * r, lam).sum(axis=(0, 2))))
        else:
            cands.append(_block_candidate(pen, P[0], P[1], lam))
            note = "cone conjugate bounded through the polar point y − Π_K(y) (conservative)"
            if multipliers is None and pen.homogeneous:
                # none given: compute the multipliers that minimise the dual norm
                multipliers = optimal_cone_multipliers(problem, G)
                computed = multipliers is not None
                if not computed:
                    note += "; no cone multipliers computed (too large or failed)"
            if multipliers is not None:
                Q = _multiplier_vectors(problem, G, multipliers)
                cands.append(_block_candidate(pen, Q[0], Q[1], lam))
    best = None
    for i, (kind, data) in enumerate(cands):
        D, z, gamma, M = _best_gamma(problem, grad, kind, data)
        if best is None or (np.isfinite(D) and D > best[0]):
            best = (D, z, gamma, M)
            if i == 1:
                note = ("cone conjugate bounded through computed cone multipliers (min dual norm)"
                        if computed else "cone conjugate bounded through the solver's cone multipliers")
    return (*best, exact, note)


def cone_lam_max(problem, G):
    """``λ_max`` of a C-ReLU problem with a non-default penalty, from ``G = Aᵀ∇ℓ(0)``.

    ``0`` is optimal iff ``⟨G, v − w⟩ + λ(R(v) + R(w)) >= 0`` for all ``v, w ∈ K``, i.e.
    ``λ >= max_i sup {⟨∓G, u⟩ : u ∈ K, R(u) <= 1}`` for a norm. Radial penalties: the
    largest ``‖Π_{K_i}(∓G_{k,i})‖`` (divided by ``α`` for the elastic net). Other
    norms: the two support functions by one small CVXPY program each (Clarabel), so
    only for small problems. ``l2``: ``inf`` unless ``G = 0``.
    """
    pen = problem.penalty
    if pen.radial:
        P, _ = _cone_projections(problem, G)
        r = np.sqrt(np.einsum("bkdp,bkdp->bkp", P, P))
        # R = Σ φ(‖u_g‖): the radial value at unit norm is the group weight φ'(0+)
        slope = float(pen.radial_value(np.array([1e-300]))[0] / 1e-300)
        top = float(r.max()) if r.size else 0.0
        if slope <= 0:
            return 0.0 if top == 0.0 else np.inf
        return top / slope
    if not pen.homogeneous:
        raise NotImplementedError(f"λ_max with cones for {pen!r}: not a norm and not radial")
    import cvxpy as cp

    c, d, p = G.shape
    Xt, S = problem.X_tilde, problem.signs
    Sc = np.tile(S, (1, c))
    Gc = G.transpose(1, 0, 2).reshape(d, c * p)
    best = 0.0
    for sign in (-1.0, 1.0):
        U = cp.Variable((d, c * p))
        prog = cp.Problem(cp.Maximize(sign * cp.sum(cp.multiply(Gc, U))),
                          [cp.multiply(Sc, Xt @ U) >= 0, pen.cvx_expression(U, c, p) <= 1])
        prog.solve(solver=cp.CLARABEL)
        best = max(best, float(prog.value))
    return best


def _dual_bound(problem, pred, multipliers=None):
    """:func:`dual_bound` plus a note on how the dual point was built (``Certificate.dual_note``)."""
    grad = problem.loss_grad(pred)
    if problem.lam == 0:
        # every penalty: 0·R has conjugate ι_{0}, so the dual set is {Aᵀz = 0}
        dual, z, gamma, M, note = _lam_zero_dual(problem, grad)
        return dual, z, gamma, M, True, note
    if _uses_generic(problem):
        return _penalty_dual(problem, grad, multipliers)
    G = adjoint(problem.X_tilde, problem.masks, grad)
    M, exact = _max_constraints(problem, G)
    dual, z, gamma = _scaled_dual_value(problem, grad, M)
    note = ""
    lam = problem.lam
    # When to try the null-space candidate (its cost is an extra projection and
    # adjoint pass, plus a one-off basis): only when the scaled point is capped
    # (M_k > λ for some output) and it can be beaten at all. The candidate's value
    # is at most about p*(0) <= ℓ(pred), so D >= ℓ(pred) rules it out. At an
    # ordinary λ near the optimum D ≈ ℓ(pred) + λR(u) > ℓ(pred): never tried there.
    # It pays off at small λ, where an inexact solution has M_k ≫ λ and γ∇ℓ ≈ 0.
    if (np.any(M > lam) and problem.n <= NULL_SPACE_MAX_N
            and dual < problem.loss_value(pred)):
        found = _null_space_candidate(problem, grad, M)
        if found is not None and np.isfinite(found[0]) and found[0] > dual:
            dual, z, gamma, note = found
    return dual, z, gamma, M, exact, note


def dual_bound(problem, pred):
    """Dual lower bound ``D(z) <= p*`` from training predictions ``pred`` of shape ``(n, c)``.

    ``λ > 0``: ``z_{:,k} = γ_k ∇ℓ(pred)_{:,k}`` with ``γ_k`` the best feasible
    scaling; when that point is capped (``M_k > λ``) and could be beaten (``D <
    ℓ(pred)``, typical of small ``λ``), also the null-space combination of :func:`_null_space_candidate` (only for ``n <=
    NULL_SPACE_MAX_N`` with a cheap or cached basis), keeping the better.
    ``λ = 0``: :func:`_lam_zero_dual`. Costs one adjoint pass, plus, for C-ReLU, the
    largest cone-projection norm per output
    (:func:`convex_relu.cones.max_cone_projection_norm`).

    Returns
    -------
    dual : float
    z : ndarray (n, c)
    gamma : ndarray (c,)
    M : ndarray (c,)
    exact : bool
    """
    dual, z, gamma, M, exact, _ = _dual_bound(problem, pred)
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


def certify(problem, weights, *, multipliers=None):
    """Certify ``weights`` for ``problem``: primal, dual lower bound and gap.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    weights : ndarray of ``problem.weights_shape``
    multipliers : None or ndarray ``(2, n, c, p)``
        Cone multipliers (C-ReLU, a solver's ``Solution.duals``) for the Lagrangian
        ``F − Σ⟨γ, Ãv⟩ − Σ⟨ξ, Ãw⟩``. Used only by penalties whose cone conjugate has
        no closed form (not radial: ``l1``, ``feature_group``), where they make the
        bound tight; any non-negative values give a valid bound. ``None`` for such a
        norm: :func:`optimal_cone_multipliers` computes the best ones for the dual
        point (one small Clarabel program, up to :data:`CONE_MULTIPLIER_MAX_ROWS`).

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
    _check_problem(problem)
    W = problem.check_weights(weights)
    if multipliers is not None:
        if problem.formulation != "relu" or not _uses_generic(problem) or problem.penalty.radial:
            # no cone constraints, or a closed-form cone conjugate: nothing to use them for
            multipliers = None
        else:
            multipliers = np.asarray(multipliers, dtype=float)
            shape = (2, problem.n, problem.c, problem.p)
            if multipliers.shape != shape:
                raise ValueError(f"multipliers must have shape {shape}; got {multipliers.shape}.")
            if not np.all(np.isfinite(multipliers)):
                multipliers = None
    inner, scaling = problem.normalized()
    if scaling.is_identity:
        return _certify(problem, W, multipliers)
    # certify in normalised units (data of magnitude ~1: no overflow or underflow in
    # the Gram matrices and projections), then report in the user's units; the
    # multipliers scale like the dual point (Ã_userᵀα_user = ab·Ã_innerᵀα_inner)
    mult = None if multipliers is None else multipliers / scaling.b
    return _certificate_to_user(_certify(inner, scaling.weights_to_inner(W), mult), scaling)


def _check_problem(problem, name="problem"):
    from ._validation import InputTypeError

    if getattr(problem, "formulation", None) not in ("relu", "gated_relu") or not hasattr(
        problem, "check_weights"
    ):
        raise InputTypeError(
            f"{name} must be a GatedReLUProblem or ReLUProblem (from make_problem); "
            f"got {type(problem).__name__}."
        )


def _certificate_to_user(cert, sc):
    """A certificate of the normalised problem in the user's units (see :class:`Scaling`).

    Values (primal, dual, gap) scale by ``b²``, dual points and cone slacks by ``b``,
    weights by ``b/a``, dual-constraint values by ``a·b`` (like ``λ``); ratios
    (relative gap, the scalings ``γ``) are unit-free.
    """
    v = sc.value_to_user
    out = {f: getattr(cert, f) for f in cert.__dataclass_fields__}
    out.update(
        primal=v(cert.primal), dual=v(cert.dual), gap=v(cert.gap),
        dual_point=sc.dual_point_to_user(cert.dual_point),
        violation=cert.violation * sc.b,
        residual_violation=cert.residual_violation * sc.b,
        repair_size=cert.repair_size * (sc.b / sc.a),
        weights=None if cert.weights is None else sc.weights_to_user(cert.weights),
        max_constraint=None if cert.max_constraint is None else cert.max_constraint * (sc.a * sc.b),
    )
    return type(cert)(**out)


def _certify(problem, W, multipliers=None):
    """:func:`certify` on checked weights, in the problem's own units."""
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
    dual, z, gamma, M, exact, note = (_dual_bound(problem, pred) if multipliers is None
                                      else _dual_bound(problem, pred, multipliers))
    # Final guard: weak duality says D <= p* <= primal. A dual above the primal by
    # more than the round-off of evaluating them proves a numerical failure in the
    # dual point; fall back to the plain scaled point, else to z = 0 (D = 0 <= p*:
    # both losses and the regulariser are non-negative), and say so.
    slack = dual_roundoff(problem, primal)
    if not (np.isfinite(dual) and dual <= primal + slack):
        bad = f"dual {dual:.6g} above primal {primal:.6g} beyond round-off {slack:.1e}"
        grad = problem.loss_grad(pred)
        if problem.lam > 0 and not _uses_generic(problem):
            d2, z2, g2 = _scaled_dual_value(problem, grad, M)
        else:
            d2, z2, g2 = 0.0, np.zeros_like(grad), np.zeros(problem.c)
        if np.isfinite(d2) and d2 <= primal + slack:
            dual, z, gamma = d2, z2, g2
            note = f"{note + '; ' if note else ''}{bad}: fell back to the scaled bound"
        else:
            dual, z, gamma = 0.0, np.zeros_like(grad), np.zeros(problem.c)
            note = f"{note + '; ' if note else ''}{bad}: fell back to the trivial bound 0"
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
        dual_note=note,
    )


def dual_roundoff(problem, primal):
    """The round-off allowed between a dual bound and the primal: ``1e-12·(|P| + ℓ(0))``.

    ``ℓ(0)`` (``‖Y‖²/(2s)`` or ``log 2``) sets the scale of the data, so the allowance
    is unit-free: an optimum of ``1e-25`` in units where ``ℓ(0) = 0.5`` admits a dual
    up to ``5e-13``, and :func:`certify` never reports a gap below ``−dual_roundoff``.
    """
    scale = abs(float(primal)) + problem.loss_value(np.zeros_like(problem.Y))
    return 1e-12 * scale


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
        ``problem.patterns.complete``: enumerated, no candidate chamber dropped.
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
    from ._validation import InputTypeError, _as_real_array

    _check_problem(problem)
    for name, value in (("W1", W1), ("W2", W2)):
        if value is None:
            raise InputTypeError(f"{name} is None; expected a numeric array (the network's layer).")
    W1 = np.asarray(_as_real_array(W1, "W1", f"array of shape ({problem.d}, m)"), dtype=np.float64)
    W2 = np.asarray(_as_real_array(W2, "W2", "array of shape (m, c) or (m,)"), dtype=np.float64)
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
    _check_problem(problem)
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
        patterns_complete=problem.patterns.complete,
    )
