"""scipy.sparse X (CSR and CSC): same problem, same products, same solutions as dense X.

References: the explicit stacked operator ``A = [D_1X̃ … D_pX̃]`` built here from the
dense data, and the solvers run on the dense twin. The first-order solvers are
deterministic, so the sparse and dense runs take the same steps and agree to 1e-12
(the products differ only in summation order); the exact solvers agree to their
tolerance.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from convex_relu._validation import InputTypeError, check_matrix
from convex_relu.augmented_lagrangian import solve_al
from convex_relu.certificates import certify
from convex_relu.fista import solve_rfista
from convex_relu.operators import ColumnOperator
from convex_relu.problems import make_problem
from convex_relu.solvers import solve

FORMATS = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "csr_array": sp.csr_array}


def _data(loss="squared", n=60, d=8, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csr").toarray() * 3.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return X, y


def _pair(fmt, formulation="gated_relu", loss="squared", bias=True, lam=0.01, **kw):
    X, y = _data(loss)
    dense = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias,
                         n_gates=20, seed=1, **kw)
    sparse = make_problem(FORMATS[fmt](X), y, formulation=formulation, lam=lam, loss=loss,
                          bias=bias, n_gates=20, seed=1, **kw)
    return dense, sparse


def _stacked(X, masks, bias):
    Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X
    return np.hstack([masks[:, [i]] * Xt for i in range(masks.shape[1])])


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sparse_problem_has_the_dense_data_and_patterns(fmt):
    dense, sparse = _pair(fmt)
    np.testing.assert_array_equal(sparse.X, dense.X)
    np.testing.assert_array_equal(sparse.X_tilde, dense.X_tilde)
    np.testing.assert_array_equal(sparse.masks, dense.masks)
    assert sp.issparse(sparse.X_tilde_sparse) and sparse.X_tilde_sparse.format == "csr"
    np.testing.assert_array_equal(sparse.X_tilde_sparse.toarray(), dense.X_tilde)
    assert dense.X_tilde_sparse is None
    assert sparse.lam_max() == pytest.approx(dense.lam_max(), rel=1e-12)


@pytest.mark.parametrize("bias", [False, True])
def test_sparse_column_operator_matches_the_stacked_matrix(bias):
    X, _ = _data()
    prob = make_problem(sp.csc_matrix(X), np.zeros(X.shape[0]), formulation="gated_relu",
                        bias=bias, n_gates=7, seed=3)
    A = _stacked(X, prob.patterns.masks.astype(float), bias)
    d, p = prob.d, prob.p
    rng = np.random.default_rng(0)
    U = rng.standard_normal((d, p))
    R = rng.standard_normal((X.shape[0], 1))
    op = ColumnOperator(prob.X_tilde_sparse, prob.masks, 1)
    u = U.T.reshape(-1)  # column i·d̃ + j of A
    np.testing.assert_allclose(op.forward(U)[:, 0], A @ u, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.adjoint(R).T.reshape(-1), A.T @ R[:, 0], rtol=1e-12, atol=1e-12)
    groups = np.array([1, 4, 5])
    sub = ColumnOperator(prob.X_tilde_sparse, prob.masks, 1, groups)
    cols = np.concatenate([np.arange(g * d, (g + 1) * d) for g in groups])
    np.testing.assert_allclose(sub.forward(U[:, groups])[:, 0], A[:, cols] @ U[:, groups].T.reshape(-1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sub.adjoint(R).T.reshape(-1), A[:, cols].T @ R[:, 0],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_rfista_sparse_equals_dense(fmt, loss):
    dense, sparse = _pair(fmt, loss=loss)
    sd, ss = solve_rfista(dense, tol=1e-8), solve_rfista(sparse, tol=1e-8)
    assert sd.converged and ss.converged
    assert ss.n_iter == sd.n_iter
    assert ss.objective == pytest.approx(sd.objective, rel=1e-12)
    scale = np.abs(sd.weights).max()
    np.testing.assert_allclose(ss.weights, sd.weights, rtol=0, atol=1e-12 * scale)
    # certified on the dense twin as well
    assert certify(dense, ss.weights).relative_gap <= 1e-8


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_al_sparse_equals_dense(fmt):
    dense, sparse = _pair(fmt, formulation="relu", lam=0.02)
    sd, ss = solve_al(dense, tol=1e-7), solve_al(sparse, tol=1e-7)
    assert sd.converged and ss.converged
    assert ss.objective == pytest.approx(sd.objective, rel=1e-12)
    scale = np.abs(sd.weights).max()
    np.testing.assert_allclose(ss.weights, sd.weights, rtol=0, atol=1e-10 * scale)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_exact_solver_on_sparse_input(formulation):
    dense, sparse = _pair("csr", formulation=formulation, lam=0.05)
    sd, ss = solve(dense, "clarabel", tol=1e-7), solve(sparse, "clarabel", tol=1e-7)
    assert sd.converged and ss.converged
    assert ss.objective == pytest.approx(sd.objective, rel=1e-6)


def test_sparse_weighted_and_normalized():
    """Sparse X with sample weights and units far from 1 (normalized() scales both copies)."""
    X, y = _data()
    w = np.random.default_rng(2).integers(0, 3, X.shape[0]).astype(float) + 0.5
    kw = dict(formulation="gated_relu", lam=0.01 * 2.0**12, bias=True, n_gates=20, seed=1,
              sample_weight=w)
    dense = make_problem(X * 2.0**12, y, **kw)
    sparse = make_problem(sp.csr_matrix(X * 2.0**12), y, **kw)
    inner, _ = sparse.normalized()
    np.testing.assert_array_equal(inner.X_tilde_sparse.toarray(), inner.X_tilde)
    sd, ss = solve(dense, "rfista", tol=1e-8), solve(sparse, "rfista", tol=1e-8)
    assert sd.converged and ss.converged
    assert ss.objective == pytest.approx(sd.objective, rel=1e-12)


def test_sparse_validation():
    X, y = _data()
    # the dense-only paths keep refusing sparse input, with a clear message
    with pytest.raises(InputTypeError, match="X is a scipy.sparse matrix"):
        check_matrix(sp.csr_matrix(X), "X")
    bad = sp.csr_matrix(X)
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        make_problem(bad, y, n_gates=5)
    with pytest.raises(InputTypeError, match="X must be real"):
        make_problem(sp.csr_matrix(X.astype(complex)), y, n_gates=5)
    with pytest.raises(ValueError, match="X is empty"):
        make_problem(sp.csr_matrix((0, 3)), np.zeros(0), n_gates=5)
    # duplicates in COO input are summed, as scipy defines the matrix
    coo = sp.coo_matrix((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([1, 1]))), shape=(3, 2))
    out = check_matrix(coo, "X", accept_sparse=True)
    assert out.format == "csr" and out.toarray()[0, 1] == 3.0
