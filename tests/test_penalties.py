"""Penalties as parts: every penalty × formulation × loss against independent programs.

Independent computations: CVXPY programs written here as loops over patterns and
outputs (not the package's vectorised model), zero-optimality checked by solving at
``λ_max(1 ± ε)``, weak duality against the loop optimum, a planted feature set.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convex_relu import solve
from convex_relu.certificates import certify
from convex_relu.penalties import PENALTIES, Penalty, get_penalty
from convex_relu.problems import make_problem

PENALTY_NAMES = ["neuron_group", "feature_group", "l1", "l2", "group_elastic_net"]
ALPHA = 0.6


def _data(loss, n=12, d=2, c=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c)) + X[:, :1]
    if loss == "logistic":
        Y = np.where(Y >= 0, 1.0, -1.0)
    return X, Y


def _problem(form, pen, loss, lam, seed=0, **kw):
    X, Y = _data(loss, seed=seed, **kw)
    params = {"alpha": ALPHA} if pen == "group_elastic_net" else None
    return make_problem(X, Y, formulation=form, lam=lam, loss=loss, bias=True, n_gates=4, seed=1,
                        penalty=pen, penalty_params=params)


def _loop_penalty(pen, blocks, c, p, d):
    """R as a loop over groups; ``blocks[b][k][i]`` are CVXPY d-vectors."""
    total = 0
    for B in blocks:
        if pen == "neuron_group":
            total += sum(cp.norm(B[k][i], 2) for k in range(c) for i in range(p))
        elif pen == "feature_group":
            total += sum(cp.norm(cp.hstack([B[k][i][j] for k in range(c) for i in range(p)]), 2)
                         for j in range(d))
        elif pen == "l1":
            total += sum(cp.norm(B[k][i], 1) for k in range(c) for i in range(p))
        elif pen == "l2":
            total += 0.5 * sum(cp.sum_squares(B[k][i]) for k in range(c) for i in range(p))
        elif pen == "group_elastic_net":
            total += sum(ALPHA * cp.norm(B[k][i], 2) + 0.5 * (1 - ALPHA) * cp.sum_squares(B[k][i])
                         for k in range(c) for i in range(p))
    return total


def loop_optimum(problem, pen):
    """The optimum of ``problem`` by an independent loop formulation (Clarabel)."""
    Xt, M, Y = problem.X_tilde, problem.masks, problem.Y
    n, d = Xt.shape
    c, p, s = Y.shape[1], M.shape[1], Y.size
    nb = 1 if problem.formulation == "gated_relu" else 2
    blocks = [[[cp.Variable(d) for _ in range(p)] for _ in range(c)] for _ in range(nb)]
    cons = []
    fit = 0
    for k in range(c):
        pred = 0
        for i in range(p):
            u = blocks[0][k][i] if nb == 1 else blocks[0][k][i] - blocks[1][k][i]
            pred = pred + cp.multiply(M[:, i], Xt @ u)
            if nb == 2:
                sgn = 2 * M[:, i] - 1
                cons += [cp.multiply(sgn, Xt @ blocks[0][k][i]) >= 0,
                         cp.multiply(sgn, Xt @ blocks[1][k][i]) >= 0]
        if problem.loss == "squared":
            fit = fit + cp.sum_squares(pred - Y[:, k]) / (2 * s)
        else:
            fit = fit + cp.sum(cp.logistic(cp.multiply(-Y[:, k], pred))) / s
    obj = fit + problem.lam * _loop_penalty(pen, blocks, c, p, d)
    prog = cp.Problem(cp.Minimize(obj), cons)
    prog.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    W = np.array([[[blocks[b][k][i].value for i in range(p)] for k in range(c)] for b in range(nb)])
    W = W.transpose(0, 1, 3, 2)  # (nb, c, d, p)
    return float(prog.value), (W[0] if nb == 1 else W)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("form", ["gated_relu", "relu"])
@pytest.mark.parametrize("pen", PENALTY_NAMES)
def test_optimum_matches_loop_formulation(pen, form, loss):
    prob = _problem(form, pen, loss, lam=0.02)
    ref, _ = loop_optimum(prob, pen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = solve(prob, "clarabel", tol=1e-8)
    assert exact.converged, (exact.status, exact.relative_gap)
    assert abs(exact.objective - ref) <= 1e-6 * abs(ref)
    # the certificate's bracket holds the independent optimum
    assert exact.certificate.dual <= ref + 1e-9 * abs(ref)
    fast = "rfista" if form == "gated_relu" else "al"
    sol = solve(prob, fast, tol=1e-8)
    assert sol.converged, (sol.status, sol.relative_gap)
    if form == "relu":
        # l1 / feature_group: the plain AL (cones in the smooth part), no face solve
        from convex_relu.al_penalized import al_variant

        assert al_variant(prob.penalty) == ("plain" if pen in ("l1", "feature_group") else "face")
        from convex_relu.solution import relative_violation

        raw = sol.raw_weights if sol.raw_weights is not None else sol.weights
        assert relative_violation(prob, raw) <= 1e-6
    assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
    # one truth: our own certificate (multipliers computed by certify itself for the
    # non-radial penalties) on the returned weights
    assert certify(prob, sol.weights).relative_gap <= 1e-7


@pytest.mark.parametrize("form", ["gated_relu", "relu"])
@pytest.mark.parametrize("pen", PENALTY_NAMES)
def test_weak_duality_property(pen, form):
    prob = _problem(form, pen, "squared", lam=0.05, seed=3)
    p_star, _ = loop_optimum(prob, pen)
    rng_shape = prob.weights_shape

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 10.0))
    def check(seed, scale):
        W = scale * np.random.default_rng(seed).standard_normal(rng_shape)
        cert = certify(prob, W)
        assert cert.dual <= p_star + 1e-9 * abs(p_star)
        assert cert.primal >= p_star - 1e-9 * abs(p_star)
        assert cert.gap >= -1e-12

    check()


@pytest.mark.parametrize("form", ["gated_relu", "relu"])
@pytest.mark.parametrize("pen", ["neuron_group", "feature_group", "l1", "group_elastic_net"])
def test_lam_max(pen, form):
    prob = _problem(form, pen, "squared", lam=1.0)
    lam_max = prob.lam_max()
    assert np.isfinite(lam_max) and lam_max > 0
    zero_obj = prob.loss_value(np.zeros_like(prob.Y))
    above, W_above = loop_optimum(prob.with_lam(lam_max * 1.05), pen)
    assert np.abs(W_above).max() <= 1e-6
    assert abs(above - zero_obj) <= 1e-8
    below, W_below = loop_optimum(prob.with_lam(lam_max * 0.95), pen)
    assert np.abs(W_below).max() > 1e-4
    assert below < zero_obj - 1e-9


def test_l2_has_no_lam_max():
    prob = _problem("gated_relu", "l2", "squared", lam=1.0)
    assert prob.lam_max() == np.inf
    _, W = loop_optimum(prob.with_lam(1e3), "l2")
    assert np.abs(W).max() > 0


def test_l2_squared_direct_solve():
    """(λ/2)‖U‖² with the squared loss: the normal equations (lstsq) give the optimum."""
    prob = _problem("gated_relu", "l2", "squared", lam=0.03, c=1)
    Xt, M, y = prob.X_tilde, prob.masks, prob.Y[:, 0]
    A = (M[:, :, None] * Xt[:, None, :]).reshape(prob.n, -1)  # column i·d̃ + j
    s = prob.s
    u = np.linalg.solve(A.T @ A / s + prob.lam * np.eye(A.shape[1]), A.T @ y / s)
    W = u.reshape(prob.p, prob.d).T[None]
    cert = certify(prob, W)
    assert cert.relative_gap <= 1e-10
    sol = solve(prob, "rfista", tol=1e-10)
    assert sol.converged
    # λ-strong convexity: (λ/2)‖U − U*‖² <= F(U) − F* <= certified gap
    bound = np.sqrt(2.0 * max(sol.certificate.gap, 0.0) / prob.lam) + 1e-9
    assert np.linalg.norm(sol.weights - W) <= bound
    assert abs(sol.objective - prob.objective(W)) <= 1e-9 * prob.objective(W)


def test_feature_group_selects_planted_features_along_path():
    """y uses features 0 and 1 only; down to 0.3·λ_max every non-zero path point selects
    exactly them (the neuron-group penalty, for contrast, uses every feature)."""
    from convex_relu.path import regularization_path

    rng = np.random.default_rng(5)
    n, d, k = 120, 6, 2
    X = rng.standard_normal((n, d))
    y = X[:, 0] + 1.5 * X[:, 1] + np.maximum(X[:, 0] - X[:, 1], 0.0)
    kw = dict(lams=6, lam_min_ratio=0.3, method="rfista", tol=1e-8, bias=False, n_gates=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = regularization_path(X, y, penalty="feature_group", **kw)
        plain = regularization_path(X, y, **kw)
    assert all(path.converged)
    hits = 0
    for W in path.weights:
        rows = np.linalg.norm(W, axis=(0, 2))
        if rows.max() == 0:
            continue
        assert set(np.flatnonzero(rows > 0)) == set(range(k)), rows
        hits += 1
    assert hits >= 4
    rows = np.linalg.norm(plain.weights[-1], axis=(0, 2))
    assert np.all(rows > 0)


class WeightedL1(Penalty):
    """A toy penalty written only here: ``Σ_j w_j Σ_{k,i} |U_{k,j,i}|`` with feature weights."""

    name = "weighted_l1"
    homogeneous = True
    radial = False

    def __init__(self, w):
        self.w = np.asarray(w, dtype=float)

    def value(self, U):
        U = np.asarray(U)
        return float(np.sum(np.abs(U) * self.w[:, None]))

    def prox(self, U, t):
        thr = t * self.w[:, None]
        return np.sign(U) * np.maximum(np.abs(U) - thr, 0.0)

    def dual_norm(self, G):
        return (np.abs(G) / self.w[None, :, None]).max(axis=(1, 2))

    def cvx_expression(self, Z, c, p):
        return cp.sum(cp.multiply(self.w[:, None], cp.abs(Z)))

    def __eq__(self, other):
        return type(other) is WeightedL1 and np.array_equal(self.w, other.w)

    __hash__ = None


@pytest.mark.parametrize("form", ["gated_relu", "relu"])
def test_toy_penalty_end_to_end(form):
    X, Y = _data("squared", c=1)
    pen = WeightedL1([1.0, 3.0, 0.5])  # two features and the bias
    prob = make_problem(X, Y, formulation=form, lam=0.02, bias=True, n_gates=4, seed=1, penalty=pen)
    # independent: the loop program with the weighted L1 written out
    Xt, M = prob.X_tilde, prob.masks
    nb = 1 if form == "gated_relu" else 2
    U = [[cp.Variable(prob.d) for _ in range(prob.p)] for _ in range(nb)]
    pred = sum(cp.multiply(M[:, i], Xt @ (U[0][i] if nb == 1 else U[0][i] - U[1][i]))
               for i in range(prob.p))
    reg = sum(cp.sum(cp.multiply(pen.w, cp.abs(U[b][i]))) for b in range(nb) for i in range(prob.p))
    cons = [cp.multiply(2 * M[:, i] - 1, Xt @ U[b][i]) >= 0 for b in range(nb) for i in range(prob.p)
            ] if nb == 2 else []
    ref = cp.Problem(cp.Minimize(cp.sum_squares(pred - Y[:, 0]) / (2 * prob.s) + prob.lam * reg), cons)
    ref.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11)
    method = "rfista" if form == "gated_relu" else "clarabel"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve(prob, method, tol=1e-8)
    assert sol.converged, (sol.status, sol.relative_gap)
    assert abs(sol.objective - ref.value) <= 1e-6 * abs(ref.value)
    cert = certify(prob, sol.weights, multipliers=sol.duals)
    assert cert.relative_gap <= 1e-8
    assert cert.dual <= ref.value + 1e-9


def test_registry_and_errors():
    assert set(PENALTIES) == set(PENALTY_NAMES)
    assert get_penalty("neuron_group") is get_penalty(None)
    with pytest.raises(ValueError, match="penalty must be one of"):
        get_penalty("lasso")
    with pytest.raises(TypeError, match="penalty"):
        get_penalty(3)
    with pytest.raises(ValueError, match="alpha"):
        get_penalty("group_elastic_net", alpha=1.5)
    X, Y = _data("squared")
    with pytest.raises(ValueError, match="penalty"):
        make_problem(X, Y, penalty="ridge", n_gates=3)


def test_network_equivalence_flags():
    assert get_penalty("neuron_group").network_equivalent
    for name in ["feature_group", "l1", "l2", "group_elastic_net"]:
        assert not get_penalty(name).network_equivalent
    assert get_penalty("neuron_group").separable_over_neurons
    assert not get_penalty("feature_group").separable_over_neurons


def test_default_penalty_survives_pickling_and_auto_routes_relu():
    import pickle

    X, Y = _data("squared", c=1)
    prob = make_problem(X, Y, formulation="relu", lam=0.02, bias=True, n_gates=4, seed=1)
    again = pickle.loads(pickle.dumps(prob))
    assert again.penalty is prob.penalty  # the solvers' fast path survives joblib
    from convex_relu.solvers import choose_method

    assert choose_method(prob.with_penalty("l1"))[0] == "clarabel"
    # the plain AL where it was measured faster: logistic loss, or groups coupling neurons
    assert choose_method(prob.with_penalty("feature_group"))[0] == "al"
    Xl, Yl = _data("logistic", c=1)
    logi = make_problem(Xl, Yl, formulation="relu", lam=0.02, loss="logistic", bias=True,
                        n_gates=4, seed=1, penalty="l1")
    assert choose_method(logi)[0] == "al"
    with pytest.raises(ValueError, match="decomposition_bound.*l1"):
        from convex_relu.decomposition import decomposition_bound

        decomposition_bound(prob.with_penalty("l1").gated_problem(), np.zeros((1, prob.d, prob.p)))


# ---------------------------------------------------------------------------------------
# the scnn peer adapters of bench_penalties (skipped when scnn is absent)
# ---------------------------------------------------------------------------------------


def _loop_penalty_value(name, U):
    """R(U) for U (c, d̃, p), written from the README's scalings with loops."""
    c, dt, p = U.shape
    if name == "feature_group":
        return sum(np.sqrt(sum(U[k, j, i] ** 2 for k in range(c) for i in range(p))) for j in range(dt))
    if name == "l1":
        return sum(abs(U[k, j, i]) for k in range(c) for j in range(dt) for i in range(p))
    if name == "l2":
        return 0.5 * sum(U[k, j, i] ** 2 for k in range(c) for j in range(dt) for i in range(p))
    return sum(np.linalg.norm(U[k, :, i]) for k in range(c) for i in range(p))


