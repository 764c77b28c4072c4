"""Datafits as parts: gradient by finite differences, conjugate by Fenchel–Young and a numeric sup."""

import numpy as np
import pytest
from scipy.optimize import minimize

from convex_relu.datafits import DATAFITS, make_datafit


def _setup(loss, weighted, n=7, c=2, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.where(Y >= 0, 1.0, -1.0)
    w = None
    if weighted:
        raw = rng.uniform(0.2, 2.0, n)
        w = (raw / raw.sum() * n).reshape(-1, 1)
    return make_datafit(loss, Y, w), rng.standard_normal((n, c))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", sorted(DATAFITS))
def test_gradient_matches_finite_differences(loss, weighted):
    fit, P = _setup(loss, weighted)
    g = fit.gradient(P)
    h = 1e-6
    num = np.zeros_like(P)
    for idx in np.ndindex(P.shape):
        E = np.zeros_like(P)
        E[idx] = h
        num[idx] = (fit.value(P + E) - fit.value(P - E)) / (2 * h)
    assert np.allclose(g, num, atol=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", sorted(DATAFITS))
def test_conjugate_fenchel_young_and_numeric_sup(loss, weighted):
    fit, P = _setup(loss, weighted)
    z = fit.gradient(P)
    # equality in Fenchel–Young at z = ∇ℓ(P)
    assert np.isclose(fit.value(P) + fit.conjugate(z), float(np.vdot(z, P)), atol=1e-12)
    # ℓ*(0.5 z) = sup_Q ⟨0.5z, Q⟩ − ℓ(Q), computed numerically
    zz = 0.5 * z
    res = minimize(lambda q: fit.value(q.reshape(P.shape)) - float(np.vdot(zz, q)), P.ravel(),
                   method="BFGS", options={"gtol": 1e-12})
    assert np.isclose(fit.conjugate(zz), -res.fun, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", sorted(DATAFITS))
def test_conjugate_along_agrees_with_conjugate(loss):
    fit, P = _setup(loss, True)
    g = fit.gradient(P)
    h, hi = fit.conjugate_along(g)
    gam = np.array([0.3, 0.8])
    assert np.isclose(h(gam).sum(), -fit.conjugate(g * gam[None, :]), atol=1e-12)
    assert np.all(hi >= 0)


def test_smoothness_bounds_curvature():
    for loss, kappa in (("squared", 1.0), ("logistic", 0.25)):
        fit, _ = _setup(loss, True)
        assert np.isclose(fit.smoothness, kappa * float(fit.w.max()) / fit.s)
