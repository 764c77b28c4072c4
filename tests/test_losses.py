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


# -- weighted losses (row weights ŵ, mean 1) ---------------------------------------


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_weighted_loss_fenchel_young_and_gradient(loss):
    from convex_relu import losses as L

    rng = np.random.default_rng(0)
    n, c = 9, 2
    Y = rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.sign(Y)
    raw = rng.exponential(size=n)
    raw[[1, 4]] = 0.0
    w = (raw / raw.sum() * n)[:, None]
    P = rng.standard_normal((n, c))
    f = L.loss_value(loss, P, Y, w)
    # the raw definition: Σ_j raw_j Σ_k f(ŷ, y) / (c Σ raw)
    per = 0.5 * (P - Y) ** 2 if loss == "squared" else np.logaddexp(0, -Y * P)
    assert f == pytest.approx(float(np.sum(raw[:, None] * per)) / (c * raw.sum()), rel=1e-13)
    g = L.loss_grad(loss, P, Y, w)
    assert np.all(g[[1, 4]] == 0)
    E = rng.standard_normal((n, c))
    h = 1e-6
    fd = (L.loss_value(loss, P + h * E, Y, w) - L.loss_value(loss, P - h * E, Y, w)) / (2 * h)
    assert fd == pytest.approx(float(np.sum(g * E)), rel=1e-6)
    # Fenchel–Young holds with equality at z = ∇ℓ(P)
    assert f + L.loss_conjugate(loss, g, Y, w) == pytest.approx(float(np.sum(g * P)), rel=1e-10, abs=1e-14)
    # and as an inequality elsewhere; z ≠ 0 on a zero-weight row is outside the domain
    z = 0.5 * g
    assert f + L.loss_conjugate(loss, z, Y, w) >= float(np.sum(z * P)) - 1e-14
    z[1, 0] = 1e-9
    assert L.loss_conjugate(loss, z, Y, w) == np.inf


def test_unit_row_weights_equal_the_unweighted_loss_exactly():
    from convex_relu import losses as L

    rng = np.random.default_rng(1)
    Y, P = rng.standard_normal((7, 1)), rng.standard_normal((7, 1))
    ones = np.ones((7, 1))
    for loss in ("squared", "logistic"):
        Yl = Y if loss == "squared" else np.sign(Y)
        assert L.loss_value(loss, P, Yl, ones) == L.loss_value(loss, P, Yl)
        np.testing.assert_array_equal(L.loss_grad(loss, P, Yl, ones), L.loss_grad(loss, P, Yl))
        z = 0.3 * L.loss_grad(loss, P, Yl)
        assert L.loss_conjugate(loss, z, Yl, ones) == pytest.approx(L.loss_conjugate(loss, z, Yl), rel=1e-15)
