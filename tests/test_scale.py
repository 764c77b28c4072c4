"""Specification: results do not depend on the units of the data.

The same data times 10^k, X and y scaled separately, must give identical patterns and
equivalent solutions: with ``X → aX`` (no bias) and ``y → b·y`` the problem at
``λ → a·b·λ`` has the minimisers ``u·b/a`` and the objective ``b²·p*``. Each case runs
under a wall-clock limit (no hangs) and must produce finite numbers everywhere.
The reference is the same program solved on the unscaled data; the two certified
intervals ``[dual, primal]`` must overlap (each contains p*, so they must), and the
objectives agree to 1e-8 relative after the unit conversion.
"""

import signal

import numpy as np
import pytest

from convex_relu import certify, make_problem, sample_patterns, solve

EXPONENTS = [-150, -100, -10, 0, 10, 100, 150]
LIMIT_S = 60
TOL = 1e-9


@pytest.fixture
def wall_clock_limit():
    """Fail (instead of hanging) when a case runs longer than LIMIT_S seconds."""

    def on_alarm(signum, frame):  # pragma: no cover - only on a hang
        raise TimeoutError(f"case ran longer than {LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _data(bias):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ np.array([1.0, -2.0, 0.5]), 0) - 0.5 * X[:, 0] + 0.1 * rng.standard_normal(40)
    return X, y


_REFERENCE = {}


def _solve(X, y, formulation, lam, bias, method):
    prob = make_problem(X, y, formulation=formulation, lam=lam, bias=bias, n_gates=25, seed=3)
    sol = solve(prob, method, tol=TOL)
    return prob, sol


def _reference(formulation, bias, method):
    key = (formulation, bias, method)
    if key not in _REFERENCE:
        X, y = _data(bias)
        _REFERENCE[key] = _solve(X, y, formulation, 0.02, bias, method)
    return _REFERENCE[key]


def _check_equivalent(prob, sol, ref_prob, ref_sol, b2):
    np.testing.assert_array_equal(prob.patterns.masks, ref_prob.patterns.masks)
    cert = certify(prob, sol.weights)
    for v in (sol.objective, cert.primal, cert.dual, cert.gap, cert.relative_gap):
        assert np.isfinite(v)
    assert np.all(np.isfinite(sol.weights))
    ref = certify(ref_prob, ref_sol.weights)
    # both certified intervals contain p*: after the unit conversion they must overlap
    slack = 1e-12 * abs(ref.primal)
    assert cert.dual / b2 <= ref.primal + slack and ref.dual <= cert.primal / b2 + slack
    np.testing.assert_allclose(sol.objective / b2, ref_sol.objective, rtol=1e-8)
    assert sol.converged and cert.relative_gap <= TOL


CASES = [("gated_relu", "rfista"), ("relu", "al")]


@pytest.mark.parametrize("formulation,method", CASES)
@pytest.mark.parametrize("k", EXPONENTS)
def test_scaling_X(k, formulation, method, wall_clock_limit):
    # without a bias, X → aX is a change of units of the weights (λ → a·λ)
    X, y = _data(False)
    a = 10.0**k
    ref_prob, ref_sol = _reference(formulation, False, method)
    prob, sol = _solve(a * X, y, formulation, 0.02 * a, False, method)
    _check_equivalent(prob, sol, ref_prob, ref_sol, 1.0)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("formulation,method", CASES)
@pytest.mark.parametrize("k", EXPONENTS)
def test_scaling_y(k, formulation, method, bias, wall_clock_limit):
    X, y = _data(bias)
    b = 10.0**k
    ref_prob, ref_sol = _reference(formulation, bias, method)
    prob, sol = _solve(X, b * y, formulation, 0.02 * b, bias, method)
    _check_equivalent(prob, sol, ref_prob, ref_sol, b * b)


@pytest.mark.parametrize("k", EXPONENTS)
def test_scaling_with_the_exact_solver(k, wall_clock_limit):
    X, y = _data(False)
    X, y = X[:20], y[:20]
    a = 10.0**k
    ref_prob = make_problem(X, y, formulation="gated_relu", lam=0.02, n_gates=8, seed=1)
    prob = make_problem(a * X, a * y, formulation="gated_relu", lam=0.02 * a * a, n_gates=8, seed=1)
    ref_sol, sol = solve(ref_prob, "clarabel", tol=1e-9), solve(prob, "clarabel", tol=1e-9)
    np.testing.assert_array_equal(prob.patterns.masks, ref_prob.patterns.masks)
    np.testing.assert_allclose(sol.objective / a**2, ref_sol.objective, rtol=1e-8)
    assert np.isfinite(sol.certificate.gap if sol.certificate is not None else certify(prob, sol.weights).gap)


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_enumerated_patterns_and_sampled_patterns_at_extreme_scales(scale):
    X, _ = _data(True)
    X = X[:12, :2]
    ref = sample_patterns(X, 30, 0, bias=True)
    np.testing.assert_array_equal(sample_patterns(scale * X, 30, 0, bias=True).masks, ref.masks)


@pytest.mark.parametrize("bad", [1e160, 1e-160, 1e300])
def test_targets_beyond_float64_are_refused_by_name(bad):
    X, y = _data(False)
    with pytest.raises(ValueError, match=r"^y has entries of magnitude"):
        make_problem(X, bad * y, formulation="gated_relu", lam=0.1, n_gates=5)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("k", EXPONENTS)
def test_certificate_follows_the_units(k, formulation):
    # the same weights in other units: every certified number converts exactly
    X, y = _data(False)
    rng = np.random.default_rng(2)
    p0 = make_problem(X, y, formulation=formulation, lam=0.02, n_gates=25, seed=3)
    W = 0.1 * rng.standard_normal(p0.weights_shape)
    c0 = certify(p0, W)
    a = 10.0**k
    px = make_problem(a * X, y, formulation=formulation, lam=0.02 * a, n_gates=25, seed=3)
    cx = certify(px, W / a)
    py = make_problem(X, a * y, formulation=formulation, lam=0.02 * a, n_gates=25, seed=3)
    cy = certify(py, W * a)
    for c, b2 in ((cx, 1.0), (cy, a * a)):
        np.testing.assert_allclose([c.primal / b2, c.dual / b2, c.relative_gap],
                                   [c0.primal, c0.dual, c0.relative_gap], rtol=1e-10)
    np.testing.assert_allclose(cx.violation, c0.violation, rtol=1e-10)
    np.testing.assert_allclose(cy.violation / a, c0.violation, rtol=1e-10)
