"""Losses: gradients by finite differences, conjugates by the Fenchel–Young equality."""

import numpy as np
import pytest
from scipy.optimize import minimize

from convex_relu import losses


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(0)
    Y = np.where(rng.random((6, 2)) > 0.5, 1.0, -1.0)
    P = rng.standard_normal((6, 2))
    g = losses.loss_grad(loss, P, Y)
    eps = 1e-6
    fd = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        E = np.zeros_like(P)
        E[idx] = eps
        fd[idx] = (losses.loss_value(loss, P + E, Y) - losses.loss_value(loss, P - E, Y)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_conjugate_is_the_supremum(loss):
    """ℓ*(z) = sup_P ⟨z, P⟩ − ℓ(P), computed numerically."""
    rng = np.random.default_rng(1)
    Y = np.where(rng.random((5, 1)) > 0.5, 1.0, -1.0)
    # a point in the logistic conjugate's domain: z = γ∇ℓ(P0) with γ in (0, 1)
    z = 0.7 * losses.loss_grad(loss, rng.standard_normal((5, 1)), Y)
    res = minimize(lambda p: losses.loss_value(loss, p.reshape(5, 1), Y) - z.ravel() @ p,
                   np.zeros(5), method="BFGS", options={"gtol": 1e-12})
    assert losses.loss_conjugate(loss, z, Y) == pytest.approx(-res.fun, rel=1e-6, abs=1e-9)


def test_logistic_conjugate_outside_domain_is_infinite():
    Y = np.ones((3, 1))
    assert losses.loss_conjugate("logistic", np.full((3, 1), 1.0), Y) == np.inf
