"""Cone projections: exact against CVXPY, conservative for any multipliers, fast max."""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from convex_relu.cones import (
    cone_norm_bound,
    cone_projection_norms,
    cone_projections,
    max_cone_projection_norm,
    project_columns,
    project_onto_cone,
    signed_data,
)
from convex_relu.patterns import sample_patterns


def _instance(n, d, p, seed, bias=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    P = sample_patterns(X, p, seed=seed, bias=bias)
    Xt = np.hstack([X, np.ones((n, 1))]) if bias else X
    return Xt, P, rng


def _cvxpy_projection(A, q):
    """``argmin ‖u − q‖ s.t. A u >= 0`` by Clarabel (the primal form; our code solves the dual)."""
    # scaling a row by a positive number leaves the cone unchanged; unit rows keep
    # the interior-point solver well conditioned on tiny rows
    norms = np.linalg.norm(A, axis=1)
    A = A[norms > 0] / norms[norms > 0, None]
    u = cp.Variable(q.size)
    cp.Problem(cp.Minimize(cp.sum_squares(u - q)), [A @ u >= 0]).solve(
        solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
    )
    return u.value


@pytest.mark.parametrize("seed", range(4))
def test_projection_matches_cvxpy(seed):
    Xt, P, rng = _instance(25, 3, 12, seed)
    Q = 3.0 * rng.standard_normal((Xt.shape[1], P.n_patterns))
    res = cone_projections(Xt, P.masks, Q)
    assert res.exact.all()
    for i in range(P.n_patterns):
        ref = _cvxpy_projection(signed_data(Xt, P.masks[:, i]), Q[:, i])
        np.testing.assert_allclose(res.projections[:, i], ref, atol=1e-6)
        assert res.norms[i] == pytest.approx(np.linalg.norm(ref), abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 60),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**31),
    bias=st.booleans(),
    scale=st.floats(1e-3, 1e3),
)
def test_projection_matches_full_nnls_and_is_a_projection(n, d, seed, bias, scale):
    Xt, P, rng = _instance(n, d, 10, seed, bias)
    Q = scale * rng.standard_normal((2, Xt.shape[1], P.n_patterns))
    res = cone_projections(Xt, P.masks, Q)
    for b in range(2):
        for i in range(P.n_patterns):
            A = signed_data(Xt, P.masks[:, i])
            q, u = Q[b, :, i], res.projections[b, :, i]
            _, rnorm = nnls(A.T, -q, maxiter=100 * n + 100)
            assert res.norms[b, i] >= rnorm * (1 - 1e-9) - 1e-12 * scale
            assert res.norms[b, i] == pytest.approx(rnorm, rel=1e-7, abs=1e-9 * scale)
            # Moreau: u ∈ K, q − u ⊥ u (q − u lies in the polar cone)
            row = np.linalg.norm(A, axis=1)
            assert (A @ u >= -1e-9 * scale * row).all()
            assert abs(np.dot(q - u, u)) <= 1e-8 * scale**2


