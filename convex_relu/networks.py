"""From convex weights to actual two-layer networks (DESIGN §3).

ReLU network:   ``f(x) = Σ_j (x̃ᵀ W1_{:,j})_+ W2_{j,:}``
Gated network:  ``f(x) = Σ_j 1[x̃ᵀ G_{:,j} >= 0] (x̃ᵀ W1_{:,j}) W2_{j,:}``

with ``x̃ = [x, 1]`` when ``bias``. Both are trained (non-convexly) by

    ℓ(f(X)) + (λ/2)(‖W1‖²_F + ‖W2‖²_F),

the same ``s = n·c`` loss scaling as the convex programs.

A convex group ``u ≠ 0`` becomes the neuron ``(u/√‖u‖, ±√‖u‖)``: its weight-decay
cost ``(λ/2)(‖u‖ + ‖u‖) = λ‖u‖`` equals the group-norm penalty, and when
``u ∈ K_i`` its ReLU activation on the training rows equals ``D_iX̃u``. So on a
feasible C-ReLU solution the network's training predictions and objective equal
the convex ones.

What a network is proven to be is said by :func:`network_claim` (certificate from
:func:`convex_relu.certificates.certify_network`, sentence from
:func:`convex_relu.claims.claim`): "global optimum" only with complete patterns, one
output and a certified relative gap within ``tol``; otherwise what the evidence
supports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import losses
from ._validation import (
    InputTypeError,
    add_bias_column,
    check_lam,
    check_loss,
    check_matrix,
    check_positive_float,
    check_targets,
)

__all__ = [
    "ReLUNetwork",
    "GatedReLUNetwork",
    "network_from_weights",
    "network_from_solution",
    "network_claim",
]

_TORCH_HINT = (
    "to_torch() needs PyTorch, an optional dependency: pip install torch "
    '(or pip install -e ".[torch]" from a clone of convex_relu).'
)


def _torch():
    """Import torch lazily: the package never needs it except for :meth:`to_torch`."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(_TORCH_HINT) from exc
    return torch


def _torch_dtype(torch, dtype):
    """``dtype`` as a floating torch dtype: ``torch.float32``, ``"float32"``, ``np.float32``."""
    out = dtype
    if not isinstance(dtype, torch.dtype):
        try:
            name = dtype.removeprefix("torch.") if isinstance(dtype, str) else np.dtype(dtype).name
        except TypeError:
            name = None
        out = getattr(torch, name, None) if name else None
    if not isinstance(out, torch.dtype) or not out.is_floating_point or out.is_complex:
        raise ValueError(
            f"dtype must be a real floating dtype such as torch.float64 or torch.float32; got {dtype!r}."
        )
    return out


def _module_class(torch):
    """The ``nn.Module`` both network kinds export to (defined once torch is imported)."""
    cached = getattr(_module_class, "cls", None)
    if cached is not None:
        return cached
    nn = torch.nn

    class TwoLayerReLU(nn.Module):
        """``f(x) = Σ_j a_j(x) (x̃ᵀ W1_{:,j}) W2_{j,:}``, ``x̃ = [x, 1]`` with a bias.

        ``a_j(x) = 1[x̃ᵀW1_{:,j} > 0]`` (ReLU, i.e. ``relu(x̃ᵀW1)``) or, for a gated
        network, ``1[x̃ᵀG_{:,j} >= 0]`` with the fixed gates ``G`` (a buffer, not a
        parameter: gates are not trained). The bias is the last row of ``W1`` (and of
        ``G``), exactly as in :class:`ReLUNetwork`, so ``W1`` is a single trainable
        parameter and weight decay ``(λ/2)(‖W1‖² + ‖W2‖²)`` includes it, matching the
        convex program's group norms.
        """

        def __init__(self, W1, W2, bias, gates=None):
            super().__init__()
            self.bias = bool(bias)
            self.W1 = nn.Parameter(W1)
            self.W2 = nn.Parameter(W2)
            if gates is None:
                self.gates = None
            else:
                self.register_buffer("gates", gates)

        @property
        def gated(self):
            return self.gates is not None

        def extra_repr(self):
            d, m = self.W1.shape
            return (f"in_features={d - int(self.bias)}, width={m}, out_features={self.W2.shape[1]}, "
                    f"bias={self.bias}, gated={self.gated}")

        def forward(self, x):
            if x.dim() != 2 or x.shape[1] != self.W1.shape[0] - int(self.bias):
                raise ValueError(
                    f"x must have shape (n, {self.W1.shape[0] - int(self.bias)}); got {tuple(x.shape)}."
                )
            x = x.to(self.W1.dtype)
            if self.bias:
                x = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], dim=1)
            z = x @ self.W1
            if self.gates is None:
                h = torch.relu(z)
            else:
                # same rule as GatedReLUNetwork.hidden: active when x̃ᵀg >= 0
                h = (x @ self.gates >= 0).to(z.dtype) * z
            return h @ self.W2

    _module_class.cls = TwoLayerReLU
    return TwoLayerReLU


