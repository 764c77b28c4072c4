"""Cone decomposition and the approximation bound, checked against independent computations.

References used here: explicit per-pattern loops for predictions and cone slacks,
CVXPY (Clarabel) written per group for the exact split, a CVXPY C-ReLU program
written independently of ``convex_relu.cvx``, the min-norm-point form of the cone
inradius, and the closed-form bound for data of full row rank.
"""

import json

import cvxpy as cp
import numpy as np
import pytest

from convex_relu.decomposition import (
    BoundCheckWarning,
    cone_decompose,
    cone_margins,
    decomposition_bound,
)
from convex_relu.patterns import enumerate_patterns, sample_patterns
from convex_relu.problems import GatedReLUProblem, ReLUProblem

METHODS = ("socp", "approx", "gate_shift")


# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------


def signed_rows(Xt, mask):
    return np.where(mask[:, None], Xt, -Xt)


def loop_predictions(Xt, masks, U):
    """Σ_i D_i X̃ u_{k,i} with explicit loops, shape (n, c)."""
    c, _, p = U.shape
    out = np.zeros((Xt.shape[0], c))
    for k in range(c):
        for i in range(p):
            out[:, k] += masks[:, i] * (Xt @ U[k, :, i])
    return out


def loop_min_slack(Xt, masks, W):
    """min over outputs, patterns and rows of Ã_i v and Ã_i w (>= 0 when feasible)."""
    best = np.inf
    for part in W:
        for k in range(part.shape[0]):
            for i in range(part.shape[2]):
                best = min(best, float((signed_rows(Xt, masks[:, i]) @ part[k, :, i]).min()))
    return best


def solve_gated_cvxpy(Xt, Y, masks, lam):
    """C-GReLU (squared loss, s = n·c) written from scratch, one output at a time."""
    n, d = Xt.shape
    p = masks.shape[1]
    c = Y.shape[1]
    U = np.zeros((c, d, p))
    for k in range(c):
        V = cp.Variable((d, p))
        pred = cp.sum(cp.multiply(masks, Xt @ V), axis=1)
        obj = cp.sum_squares(pred - Y[:, k]) / (2 * n * c) + lam * cp.sum(cp.norm(V, 2, axis=0))
        cp.Problem(cp.Minimize(obj)).solve(solver="CLARABEL")
        U[k] = V.value
    return U


def relu_optimum_cvxpy(Xt, Y, masks, lam):
    """opt(C-ReLU), squared loss, with a per-pattern loop of cone constraints."""
    n, d = Xt.shape
    p = masks.shape[1]
    c = Y.shape[1]
    total = 0.0
    for k in range(c):
        V = cp.Variable((d, p))
        W = cp.Variable((d, p))
        cons = []
        for i in range(p):
            A = signed_rows(Xt, masks[:, i])
            cons += [A @ V[:, i] >= 0, A @ W[:, i] >= 0]
        pred = cp.sum(cp.multiply(masks, Xt @ (V - W)), axis=1)
        obj = cp.sum_squares(pred - Y[:, k]) / (2 * n * c) + lam * (
            cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0))
        )
        prob = cp.Problem(cp.Minimize(obj), cons)
        prob.solve(solver="CLARABEL")
        total += prob.value
    return total


def split_cost_cvxpy(A, u):
    """min ‖v‖ + ‖w‖ s.t. v − w = u, A v >= 0, A w >= 0 (one group, original rows)."""
    v = cp.Variable(A.shape[1])
    w = cp.Variable(A.shape[1])
    prob = cp.Problem(cp.Minimize(cp.norm(v) + cp.norm(w)), [v - w == u, A @ v >= 0, A @ w >= 0])
    prob.solve(solver="CLARABEL")
    return prob.value


def inradius_cvxpy(A):
    """τ = min_{α ∈ simplex} ‖Aᵀα‖ (the dual, min-norm-point form of max_{‖g‖<=1} min_j a_jᵀg)."""
    a = cp.Variable(A.shape[0], nonneg=True)
    prob = cp.Problem(cp.Minimize(cp.norm(A.T @ a)), [cp.sum(a) == 1])
    prob.solve(solver="CLARABEL")
    return prob.value


# ---------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------


def _make(X, Y, lam, n_gates, seed, bias=True):
    pats = sample_patterns(X, n_gates, seed, bias=bias)
    gp = GatedReLUProblem(X, Y, pats, lam, bias=bias)
    U = solve_gated_cvxpy(gp.X_tilde, gp.Y, gp.masks, lam)
    return gp, U


@pytest.fixture(scope="module")
def random_case():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 3))
    y = np.tanh(X @ np.array([1.0, -2.0, 0.5])) + 0.1 * rng.standard_normal(30)
    return _make(X, y, 0.02, 40, 1)


