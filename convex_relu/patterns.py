"""Activation patterns of a two-layer ReLU network.

A pattern is a 0/1 vector ``d_i = 1[X̃ g_i >= 0]`` over the training rows, where
``X̃ = [X, 1]`` when the model has a bias. The convex programs have one group of
weights per pattern; the gate ``g_i`` lets a gated model compute the pattern on
new data and gives every pattern a point strictly (for enumerated patterns) or
generically (for sampled ones) inside its chamber ``{g : (2D_i - I) X̃ g >= 0}``.

Convention: the mask of a gate is ``1[X̃ g >= 0]`` (ties, which only happen on
zero rows of ``X̃`` or with probability zero, count as active). A row of ``X̃``
that is zero contributes nothing to ``D_i X̃`` so its entry never matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import add_bias_column, check_matrix, check_positive_int

__all__ = ["Patterns", "sample_patterns", "enumerate_patterns", "gate_masks"]


def gate_masks(X_tilde, gates):
    """Masks ``1[X̃ G >= 0]`` of shape ``(n, p)`` for gates ``G`` of shape ``(d̃, p)``."""
    return (X_tilde @ gates) >= 0


@dataclass(frozen=True, eq=False)
class Patterns:
    """A set of ``p`` activation patterns for ``n`` training rows.

    Attributes
    ----------
    masks : ndarray of bool, shape (n, p)
        ``masks[j, i] = 1`` when row ``j`` is active in pattern ``i``.
    gates : ndarray of float, shape (d̃, p)
        A gate for each pattern; ``d̃ = d + 1`` when ``bias``.
    bias : bool
        Whether the gates act on ``[X, 1]``.
    method : str
        ``"sampled"`` or ``"enumerated"``.
    seed : int or None
        The seed of sampled gates.
    """

    masks: np.ndarray
    gates: np.ndarray
    bias: bool = False
    method: str = "sampled"
    seed: int | None = None

    def __post_init__(self):
        masks = np.asarray(self.masks, dtype=bool)
        gates = np.asarray(self.gates, dtype=np.float64)
        if masks.ndim != 2 or gates.ndim != 2:
            raise ValueError(
                f"masks must be (n, p) and gates (d, p); got {masks.shape} and {gates.shape}."
            )
        if masks.shape[1] != gates.shape[1]:
            raise ValueError(
                f"masks has {masks.shape[1]} patterns but gates has {gates.shape[1]}."
            )
        if masks.shape[1] == 0:
            raise ValueError("a pattern set must hold at least one pattern.")
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "gates", gates)

    @property
    def n_samples(self):
        return self.masks.shape[0]

    @property
    def n_patterns(self):
        return self.masks.shape[1]

    @property
    def n_features(self):
        """Number of features of ``X`` (without the bias coordinate)."""
        return self.gates.shape[0] - int(self.bias)

    def __len__(self):
        return self.n_patterns

    def masks_for(self, X):
        """Masks ``1[X̃ G >= 0]`` for new data ``X`` (what a gated model uses to predict)."""
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the patterns were built for {self.n_features}."
            )
        return gate_masks(add_bias_column(X, self.bias), self.gates)

    def check_compatible(self, X_tilde, *, rtol=1e-9):
        """Raise ``ValueError`` unless these patterns were computed for ``X̃``.

        Each mask must agree with its gate on every row where ``x̃_jᵀ g_i`` is
        not within round-off of zero.
        """
        if X_tilde.shape[0] != self.n_samples:
            raise ValueError(
                f"patterns were computed for {self.n_samples} rows but X has {X_tilde.shape[0]}."
            )
        if X_tilde.shape[1] != self.gates.shape[0]:
            raise ValueError(
                f"patterns' gates have dimension {self.gates.shape[0]} but X (with bias={self.bias}) "
                f"has {X_tilde.shape[1]} columns; were they built with the same bias flag?"
            )
        Z = X_tilde @ self.gates
        scale = np.linalg.norm(X_tilde, axis=1)[:, None] * np.linalg.norm(self.gates, axis=0)[None, :]
        decided = np.abs(Z) > rtol * np.maximum(scale, 1e-300)
        if np.any(decided & ((Z >= 0) != self.masks)):
            raise ValueError(
                "patterns do not match X: some mask disagrees with its gate; "
                "compute the patterns from this X (and the same bias flag)."
            )


def _dedupe(masks, gates):
    """Drop all-zero and duplicate mask columns, keeping the first gate of each."""
    keep_nonzero = masks.any(axis=0)
    masks, gates = masks[:, keep_nonzero], gates[:, keep_nonzero]
    if masks.shape[1] == 0:
        return masks, gates
    packed = np.packbits(masks, axis=0)
    _, first = np.unique(packed, axis=1, return_index=True)
    first = np.sort(first)
    return masks[:, first], gates[:, first]


def sample_patterns(X, n_gates, seed=0, *, bias=False):
    """Sample activation patterns from Gaussian gates.

    Draws ``G ~ N(0, I)`` of shape ``(d̃, n_gates)`` with ``numpy.random.default_rng(seed)``,
    forms ``M = 1[X̃ G >= 0]``, and drops all-zero and duplicate columns, keeping the
    gate of the first occurrence. The result has ``p <= n_gates`` patterns.

    Parameters
    ----------
    X : array of shape (n, d)
    n_gates : int
        Number of gates drawn.
    seed : int
        Seed of the gate draw (results are deterministic for a seed).
    bias : bool
        Gates act on ``[X, 1]``.
    """
    X = check_matrix(X, "X")
    n_gates = check_positive_int(n_gates, "n_gates")
    Xt = add_bias_column(X, bias)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((Xt.shape[1], n_gates))
    masks, gates = _dedupe(gate_masks(Xt, G), G)
    if masks.shape[1] == 0:
        raise ValueError(
            "every sampled gate gave an all-zero pattern; X may be all zeros. "
            "Increase n_gates or use bias=True."
        )
    return Patterns(masks=masks, gates=gates, bias=bias, method="sampled", seed=seed)


def enumerate_patterns(X, *, bias=False, max_patterns=100_000):
    """All activation patterns of ``X̃`` with an interior gate each (see DESIGN §2)."""
    raise NotImplementedError("enumerate_patterns is being implemented")
