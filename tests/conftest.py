"""Shared test data: small problems with a planted ReLU signal."""

import numpy as np
from convex_relu import make_problem


def planted_problem(formulation="gated_relu", loss="squared", bias=True, c=1, n=40, d=3,
                    gates=12, lam=0.02, seed=0):
    """Gaussian X, targets from a planted two-neuron ReLU model plus noise (±1 for logistic)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    planted = np.maximum(X @ rng.standard_normal((d, c)), 0) - 0.5 * np.maximum(X[:, :1], 0)
    Y = planted + 0.1 * rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.where(Y > np.median(Y, axis=0), 1.0, -1.0)
    return make_problem(X, Y[:, 0] if c == 1 else Y, formulation=formulation, lam=lam, loss=loss,
                        bias=bias, n_gates=gates, seed=seed + 1)