@pytest.mark.parametrize("seed", range(3))
def test_any_nonnegative_multipliers_bound_the_norm(seed):
    Xt, P, rng = _instance(40, 4, 30, seed)
    Q = rng.standard_normal((Xt.shape[1], P.n_patterns))
    exact = cone_projection_norms(Xt, P.masks, Q)
    for scale in (0.0, 1e-3, 1.0, 10.0):
        alpha = scale * rng.random((Xt.shape[0], P.n_patterns))
        bound = cone_norm_bound(Xt, P.masks, Q, alpha)
        assert (bound >= exact - 1e-12).all()
    # negative multipliers are clipped, never used to cut below the true norm
    bound = cone_norm_bound(Xt, P.masks, Q, -rng.random((Xt.shape[0], P.n_patterns)))
    np.testing.assert_allclose(bound, np.linalg.norm(Q, axis=0))
    # the optimal multipliers (from a full NNLS) attain the norm
    alpha = np.column_stack(
        [nnls(signed_data(Xt, P.masks[:, i]).T, -Q[:, i], maxiter=10_000)[0] for i in range(P.n_patterns)]
    )
    np.testing.assert_allclose(cone_norm_bound(Xt, P.masks, Q, alpha), exact, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("use_gates", [False, True])
def test_max_norm_equals_max_of_exact_norms(seed, use_gates):
    Xt, P, rng = _instance(300, 6, 80, seed)
    Q = rng.standard_normal((2, Xt.shape[1], P.n_patterns))
    exact = cone_projections(Xt, P.masks, Q)
    value, ok = max_cone_projection_norm(Xt, P.masks, Q, gates=P.gates if use_gates else None)
    assert ok
    assert value >= exact.norms.max() - 1e-12
    assert value == pytest.approx(exact.norms.max(), rel=1e-9)


def test_max_norm_ignores_gates_outside_their_cones():
    Xt, P, rng = _instance(50, 3, 20, 0)
    Q = rng.standard_normal((Xt.shape[1], P.n_patterns))
    wrong = -P.gates  # every gate now lies in the opposite cone: must not be used as a lower bound
    value, _ = max_cone_projection_norm(Xt, P.masks, Q, gates=wrong)
    assert value == pytest.approx(cone_projection_norms(Xt, P.masks, Q).max(), rel=1e-9)


def test_project_columns_with_arbitrary_pattern_index():
    Xt, P, rng = _instance(30, 3, 10, 1)
    idx = rng.integers(0, P.n_patterns, size=17)
    C = rng.standard_normal((Xt.shape[1], 17))
    U, exact, _ = project_columns(Xt, P.masks, C, idx)
    assert exact.all()
    for j in range(17):
        np.testing.assert_allclose(U[:, j], project_onto_cone(Xt, P.masks[:, idx[j]], C[:, j]), atol=1e-10)


def test_degenerate_rows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    X[3] = 0.0          # a zero row imposes nothing
    X[5] = X[4]         # duplicate rows
    X[7] = 1e-9 * X[6]  # a tiny row: the same half-space as row 6
    Xt = np.hstack([X, np.ones((12, 1))])
    Xt[3] = 0.0
    P = sample_patterns(X, 40, seed=0, bias=True)
    Q = rng.standard_normal((3, P.n_patterns))
    res = cone_projections(Xt, P.masks, Q)
    for i in range(P.n_patterns):
        ref = _cvxpy_projection(signed_data(Xt, P.masks[:, i]), Q[:, i])
        assert res.norms[i] == pytest.approx(np.linalg.norm(ref), abs=1e-6)
    # X̃ = 0: every cone is the whole space
    Z = np.zeros((4, 2))
    res = cone_projections(Z, np.ones((4, 1), bool), np.array([[1.0], [2.0]]))
    assert res.norms[0] == pytest.approx(np.sqrt(5.0))


def test_cone_of_a_zero_dimensional_chamber_has_zero_projection():
    # the rows ±e1, ±e2 force u = 0 for the pattern that activates x and −x
    Xt = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    mask = np.ones((4, 1), bool)
    assert cone_projection_norms(Xt, mask, np.array([[3.0], [-2.0]]))[0] == pytest.approx(0.0, abs=1e-14)


def test_bad_shapes_raise():
    Xt, P, rng = _instance(10, 2, 5, 0)
    with pytest.raises(ValueError, match="Q"):
        cone_projections(Xt, P.masks, rng.standard_normal((Xt.shape[1] + 1, P.n_patterns)))
    with pytest.raises(ValueError, match="Q"):
        max_cone_projection_norm(Xt, P.masks, rng.standard_normal((Xt.shape[1], P.n_patterns + 1)))
    with pytest.raises(ValueError, match="alpha"):
        cone_norm_bound(Xt, P.masks, rng.standard_normal((Xt.shape[1], P.n_patterns)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="pattern_index"):
        project_columns(Xt, P.masks, np.ones((Xt.shape[1], 2)), [0, P.n_patterns])


def _no_batched(Xn, signsT, Q, pat, max_iter, threshold=None):
    """Stand-in for the batched NNLS that finishes nothing: forces the fallback path."""
    return Q.copy(), np.zeros(Q.shape[1], dtype=np.int8), -np.inf if threshold is None else threshold


@pytest.mark.parametrize("seed", range(3))
def test_constraint_generation_fallback_is_exact_and_capped_runs_are_conservative(seed, monkeypatch):
    import convex_relu.cones as cones

    Xt, P, rng = _instance(200, 4, 25, seed)
    Q = rng.standard_normal((2, Xt.shape[1], P.n_patterns))
    exact = cone_projections(Xt, P.masks, Q)
    monkeypatch.setattr(cones, "_batched_nnls", _no_batched)
    fb = cone_projections(Xt, P.masks, Q)
    assert fb.exact.all() and fb.n_fallback == Q.shape[0] * P.n_patterns
    np.testing.assert_allclose(fb.norms, exact.norms, rtol=1e-9, atol=1e-12)
    capped = cone_projections(Xt, P.masks, Q, max_rounds=1, n_add=1)
    assert (capped.norms >= exact.norms - 1e-12).all()
    value, _ = max_cone_projection_norm(Xt, P.masks, Q, gates=P.gates)
    assert value == pytest.approx(exact.norms.max(), rel=1e-9)


# ---------------------------------------------------------------------------
# degenerate scales: nearly parallel normalised rows (issue 10, item 6)
# ---------------------------------------------------------------------------


def _degenerate_data(kind, seed):
    """Rows of scale 1e-6 next to a bias column, or two rows 1e-8 apart.

    After normalisation the rows are nearly parallel, so the passive Gram matrices
    of Lawson–Hanson become singular in floating point (numpy raised LinAlgError).
    """
    rng = np.random.default_rng(seed)
    if kind == "tiny_rows_with_bias":
        X = rng.standard_normal((10, 2)) * 1e-6
    else:
        X = rng.standard_normal((10, 2))
        X[1] = X[0] + 1e-8 * rng.standard_normal(2)
    return X, rng


def _certified_lower_bound(A, q, gate):
    """A proven lower bound ``⟨q, u⟩/‖u‖ <= ‖Π_K(q)‖`` from a point ``u`` of the cone.

    ``u`` starts from Clarabel's ``argmax ⟨q, u⟩ s.t. Âu >= 0, ‖u‖ <= 1`` (unit rows
    Â), which on these thin cones violates rows by ~1e-6; it is then shifted along the
    interior gate (``Âg > 0``) until no row is violated, so the bound is rigorous.
    """
    An = A / np.linalg.norm(A, axis=1)[:, None]
    u = cp.Variable(q.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "solution may be inaccurate" on thin cones
        cp.Problem(cp.Maximize(q @ u), [An @ u >= 0, cp.norm(u) <= 1]).solve(solver="CLARABEL")
    cands = [gate]
    if u.value is not None:
        v = u.value
        ag = An @ gate
        t = max(0.0, float(np.max(-(An @ v) / ag))) * (1 + 1e-9)
        cands.append(v + t * gate)
    best = 0.0
    for v in cands:
        if np.all(An @ v >= 0) and np.linalg.norm(v) > 0:
            best = max(best, float(q @ v) / float(np.linalg.norm(v)))
    return best


@pytest.mark.parametrize("kind", ["tiny_rows_with_bias", "rows_1e-8_apart"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearly_parallel_rows_do_not_raise_and_bounds_stay_valid(kind, seed):
    from convex_relu.patterns import enumerate_patterns

    X, rng = _degenerate_data(kind, seed)
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enumeration may warn about dropped chambers
        P = enumerate_patterns(X, bias=True)
    Q = rng.standard_normal((2, Xt.shape[1], P.n_patterns))
    res = cone_projections(Xt, P.masks, Q)  # raised numpy LinAlgError before the fix
    assert np.all(np.isfinite(res.norms))
    value, _ = max_cone_projection_norm(Xt, P.masks, Q, gates=P.gates)
    assert value >= res.norms.max() * (1 - 1e-9) - 1e-12
    # every norm is a valid upper bound (>= the SOCP's lower bound) and tight
    # (<= SciPy's full NNLS on the unit rows, an independent exact method)
    for i in rng.choice(P.n_patterns, size=6, replace=False):
        A = signed_data(Xt, P.masks[:, i])
        An = A / np.linalg.norm(A, axis=1)[:, None]
        for b in range(2):
            q = Q[b, :, i]
            alpha, _ = nnls(An.T, -q, maxiter=10_000)
            assert res.norms[b, i] >= _certified_lower_bound(A, q, P.gates[:, i]) * (1 - 1e-9)
            assert res.norms[b, i] <= np.linalg.norm(q + An.T @ alpha) + 1e-8


def test_passive_solve_with_a_singular_gram_matrix():
    """Two identical passive columns: the semi-normal equations are singular; the SVD
    fallback returns the least-squares solution instead of raising."""
    from convex_relu.cones import _passive_lstsq

    rng = np.random.default_rng(0)
    col = rng.standard_normal(3)
    col /= np.linalg.norm(col)
    B = np.stack([np.column_stack([col, col, np.zeros(3)]),
                  np.column_stack([col, col + 1e-9 * rng.standard_normal(3), np.zeros(3)])])
    used = np.array([[True, True, False], [True, True, False]])
    q = rng.standard_normal((2, 3))
    s = _passive_lstsq(B, used, q)
    assert np.all(np.isfinite(s))
    for a in range(2):
        ref = np.linalg.lstsq(B[a][:, :2], -q[a], rcond=None)[0]
        best = np.linalg.norm(B[a][:, :2] @ ref + q[a])
        assert np.linalg.norm(B[a] @ s[a] + q[a]) <= best + 1e-9
        assert s[a, 2] == 0.0