@pytest.mark.parametrize("name", ["feature_group", "l1", "l2", "neuron_group"])
def test_scnn_adapter_objective_is_ours(name):
    from convex_relu import bench_penalties as bp

    if not bp.scnn_available():
        pytest.skip("scnn (pip install pyscnn) is not importable")
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    prob = make_problem(X, y, formulation="gated_relu", lam=0.07, bias=True, n_gates=5,
                        seed=0, penalty=name)
    W = rng.standard_normal(prob.weights_shape)
    pred = sum(prob.masks[:, i:i + 1] * (prob.X_tilde @ W[:, :, i].T) for i in range(prob.p))
    ours_by_hand = (float(np.sum((pred - prob.Y) ** 2)) / (2 * prob.s)
                    + prob.lam * _loop_penalty_value(name, W))
    assert abs(bp.scnn_objective(prob, W) - ours_by_hand) <= 1e-10 * abs(ours_by_hand)
    # a wrong conversion (λ_s = λ/2 for L2, no 1/√d̃ for feature groups) would differ
    assert abs(prob.objective(W) - ours_by_hand) <= 1e-10 * abs(ours_by_hand)


@pytest.mark.parametrize("name", ["feature_group", "l1", "l2"])
def test_scnn_adapter_reaches_our_optimum_judged_by_our_certificate(name):
    from convex_relu import bench_penalties as bp
    from convex_relu.cvx import solve_exact

    if not bp.scnn_available():
        pytest.skip("scnn (pip install pyscnn) is not importable")
    rng = np.random.default_rng(8)
    X = rng.standard_normal((25, 2))
    y = np.maximum(X @ np.array([1.0, -1.0]), 0) + 0.1 * rng.standard_normal(25)
    prob = make_problem(X, y, formulation="gated_relu", lam=0.05, bias=True, n_gates=6,
                        seed=0, penalty=name)
    W, seconds, cert = bp.run_scnn(prob, tol=1e-8)
    ref = solve_exact(prob, tol=1e-10)
    assert seconds > 0 and cert.dual <= ref.objective + 1e-9
    # scnn's point is judged by OUR certificate: primal ≥ p* ≥ its dual bound
    assert cert.primal >= ref.certificate.dual - 1e-12
    assert abs(cert.primal - ref.objective) <= 1e-4 * abs(ref.objective)