@pytest.fixture(scope="module")
def multi_case():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((25, 2))
    Y = np.stack([np.abs(X[:, 0]) - X[:, 1], np.maximum(X @ np.array([1.0, 1.0]), 0)], axis=1)
    return _make(X, Y, 0.01, 30, 2)


@pytest.fixture(scope="module")
def diabetes_case():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X[:60, [2, 8, 3]]  # bmi, s5, bp
    X = (X - X.mean(0)) / X.std(0)
    y = y[:60]
    y = (y - y.mean()) / y.std()
    return _make(X, y, 0.01, 60, 0)


CASES = ("random_case", "multi_case", "diabetes_case")


_CACHE = {}


def _decompose(request, case, method):
    """Each (case, method) decomposition is computed once per test session."""
    key = (case, method)
    if key not in _CACHE:
        gp, U = request.getfixturevalue(case)
        _CACHE[key] = cone_decompose(gp, U, method)
    return _CACHE[key]


# ---------------------------------------------------------------------------
# the decomposition
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", METHODS)
def test_predictions_kept_and_feasibility(request, case, method):
    gp, U = request.getfixturevalue(case)
    dec = _decompose(request, case, method)
    V, W = dec.weights
    assert dec.weights.shape == (2,) + U.shape
    ref = loop_predictions(gp.X_tilde, gp.patterns.masks, U)
    got = loop_predictions(gp.X_tilde, gp.patterns.masks, V - W)
    assert np.max(np.abs(got - ref)) <= 1e-8 * max(1.0, np.abs(ref).max())
    slack = loop_min_slack(gp.X_tilde, gp.patterns.masks, dec.weights)
    # the reported violation is the one an explicit loop finds
    assert dec.violation == pytest.approx(max(0.0, -slack), abs=1e-13)
    if method in ("socp", "gate_shift"):
        assert slack >= -1e-8
    assert isinstance(dec.problem, ReLUProblem)
    assert dec.objective == pytest.approx(dec.problem.objective(dec.weights), rel=1e-12)
    assert dec.n_zero + dec.n_in_cone + dec.n_in_negative_cone + dec.n_split == dec.n_groups


@pytest.mark.parametrize("case", CASES)
def test_socp_is_the_cheapest_split(request, case):
    costs = {m: _decompose(request, case, m).objective for m in METHODS}
    tol = 1e-7 * abs(costs["socp"])
    assert costs["socp"] <= costs["approx"] + tol
    assert costs["socp"] <= costs["gate_shift"] + tol


def test_socp_split_costs_match_a_per_group_cvxpy_solve(request):
    gp, U = request.getfixturevalue("diabetes_case")
    dec = _decompose(request, "diabetes_case", "socp")
    V, W = dec.weights
    ks, idx = np.nonzero(dec.split_mask)
    assert idx.size >= 3
    # the largest groups: interior-point output also has groups of norm ~1e-8, where
    # an absolute solver tolerance would dominate the reference
    order = np.argsort(-np.linalg.norm(U[ks, :, idx], axis=1))[:6]
    for k, i in zip(ks[order], idx[order]):
        A = signed_rows(gp.X_tilde, gp.patterns.masks[:, i])
        ref = split_cost_cvxpy(A, U[k, :, i])
        got = np.linalg.norm(V[k, :, i]) + np.linalg.norm(W[k, :, i])
        assert got == pytest.approx(ref, rel=1e-6)


def test_groups_in_a_cone_are_not_split(random_case):
    gp, _ = random_case
    rng = np.random.default_rng(0)
    U = np.zeros(gp.weights_shape)
    g = gp.patterns.gates
    U[0, :, 0] = 2.0 * g[:, 0]  # inside K_0: v = u, w = 0
    U[0, :, 1] = -0.5 * g[:, 1]  # −u inside K_1: v = 0, w = −u
    U[0, :, 2] = rng.standard_normal(gp.d)  # generic
    for method in METHODS:
        dec = cone_decompose(gp, U, method)
        V, W = dec.weights
        assert np.allclose(V[0, :, 0], U[0, :, 0], atol=1e-14) and np.allclose(W[0, :, 0], 0, atol=1e-14)
        assert np.allclose(V[0, :, 1], 0, atol=1e-14) and np.allclose(W[0, :, 1], -U[0, :, 1], atol=1e-14)
        assert dec.n_in_cone == 1 and dec.n_in_negative_cone == 1
        assert dec.n_zero == gp.p - 3


def test_cvxpy_backend_agrees_with_clarabel_backend(request):
    gp, U = request.getfixturevalue("random_case")
    a = _decompose(request, "random_case", "socp")
    b = cone_decompose(gp, U, "socp", backend="cvxpy")
    assert b.violation <= 1e-8
    assert b.objective == pytest.approx(a.objective, rel=1e-7)


