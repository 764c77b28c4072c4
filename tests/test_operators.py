"""The fast operator against the explicit stacked matrix ``A = [D_1X̃ … D_pX̃]``."""

import numpy as np
import pytest

from convex_relu import make_problem
from convex_relu.operators import (
    ColumnOperator,
    adjoint,
    forward,
    from_columns,
    operator_norm_sq,
    pattern_products,
    to_columns,
)


def _problem(c=1, bias=True, n=30, d=3, gates=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c))
    return make_problem(X, Y[:, 0] if c == 1 else Y, formulation="gated_relu", lam=0.1,
                        bias=bias, n_gates=gates, seed=seed + 1)


def _explicit_A(Xt, masks):
    """Column block ``i`` is ``D_i X̃`` (written out; only for tiny tests)."""
    return np.hstack([masks[:, [i]] * Xt for i in range(masks.shape[1])])


def _apply_explicit(A, U):
    """``(AU)_{:,k} = A vec(U_k)`` with ``vec`` stacking the pattern blocks."""
    return np.stack([A @ U[k].T.reshape(-1) for k in range(U.shape[0])], axis=1)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("bias", [False, True])
def test_forward_and_adjoint_equal_the_explicit_matrix(dtype, rtol, c, bias):
    prob = _problem(c=c, bias=bias)
    A = _explicit_A(prob.X_tilde, prob.masks)
    rng = np.random.default_rng(1)
    U = rng.standard_normal(prob.weights_shape)
    R = rng.standard_normal((prob.n, c))
    want_fwd = _apply_explicit(A, U)
    want_adj = np.stack([(A.T @ R[:, k]).reshape(prob.p, prob.d).T for k in range(c)])
    Xt, M = prob.X_tilde.astype(dtype), prob.masks.astype(dtype)
    got_fwd = forward(Xt, M, U.astype(dtype))
    got_adj = adjoint(Xt, M, R.astype(dtype))
    assert got_fwd.dtype == dtype and got_adj.dtype == dtype
    scale_f = np.abs(want_fwd).max()
    scale_a = np.abs(want_adj).max()
    np.testing.assert_allclose(got_fwd, want_fwd, rtol=rtol, atol=rtol * scale_f)
    np.testing.assert_allclose(got_adj, want_adj, rtol=rtol, atol=rtol * scale_a)


@pytest.mark.parametrize("c", [1, 2])
def test_adjoint_identity(c):
    prob = _problem(c=c, n=50, d=4, gates=20, seed=3)
    rng = np.random.default_rng(4)
    U = rng.standard_normal(prob.weights_shape)
    R = rng.standard_normal((prob.n, c))
    lhs = np.vdot(forward(prob.X_tilde, prob.masks, U), R)
    rhs = np.vdot(U, adjoint(prob.X_tilde, prob.masks, R))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_pattern_products_are_the_unmasked_products():
    prob = _problem(c=2)
    U = np.random.default_rng(5).standard_normal(prob.weights_shape)
    Z = pattern_products(prob.X_tilde, U)
    for k in range(2):
        for i in range(prob.p):
            np.testing.assert_allclose(Z[:, k, i], prob.X_tilde @ U[k, :, i], rtol=1e-13, atol=1e-13)


def test_column_layout_round_trip():
    U = np.random.default_rng(6).standard_normal((3, 4, 5))
    cols = to_columns(U)
    assert cols.shape == (4, 15)
    np.testing.assert_array_equal(cols[:, 1 * 5 + 2], U[1, :, 2])
    np.testing.assert_array_equal(from_columns(cols, 3), U)


@pytest.mark.parametrize("c", [1, 3])
def test_column_operator_full_and_subset(c):
    prob = _problem(c=c, n=40, d=3, gates=12, seed=7)
    A = _explicit_A(prob.X_tilde, prob.masks)
    rng = np.random.default_rng(8)
    U = rng.standard_normal(prob.weights_shape)
    R = rng.standard_normal((prob.n, c))
    cols = to_columns(U)
    full = ColumnOperator(prob.X_tilde, prob.masks, c)
    np.testing.assert_allclose(full.forward(cols), _apply_explicit(A, U), rtol=1e-12, atol=1e-12)
    want_adj = np.stack([(A.T @ R[:, k]).reshape(prob.p, prob.d).T for k in range(c)])
    np.testing.assert_allclose(full.adjoint(R), to_columns(want_adj), rtol=1e-12, atol=1e-12)
    # a subset of groups acts like the full operator with the other groups zeroed
    groups = np.sort(rng.choice(c * prob.p, size=max(2, c * prob.p // 3), replace=False))
    sub = ColumnOperator(prob.X_tilde, prob.masks, c, groups)
    zeroed = np.zeros_like(cols)
    zeroed[:, groups] = cols[:, groups]
    np.testing.assert_allclose(sub.forward(cols[:, groups]), full.forward(zeroed), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(sub.adjoint(R), full.adjoint(R)[:, groups], rtol=1e-12, atol=1e-12)
    # per-output maxima of a value per column
    vals = rng.standard_normal(groups.size)
    out = groups // prob.p
    expect = [vals[out == k].max() if np.any(out == k) else 0.0 for k in range(c)]
    np.testing.assert_allclose(sub.output_max(vals), expect)


def test_column_operator_with_signed_mask_columns():
    prob = _problem(n=25, d=2, gates=6, seed=9)
    rng = np.random.default_rng(10)
    m = 5
    masks = prob.masks[:, rng.integers(0, prob.p, m)] * rng.choice([-1.0, 1.0], m)
    op = ColumnOperator.from_mask_columns(prob.X_tilde, masks, np.zeros(m, int), 1)
    U = rng.standard_normal((prob.d, m))
    expect = sum(masks[:, j] * (prob.X_tilde @ U[:, j]) for j in range(m))
    np.testing.assert_allclose(op.forward(U)[:, 0], expect, rtol=1e-12, atol=1e-12)
    r = rng.standard_normal(prob.n)
    expect_adj = np.stack([prob.X_tilde.T @ (masks[:, j] * r) for j in range(m)], axis=1)
    np.testing.assert_allclose(op.adjoint(r[:, None]), expect_adj, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_operator_norm_estimate_is_close_from_below(seed):
    prob = _problem(n=60, d=4, gates=25, seed=seed)
    sigma_sq = np.linalg.norm(_explicit_A(prob.X_tilde, prob.masks), 2) ** 2
    est = operator_norm_sq(prob.X_tilde, prob.masks)
    assert est <= sigma_sq * (1 + 1e-9)
    assert est >= 0.97 * sigma_sq
    est_cols = ColumnOperator(prob.X_tilde, prob.masks, 1).norm_sq(n_iter=50, rtol=1e-6)
    assert 0.97 * sigma_sq <= est_cols <= sigma_sq * (1 + 1e-9)