def _check_layers(W1, W2):
    W1 = np.asarray(W1, dtype=np.float64)
    W2 = np.asarray(W2, dtype=np.float64)
    if W1.ndim != 2 or W2.ndim != 2 or W1.shape[1] != W2.shape[0]:
        raise ValueError(
            f"W1 must be (d̃, m) and W2 (m, c) with the same m; got {W1.shape} and {W2.shape}."
        )
    if not (np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))):
        raise ValueError("network weights contain NaN or infinite values.")
    return W1, W2


@dataclass(eq=False)
class ReLUNetwork:
    """A two-layer ReLU network ``relu(X̃ W1) W2``.

    Attributes
    ----------
    W1 : (d̃, m) array — first layer, the bias weight in the last row when ``bias``.
    W2 : (m, c) array — second layer.
    bias : bool
    """

    W1: np.ndarray
    W2: np.ndarray
    bias: bool = False

    def __post_init__(self):
        self.W1, self.W2 = _check_layers(self.W1, self.W2)

    @property
    def width(self):
        return self.W1.shape[1]

    @property
    def n_features(self):
        return self.W1.shape[0] - int(self.bias)

    def _inputs(self, X):
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features; the network expects {self.n_features}.")
        return add_bias_column(X, self.bias)

    def hidden(self, X):
        """Hidden activations ``(X̃ W1)_+``, shape ``(n, m)``."""
        return np.maximum(self._inputs(X) @ self.W1, 0.0)

    def predict(self, X):
        """Outputs ``(X̃ W1)_+ W2``, shape ``(n, c)``."""
        return self.hidden(X) @ self.W2

    def weight_decay(self, lam):
        """``(λ/2)(‖W1‖²_F + ‖W2‖²_F)``."""
        return 0.5 * lam * (float(np.sum(self.W1**2)) + float(np.sum(self.W2**2)))

    def objective(self, X, y, lam, loss="squared"):
        """Non-convex training objective ``ℓ(f(X)) + (λ/2)(‖W1‖² + ‖W2‖²)`` with ``s = n·c``."""
        loss = check_loss(loss)
        lam = check_lam(lam)
        pred = self.predict(X)
        Y = check_targets(y, pred.shape[0], loss=loss)
        if Y.shape[1] != pred.shape[1]:
            raise ValueError(f"y has {Y.shape[1]} outputs; the network has {pred.shape[1]}.")
        return losses.loss_value(loss, pred, Y) + self.weight_decay(lam)

    def to_torch(self, dtype=None, device=None):
        """This network as a PyTorch ``nn.Module`` with the same predictions.

        Parameters
        ----------
        dtype : torch dtype or its name, optional
            Default ``torch.float64``: the module then reproduces :meth:`predict` to
            round-off (1e-10 and better). ``torch.float32`` for the usual training speed.
        device : str or torch.device, optional
            Where the parameters live (default: PyTorch's default device).

        Returns
        -------
        torch.nn.Module
            ``module(x)`` for ``x`` of shape ``(n, d)`` returns ``(n, c)``: the same
            ``relu(x̃ W1) W2`` with ``x̃ = [x, 1]`` when ``bias`` (the bias is the last
            row of the parameter ``W1``, so weight decay covers it as in the convex
            program). Parameters ``W1`` ``(d̃, m)`` and ``W2`` ``(m, c)`` are copies: training
            the module does not change this network.

        Raises
        ------
        ImportError
            PyTorch is not installed (``pip install torch``).
        """
        torch = _torch()
        dt = torch.float64 if dtype is None else _torch_dtype(torch, dtype)
        W1 = torch.tensor(self.W1, dtype=dt, device=device)
        W2 = torch.tensor(self.W2, dtype=dt, device=device)
        gates = getattr(self, "gates", None)
        G = None if gates is None else torch.tensor(gates, dtype=dt, device=device)
        return _module_class(torch)(W1, W2, self.bias, G)


@dataclass(eq=False)
class GatedReLUNetwork(ReLUNetwork):
    """A gated ReLU network: neuron ``j`` is ``1[x̃ᵀg_j >= 0]·x̃ᵀw_j``.

    Attributes
    ----------
    gates : (d̃, m) array — the fixed gate of each neuron.
    """

    gates: np.ndarray = None

    def __post_init__(self):
        super().__post_init__()
        G = np.asarray(self.gates, dtype=np.float64)
        if G.shape != self.W1.shape:
            raise ValueError(f"gates must have the shape of W1 {self.W1.shape}; got {G.shape}.")
        self.gates = G

    def hidden(self, X):
        Xt = self._inputs(X)
        return ((Xt @ self.gates) >= 0) * (Xt @ self.W1)


