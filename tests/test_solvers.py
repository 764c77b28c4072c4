"""The fast solvers against independent references: explicit matrices and Clarabel."""

import warnings

import numpy as np
import pytest

from convex_relu import ConvergenceWarning, make_problem
from convex_relu.cvx import solve_exact
from convex_relu.operators import adjoint, forward, operator_norm_sq
from convex_relu.solution import SolverWarning
from convex_relu.solvers import choose_method, solve


def _explicit_A(Xt, masks):
    return np.hstack([masks[:, [i]] * Xt for i in range(masks.shape[1])])


def _problem(formulation="gated_relu", loss="squared", bias=True, c=1, n=40, d=3, gates=12,
             lam=0.02, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    planted = np.maximum(X @ rng.standard_normal((d, c)), 0) - 0.5 * np.maximum(X[:, :1], 0)
    Y = planted + 0.1 * rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.where(Y > np.median(Y, axis=0), 1.0, -1.0)
    y = Y[:, 0] if c == 1 else Y
    return make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias,
                        n_gates=gates, seed=seed + 1)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("c", [1, 3])
def test_operator_equals_explicit_stacked_matrix(dtype, rtol, c):
    prob = _problem(c=c)
    A = _explicit_A(prob.X_tilde, prob.masks)
    rng = np.random.default_rng(1)
    U = rng.standard_normal(prob.weights_shape)
    R = rng.standard_normal((prob.n, c))
    expected_fwd = np.stack([A @ U[k].T.reshape(-1) for k in range(c)], axis=1)
    expected_adj = np.stack([(A.T @ R[:, k]).reshape(prob.p, prob.d).T for k in range(c)])
    Xt, M = prob.X_tilde.astype(dtype), prob.masks.astype(dtype)
    got_fwd = forward(Xt, M, U.astype(dtype))
    got_adj = adjoint(Xt, M, R.astype(dtype))
    np.testing.assert_allclose(got_fwd, expected_fwd, rtol=rtol, atol=rtol * 10)
    np.testing.assert_allclose(got_adj, expected_adj, rtol=rtol, atol=rtol * 10)
    # adjoint identity ⟨AU, R⟩ = ⟨U, AᵀR⟩
    assert np.vdot(forward(prob.X_tilde, prob.masks, U), R) == pytest.approx(
        np.vdot(U, adjoint(prob.X_tilde, prob.masks, R)), rel=1e-12)


def test_operator_norm_estimate_is_close_from_below():
    prob = _problem()
    sigma_sq = np.linalg.norm(_explicit_A(prob.X_tilde, prob.masks), 2) ** 2
    est = operator_norm_sq(prob.X_tilde, prob.masks)
    assert est <= sigma_sq * (1 + 1e-9)
    assert est >= 0.95 * sigma_sq


@pytest.mark.parametrize(
    "loss, bias, c", [("squared", True, 1), ("squared", False, 2), ("logistic", True, 1),
                      ("logistic", True, 2)]
)
def test_rfista_matches_clarabel_and_certifies(loss, bias, c):
    prob = _problem(loss=loss, bias=bias, c=c)
    fast = solve(prob, "rfista", tol=1e-8)
    exact = solve_exact(prob, tol=1e-11)
    assert fast.converged and fast.status == "optimal"
    assert fast.certificate.relative_gap <= 1e-8
    # the exact optimum lies inside [D_fast, P_fast] up to its own accuracy
    assert fast.objective == pytest.approx(exact.objective, rel=1e-6)
    assert fast.certificate.dual <= exact.objective * (1 + 1e-9)


def test_rfista_warm_start_from_optimum_stops_at_once():
    prob = _problem()
    first = solve(prob, "rfista", tol=1e-9)
    again = solve(prob, "rfista", tol=1e-8, warm_start=first.weights)
    assert again.converged
    assert again.n_iter <= 10
    assert again.n_iter < first.n_iter


def test_rfista_max_iter_warns_and_marks_not_converged():
    prob = _problem(lam=1e-3)
    with pytest.warns(ConvergenceWarning):
        sol = solve(prob, "rfista", tol=1e-12, max_iter=5)
    assert not sol.converged
    assert sol.status == "max_iter"
    assert np.isfinite(sol.objective)


def test_float32_stops_with_an_honest_status():
    prob = _problem(lam=1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve(prob, "rfista", tol=1e-13, dtype=np.float32, max_iter=20_000)
    assert not sol.converged
    assert sol.status != "optimal"
    assert any(issubclass(w.category, SolverWarning) for w in caught)
    # the reported gap is our float64 certificate of the returned weights
    from convex_relu.certificates import certify

    assert sol.certificate.gap == pytest.approx(certify(prob, sol.weights).gap, rel=1e-9)


def test_solve_validates_method_and_pairing():
    gated = _problem()
    relu = _problem(formulation="relu")
    with pytest.raises(ValueError, match="method must be one of"):
        solve(gated, "newton")
    with pytest.raises(ValueError, match="rfista"):
        solve(relu, "rfista")
    with pytest.raises(ValueError, match="'al'"):
        solve(gated, "al")
    with pytest.raises(ValueError, match="tol"):
        solve(gated, "rfista", tol=-1.0)


def test_auto_picks_exact_for_small_and_first_order_for_large():
    small = _problem(n=30, gates=8)
    method, _ = choose_method(small)
    assert method == "clarabel"
    sol = solve(small, "auto")
    assert "auto_choice" in sol.info and sol.solver.lower().startswith("clarabel")
    big = _problem(n=12000, d=10, gates=100)
    assert choose_method(big)[0] == "rfista"
    assert choose_method(big.relu_problem())[0] == "al"
