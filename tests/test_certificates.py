"""Duality-gap certificates checked against independent CVXPY primal and dual programs.

The reference programs are written here, pattern by pattern, from the formulas in
DESIGN §1 and §4 (not from the package's operator or cvx module), and solved by
Clarabel at tight tolerances.
"""

import warnings
from math import comb

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_relu.certificates import (
    certify,
    certify_network,
    dual_constraint_values,
    network_objective,
    network_patterns,
    network_to_convex,
    repair_weights,
)
from convex_relu.patterns import sample_patterns
from convex_relu.problems import GatedReLUProblem, ReLUProblem

TOL = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=400)


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------


def _data(n, d, c, loss, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.where(Y > 0, 1.0, -1.0)
    return X, Y


def _problem(formulation, X, Y, lam, loss, bias, n_gates=12, seed=0, patterns=None):
    P = patterns if patterns is not None else sample_patterns(X, n_gates, seed=seed, bias=bias)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    return cls(X, Y, P, lam, loss=loss, bias=bias)


def _xt(prob):
    X = prob.X
    return np.hstack([X, np.ones((X.shape[0], 1))]) if prob.bias else X


def _cvx_solve(cvx_problem):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cvx_problem.solve(solver="CLARABEL", **TOL)
        except cp.error.SolverError:
            cvx_problem.solve(solver="CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    assert cvx_problem.status in ("optimal", "optimal_inaccurate"), cvx_problem.status
    return cvx_problem.value


def reference_primal(prob):
    """Solve C-GReLU / C-ReLU with CVXPY; returns ``(p*, weights)`` in the package layout."""
    Xt, D = _xt(prob), prob.patterns.masks.astype(float)
    n, c, p, s = Xt.shape[0], prob.Y.shape[1], D.shape[1], prob.Y.size
    relu = prob.formulation == "relu"
    V = [[cp.Variable(Xt.shape[1]) for _ in range(p)] for _ in range(c)]
    Wv = [[cp.Variable(Xt.shape[1]) for _ in range(p)] for _ in range(c)] if relu else None
    loss, reg, cons = 0, 0, []
    for k in range(c):
        pred = 0
        for i in range(p):
            DiX = D[:, [i]] * Xt
            Ai = (2 * D[:, [i]] - 1) * Xt
            if relu:
                pred = pred + DiX @ (V[k][i] - Wv[k][i])
                reg = reg + cp.norm(V[k][i]) + cp.norm(Wv[k][i])
                cons += [Ai @ V[k][i] >= 0, Ai @ Wv[k][i] >= 0]
            else:
                pred = pred + DiX @ V[k][i]
                reg = reg + cp.norm(V[k][i])
        y = prob.Y[:, k]
        if prob.loss == "squared":
            loss = loss + cp.sum_squares(pred - y) / (2 * s)
        else:
            loss = loss + cp.sum(cp.logistic(-cp.multiply(y, pred))) / s
    value = _cvx_solve(cp.Problem(cp.Minimize(loss + prob.lam * reg), cons))

    def stack(vars_):
        return np.stack([np.stack([vars_[k][i].value for i in range(p)], axis=1) for k in range(c)])

    W = np.stack([stack(V), stack(Wv)]) if relu else stack(V)
    return value, W


def reference_dual(prob):
    """The dual program ``max −ℓ*(z)`` with the dual-ball constraints, solved by CVXPY.

    C-ReLU: ``‖Π_{K_i}(∓q)‖ <= λ`` iff ``∃ α >= 0: ‖∓q + Ã_iᵀα‖ <= λ`` (Moreau), so
    the program stays a plain SOCP with extra multipliers.
    """
    Xt, D = _xt(prob), prob.patterns.masks.astype(float)
    n, c, p, s = Xt.shape[0], prob.Y.shape[1], D.shape[1], prob.Y.size
    Y = prob.Y
    if prob.loss == "squared":
        z = cp.Variable((n, c))
        obj = -(cp.sum(cp.multiply(z, Y)) + s / 2 * cp.sum_squares(z))
    else:
        mu = cp.Variable((n, c))  # μ = −s y z ∈ [0, 1]
        z = cp.multiply(-Y / s, mu)
        obj = cp.sum(cp.entr(mu) + cp.entr(1 - mu)) / s
    cons = []
    for k in range(c):
        for i in range(p):
            q = Xt.T @ cp.multiply(D[:, i], z[:, k])
            if prob.formulation == "gated_relu":
                cons.append(cp.norm(q) <= prob.lam)
            else:
                Ai = (2 * D[:, [i]] - 1) * Xt
                a, b = cp.Variable(n, nonneg=True), cp.Variable(n, nonneg=True)
                cons += [cp.norm(-q + Ai.T @ a) <= prob.lam, cp.norm(q + Ai.T @ b) <= prob.lam]
    return _cvx_solve(cp.Problem(cp.Maximize(obj), cons))


def _rel_tol(value, rel=1e-7):
    return rel * max(1.0, abs(value))


# ---------------------------------------------------------------------------
# weak duality on random problems and points
# ---------------------------------------------------------------------------


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(4, 10),
    d=st.integers(1, 3),
    c=st.integers(1, 2),
    bias=st.booleans(),
    loss=st.sampled_from(["squared", "logistic"]),
    formulation=st.sampled_from(["gated_relu", "relu"]),
    lam_frac=st.floats(0.02, 1.5),
    noise=st.floats(1e-6, 1.0),
    seed=st.integers(0, 10_000),
)
def test_weak_duality_on_random_points(n, d, c, bias, loss, formulation, lam_frac, noise, seed):
    X, Y = _data(n, d, c, loss, seed)
    prob = _problem(formulation, X, Y, 1.0, loss, bias, n_gates=8, seed=seed)
    prob = prob.with_lam(lam_frac * max(prob.lam_max(), 1e-3))
    p_star, W_star = reference_primal(prob)
    rng = np.random.default_rng(seed + 1)
    for W in (W_star, W_star + noise * rng.standard_normal(W_star.shape),
              rng.standard_normal(W_star.shape), prob.zero_weights()):
        cert = certify(prob, W)
        assert cert.dual <= p_star + _rel_tol(p_star)
        assert cert.primal >= p_star - _rel_tol(p_star)
        assert cert.gap >= cert.primal - p_star - _rel_tol(p_star)
        assert cert.gap >= -_rel_tol(p_star)
        assert cert.primal == pytest.approx(prob.objective(cert.weights), rel=1e-12, abs=1e-15)


# ---------------------------------------------------------------------------
# tightness at the optimum, both programs and losses, bias and several outputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gap_vanishes_at_the_optimum_and_bounds_suboptimality(formulation, loss):
    X, Y = _data(12, 2, 2, loss, seed=3)
    prob = _problem(formulation, X, Y, 1.0, loss, True, n_gates=10, seed=1)
    prob = prob.with_lam(0.1 * prob.lam_max())
    p_star, W_star = reference_primal(prob)
    cert = certify(prob, W_star)
    assert cert.relative_gap <= 1e-6
    assert cert.dual <= p_star + _rel_tol(p_star, 1e-9)
    assert cert.dual == pytest.approx(p_star, rel=1e-6)
    if formulation == "relu":
        # interior-point solutions are feasible only up to round-off; any repair is tiny
        assert cert.violation <= 1e-7 and cert.repair_size <= 1e-6
    rng = np.random.default_rng(0)
    for W in (prob.zero_weights(), W_star + 1e-2 * rng.standard_normal(W_star.shape)):
        cert = certify(prob, W)
        sub = cert.primal - p_star
        assert sub > 0
        assert cert.gap >= sub - _rel_tol(p_star, 1e-9)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_dual_bound_against_the_dual_program(formulation, loss):
    """D never exceeds the optimum of the independently solved dual, and meets it at the optimum."""
    X, Y = _data(9, 2, 2 if loss == "squared" else 1, loss, seed=7)
    prob = _problem(formulation, X, Y, 1.0, loss, True, n_gates=8, seed=2)
    prob = prob.with_lam(0.2 * prob.lam_max())
    d_star = reference_dual(prob)
    p_star, W_star = reference_primal(prob)
    assert d_star == pytest.approx(p_star, rel=1e-6)  # strong duality, sanity of the references
    rng = np.random.default_rng(1)
    for W in (rng.standard_normal(W_star.shape), W_star + 1e-3 * rng.standard_normal(W_star.shape)):
        assert certify(prob, W).dual <= d_star + _rel_tol(d_star, 1e-8)
    assert certify(prob, W_star).dual == pytest.approx(d_star, rel=1e-6)


def test_relu_dual_constraint_signs_match_kkt():
    """At a C-ReLU optimum, ‖Π(−q_i)‖ = λ where v_i ≠ 0 and ‖Π(q_i)‖ = λ where w_i ≠ 0."""
    X, Y = _data(14, 2, 1, "squared", seed=11)
    prob = _problem("relu", X, Y, 1.0, "squared", True, n_gates=12, seed=4)
    prob = prob.with_lam(0.05 * prob.lam_max())
    _, W = reference_primal(prob)
    cert = certify(prob, W)
    vals = dual_constraint_values(prob, cert.dual_point)
    norms = np.linalg.norm(W, axis=-2)  # (2, c, p)
    assert (vals <= prob.lam * (1 + 1e-9)).all()
    for t in range(2):
        on = norms[t] > 1e-5 * norms.max()
        assert on.any()
        np.testing.assert_allclose(vals[t][on], prob.lam, rtol=1e-5)
    # the instance has groups where only one of v_i, w_i is active, so a swapped
    # sign convention would fail the checks above
    assert ((norms[0] > 1e-5 * norms.max()) & (vals[1] < prob.lam * (1 - 1e-3))).any()


# ---------------------------------------------------------------------------
# C-ReLU repair
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_repair_is_feasible_and_keeps_predictions(seed):
    X, Y = _data(15, 3, 2, "squared", seed)
    prob = _problem("relu", X, Y, 0.01, "squared", seed % 2 == 0, n_gates=15, seed=seed)
    p_star, W_star = reference_primal(prob)
    rng = np.random.default_rng(seed)
    for W in (W_star + 1e-4 * rng.standard_normal(W_star.shape), rng.standard_normal(W_star.shape)):
        given_violation = prob.cone_violation(W)
        assert given_violation > 0
        R, info = repair_weights(prob, W)
        scale = np.abs(W).max() + np.abs(R).max()
        # feasible (independent check of every cone row)
        S = 2 * prob.patterns.masks - 1.0
        Xt = _xt(prob)
        for t in range(2):
            for k in range(prob.c):
                slack = S * (Xt @ R[t, k])
                assert slack.min() >= -1e-9 * scale
        # predictions unchanged: v − w is kept group by group
        np.testing.assert_allclose(R[0] - R[1], W[0] - W[1], atol=1e-10 * scale)
        pred = sum(prob.patterns.masks[:, [i]] * (Xt @ (W[0, :, :, i] - W[1, :, :, i]).T) for i in range(prob.p))
        np.testing.assert_allclose(prob.predict(R), pred, atol=1e-10 * scale)
        assert info["predictions_preserved"]
        assert info["repair_size"] == pytest.approx(np.linalg.norm(R - W))
        cert = certify(prob, W)
        assert cert.repaired and cert.violation == pytest.approx(given_violation)
        assert cert.primal == pytest.approx(prob.objective(R), rel=1e-12)
        assert cert.dual <= p_star + _rel_tol(p_star) <= cert.primal + 2 * _rel_tol(p_star)
    # a feasible point is left alone
    cert = certify(prob, np.abs(W_star) * 0)
    assert not cert.repaired and cert.repair_size == 0.0


def test_repair_of_near_feasible_points_is_small():
    X, Y = _data(20, 2, 1, "squared", 5)
    prob = _problem("relu", X, Y, 0.01, "squared", True, n_gates=20, seed=5)
    _, W = reference_primal(prob)
    rng = np.random.default_rng(0)
    eps = 1e-7
    noisy = W + eps * rng.standard_normal(W.shape)
    R, info = repair_weights(prob, noisy)
    assert info["repair_size"] <= 100 * eps * np.sqrt(W.size)
    assert certify(prob, noisy).primal == pytest.approx(prob.objective(W), rel=1e-5)


# ---------------------------------------------------------------------------
# λ_max
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_lam_max_is_where_zero_becomes_optimal(formulation, loss):
    X, Y = _data(10, 2, 2, loss, seed=2)
    base = _problem(formulation, X, Y, 1.0, loss, True, n_gates=10, seed=3)
    lam_max = base.lam_max()
    above = base.with_lam(lam_max * (1 + 1e-6))
    cert = certify(above, above.zero_weights())
    # zero weights, γ = 1 feasible: the Fenchel–Young gap of the zero solution vanishes
    assert cert.relative_gap <= 1e-9
    below = base.with_lam(lam_max * (1 - 1e-2))
    p_star, W = reference_primal(below)
    p_zero = below.objective(below.zero_weights())
    assert p_star < p_zero - 1e-9 * abs(p_zero)
    assert np.linalg.norm(W, axis=-2).max() > 1e-6
    assert certify(below, below.zero_weights()).gap >= p_zero - p_star - 1e-10


# ---------------------------------------------------------------------------
# non-convex networks
# ---------------------------------------------------------------------------


def _all_patterns(X, bias):
    """Every chamber's pattern: enumeration when available, else dense gate sampling."""
    try:
        from convex_relu.patterns import enumerate_patterns

        P = enumerate_patterns(X, bias=bias)
    except NotImplementedError:
        P = sample_patterns(X, 20_000, seed=0, bias=bias)
    return P


def _train_network(X, y, lam, width, seed, steps=4000, lr=0.1):
    """Plain full-batch gradient descent on the weight-decay objective (bias row last)."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    W1 = rng.standard_normal((Xt.shape[1], width)) / np.sqrt(Xt.shape[1])
    W2 = rng.standard_normal((width, 1)) / np.sqrt(width)
    s = y.size
    for _ in range(steps):
        H = Xt @ W1
        A = np.maximum(H, 0.0)
        r = (A @ W2 - y[:, None]) / s
        g2 = A.T @ r + lam * W2
        g1 = Xt.T @ ((r @ W2.T) * (H > 0)) + lam * W1
        W1 -= lr * g1
        W2 -= lr * g2
    return W1, W2


def test_certificate_for_a_gradient_descent_network():
    rng = np.random.default_rng(0)
    n = 10
    X = rng.standard_normal((n, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1]
    P = _all_patterns(X, True)
    # rows in general position: Cover's count of chambers for rank 3, minus the all-zero one
    assert P.n_patterns == 2 * sum(comb(n - 1, k) for k in range(3)) - 1
    lam = 1e-3
    prob = ReLUProblem(X, y, P, lam, loss="squared", bias=True)
    W1, W2 = _train_network(X, y, lam, width=6, seed=1)

    net = network_objective(prob, W1, W2)
    Xt = np.hstack([X, np.ones((n, 1))])
    expected = np.sum((np.maximum(Xt @ W1, 0) @ W2 - y[:, None]) ** 2) / (2 * n) + lam / 2 * (
        np.sum(W1**2) + np.sum(W2**2)
    )
    assert net == pytest.approx(expected, rel=1e-12)

    W, idx = network_to_convex(prob, W1, W2)
    np.testing.assert_allclose(prob.predict(W), np.maximum(Xt @ W1, 0) @ W2, atol=1e-10)
    assert prob.objective(W) <= net + 1e-12  # AM-GM

    cert = certify_network(prob, W1, W2)
    p_star, _ = reference_primal(prob)
    assert cert.patterns_complete == (P.method == "enumerated")
    assert cert.dual <= p_star + _rel_tol(p_star, 1e-8)
    assert p_star <= cert.network_objective + _rel_tol(p_star, 1e-8)
    assert cert.network_gap >= cert.network_objective - p_star - _rel_tol(p_star, 1e-8)
    assert cert.network_gap >= 0
    assert cert.primal <= cert.network_objective + 1e-12


def test_network_built_from_the_convex_optimum_is_certified_optimal():
    """DESIGN §3: neurons (v/√‖v‖, √‖v‖) and (w/√‖w‖, −√‖w‖) realise the C-ReLU optimum."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((9, 2))
    y = np.abs(X[:, 0]) - X[:, 1]
    prob = ReLUProblem(X, y, _all_patterns(X, True), 2e-3, bias=True)
    p_star, W = reference_primal(prob)
    cols, outs = [], []
    for t, sign in ((0, 1.0), (1, -1.0)):
        for i in range(prob.p):
            u = W[t, 0, :, i]
            r = np.linalg.norm(u)
            if r > 1e-7:
                cols.append(u / np.sqrt(r))
                outs.append(sign * np.sqrt(r))
    W1, W2 = np.column_stack(cols), np.array(outs)[:, None]
    cert = certify_network(prob, W1, W2)
    assert cert.network_objective == pytest.approx(p_star, rel=1e-6)
    assert cert.network_relative_gap <= 1e-5


def test_network_with_patterns_outside_the_set_is_refused():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30)
    prob = ReLUProblem(X, y, sample_patterns(X, 3, seed=0, bias=True), 0.1, bias=True)
    W1 = rng.standard_normal((4, 20))
    W2 = rng.standard_normal((20, 1))
    idx = network_patterns(prob, W1)
    n_out = int((idx == -1).sum())
    assert n_out > 0
    with pytest.raises(ValueError, match=f"{n_out} of 20 neurons"):
        certify_network(prob, W1, W2)