def _neurons(groups, prune_tol):
    """Split ``(c, d̃, p)`` groups into neurons ``(u/√‖u‖, √‖u‖)``, pruning small norms.

    Returns first-layer columns, their output index, their √norm and their pattern index.
    """
    norms = np.linalg.norm(groups, axis=1)  # (c, p)
    threshold = prune_tol * norms.max() if norms.size and norms.max() > 0 else 0.0
    ks, idx = np.nonzero(norms > threshold)
    roots = np.sqrt(norms[ks, idx])
    cols = groups[ks, :, idx].T / roots  # (d̃, m)
    return cols, ks, roots, idx


def network_from_weights(problem, weights, *, prune_tol=0.0):
    """The network realising convex ``weights`` of ``problem``.

    Parameters
    ----------
    problem : ReLUProblem or GatedReLUProblem
    weights : array of ``problem.weights_shape``
    prune_tol : float
        Groups with norm ``<= prune_tol · max group norm`` are dropped (0 drops
        only exact zeros). Use the CVXPY clean-up first for interior-point output.

    Returns
    -------
    ReLUNetwork or GatedReLUNetwork
        Multi-output: each neuron feeds one output (block-diagonal second layer).

    Notes
    -----
    The network's predictions equal the convex model's for every penalty (the mapping
    does not involve ``R``). Its weight-decay objective (:meth:`ReLUNetwork.objective`)
    equals the convex objective only for a penalty with ``network_equivalent`` (the
    neuron group); for the others (feature group, L1, L2, group elastic net) the convex
    program has no exact non-convex equivalent, and the network is only a way to
    evaluate the convex model (see :mod:`convex_relu.penalties` and
    :func:`convex_relu.claims.claim`).
    """
    if getattr(problem, "formulation", None) not in ("relu", "gated_relu"):
        raise InputTypeError(
            f"problem must be a GatedReLUProblem or ReLUProblem; got {type(problem).__name__}."
        )
    prune_tol = check_positive_float(prune_tol, "prune_tol", allow_zero=True)
    W = problem.check_weights(weights)
    c = problem.c
    if problem.formulation == "relu":
        parts = [(W[0], 1.0), (W[1], -1.0)]
    else:
        parts = [(W, 1.0)]
    cols_all, W2_rows, gates = [], [], []
    for groups, sign in parts:
        cols, ks, roots, idx = _neurons(groups, prune_tol)
        W2 = np.zeros((len(ks), c))
        W2[np.arange(len(ks)), ks] = sign * roots
        cols_all.append(cols)
        W2_rows.append(W2)
        gates.append(problem.patterns.gates[:, idx])
    W1 = np.concatenate(cols_all, axis=1)
    W2 = np.concatenate(W2_rows, axis=0)
    if problem.formulation == "relu":
        return ReLUNetwork(W1, W2, bias=problem.bias)
    return GatedReLUNetwork(W1, W2, bias=problem.bias, gates=np.concatenate(gates, axis=1))


def network_from_solution(solution, *, prune_tol=0.0):
    """:func:`network_from_weights` for a :class:`~convex_relu.solution.Solution`."""
    return network_from_weights(solution.problem, solution.weights, prune_tol=prune_tol)


def network_claim(problem, network, *, tol=1e-6):
    """Certify a trained ReLU network and say what the certificate proves.

    Parameters
    ----------
    problem : ReLUProblem (a GatedReLUProblem is read as its ReLU problem)
        Data, ``λ``, loss and the pattern set; the network's neurons must have
        patterns in it.
    network : ReLUNetwork
        Not a :class:`GatedReLUNetwork`: its neurons are not ReLUs, so the ReLU
        certificate does not apply (certify its convex weights instead).
    tol : float > 0
        Certified relative gap required for an optimality claim.

    Returns
    -------
    certificate : NetworkCertificate
        Its ``network_gap = network objective − dual bound``.
    claim : Claim
        Graded by :func:`convex_relu.claims.claim` on the network's own objective: a
        global optimum only with complete patterns (enumerated, none dropped), one
        output and ``network_relative_gap <= tol``.
    """
    from .certificates import certify_network
    from .claims import claim

    if isinstance(network, GatedReLUNetwork) or not isinstance(network, ReLUNetwork):
        raise TypeError(
            f"network must be a ReLUNetwork (not gated); got {type(network).__name__}."
        )
    if bool(network.bias) != bool(problem.bias):
        raise ValueError(
            f"network.bias is {network.bias} but problem.bias is {problem.bias}; they must match."
        )
    cert = certify_network(problem, network.W1, network.W2)
    relu_problem = problem if problem.formulation == "relu" else problem.relu_problem()
    return cert, claim(relu_problem, cert, tol=tol, formulation="relu", width=network.width)