def test_fista_variant_of_approx_reports_its_violation(random_case):
    gp, U = random_case
    dec = cone_decompose(gp, U, "approx", approx_solver="fista", max_iter=300)
    V, W = dec.weights
    ref = loop_predictions(gp.X_tilde, gp.patterns.masks, U)
    assert np.abs(loop_predictions(gp.X_tilde, gp.patterns.masks, V - W) - ref).max() <= 1e-8
    slack = loop_min_slack(gp.X_tilde, gp.patterns.masks, dec.weights)
    assert dec.violation == pytest.approx(max(0.0, -slack), abs=1e-13)


def test_bad_arguments_raise_value_error(random_case):
    gp, U = random_case
    with pytest.raises(ValueError, match="method"):
        cone_decompose(gp, U, "exact")
    with pytest.raises(ValueError, match="gated_weights"):
        cone_decompose(gp, U[:, :, :-1], "socp")
    with pytest.raises(ValueError, match="problem"):
        cone_decompose("not a problem", U)
    with pytest.raises(ValueError, match="cone_tol"):
        cone_decompose(gp, U, cone_tol=-1.0)


# ---------------------------------------------------------------------------
# the bound
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_ordering_against_an_independent_relu_solve(request, case):
    gp, U = request.getfixturevalue(case)
    p_relu = relu_optimum_cvxpy(gp.X_tilde, gp.Y, gp.masks, gp.lam)
    report = decomposition_bound(gp, U, "socp", exact_relu=None)
    slack = 1e-6 * abs(p_relu)
    # d* <= F_G(u*) (optimal up to the solver), d* <= p*_C <= p_CD <= F_G + 2λκ̄S̃
    assert report.dual_bound <= p_relu + slack
    assert p_relu <= report.p_cd + slack
    assert report.p_cd <= report.bound + slack
    assert report.kappa_hat <= report.kappa_bar * (1 + 1e-9)
    # the identity, recomputed here from the weights
    V, W = report.decomposition.weights
    extra = gp.lam * float(
        (np.linalg.norm(V, axis=1) + np.linalg.norm(W, axis=1) - np.linalg.norm(U, axis=1)).sum()
    )
    F_G = gp.objective(U)
    assert report.p_cd - F_G == pytest.approx(extra, rel=1e-9, abs=1e-12)
    assert report.passed


def test_report_with_exact_relu_and_its_output(request):
    gp, U = request.getfixturevalue("diabetes_case")
    report = decomposition_bound(gp, U, "socp", exact_relu="auto")
    p_relu = relu_optimum_cvxpy(gp.X_tilde, gp.Y, gp.masks, gp.lam)
    assert report.relu_objective == pytest.approx(p_relu, rel=1e-6)
    assert report.relu_dual <= p_relu + 1e-8
    names = {c.name for c in report.checks}
    assert {"d* <= p*_C", "p*_C <= p_CD", "p*_C <= d* + 2λκ̄S̃", "p_CD <= d* + 2λκ̄S̃"} <= names
    assert report.passed and not report.failed
    # S̃ and |D̃| from the weights directly
    norms = np.linalg.norm(U, axis=1)
    assert report.s_tilde == pytest.approx(norms[report.decomposition.split_mask].sum(), rel=1e-12)
    assert report.n_outside >= report.n_split
    text = str(report)
    assert "RESULT: PASS" in text and "κ̄" in text
    json.loads(json.dumps(report.to_dict()))


