"""Newton's method on a fixed support, against Clarabel optima and the certificate.

Specification: started anywhere on the support of the optimum, Newton reaches the
optimum (the certificate closes to round-off); started on a support with extra
groups, it removes the ones that must be zero; it never returns a point worse than
its start.
"""

import numpy as np
import pytest
from conftest import planted_problem

from convex_relu.certificates import certify
from convex_relu.cvx import solve_exact
from convex_relu.newton import newton_on_support, support_matrix
from convex_relu.operators import ColumnOperator, from_columns, to_columns


def _optimum(prob):
    sol = solve_exact(prob, "clarabel", tol=1e-11)
    U = to_columns(sol.weights)
    norms = np.linalg.norm(U, axis=0)
    support = np.flatnonzero(norms > 1e-6 * norms.max())
    return sol.objective, U, support


def test_support_matrix_is_the_stacked_operator_on_the_support():
    prob = planted_problem("gated_relu", n=30, d=3, gates=10)
    rng = np.random.default_rng(1)
    cols = np.array([1, 4, 7])
    U = np.zeros((prob.d, prob.p))
    U[:, cols] = rng.standard_normal((prob.d, cols.size))
    A = support_matrix(prob.X_tilde, prob.masks, cols)
    want = ColumnOperator(prob.X_tilde, prob.masks, 1).forward(U)[:, 0]
    np.testing.assert_allclose(A @ U[:, cols].T.ravel(), want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("c", [1, 2])
def test_newton_from_a_perturbed_optimum_reaches_the_optimum(loss, bias, c):
    prob = planted_problem("gated_relu", loss=loss, bias=bias, c=c, n=50, gates=15, lam=0.01)
    p_star, U_star, support = _optimum(prob)
    rng = np.random.default_rng(2)
    U0 = np.zeros_like(U_star)
    U0[:, support] = U_star[:, support] * (1 + 0.2 * rng.standard_normal((prob.d, support.size)))
    res = newton_on_support(prob, U0, support)
    cert = certify(prob, from_columns(res.U, prob.c))
    # "line_search": no decrease left at the rounding level, also an optimum
    assert res.status in ("converged", "line_search")
    assert cert.primal == pytest.approx(p_star, rel=1e-8)
    # Clarabel's optimum is only accurate to ~1e-10; Newton's is better certified
    assert cert.relative_gap <= 1e-9


def test_newton_drops_groups_that_must_be_zero():
    prob = planted_problem("gated_relu", n=60, gates=20, lam=0.02, seed=3)
    p_star, U_star, support = _optimum(prob)
    zero = np.setdiff1d(np.arange(prob.p), support)[:3]
    assert zero.size == 3
    rng = np.random.default_rng(4)
    U0 = U_star.copy()
    U0[:, zero] = 1e-3 * rng.standard_normal((prob.d, zero.size))
    res = newton_on_support(prob, U0, np.union1d(support, zero))
    cert = certify(prob, from_columns(res.U, prob.c))
    assert np.all(res.U[:, zero] == 0.0)
    assert cert.primal == pytest.approx(p_star, rel=1e-8)
    assert cert.relative_gap <= 1e-9


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_never_increases_the_objective(loss):
    prob = planted_problem("gated_relu", loss=loss, n=40, gates=15, lam=0.05, seed=5)
    rng = np.random.default_rng(6)
    for trial in range(5):
        support = np.sort(rng.choice(prob.p, size=6, replace=False))
        U0 = np.zeros((prob.d, prob.p))
        U0[:, support] = rng.standard_normal((prob.d, support.size))
        before = prob.objective(from_columns(U0, 1))
        res = newton_on_support(prob, U0, support)
        after = prob.objective(from_columns(res.U, 1))
        assert after <= before + 1e-12 * abs(before)
        # off the support nothing moves
        off = np.setdiff1d(np.arange(prob.p), support)
        assert np.all(res.U[:, off] == 0.0)


def test_factored_support_applies_the_explicit_support_matrix():
    from convex_relu.newton import DenseSupport, FactoredSupport

    prob = planted_problem("gated_relu", n=35, d=4, gates=12, seed=7)
    rng = np.random.default_rng(8)
    cols = np.array([0, 3, 5, 9])
    A = support_matrix(prob.X_tilde, prob.masks, cols)
    dense = DenseSupport(A, prob.d)
    fact = FactoredSupport(prob.X_tilde, prob.masks[:, cols])
    u = rng.standard_normal(A.shape[1])
    r = rng.standard_normal(prob.n)
    cw = rng.random(prob.n)
    np.testing.assert_allclose(fact.matvec(u), A @ u, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fact.rmatvec(r), A.T @ r, rtol=1e-12, atol=1e-12)
    # the blocks A_gᵀ diag(cw) A_g, written out block by block
    want = np.stack([A[:, g * prob.d:(g + 1) * prob.d].T @ (cw[:, None] * A[:, g * prob.d:(g + 1) * prob.d])
                     for g in range(cols.size)])
    np.testing.assert_allclose(fact.diag_blocks(cw), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dense.diag_blocks(cw), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fact.restrict(np.array([1, 3])).matvec(u[: 2 * prob.d]),
                               dense.restrict(np.array([1, 3])).matvec(u[: 2 * prob.d]), rtol=1e-12)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("c", [1, 2])
def test_factored_newton_cg_reaches_the_clarabel_optimum(loss, c):
    prob = planted_problem("gated_relu", loss=loss, c=c, n=50, gates=15, lam=0.01, seed=9)
    p_star, U_star, support = _optimum(prob)
    rng = np.random.default_rng(10)
    U0 = np.zeros_like(U_star)
    U0[:, support] = U_star[:, support] * (1 + 0.2 * rng.standard_normal((prob.d, support.size)))
    res = newton_on_support(prob, U0, support, operator="factored")
    cert = certify(prob, from_columns(res.U, prob.c))
    assert res.products > 0  # Newton-CG, not a factorisation
    assert res.status in ("converged", "line_search")
    assert cert.primal == pytest.approx(p_star, rel=1e-8)
    assert cert.relative_gap <= 1e-9


def test_factored_newton_keeps_its_product_budget_and_never_increases_the_objective():
    from convex_relu import newton

    prob = planted_problem("gated_relu", n=60, gates=20, lam=0.005, seed=11)
    _, U_star, support = _optimum(prob)
    U0 = np.zeros_like(U_star)
    U0[:, support] = np.random.default_rng(12).standard_normal((prob.d, support.size))
    before = prob.objective(from_columns(U0, 1))
    res = newton_on_support(prob, U0, support, operator="factored", max_products=5)
    # the budget is checked after each Newton step: one direction may overrun it
    assert res.products <= 5 + newton.CG_MAX_ITER
    assert prob.objective(from_columns(res.U, 1)) <= before + 1e-12 * abs(before)
    with pytest.raises(ValueError, match="operator"):
        newton_on_support(prob, U0, support, operator="dense")


def test_factored_cg_products_in_single_precision_match_the_float64_ones():
    from convex_relu.newton import FactoredSupport

    prob = planted_problem("gated_relu", n=40, d=3, gates=10, seed=13)
    fact = FactoredSupport(prob.X_tilde, prob.masks[:, [1, 2, 6]])
    rng = np.random.default_rng(14)
    u, r = rng.standard_normal(3 * prob.d), rng.standard_normal(prob.n)
    assert fact.cg_matvec(u).dtype == np.float64
    np.testing.assert_allclose(fact.cg_matvec(u), fact.matvec(u), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fact.cg_rmatvec(r), fact.rmatvec(r), rtol=1e-5, atol=1e-5)
    exact = FactoredSupport(prob.X_tilde, prob.masks[:, [1, 2, 6]], cg_dtype=np.float64)
    np.testing.assert_array_equal(exact.cg_matvec(u), exact.matvec(u))
