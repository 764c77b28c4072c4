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
"""

from __future__ import annotations

import numpy as np

from . import losses
from ._validation import add_bias_column, check_lam, check_loss, check_matrix, check_targets
from .cones import max_cone_projection_norm
from .operators import adjoint, forward, pattern_products
from .patterns import Patterns, enumerate_patterns, sample_patterns

__all__ = ["GatedReLUProblem", "ReLUProblem", "make_problem", "FORMULATIONS"]

FORMULATIONS = ("relu", "gated_relu")


class _ConvexProblem:
    """Shared data and evaluation for both formulations (not used directly)."""

    formulation: str = ""

    def __init__(self, X, y, patterns, lam, loss="squared", bias=None):
        self.loss = check_loss(loss)
        self.X = check_matrix(X, "X")
        self.Y = check_targets(y, self.X.shape[0], loss=self.loss)
        self.y_was_1d = np.ndim(y) == 1
        if not isinstance(patterns, Patterns):
            raise ValueError(
                f"patterns must be a Patterns object (from sample_patterns or "
                f"enumerate_patterns); got {type(patterns).__name__}."
            )
        if bias is None:
            bias = patterns.bias
        if bool(bias) != patterns.bias:
            raise ValueError(
                f"bias={bias} but the patterns were computed with bias={patterns.bias}."
            )
        self.bias = bool(bias)
        self.patterns = patterns
        self.lam = check_lam(lam)
        self.X_tilde = add_bias_column(self.X, self.bias)
        patterns.check_compatible(self.X_tilde)
        self.masks = patterns.masks.astype(self.X_tilde.dtype)

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
        return (
            f"{type(self).__name__}(n={self.n}, d={self.d}{' incl. bias' if self.bias else ''}, "
            f"c={self.c}, p={self.p}, lam={self.lam:g}, loss={self.loss!r})"
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
        return new

    # evaluation -----------------------------------------------------------
    def check_weights(self, weights, name="weights"):
        W = np.asarray(weights, dtype=np.float64)
        if W.shape != self.weights_shape:
            raise ValueError(
                f"{name} must have shape {self.weights_shape} for {self!r}; got {W.shape}."
            )
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        return W

    def zero_weights(self):
        return np.zeros(self.weights_shape)

    def loss_value(self, pred):
        """``ℓ(Ŷ)`` with the ``s = n·c`` scaling."""
        return losses.loss_value(self.loss, pred, self.Y)

    def loss_grad(self, pred):
        return losses.loss_grad(self.loss, pred, self.Y)

    def loss_conjugate(self, z):
        return losses.loss_conjugate(self.loss, z, self.Y)

    @staticmethod
    def group_norms(weights):
        """``‖·‖₂`` of every group (the feature axis ``-2``)."""
        return np.linalg.norm(weights, axis=-2)

    def regularizer(self, weights):
        return self.lam * float(self.group_norms(weights).sum())

    def objective(self, weights):
        """``ℓ(predictions) + λ Σ group norms`` at ``weights``."""
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
    """

    formulation = "gated_relu"

    @property
    def weights_shape(self):
        return (self.c, self.d, self.p)

    def predict(self, weights):
        """Training predictions ``Σ_i D_iX̃U_i``, shape ``(n, c)``."""
        return forward(self.X_tilde, self.masks, weights)

    def _lam_max_from_adjoint(self, G):
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
):
    """Build a problem, computing the patterns when not given.

    ``n_gates=None`` enumerates all patterns (the certified path); an integer
    samples that many Gaussian gates with ``seed``.
    """
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation must be one of {FORMULATIONS}; got {formulation!r}.")
    if patterns is None:
        X_checked = check_matrix(X, "X")
        if n_gates is None:
            patterns = enumerate_patterns(X_checked, bias=bias, max_patterns=max_patterns)
        else:
            patterns = sample_patterns(X_checked, n_gates, seed, bias=bias)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    return cls(X, y, patterns, lam, loss=loss, bias=bias)
