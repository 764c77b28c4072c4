"""Penalties ``λR(U)`` of the convex programs, one class each.

The programs are ``min ℓ(AU) + λR(U)`` (C-GReLU) and
``min ℓ(A(v − w)) + λ(R(v) + R(w))`` s.t. ``v_i, w_i ∈ K_i`` (C-ReLU). Weights of one
block have the layout of the package, ``U`` of shape ``(c, d̃, p)`` (output ``k``,
feature ``j``, pattern ``i``). Scalings (the regulariser is **not** divided by
``n``; the loss carries ``1/s``, ``s = n·c``):

=====================  ==============================================================
``"neuron_group"``     ``λ Σ_{k,i} ‖U_{k,:,i}‖₂`` (default; the group lasso of the paper)
``"feature_group"``    ``λ Σ_j ‖U_{:,j,:}‖₂``: feature ``j`` across all patterns and outputs
``"l1"``               ``λ ‖U‖₁``
``"l2"``               ``(λ/2) ‖U‖²_F``
``"group_elastic_net"``  ``λ(α Σ_{k,i} ‖U_{k,:,i}‖₂ + (1 − α)/2 ‖U‖²_F)``, ``α ∈ [0, 1]``
=====================  ==============================================================

What a penalty provides (and why)
---------------------------------
- ``value(U)`` = ``R(U)`` and ``prox(U, t)`` = ``prox_{tR}(U)`` (the R-FISTA step);
  ``prox_columns`` the same on the solvers' column layout.
- The dual pieces of the certificates (DESIGN §10). For ``z`` any dual point,
  ``D(z) = −ℓ*(z) − (λR)*(−Aᵀz) <= p*``:

  * a **norm** (``homogeneous``): ``(λR)*`` is the indicator of the dual-norm ball of
    radius ``λ``, so the certificate scales ``z`` into it using ``dual_norm(G)``;
  * otherwise ``conjugate(G, lam)`` gives ``(λR)*(G)`` (finite everywhere).
  * ``radial`` penalties are sums ``Σ_g φ(‖u_g‖)`` over the neuron groups ``g = (k, i)``
    with ``φ`` non-decreasing; for them ``radial_conjugate(r, lam)`` is ``(λφ)*(r)``
    elementwise. With the cones of C-ReLU the conjugate of ``λR + ι_K`` is then
    ``Σ_g (λφ)*(‖Π_{K_i}(y_g)‖)`` (infimal convolution with the polar cone, and
    ``dist(y, K°) = ‖Π_K(y)‖`` by Moreau), which the certificates evaluate exactly.
    For non-radial penalties with cones they use a feasible (conservative) polar
    point, or the solver's cone multipliers.
- ``cvx_expression(Z, c, p)``: ``R`` of a CVXPY ``d̃ × cp`` variable (column ``k·p + i``).
- ``lam_max_from_adjoint(G)``: the smallest ``λ`` at which ``U = 0`` is optimal, from
  ``G = Aᵀ∇ℓ(0)`` (``inf`` when no ``λ`` makes 0 optimal, as for ``l2``).
- ``normalized(lam, a, b)``: the penalty and ``λ`` of the problem in normalised units
  (``X̃ = aX̃_in``, ``Y = bY_in``, ``u = (b/a)u_in``; objectives scale by ``b²``). A norm
  keeps its parameters with ``λ = abλ_in``; ``‖·‖²`` needs ``λ = a²λ_in``; the elastic
  net changes ``α``.
- Flags the solvers ask instead of names: ``separable_over_neurons`` (groups never
  span patterns or outputs: working sets and the Newton finish are valid),
  ``separable_over_outputs`` (the dual may be scaled per output), ``newton_finish``
  (the support Newton of :mod:`convex_relu.newton` applies: neuron group only).

The non-convex network and claims
---------------------------------
``network_equivalent`` says whether the convex program is, with all patterns, exactly
the training problem of a two-layer ReLU network with a standard regulariser, so that
its certified optimum is a certified *global optimum of that network's training*.
Only the neuron group is (weight decay ``(λ/2)(‖W1‖² + ‖w2‖²)``, by AM-GM
``λ‖W1_j‖|w2_j| <= (λ/2)(‖W1_j‖² + w2_j²)`` with equality after rescaling). The other
penalties are convex *models* in their own right; each docstring says what network
objective they bound or correspond to. Claims must not say "global optimum of
weight-decay training" unless ``network_equivalent`` is true.

Adding a penalty
----------------
Subclass :class:`Penalty` and provide ``value``, ``prox``, ``dual_norm`` (for a norm)
or ``conjugate`` (otherwise), and ``cvx_expression``; override the flags. Every
solver, certificate and program then uses it through ``make_problem(...,
penalty=instance)``. Optional, for speed: ``prox_columns`` and ``lam_max_from_adjoint``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Penalty",
    "NeuronGroup",
    "FeatureGroup",
    "L1",
    "L2",
    "GroupElasticNet",
    "PENALTIES",
    "get_penalty",
    "DEFAULT_PENALTY",
]


def _norms(U, axis):
    return np.sqrt(np.sum(U * U, axis=axis))


class Penalty:
    """Base class of the penalties ``R`` (see the module docstring).

    Subclasses must implement :meth:`value`, :meth:`prox`, :meth:`cvx_expression`
    and either :meth:`dual_norm` (``homogeneous = True``) or :meth:`conjugate`.
    """

    name = "penalty"
    homogeneous = True
    radial = False
    separable_over_neurons = True
    separable_over_outputs = True
    newton_finish = False
    network_equivalent = False
    #: the non-convex network this penalty corresponds to (one sentence)
    network = "no standard non-convex network"

    # -- primal ---------------------------------------------------------------------
    def value(self, U):
        """``R(U)`` for ``U`` of shape ``(c, d̃, p)`` (or any stack of such blocks)."""
        raise NotImplementedError

    def prox(self, U, t):
        """``argmin_X tR(X) + ‖X − U‖²/2`` for ``U`` of shape ``(c, d̃, p)``."""
        raise NotImplementedError

    def prox_columns(self, Z, t, layout=None):
        """``prox_{tR}`` on the solvers' column layout; returns ``(X, parts)`` with ``Σ parts = R(X)``.

        ``Z`` is ``(d̃, q)``. ``layout = (blocks, c, p)`` when the columns are all of
        the program's groups (``q = blocks·c·p``, column ``b·cp + k·p + i``; C-ReLU
        has ``blocks = 2``: ``v`` then ``w``, each penalised by ``R``); ``None`` for an
        arbitrary subset of neuron groups (working sets: only for
        ``separable_over_neurons`` penalties, which then act on each column alone).
        """
        if layout is None:
            X = self.prox(Z[None], t)[0]
            return X, np.array([self.value(X[None])])
        blocks, c, p = layout
        d = Z.shape[0]
        W = Z.reshape(d, blocks, c, p).transpose(1, 2, 0, 3)
        X = np.stack([self.prox(W[b], t) for b in range(blocks)])
        parts = np.array([self.value(X[b]) for b in range(blocks)])
        return np.ascontiguousarray(X.transpose(2, 0, 1, 3).reshape(d, blocks * c * p)), parts

    def value_columns(self, Z, layout=None):
        """``R`` of column-layout weights (see :meth:`prox_columns`)."""
        if layout is None:
            return self.value(Z[None])
        blocks, c, p = layout
        d = Z.shape[0]
        W = Z.reshape(d, blocks, c, p).transpose(1, 2, 0, 3)
        return float(sum(self.value(W[b]) for b in range(blocks)))

    # -- dual -----------------------------------------------------------------------
    def dual_norm(self, G):
        """``R°(G)`` of ``G`` ``(c, d̃, p)``: per output ``(c,)`` when ``separable_over_outputs``, else a float."""
        raise NotImplementedError

    def conjugate(self, G, lam):
        """``(λR)*(G)`` per output ``(c,)`` (non-homogeneous penalties)."""
        raise NotImplementedError

    def conjugate_profile(self, G, lam):
        """``γ ↦ (λR)*(γG)`` per output; override to precompute (it is called in 1-D searches)."""
        return lambda gamma: self.conjugate(np.asarray(gamma)[:, None, None] * G, lam)

    def radial_conjugate(self, r, lam):
        """``(λφ)*(r)`` elementwise for radial penalties ``R = Σ_g φ(‖u_g‖)``."""
        raise NotImplementedError

    def radial_value(self, r):
        """``φ(r)`` elementwise for radial penalties."""
        raise NotImplementedError

    def radial_shrink(self, r, t):
        """For radial penalties: the factor ``σ(r) ∈ [0, 1]`` with ``prox_{tφ(‖·‖)}(u) = σ(‖u‖)u``."""
        raise NotImplementedError

    def column_scores(self, G):
        """Per column of ``G`` (``d̃ × q``, neuron groups): a value ``> λ`` iff that group being 0 violates optimality.

        Used only to rank groups for working sets (neuron-separable penalties);
        default the column norm (right for the neuron group).
        """
        return np.sqrt(np.einsum("ij,ij->j", G, G))

    def lam_max_from_adjoint(self, G):
        """Smallest ``λ`` at which ``0`` is optimal, from ``G = Aᵀ∇ℓ(0)``: ``R°(G)`` for a norm."""
        if not self.homogeneous:
            raise NotImplementedError
        return float(np.max(self.dual_norm(G))) if G.size else 0.0

    # -- modelling ------------------------------------------------------------------
    def cvx_expression(self, Z, c, p):
        """``R`` of a CVXPY expression ``Z`` of shape ``(d̃, c·p)`` (column ``k·p + i``)."""
        raise NotImplementedError

    def normalized(self, lam, a, b):
        """``(λ', R')`` with ``b²·λR(u_in) = λ'R'((b/a)u_in)`` (a norm: ``λ' = abλ``)."""
        if self.homogeneous:
            return lam * (a * b), self
        raise NotImplementedError(f"{type(self).__name__} must define normalized()")

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        # same class and parameters (arrays compared by value)
        if type(self) is not type(other):
            return False
        a, b = self.__dict__, other.__dict__
        return a.keys() == b.keys() and all(
            np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)

    def __hash__(self):
        return hash((type(self).__name__, repr(self)))


class NeuronGroup(Penalty):
    """``R(U) = Σ_{k,i} ‖U_{k,:,i}‖₂`` — one group per neuron (output, pattern).

    Non-convex network: a two-layer (gated) ReLU network trained with weight decay
    ``(λ/2)(‖W1‖²_F + ‖w2‖²)``; with all patterns the convex optimum *is* the global
    optimum of that training problem (``network_equivalent = True``).
    """

    name = "neuron_group"
    _instance = None

    def __new__(cls):
        # one instance (also after unpickling): the solvers recognise the default by identity
        if cls is NeuronGroup:
            if NeuronGroup._instance is None:
                NeuronGroup._instance = super().__new__(cls)
            return NeuronGroup._instance
        return super().__new__(cls)

    homogeneous = True
    radial = True
    separable_over_neurons = True
    separable_over_outputs = True
    newton_finish = True
    network_equivalent = True
    network = "two-layer ReLU network with weight decay (λ/2)(‖W1‖² + ‖w2‖²) (exact)"

    def value(self, U):
        U = np.asarray(U)
        return float(_norms(U, -2).sum())

    def prox(self, U, t):
        from .fista import group_soft_threshold

        return group_soft_threshold(U, t)

    def prox_columns(self, Z, t, layout=None):
        from .fista import _prox_columns

        return _prox_columns(Z, t)

    def value_columns(self, Z, layout=None):
        return float(_norms(Z, 0).sum())

    def dual_norm(self, G):
        return np.linalg.norm(G, axis=1).max(axis=1) if G.size else np.zeros(G.shape[0])

    def radial_value(self, r):
        return np.asarray(r, dtype=float)

    def radial_conjugate(self, r, lam):
        return np.where(np.asarray(r) <= lam, 0.0, np.inf)

    def radial_shrink(self, r, t):
        r = np.asarray(r, dtype=float)
        out = np.zeros_like(r)
        big = r > t
        out[big] = 1.0 - t / r[big]
        return out

    def cvx_expression(self, Z, c, p):
        import cvxpy as cp

        return cp.sum(cp.norm(Z, 2, axis=0))


class FeatureGroup(Penalty):
    """``R(U) = Σ_j ‖U_{:,j,:}‖₂`` — feature ``j`` across all patterns and outputs.

    Selects input features for the whole network (the bias coordinate, when present,
    is a group of its own). For C-ReLU ``v`` and ``w`` are penalised separately,
    ``R(v) + R(w)``. Non-convex network: none exactly. The nearest is a ReLU network
    with a feature-wise group penalty on the first layer; the convex program is not
    its reformulation (``network_equivalent = False``), so a certified optimum here
    certifies this convex model only, not any non-convex training problem.
    """

    name = "feature_group"
    homogeneous = True
    radial = False
    separable_over_neurons = False
    separable_over_outputs = False

    def value(self, U):
        U = np.asarray(U)
        if U.ndim > 3:
            return float(sum(self.value(B) for B in U.reshape(-1, *U.shape[-3:])))
        return float(_norms(U, (0, 2)).sum())

    def prox(self, U, t):
        U = np.asarray(U)
        r = _norms(U, (0, 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(r > t, 1.0 - t / np.where(r > 0, r, 1.0), 0.0)
        return U * f[None, :, None]

    def prox_columns(self, Z, t, layout=None):
        if layout is None:
            raise ValueError("feature_group acts on whole rows: it needs the full column layout")
        blocks, c, p = layout
        d = Z.shape[0]
        Zb = Z.reshape(d, blocks, c * p)
        r = _norms(Zb, 2)  # (d, blocks)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(r > t, 1.0 - t / np.where(r > 0, r, 1.0), 0.0)
        X = (Zb * f[:, :, None]).reshape(d, blocks * c * p)
        return X, (r * f).ravel()

    def value_columns(self, Z, layout=None):
        if layout is None:
            raise ValueError("feature_group acts on whole rows: it needs the full column layout")
        blocks, c, p = layout
        return float(_norms(Z.reshape(Z.shape[0], blocks, c * p), 2).sum())

    def dual_norm(self, G):
        return float(_norms(G, (0, 2)).max()) if G.size else 0.0

    def cvx_expression(self, Z, c, p):
        import cvxpy as cp

        return cp.sum(cp.norm(Z, 2, axis=1))


class L1(Penalty):
    """``R(U) = ‖U‖₁`` — entrywise sparsity (sparse neurons *and* sparse input weights).

    Non-convex network: none exactly; with weight decay replaced by an L1 penalty the
    AM-GM argument fails (``‖W1_j‖₁|w2_j|`` is not bounded by a separable penalty
    with equality), so ``network_equivalent = False``.
    """

    name = "l1"
    homogeneous = True
    radial = False

    def value(self, U):
        return float(np.abs(U).sum())

    def prox(self, U, t):
        U = np.asarray(U)
        return np.sign(U) * np.maximum(np.abs(U) - t, 0.0)

    def prox_columns(self, Z, t, layout=None):
        X = np.sign(Z) * np.maximum(np.abs(Z) - t, 0.0)
        return X, np.abs(X).sum(axis=0)

    def value_columns(self, Z, layout=None):
        return float(np.abs(Z).sum())

    def dual_norm(self, G):
        return np.abs(G).max(axis=(1, 2)) if G.size else np.zeros(G.shape[0])

    def column_scores(self, G):
        return np.abs(G).max(axis=0)

    def cvx_expression(self, Z, c, p):
        import cvxpy as cp

        return cp.sum(cp.abs(Z))


class L2(Penalty):
    """``R(U) = ½‖U‖²_F`` (so ``λR = (λ/2)‖U‖²_F``): ridge on the convex weights.

    Not sparse: every pattern stays active, and no ``λ`` makes ``0`` optimal unless
    ``Aᵀ∇ℓ(0) = 0`` (``λ_max = inf``). The squared loss has the direct solution
    ``(AᵀWA/s + λI)u = AᵀWy/s``. Non-convex network: none exactly; for the gated model
    it is a network whose neurons ``u_i`` are penalised by ``(λ/2)‖u_i‖²`` (the second
    layer fixed at 1), not weight decay of a two-layer network (``network_equivalent
    = False``). Conjugate: ``(λR)*(V) = ‖V‖²/(2λ)``.
    """

    name = "l2"
    homogeneous = False
    radial = True

    def value(self, U):
        U = np.asarray(U)
        return 0.5 * float(np.vdot(U, U))

    def prox(self, U, t):
        return np.asarray(U) / (1.0 + t)

    def prox_columns(self, Z, t, layout=None):
        X = Z / (1.0 + t)
        return X, 0.5 * np.einsum("ij,ij->j", X, X)

    def value_columns(self, Z, layout=None):
        return 0.5 * float(np.vdot(Z, Z))

    def conjugate(self, G, lam):
        G = np.asarray(G)
        if lam <= 0:
            return np.where(np.abs(G).max(axis=(1, 2)) > 0, np.inf, 0.0)
        return np.einsum("kdp,kdp->k", G, G) / (2.0 * lam)

    def conjugate_profile(self, G, lam):
        gg = np.einsum("kdp,kdp->k", G, G) / (2.0 * lam)
        return lambda gamma: np.asarray(gamma) ** 2 * gg

    def radial_value(self, r):
        return 0.5 * np.asarray(r, dtype=float) ** 2

    def radial_conjugate(self, r, lam):
        return np.asarray(r, dtype=float) ** 2 / (2.0 * lam)

    def radial_shrink(self, r, t):
        return np.full_like(np.asarray(r, dtype=float), 1.0 / (1.0 + t))

    def lam_max_from_adjoint(self, G):
        return 0.0 if not np.any(G) else np.inf

    def column_scores(self, G):
        return np.full(G.shape[1], np.inf)  # every group is active at any λ

    def cvx_expression(self, Z, c, p):
        import cvxpy as cp

        return 0.5 * cp.sum_squares(Z)

    def normalized(self, lam, a, b):
        # b²·(λ/2)‖u_in‖² = b²(λ/2)(a/b)²‖u‖² = (a²λ/2)‖u‖²
        return lam * a * a, self


class GroupElasticNet(Penalty):
    """``R(U) = α Σ_{k,i} ‖U_{k,:,i}‖₂ + (1 − α)/2 ‖U‖²_F`` (adelie's group elastic net).

    ``α = 1`` is the neuron group, ``α = 0`` is ``l2``. Per group the conjugate of
    ``λ(α‖·‖ + (1−α)/2‖·‖²)`` is ``(‖v‖ − λα)₊² / (2λ(1 − α))``; ``λ_max = R°/α``.
    Non-convex network: none exactly (weight decay gives the pure group term), so
    ``network_equivalent = False``.
    """

    name = "group_elastic_net"
    homogeneous = False
    radial = True

    def __init__(self, alpha=0.5):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
            raise TypeError(f"alpha must be a number in [0, 1]; got {alpha!r}.")
        alpha = float(alpha)
        if not (0.0 <= alpha <= 1.0):
            raise ValueError(f"alpha must be in [0, 1]; got {alpha}.")
        self.alpha = alpha
        self.homogeneous = alpha == 1.0

    def __repr__(self):
        return f"GroupElasticNet(alpha={self.alpha:g})"

    def value(self, U):
        U = np.asarray(U)
        return self.alpha * float(_norms(U, -2).sum()) + 0.5 * (1.0 - self.alpha) * float(np.vdot(U, U))

    def radial_value(self, r):
        r = np.asarray(r, dtype=float)
        return self.alpha * r + 0.5 * (1.0 - self.alpha) * r * r

    def radial_shrink(self, r, t):
        r = np.asarray(r, dtype=float)
        out = np.zeros_like(r)
        big = r > t * self.alpha
        out[big] = (1.0 - t * self.alpha / r[big]) / (1.0 + t * (1.0 - self.alpha))
        return out

    def prox(self, U, t):
        U = np.asarray(U)
        r = _norms(U, -2)
        return U * self.radial_shrink(r, t)[..., None, :]

    def prox_columns(self, Z, t, layout=None):
        r = _norms(Z, 0)
        f = self.radial_shrink(r, t)
        X = Z * f
        return X, self.radial_value(r * f)

    def value_columns(self, Z, layout=None):
        return float(self.radial_value(_norms(Z, 0)).sum())

    def column_scores(self, G):
        r = np.sqrt(np.einsum("ij,ij->j", G, G))
        return r / self.alpha if self.alpha > 0 else np.full_like(r, np.inf)

    def dual_norm(self, G):  # only when alpha == 1 (homogeneous)
        return NeuronGroup().dual_norm(G)

    def radial_conjugate(self, r, lam):
        r = np.asarray(r, dtype=float)
        if self.alpha == 1.0:
            return np.where(r <= lam, 0.0, np.inf)
        return np.maximum(r - lam * self.alpha, 0.0) ** 2 / (2.0 * lam * (1.0 - self.alpha))

    def conjugate(self, G, lam):
        return self.radial_conjugate(_norms(np.asarray(G), 1), lam).sum(axis=1)

    def conjugate_profile(self, G, lam):
        r = _norms(np.asarray(G), 1)  # (c, p)
        return lambda gamma: self.radial_conjugate(np.asarray(gamma)[:, None] * r, lam).sum(axis=1)

    def lam_max_from_adjoint(self, G):
        if self.alpha == 0.0:
            return 0.0 if not np.any(G) else np.inf
        return float(np.linalg.norm(G, axis=1).max()) / self.alpha if G.size else 0.0

    def cvx_expression(self, Z, c, p):
        import cvxpy as cp

        return self.alpha * cp.sum(cp.norm(Z, 2, axis=0)) + 0.5 * (1.0 - self.alpha) * cp.sum_squares(Z)

    def normalized(self, lam, a, b):
        # λ'α' = abλα (group term), λ'(1 − α') = a²λ(1 − α) (square term)
        g, q = lam * a * b * self.alpha, lam * a * a * (1.0 - self.alpha)
        tot = g + q
        if tot == 0.0:
            return 0.0, self
        return tot, GroupElasticNet(g / tot)


#: The registry of named penalties (``make_problem(..., penalty=name)``).
PENALTIES = {
    "neuron_group": NeuronGroup,
    "feature_group": FeatureGroup,
    "l1": L1,
    "l2": L2,
    "group_elastic_net": GroupElasticNet,
}

DEFAULT_PENALTY = NeuronGroup()


def get_penalty(penalty=None, **params):
    """A :class:`Penalty` from a name of :data:`PENALTIES`, an instance, or ``None`` (neuron group).

    ``params`` (e.g. ``alpha=`` for ``"group_elastic_net"``) go to the class. Raises
    ``ValueError`` for an unknown name, ``TypeError`` for anything else.
    """
    if penalty is None or (isinstance(penalty, str) and penalty == "neuron_group" and not params):
        return DEFAULT_PENALTY
    if type(penalty) is NeuronGroup and not params:
        return DEFAULT_PENALTY  # one instance: the solvers' fast path recognises it
    if isinstance(penalty, Penalty):
        if params:
            raise ValueError(f"penalty parameters {sorted(params)} given with a Penalty instance; "
                             "set them on the instance.")
        return penalty
    if isinstance(penalty, str):
        key = penalty.lower()
        if key not in PENALTIES:
            raise ValueError(f"penalty must be one of {sorted(PENALTIES)} or a Penalty instance; "
                             f"got {penalty!r}.")
        try:
            return PENALTIES[key](**params)
        except TypeError as exc:
            raise TypeError(f"penalty {key!r}: {exc}") from None
    raise TypeError(f"penalty must be a name in {sorted(PENALTIES)} or a Penalty instance; "
                    f"got {type(penalty).__name__}.")