def test_network_patterns_match_independent_sign_computation():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    P = _all_patterns(X, True)
    prob = ReLUProblem(X, rng.standard_normal(12), P, 0.1, bias=True)
    W1 = rng.standard_normal((3, 8))
    idx = network_patterns(prob, W1)
    Xt = np.hstack([X, np.ones((12, 1))])
    for j in range(8):
        pattern = Xt @ W1[:, j] >= 0
        if not pattern.any():
            assert idx[j] == -2
        else:
            assert (P.masks[:, idx[j]] == pattern).all()


def test_multi_output_network_needs_one_output_per_neuron():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((10, 2))
    Y = rng.standard_normal((10, 2))
    prob = ReLUProblem(X, Y, _all_patterns(X, True), 0.01, bias=True)
    W1 = rng.standard_normal((3, 4))
    dense = rng.standard_normal((4, 2))
    with pytest.raises(ValueError, match="W2"):
        certify_network(prob, W1, dense)
    block = dense * np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    cert = certify_network(prob, W1, block)
    assert cert.network_objective >= cert.primal - 1e-12
    assert cert.network_gap >= cert.gap - 1e-12


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors():
    X, Y = _data(8, 2, 1, "squared", 0)
    prob = _problem("relu", X, Y, 0.1, "squared", True, n_gates=5)
    with pytest.raises(ValueError, match="weights"):
        certify(prob, np.zeros((2, 1, 3, prob.p + 1)))
    with pytest.raises(ValueError, match="NaN"):
        certify(prob, np.full(prob.weights_shape, np.nan))
    with pytest.raises(ValueError, match="W1"):
        certify_network(prob, np.zeros((2, 3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="W2"):
        certify_network(prob, np.zeros((3, 3)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="z"):
        dual_constraint_values(prob, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="ReLUProblem"):
        repair_weights(prob.gated_problem(), np.zeros(prob.gated_problem().weights_shape))


# ---------------------------------------------------------------------------
# λ = 0: the null-space dual point
# ---------------------------------------------------------------------------


def _least_squares_optimum(prob):
    """``min_u ‖Au − y‖²/(2s)`` on the explicit stacked matrix, by ``lstsq``."""
    A = np.hstack([prob.masks[:, i:i + 1] * prob.X_tilde for i in range(prob.p)])
    total = 0.0
    for k in range(prob.c):
        u, *_ = np.linalg.lstsq(A, prob.Y[:, k], rcond=None)
        total += float(np.sum((A @ u - prob.Y[:, k]) ** 2))
    return total / (2 * prob.s)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("c", [1, 2])
def test_squared_loss_at_lam_zero_is_certified_by_the_null_space_dual(formulation, c):
    from conftest import planted_problem
    from convex_relu.cvx import solve_exact

    prob = planted_problem(formulation, c=c, n=40, d=2, gates=4, lam=0.0, seed=1)
    p_gated = _least_squares_optimum(prob)
    assert p_gated > 1e-4  # rank(A) < n: a positive optimum to certify
    zero = certify(prob, np.zeros(prob.weights_shape))
    # a valid bound anywhere, and exactly the gated optimum: D(P_N ∇ℓ) does not depend
    # on the weights for the squared loss
    assert zero.dual <= p_gated * (1 + 1e-10)
    assert zero.dual == pytest.approx(p_gated, rel=1e-9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_exact(prob, "clarabel", tol=1e-10)
    cert = certify(prob, sol.weights)
    assert cert.relative_gap <= 1e-7
    assert cert.dual <= sol.objective * (1 + 1e-9)
    # Aᵀz = 0 up to round-off
    assert np.all(cert.max_constraint <= 1e-12)


# ---------------------------------------------------------------------------
# degenerate scales: nearly parallel normalised rows (issue 10, item 6)
# ---------------------------------------------------------------------------


def _degenerate(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "tiny_rows_with_bias":
        X = rng.standard_normal((10, 2)) * 1e-6
    else:
        X = rng.standard_normal((10, 2))
        X[1] = X[0] + 1e-8 * rng.standard_normal(2)
    return X, rng.standard_normal(10), rng


@pytest.mark.parametrize("kind", ["tiny_rows_with_bias", "rows_1e-8_apart"])
@pytest.mark.parametrize("seed", [1, 2])
def test_certify_and_clarabel_path_on_nearly_parallel_rows(kind, seed):
    """The cone projections used to raise numpy's LinAlgError here (in certify and in
    the Clarabel path's clean-up and repair); now they finish with valid bounds."""
    from convex_relu.certificates import dual_roundoff
    from convex_relu.cvx import solve_exact
    from convex_relu.patterns import enumerate_patterns

    X, y, rng = _degenerate(kind, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        P = enumerate_patterns(X, bias=True)
    prob = ReLUProblem(X, y, P, 1e-3, bias=True)
    p_star, _ = reference_primal(prob)
    for W in (rng.standard_normal(prob.weights_shape), prob.zero_weights()):
        cert = certify(prob, W)
        assert np.isfinite(cert.dual) and np.isfinite(cert.primal)
        assert cert.gap >= -dual_roundoff(prob, cert.primal)
        assert cert.dual <= p_star + 1e-6 * max(1.0, abs(p_star))
        assert prob.cone_violation(cert.weights) <= 1e-9 * max(1.0, np.abs(cert.weights).max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_exact(prob, "clarabel", cleanup=True)
    cert = certify(prob, sol.weights)
    assert cert.gap >= -dual_roundoff(prob, cert.primal)
    assert cert.dual <= p_star + 1e-6 * max(1.0, abs(p_star))


# ---------------------------------------------------------------------------
# the final guard and the small-λ candidate
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_guard_replaces_a_dual_above_the_primal(lam, monkeypatch):
    """A dual value above the primal proves a numerical failure: certify must fall back
    (to the scaled bound at λ > 0, to 0 at λ = 0) and say so; the gap stays >= 0."""
    import convex_relu.certificates as certificates

    X, Y = _data(12, 2, 1, "squared", 4)
    prob = _problem("gated_relu", X, Y, lam, "squared", True, n_gates=6)
    honest = certify(prob, prob.zero_weights())
    real = certificates._dual_bound

    def inflated(problem, pred):
        dual, z, gamma, M, exact, note = real(problem, pred)
        return dual + 10.0, z, gamma, M, exact, note

    monkeypatch.setattr(certificates, "_dual_bound", inflated)
    cert = certify(prob, prob.zero_weights())
    assert "above primal" in cert.dual_note
    assert cert.gap >= 0
    if lam > 0:
        assert "scaled bound" in cert.dual_note
        # the plain scaled bound γ∇ℓ, γ = clip(⟨ρ, y⟩/(s‖ρ‖²), 0, λ/M), written out here
        rho = -prob.loss_grad(prob.predict(prob.zero_weights()))[:, 0]
        Xt, D = _xt(prob), prob.patterns.masks.astype(float)
        M = max(np.linalg.norm(Xt.T @ (D[:, i] * rho)) for i in range(prob.p))
        s = prob.Y.size
        gamma = min(max(rho @ prob.Y[:, 0] / (s * rho @ rho), 0.0), lam / M)
        expected = gamma * (rho @ prob.Y[:, 0]) - s / 2 * gamma**2 * (rho @ rho)
        assert cert.dual == pytest.approx(expected, rel=1e-10)
        assert honest.dual == pytest.approx(expected, rel=1e-10)
    else:
        assert cert.dual == 0.0


def test_null_space_dual_is_feasible_by_the_independent_constraint_values():
    """The small-λ candidate's z: every ‖X̃ᵀD_i z‖ (computed here, pattern by pattern)
    is <= λ, and its value −ℓ*(z) matches the one returned."""
    from convex_relu.certificates import null_space_dual

    X, Y = _data(40, 2, 2, "squared", 8)
    prob = _problem("gated_relu", X, Y, 1.0, "squared", True, n_gates=4)
    prob = prob.with_lam(1e-6 * prob.lam_max())
    W = np.random.default_rng(0).standard_normal(prob.weights_shape)
    pred = prob.predict(W)
    grad = prob.loss_grad(pred)
    Xt = _xt(prob)
    D = prob.patterns.masks.astype(float)
    M = np.array([max(np.linalg.norm(Xt.T @ (D[:, i] * grad[:, k])) for i in range(prob.p))
                  for k in range(prob.c)])
    assert np.all(M > prob.lam)  # the scaled point is capped
    value, z = null_space_dual(prob, grad, M)
    for k in range(prob.c):
        for i in range(prob.p):
            assert np.linalg.norm(Xt.T @ (D[:, i] * z[:, k])) <= prob.lam
    conj = float(np.sum(z * prob.Y)) + prob.Y.size / 2 * float(np.sum(z * z))
    assert value == pytest.approx(-conj, rel=1e-12)
    p_star, _ = reference_primal(prob)
    assert value <= p_star + _rel_tol(p_star)
    assert certify(prob, W).dual >= value * (1 - 1e-12)  # certify keeps the better one


# ---------------------------------------------------------------------------
# cone multipliers computed by certify (penalties that are not radial)
# ---------------------------------------------------------------------------


def _loop_optimum_penalized(prob, pen):
    """C-ReLU with ``l1`` or ``feature_group``, pattern by pattern (Clarabel): ``(p*, W)``."""
    Xt, D = _xt(prob), prob.patterns.masks.astype(float)
    n, d = Xt.shape
    c, p = prob.Y.shape[1], D.shape[1]
    B = [[[cp.Variable(d) for _ in range(p)] for _ in range(c)] for _ in range(2)]
    cons = [cp.multiply(2 * D[:, i] - 1, Xt @ B[b][k][i]) >= 0
            for b in range(2) for k in range(c) for i in range(p)]
    fit = 0
    for k in range(c):
        pred = sum(cp.multiply(D[:, i], Xt @ (B[0][k][i] - B[1][k][i])) for i in range(p))
        if prob.loss == "squared":
            fit += cp.sum_squares(pred - prob.Y[:, k]) / (2 * n * c)
        else:
            fit += cp.sum(cp.logistic(cp.multiply(-prob.Y[:, k], pred))) / (n * c)
    if pen == "l1":
        reg = sum(cp.norm(B[b][k][i], 1) for b in range(2) for k in range(c) for i in range(p))
    else:
        reg = sum(cp.norm(cp.hstack([B[b][k][i][j] for k in range(c) for i in range(p)]), 2)
                  for b in range(2) for j in range(d))
    value = _cvx_solve(cp.Problem(cp.Minimize(fit + prob.lam * reg), cons))
    W = np.array([[[B[b][k][i].value for i in range(p)] for k in range(c)] for b in range(2)])
    return value, W.transpose(0, 1, 3, 2)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("pen", ["l1", "feature_group"])
def test_certify_computes_cone_multipliers_at_the_optimum(pen, loss):
    """Without multipliers, certify finds its own (min dual norm): ~1e-6 at the optimum,
    where the polar point alone (zero multipliers) is several percent loose."""
    X, Y = _data(15, 2, 2, loss, seed=21)
    prob = _problem("relu", X, Y, 0.03, loss, True, n_gates=5, seed=2).with_penalty(pen)
    p_star, W = _loop_optimum_penalized(prob, pen)
    cert = certify(prob, W)
    assert "computed cone multipliers" in cert.dual_note
    assert cert.dual <= p_star + 1e-9 * abs(p_star)  # weak duality against the loop optimum
    assert cert.relative_gap <= 1e-6
    polar = certify(prob, W, multipliers=np.zeros((2, prob.n, prob.c, prob.p)))
    assert polar.dual <= cert.dual + 1e-12
    assert polar.relative_gap > 100 * max(cert.relative_gap, 1e-9)


@pytest.mark.parametrize("pen", ["l1", "feature_group"])
def test_computed_cone_multipliers_keep_weak_duality(pen):
    """Hypothesis: random weights (far from optimal) never get a dual above p*."""
    X, Y = _data(12, 2, 1, "squared", seed=22)
    prob = _problem("relu", X, Y, 0.05, "squared", True, n_gates=4, seed=3).with_penalty(pen)
    p_star, _ = _loop_optimum_penalized(prob, pen)

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 10.0))
    def check(seed, scale):
        W = scale * np.random.default_rng(seed).standard_normal(prob.weights_shape)
        cert = certify(prob, W)
        assert cert.dual <= p_star + 1e-9 * abs(p_star)
        assert cert.primal >= p_star - 1e-9 * abs(p_star)

    check()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), gmax=st.floats(0.05, 1.0), weighted=st.booleans(),
       spread=st.sampled_from([0.05, 0.5, 1.0]))
def test_logistic_dual_scaling_is_the_grid_maximiser(seed, gmax, weighted, spread):
    """The 1-D scaling of the logistic bound (exact early exit when φ'(γmax) <= 0, else a
    bounded search) attains the maximum of −(1/s)Σŵh(γm0) over a fine grid of [0, γmax]."""
    from scipy.special import xlogy

    from convex_relu.certificates import _logistic_output_dual

    rng = np.random.default_rng(seed)
    n = 40
    m0 = np.clip(rng.uniform(0.0, spread, n) + (rng.uniform(size=n) < 0.1), 0.0, 1.0)
    m0[rng.uniform(size=n) < 0.1] = 0.0
    w = rng.uniform(0.2, 2.0, n) if weighted else None

    def dual(g):
        mu = g * m0
        h = xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)
        return -float(h.sum() if w is None else w @ h) / n

    g = _logistic_output_dual(m0, float(n), gmax, w)
    assert 0.0 <= g <= gmax
    grid = np.linspace(0.0, gmax, 4001)
    best = max(dual(t) for t in grid)
    assert dual(g) >= best - 1e-9 * max(1.0, abs(best))
