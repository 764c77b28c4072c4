"""The two convex programs: C-GReLU (gated) and C-ReLU.

One *problem* object flows through the package: solvers take it and return a
solution, certificates take both. Conventions (DESIGN §0):

- ``X̃ = [X, 1]`` with a bias, else ``X``; ``Y`` is ``(n, c)`` (one-vs-all for
  ``c > 1``); ``s = n·c``.
- C-GReLU weights ``U`` have shape ``(c, d̃, p)``; the objective is

      F(U) = ℓ(Σ_i D_i X̃ U_{:, :, i}) + λ Σ_{k,i} ‖U_{k,:,i}‖₂.

- C-ReLU weights ``W`` have shape ``(2, c, d̃, p)``: ``W[0] = v`` and ``W[1] = w``;

      F(v, w) = ℓ(Σ_i D_i X̃ (v_i − w_i)) + λ Σ (‖v_{k,i}‖ + ‖w_{k,i}‖)
      s.t.  Ã_i v_{k,i} >= 0,  Ã_i w_{k,i} >= 0,  Ã_i = (2D_i − I)X̃.

Sample weights (``sample_weight=w``): ``ℓ`` becomes the weighted mean
``Σ_j w_j ℓ_j / (c·Σw)``, stored as row weights ``ŵ = n·w/Σw`` (mean 1, see
:mod:`convex_relu.losses`), so integer weights equal duplicated rows exactly and
``λ`` keeps its meaning. ``λ_max``, every solver and every certificate use it.

Sparse ``X`` (scipy.sparse CSR/CSC): kept as a CSR matrix ``X̃_sp``
(:attr:`X_tilde_sparse`) that the first-order solvers use for their products
``X̃U`` and ``X̃ᵀ(M∘r)`` (cost ``nnz·p`` instead of ``n·d̃·p``). Everything that
needs rows or Gram matrices of ``X̃`` (pattern enumeration and sampling, cone
projections, Newton's support matrices, the certificates' null space, CVXPY) uses
the dense copy :attr:`X_tilde`, made once here: sparse input saves time in the
products, not memory.

float32 ``X``: the problem stores float64 data (certificates are float64) and
records ``dtype = float32``; the first-order solvers then iterate in float32 unless
given ``dtype=`` explicitly.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import losses
from dataclasses import dataclass

from ._validation import (
    InputTypeError,
    _as_real_array,
    add_bias_column,
    check_bool,
    check_lam,
    check_loss,
    check_matrix,
    check_targets,
    check_weights_array,
)
from .cones import max_cone_projection_norm
from .operators import adjoint, forward, pattern_products
from .patterns import Patterns, enumerate_patterns, sample_patterns
from .penalties import DEFAULT_PENALTY, Penalty, get_penalty

__all__ = ["GatedReLUProblem", "ReLUProblem", "make_problem", "check_sample_weight",
           "FORMULATIONS", "Scaling"]

FORMULATIONS = ("relu", "gated_relu")

#: Largest (and smallest non-zero) magnitude accepted in ``X`` and, for the squared
#: loss, in ``y``. The solvers work in normalised units (:meth:`normalized`), so the
#: limits come from what must be representable in the user's units: the squared loss
#: is ~``y²`` (``1e153²`` still fits below float64's 1.8e308, ``1e-153²`` stays above
#: its smallest normal number 2.2e-308).
MAX_TARGET_MAGNITUDE = 1e153
MAX_DATA_MAGNITUDE = 1e250


def _pow2(x):
    """The power of two nearest to ``x`` (1 for 0 or non-finite): scaling by it is exact."""
    if not (np.isfinite(x) and x > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(x)))))


def _check_magnitude(arr, name, limit, what):
    top = float(np.abs(arr).max()) if arr.size else 0.0
    if top == 0.0:
        return
    if top > limit or top < 1.0 / limit:
        raise ValueError(
            f"{name} has entries of magnitude up to {top:.3g}; {what} in float64 needs the "
            f"largest magnitude in [{1.0 / limit:g}, {limit:g}]. Rescale {name} (the problem in "
            f"other units is equivalent: see the README's scaling section)."
        )


@dataclass(frozen=True)
class Scaling:
    """Units of a normalised problem: ``X̃ = a·X̃_in``, ``Y = b·Y_in``, ``λ = a·b·λ_in``.

    ``a`` and ``b`` are powers of two, so every conversion is exact in floating
    point. With weights ``u = (b/a)·u_in`` the predictions are ``Ŷ = b·Ŷ_in`` and,
    for the squared loss,

        ‖Au − Y‖²/(2s) + λΣ‖u_i‖ = b² (‖A_in u_in − Y_in‖²/(2s) + λ_in Σ‖u_in,i‖),

    so the two problems have the same minimisers up to that map and objectives in
    the ratio ``b²``. The logistic loss keeps ``b = 1`` (labels are ±1). Cone
    constraints are homogeneous, so feasibility is the same in both units.
    """

    a: float = 1.0
    b: float = 1.0

    @property
    def is_identity(self):
        return self.a == 1.0 and self.b == 1.0

    def weights_to_user(self, W):
        return np.asarray(W) * (self.b / self.a)

    def weights_to_inner(self, W):
        return np.asarray(W) * (self.a / self.b)

    def value_to_user(self, v):
        """Objective values, losses, gaps (``× b²``)."""
        return v * (self.b * self.b)

    def predictions_to_user(self, P):
        return np.asarray(P) * self.b

    def dual_point_to_user(self, z):
        """``z = ∇ℓ``-type dual points (``× b``)."""
        return np.asarray(z) * self.b


def check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """``None`` or a float64 ``(n,)`` copy of non-negative, finite weights, not all zero.

    Raises naming ``sample_weight``: ``InputTypeError`` for non-numeric, complex or
    sparse input, ``ValueError`` for a wrong length, negative, NaN/inf or all-zero
    weights.
    """
    if sample_weight is None:
        return None
    expected = f"array of shape ({n_samples},) of non-negative finite numbers"
    arr = _as_real_array(sample_weight, name, expected)
    if arr.ndim == 0:
        raise ValueError(f"{name} must be 1-D of length n_samples = {n_samples}; got a scalar.")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of length n_samples = {n_samples}; got shape {arr.shape}.")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {n_samples} rows; they must match."
        )
    arr = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative; its smallest entry is {arr.min():g}.")
    total = float(arr.sum())
    if not total > 0:
        raise ValueError(f"{name} is all zero; at least one sample must have a positive weight.")
    if not np.isfinite(total):
        raise ValueError(f"{name} sums to infinity; rescale it (only ratios matter).")
    return arr


def _row_weights(sample_weight):
    """``ŵ = n·w/Σw`` as an ``(n, 1)`` column (mean 1), the form the losses take."""
    w = np.asarray(sample_weight, dtype=np.float64)
    # divide first: w/Σw cannot overflow; then ×n
    return ((w / w.sum()) * w.size).reshape(-1, 1)


class _ConvexProblem:
    """Shared data and evaluation for both formulations (not used directly)."""

    formulation: str = ""
    #: the penalty ``R`` (:mod:`convex_relu.penalties`); class default for old pickles
    penalty = DEFAULT_PENALTY

    def __init__(self, X, y, patterns, lam, loss="squared", bias=None, sample_weight=None,
                 penalty=None):
        self.loss = check_loss(loss)
        self.penalty = get_penalty(penalty)
        X_in = check_matrix(X, "X", accept_sparse=True)
        # float32 input asks for float32 first-order arithmetic (float64 certificates)
        in_dtype = getattr(X, "dtype", None)
        self.dtype = np.dtype(np.float32) if in_dtype == np.float32 else np.dtype(np.float64)
        if sp.issparse(X_in):
            # deliberate dense copy: patterns, cones, Newton, certificates and CVXPY
            # need rows/Gram matrices of X̃; the sparse matrix serves the products
            self.X = np.ascontiguousarray(X_in.toarray())
        else:
            self.X = X_in
        _check_magnitude(self.X, "X", MAX_DATA_MAGNITUDE, "solving")
        self.Y = check_targets(y, self.X.shape[0], loss=self.loss)
        self.sample_weight = check_sample_weight(sample_weight, self.X.shape[0])
        self.row_weights = None if self.sample_weight is None else _row_weights(self.sample_weight)
        if self.loss == "squared":
            _check_magnitude(self.Y, "y", MAX_TARGET_MAGNITUDE, "the squared loss (~y²)")
        self.y_was_1d = np.ndim(y) == 1
        if not isinstance(patterns, Patterns):
            raise InputTypeError(
                f"patterns must be a Patterns object (from sample_patterns or "
                f"enumerate_patterns); got {type(patterns).__name__}."
            )
        if bias is None:
            bias = patterns.bias
        bias = check_bool(bias, "bias")
        if bias != patterns.bias:
            raise ValueError(
                f"bias={bias} but the patterns were computed with bias={patterns.bias}."
            )
        self.bias = bool(bias)
        self.patterns = patterns
        self.lam = check_lam(lam)
        self.X_tilde = add_bias_column(self.X, self.bias)
        patterns.check_compatible(self.X_tilde)
        self.masks = patterns.masks.astype(self.X_tilde.dtype)
        self.X_tilde_sparse = None
        if sp.issparse(X_in):
            Xs = X_in
            if self.bias:
                Xs = sp.hstack([Xs, np.ones((Xs.shape[0], 1))], format="csr")
            self.X_tilde_sparse = sp.csr_matrix(Xs)
            self.X_tilde_sparse.sort_indices()

    @property
    def operator_matrix(self):
        """``X̃`` for the first-order products: the CSR matrix for sparse input, else dense."""
        return self.X_tilde_sparse if self.X_tilde_sparse is not None else self.X_tilde

    # sizes ----------------------------------------------------------------
    @property
    def n(self):
        return self.X.shape[0]

    @property
    def d(self):
        """Columns of ``X̃`` (features plus the bias coordinate)."""
        return self.X_tilde.shape[1]

    @property
    def c(self):
        return self.Y.shape[1]

    @property
    def p(self):
        return self.masks.shape[1]

    @property
    def s(self):
        """Loss scaling ``s = n·c``."""
        return self.Y.size

    def __repr__(self):
        extra = "" if self.sample_weight is None else ", weighted"
        extra += "" if self.penalty is DEFAULT_PENALTY else f", penalty={self.penalty!r}"
        extra += "" if self.X_tilde_sparse is None else ", sparse X"
        return (
            f"{type(self).__name__}(n={self.n}, d={self.d}{' incl. bias' if self.bias else ''}, "
            f"c={self.c}, p={self.p}, lam={self.lam:g}, loss={self.loss!r}{extra})"
        )

    # derived problems -----------------------------------------------------
    def with_lam(self, lam):
        """The same problem at another ``λ`` (data and patterns shared, not copied)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.lam = check_lam(lam)
        return new

    def _as(self, cls):
        new = object.__new__(cls)
        new.__dict__.update(self.__dict__)
        # the normalised twin is of the old class; the null-space basis of Aᵀ depends
        # only on X̃ and the masks, so it stays
        new.__dict__.pop("_normalized_cache", None)
        return new

    # evaluation -----------------------------------------------------------
    def check_weights(self, weights, name="weights"):
        """``weights`` as a finite float64 array of :attr:`weights_shape`, or a clear error."""
        try:
            return check_weights_array(weights, self.weights_shape, name)
        except InputTypeError:
            raise
        except ValueError as exc:
            raise ValueError(f"{exc} (for {self!r})") from None

    def normalized(self):
        """This problem in normalised units and the :class:`Scaling` back to the user's.

        ``a`` is the power of two nearest to ``max|X̃|`` and ``b`` that nearest to
        ``max|Y|`` (squared loss; 1 for the logistic loss), so the inner problem has
        data of magnitude ~1 whatever the user's units: the solvers' step sizes,
        Lipschitz estimates and Gram matrices then neither overflow nor underflow.
        The inner problem shares the patterns (``1[X̃g >= 0]`` is invariant under
        positive scaling); its ``X̃`` has bias column ``1/a``, so it must not be
        rebuilt from its ``X``. Returns ``(self, Scaling())`` when already normalised.
        """
        cached = self.__dict__.get("_normalized_cache")
        # keyed on λ: with_lam copies the instance dict, cache included
        if cached is not None and cached[0] == self.lam:
            return cached[1], cached[2]
        a = _pow2(float(np.abs(self.X_tilde).max()))
        b = _pow2(float(np.abs(self.Y).max())) if self.loss == "squared" else 1.0
        scaling = Scaling(a, b)
        if scaling.is_identity:
            return self, scaling
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        for key in ("_range_basis_cache", "_normalized_cache"):
            new.__dict__.pop(key, None)
        new.X_tilde = self.X_tilde / a
        new.X = new.X_tilde[:, : self.X.shape[1]]
        new.Y = self.Y / b
        if self.penalty is DEFAULT_PENALTY:
            new.lam = self.lam / (a * b)
        else:
            # a norm scales like λ/(ab); ‖·‖² like λ/a² (penalties module)
            new.lam, new.penalty = self.penalty.normalized(self.lam, 1.0 / a, 1.0 / b)
        new.masks = self.masks
        if self.X_tilde_sparse is not None:
            # a power of two: the sparse and dense copies stay exactly consistent
            new.X_tilde_sparse = self.X_tilde_sparse / a
        self._normalized_cache = (self.lam, new, scaling)
        return new, scaling

    def zero_weights(self):
        return np.zeros(self.weights_shape)

    def loss_value(self, pred):
        """``ℓ(Ŷ)`` with the ``s = n·c`` scaling (weighted by :attr:`row_weights`)."""
        return losses.loss_value(self.loss, pred, self.Y, self.row_weights)

    def loss_grad(self, pred):
        return losses.loss_grad(self.loss, pred, self.Y, self.row_weights)

    def loss_conjugate(self, z):
        return losses.loss_conjugate(self.loss, z, self.Y, self.row_weights)

    def conjugate_curvature(self, z, axis=None):
        """``Σ z²/ŵ`` (squared-loss conjugate: ``⟨z, Y⟩ + (s/2)·this``); per output with ``axis=0``."""
        return losses.weighted_sumsq(z, self.row_weights, axis=axis)

    @property
    def has_zero_weights(self):
        """Whether some sample has weight 0 (those rows fix ``z = 0`` in the dual)."""
        return self.row_weights is not None and bool(np.any(self.row_weights == 0))

    @staticmethod
    def group_norms(weights):
        """``‖·‖₂`` of every group (the feature axis ``-2``).

        Weights in the user's units can be ~1e±300 (``u = (b/a)·u_in``), where the
        squares inside a plain norm overflow or underflow: those are scaled by a
        power of two first.
        """
        W = np.asarray(weights)
        top = float(np.abs(W).max()) if W.size else 0.0
        if top == 0.0 or 1e-100 < top < 1e100 or not np.isfinite(top):
            return np.linalg.norm(W, axis=-2)
        k = int(np.round(np.log2(top)))
        return np.ldexp(np.linalg.norm(np.ldexp(W, -k), axis=-2), k)

    @property
    def datafit(self):
        """The :class:`convex_relu.datafits.Datafit` of this problem (loss, ``Y``, row weights)."""
        from .datafits import make_datafit

        return make_datafit(self.loss, self.Y, self.row_weights)

    def regularizer(self, weights):
        """``λR(weights)``; for C-ReLU ``λ(R(v) + R(w))`` (``R`` = :attr:`penalty`)."""
        if self.penalty is DEFAULT_PENALTY:
            return self.lam * float(self.group_norms(weights).sum())
        W = np.asarray(weights)
        if W.ndim == 4:
            return self.lam * (self.penalty.value(W[0]) + self.penalty.value(W[1]))
        return self.lam * self.penalty.value(W)

    def with_penalty(self, penalty, **params):
        """The same problem (data, patterns, ``λ`` shared) with another penalty."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.penalty = get_penalty(penalty, **params)
        new.__dict__.pop("_normalized_cache", None)
        return new

    def objective(self, weights):
        """``ℓ(predictions) + λR(weights)`` at ``weights`` (``R`` the penalty; default ``Σ group norms``)."""
        W = self.check_weights(weights)
        return self.loss_value(self.predict(W)) + self.regularizer(W)

    def lam_max(self):
        """Smallest ``λ`` at which the zero weights are optimal."""
        G = adjoint(self.X_tilde, self.masks, self.loss_grad(np.zeros_like(self.Y)))
        return self._lam_max_from_adjoint(G)


class GatedReLUProblem(_ConvexProblem):
    """C-GReLU: ``min_U ℓ(Σ_i D_iX̃U_i) + λ Σ‖U_i‖`` — an unconstrained group lasso.

    Parameters
    ----------
    X : (n, d) array
    y : (n,) or (n, c) array; ``{−1, +1}`` labels for ``loss="logistic"``
    patterns : Patterns
        Computed for this ``X`` (and the same bias flag).
    lam : float >= 0
        Not divided by ``n``; the loss carries ``1/s``, ``s = n·c``.
    loss : {"squared", "logistic"}
    bias : bool or None
        Defaults to ``patterns.bias``.
    sample_weight : None or (n,) array
        Non-negative, finite, not all zero; the loss becomes the weighted mean
        ``Σ_j w_j ℓ_j / (c·Σw)`` (module docstring). Stored as given in
        :attr:`sample_weight` and as ``ŵ = n·w/Σw`` (``(n, 1)``) in :attr:`row_weights`
        (``None`` when unweighted: the unweighted path does no extra work).

    X may also be a scipy.sparse matrix (its CSR form is :attr:`X_tilde_sparse`, used by
    the first-order products); a float32 ``X`` sets :attr:`dtype` to float32.
    """

    formulation = "gated_relu"

    @property
    def weights_shape(self):
        return (self.c, self.d, self.p)

    def predict(self, weights):
        """Training predictions ``Σ_i D_iX̃U_i``, shape ``(n, c)``."""
        return forward(self.X_tilde, self.masks, weights)

    def _lam_max_from_adjoint(self, G):
        if self.penalty is not DEFAULT_PENALTY:
            return self.penalty.lam_max_from_adjoint(G)
        # zero is optimal iff ‖(Aᵀ∇ℓ(0))_i‖ <= λ for every group
        return float(np.linalg.norm(G, axis=1).max())

    def relu_problem(self):
        """The C-ReLU problem on the same data, patterns and ``λ``."""
        return self._as(ReLUProblem)


class ReLUProblem(_ConvexProblem):
    """C-ReLU: the gated program with each group split as ``v_i − w_i``, ``v_i, w_i ∈ K_i``.

    Same parameters as :class:`GatedReLUProblem`. Weights have shape
    ``(2, c, d̃, p)`` (``v`` then ``w``). With all patterns of ``X̃`` its optimum
    equals that of weight-decay training of a two-layer ReLU network.
    """

    formulation = "relu"

    @property
    def weights_shape(self):
        return (2, self.c, self.d, self.p)

    @property
    def signs(self):
        """``2M − 1`` (n×p): the rows of ``Ã_i`` are ``signs[:, i] * x̃_j``."""
        return 2.0 * self.masks - 1.0

    def predict(self, weights):
        """Training predictions ``Σ_i D_iX̃(v_i − w_i)``, shape ``(n, c)``."""
        return forward(self.X_tilde, self.masks, weights[0] - weights[1])

    def cone_slacks(self, weights):
        """``Ã_i v_{k,i}`` and ``Ã_i w_{k,i}`` as an ``(2, n, c, p)`` array (>= 0 when feasible)."""
        S = self.signs[:, None, :]
        return np.stack([pattern_products(self.X_tilde, W) * S for W in weights])

    def cone_violation(self, weights):
        """``max_{j,k,i} (−Ã_i v_{k,i})_j⁺`` over ``v`` and ``w`` (0 when feasible)."""
        W = self.check_weights(weights)
        return float(max(0.0, -self.cone_slacks(W).min()))

    def _lam_max_from_adjoint(self, G):
        # zero is optimal iff for every group sup_{v ∈ K_i, ‖v‖<=1} ⟨−q_i, v⟩ <= λ and
        # sup_{w ∈ K_i, ‖w‖<=1} ⟨q_i, w⟩ <= λ, q_i = (Aᵀ∇ℓ(0))_i; those sups are ‖Π_K(∓q_i)‖
        if self.penalty is not DEFAULT_PENALTY:
            from .certificates import cone_lam_max

            return cone_lam_max(self, G)
        best = 0.0
        for k in range(G.shape[0]):
            val, _ = max_cone_projection_norm(
                self.X_tilde, self.patterns.masks, np.stack([G[k], -G[k]]), gates=self.patterns.gates
            )
            best = max(best, val)
        return best

    def gated_problem(self):
        """The C-GReLU relaxation on the same data, patterns and ``λ``."""
        return self._as(GatedReLUProblem)


def make_problem(
    X,
    y,
    *,
    formulation="relu",
    lam=1e-3,
    loss="squared",
    bias=False,
    n_gates=None,
    seed=0,
    patterns=None,
    max_patterns=100_000,
    sample_weight=None,
    penalty=None,
    penalty_params=None,
):
    """Build a problem, computing the patterns when not given.

    ``penalty`` : None, a name of :data:`convex_relu.penalties.PENALTIES`
    (``"neuron_group"`` (default), ``"feature_group"``, ``"l1"``, ``"l2"``,
    ``"group_elastic_net"``) or a :class:`convex_relu.penalties.Penalty` instance;
    ``penalty_params`` (dict) go to the named class, e.g. ``{"alpha": 0.5}``. See
    :mod:`convex_relu.penalties` for the scalings and the network each corresponds to.

    ``n_gates=None`` enumerates all patterns (the certified path); an integer
    samples that many Gaussian gates with ``seed``.

    ``X`` may be a dense array or a scipy.sparse matrix/array (CSR, CSC, …; see
    the module docstring: the first-order solvers' products use it sparse, the
    rest a dense copy). A float32 ``X`` makes the first-order solvers iterate in
    float32 by default (certificates stay float64).

    ``sample_weight`` : None or (n,) array of non-negative finite weights, not all
    zero. The loss becomes ``Σ_j w_j ℓ(ŷ_j, y_j) / (c·Σ_j w_j)`` (the weighted mean;
    the unweighted loss has ``w = 1``), so integer weights give exactly the problem
    of the data with row ``j`` repeated ``w_j`` times, and scaling all weights by a
    constant changes nothing. ``λ`` is not rescaled. Zero-weight rows do not enter
    the loss (they still define patterns and, for C-ReLU, cone constraints).
    """
    if not isinstance(formulation, str):
        raise InputTypeError(f"formulation must be one of {FORMULATIONS}; got {formulation!r}.")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}; got {formulation!r}.")
    if patterns is not None and not isinstance(patterns, Patterns):
        raise InputTypeError(
            f"patterns must be None or a Patterns object (from sample_patterns or "
            f"enumerate_patterns); got {type(patterns).__name__}."
        )
    penalty = get_penalty(penalty, **dict(penalty_params or {}))
    X_checked = check_matrix(X, "X", accept_sparse=True)
    # validated by name before any work (pattern enumeration can be expensive)
    check_sample_weight(sample_weight, X_checked.shape[0])
    if patterns is None:
        if sp.issparse(X_checked):
            X_checked = X_checked.toarray()  # patterns need the rows of X (dense)
        if n_gates is None:
            patterns = enumerate_patterns(X_checked, bias=bias, max_patterns=max_patterns)
        else:
            patterns = sample_patterns(X_checked, n_gates, seed, bias=bias)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    return cls(X, y, patterns, lam, loss=loss, bias=bias, sample_weight=sample_weight,
               penalty=penalty)