def test_zero_lambda_split_is_free():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((15, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2
    gp, U = _make(X, y, 0.0, 25, 4)
    d_star = gp.objective(U)
    for method in METHODS:
        dec = cone_decompose(gp, U, method)
        # no regulariser: F_ReLU(v, w) is the loss of the same predictions
        assert dec.objective == pytest.approx(d_star, rel=1e-12, abs=1e-15)
    # and at λ = 0 the C-ReLU optimum equals the gated one (K_i − K_i = ℝ^d̃)
    p_relu = relu_optimum_cvxpy(gp.X_tilde, gp.Y, gp.masks, 0.0)
    assert p_relu == pytest.approx(d_star, rel=1e-5, abs=1e-8)
    report = decomposition_bound(gp, U, "socp", exact_relu=None)
    assert report.identity_lhs == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(report.kappa_hat)
    assert report.passed


def test_full_row_rank_closed_form_bound():
    """n <= d̃, X̃ of full row rank: τ_i >= σ_min(X̃)/√n for every pattern.

    Take g = Ã_i⁺1/‖Ã_i⁺1‖: Ã_i g = 1/‖Ã_i⁺1‖ >= σ_min(Ã_i)/√n, and Ã_i = S_iX̃ with S_i
    a diagonal of ±1 has the singular values of X̃. Hence κ̄ = max R/τ_i <=
    √n·R/σ_min(X̃) <= √n·cond(X̃), and the realised κ̂ is below it.
    """
    rng = np.random.default_rng(7)
    n, d = 4, 5
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    pats = enumerate_patterns(X, bias=True)
    assert pats.n_patterns == 2**n - 1  # every sign pattern but the all-negative one
    gp = GatedReLUProblem(X, y, pats, 0.05, bias=True)
    U = solve_gated_cvxpy(gp.X_tilde, gp.Y, gp.masks, gp.lam)
    sv = np.linalg.svd(gp.X_tilde, compute_uv=False)
    R = np.linalg.norm(gp.X_tilde, axis=1).max()
    closed_form = np.sqrt(n) * R / sv[-1]

    tau, G = cone_margins(gp)
    assert np.all(tau >= sv[-1] / np.sqrt(n) * (1 - 1e-7))
    assert np.all(np.linalg.norm(G, axis=0) <= 1 + 1e-12)
    report = decomposition_bound(gp, U, "socp", exact_relu=None)
    assert report.n_split > 0
    assert report.kappa_bar <= closed_form * (1 + 1e-7)
    assert closed_form <= np.sqrt(n) * sv[0] / sv[-1] * (1 + 1e-12)
    assert report.kappa_hat <= report.kappa_bar
    assert report.p_cd <= report.bound
    assert report.passed


def test_cone_margins_match_the_min_norm_point(diabetes_case):
    gp, _ = diabetes_case
    idx = np.arange(0, gp.p, max(1, gp.p // 6))
    tau, G = cone_margins(gp, idx)
    for j, i in enumerate(idx):
        A = signed_rows(gp.X_tilde, gp.patterns.masks[:, i])
        assert tau[j] == pytest.approx(inradius_cvxpy(A), rel=1e-6, abs=1e-9)
        # an attained value: min_j (Ã g)_j at the returned g
        assert tau[j] == pytest.approx((A @ G[:, j]).min(), rel=1e-12)


def test_failed_inequality_is_loud_and_not_clipped(monkeypatch, random_case):
    import convex_relu.certificates as certificates

    gp, U = random_case
    real = certificates.certify

    class Fake:
        def __init__(self, primal, dual):
            self.primal, self.dual = primal, dual

    def lying_certify(problem, weights):
        if problem.formulation == "relu":
            return Fake(-1.0, -2.0)  # a "C-ReLU optimum" below the gated dual bound
        return real(problem, weights)

    monkeypatch.setattr(certificates, "certify", lying_certify)
    from convex_relu.solution import Solution

    relu = gp.relu_problem()
    fake_sol = Solution(relu, np.zeros(relu.weights_shape), 0.0, "optimal", "fake", True)
    with pytest.warns(BoundCheckWarning, match="d\\* <= p\\*_C"):
        report = decomposition_bound(gp, U, "socp", exact_relu=fake_sol)
    assert report.failed and not report.passed
    line = next(c for c in report.checks if c.name == "d* <= p*_C")
    assert line.passed is False
    assert line.value == pytest.approx(report.dual_bound + 1.0)  # reported as computed
    assert "FAIL" in str(report) and "d* <= p*_C" in str(report).split("RESULT")[-1]


def test_bound_rejects_a_relu_solution_at_another_lambda(random_case):
    from convex_relu.solution import Solution

    gp, U = random_case
    other = gp.with_lam(2 * gp.lam).relu_problem()
    sol = Solution(other, np.zeros(other.weights_shape), 0.0, "optimal", "fake", True)
    with pytest.raises(ValueError, match="λ"):
        decomposition_bound(gp, U, exact_relu=sol)


def test_a_gate_that_is_not_interior_is_replaced_by_the_max_margin_direction():
    from convex_relu.patterns import Patterns

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    pats = sample_patterns(X, 15, 0, bias=True)
    gates = pats.gates.copy()
    gates[:, 0] = 0.0  # compatible with any mask, but useless as a shift direction
    gp = GatedReLUProblem(X, rng.standard_normal(20), Patterns(pats.masks, gates, bias=True), 0.01,
                          bias=True)
    U = rng.standard_normal(gp.weights_shape)
    for method in ("socp", "gate_shift"):
        dec = cone_decompose(gp, U, method)
        assert dec.info["n_max_margin_directions"] == 1
        assert loop_min_slack(gp.X_tilde, gp.patterns.masks, dec.weights) >= -1e-8
        V, W = dec.weights
        assert np.abs(loop_predictions(gp.X_tilde, gp.patterns.masks, V - W)
                      - loop_predictions(gp.X_tilde, gp.patterns.masks, U)).max() <= 1e-8
