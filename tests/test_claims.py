"""The claim sentence is graded by the evidence (convex_relu.claims).

Each level is produced from a certificate of weights whose optimality is known
independently: p* from a CVXPY loop formulation written here (one constraint per
pattern, no vectorisation), the λ = 0 optimum from least squares, or the closed
form p* = 0 for y = 0; and a dense network built by hand beats the one-vs-all
optimum, which is why several outputs never get "global optimum".
"""

import dataclasses
import math

import cvxpy as cp
import numpy as np
import pytest

from convex_relu import make_problem, sample_patterns
from convex_relu.certificates import certify
from convex_relu.claims import LEVELS, OPTIMAL_LEVELS, Claim, claim, describe_percent

TOL = 1e-6


def _data(n=8, c=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ np.array([1.0, -0.5]), 0) - 0.3 * X[:, 1] + 0.05 * rng.standard_normal(n)
    return X, (y if c == 1 else np.column_stack([y] * c))


def _loop_relu(problem):
    """C-ReLU solved by CVXPY as written in DESIGN §1: a Python loop over outputs and patterns.

    Returns (p*, weights of shape (2, c, d̃, p)).
    """
    Xt, Y, M = problem.X_tilde, problem.Y, problem.masks
    n, dt = Xt.shape
    c, p, s = Y.shape[1], M.shape[1], problem.s
    V = [[cp.Variable(dt) for _ in range(p)] for _ in range(c)]
    W = [[cp.Variable(dt) for _ in range(p)] for _ in range(c)]
    cons, loss, reg = [], 0, 0
    for k in range(c):
        pred = 0
        for i in range(p):
            sign = 2 * M[:, i] - 1
            pred = pred + cp.multiply(M[:, i], Xt @ (V[k][i] - W[k][i]))
            cons += [cp.multiply(sign, Xt @ V[k][i]) >= 0, cp.multiply(sign, Xt @ W[k][i]) >= 0]
            reg = reg + cp.norm(V[k][i], 2) + cp.norm(W[k][i], 2)
        loss = loss + cp.sum_squares(pred - Y[:, k]) / (2 * s)
    prob = cp.Problem(cp.Minimize(loss + problem.lam * reg), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    weights = np.zeros((2, c, dt, p))
    for k in range(c):
        for i in range(p):
            weights[0, k, :, i] = V[k][i].value
            weights[1, k, :, i] = W[k][i].value
    return float(prob.value), weights


def _objective_by_hand(problem, W):
    """ℓ(Σ_i D_iX̃(v_i − w_i)) + λ Σ(‖v_i‖ + ‖w_i‖), s = n·c, by explicit loops."""
    Xt, Y, M = problem.X_tilde, problem.Y, problem.masks
    c, p = Y.shape[1], M.shape[1]
    total = 0.0
    for k in range(c):
        pred = sum(M[:, i] * (Xt @ (W[0, k, :, i] - W[1, k, :, i])) for i in range(p))
        total += float(np.sum((pred - Y[:, k]) ** 2)) / (2 * problem.s)
        total += problem.lam * sum(np.linalg.norm(W[0, k, :, i]) + np.linalg.norm(W[1, k, :, i])
                                   for i in range(p))
    return total


@pytest.fixture(scope="module")
def complete():
    X, y = _data()
    problem = make_problem(X, y, formulation="relu", lam=0.05, bias=True)
    assert problem.patterns.method == "enumerated"
    p_star, W = _loop_relu(problem)
    return problem, p_star, W


# ---------------------------------------------------------------------------------------
# the levels
# ---------------------------------------------------------------------------------------


def test_complete_patterns_give_a_global_optimum_that_is_true(complete):
    problem, p_star, W = complete
    cert = certify(problem, W)
    cl = claim(problem, cert, tol=TOL, width=7)
    assert isinstance(cl, Claim) and cl.level in LEVELS
    assert cl.level == "global_optimum", cl.sentence
    assert "global optimum" in cl.sentence and "width 7" in cl.sentence
    # the claim is true: the certified primal is within tol of the independent p*
    assert cl.primal - p_star <= TOL * abs(cl.primal) + 1e-12
    assert cl.dual <= p_star + 1e-9
    assert cl.optimal and cl.complete and cl.valid
    assert cl.to_dict()["level"] == "global_optimum"


def test_some_candidates_dropped_is_not_global(complete):
    problem, p_star, W = complete
    pats = problem.patterns
    if "n_dropped" in {f.name for f in dataclasses.fields(pats)}:
        dropped = dataclasses.replace(pats, n_dropped=2)
        assert not getattr(dropped, "complete", False)
        prob2 = make_problem(problem.X, problem.Y[:, 0], formulation="relu", lam=problem.lam,
                             bias=True, patterns=dropped)
        cl = claim(prob2, certify(prob2, W), tol=TOL)
        assert cl.level == "optimal_over_patterns", cl.sentence
        assert "dropped 2" in cl.sentence and "global optimum" not in cl.sentence
    # the explicit count of dropped candidates works with any Patterns
    cl = claim(problem, certify(problem, W), tol=TOL, dropped=1)
    assert cl.level == "optimal_over_patterns" and not cl.complete
    assert "dropped 1" in cl.sentence and "global optimum" not in cl.sentence


def test_sampled_patterns_are_optimal_over_those_patterns_only():
    X, y = _data(seed=1)
    pats = sample_patterns(X, 6, seed=0, bias=True)
    problem = make_problem(X, y, formulation="relu", lam=0.05, bias=True, patterns=pats)
    p_star, W = _loop_relu(problem)
    cl = claim(problem, certify(problem, W), tol=TOL)
    assert cl.level == "optimal_over_patterns", cl.sentence
    assert "sampled activation patterns only" in cl.sentence
    assert "global optimum" not in cl.sentence
    assert cl.primal - p_star <= TOL * cl.primal + 1e-12


def test_gated_claim_is_about_the_relaxation(complete):
    problem, _, _ = complete
    gp = problem.gated_problem()
    U = cp.Variable((gp.d, gp.p))
    pred = cp.sum(cp.multiply(gp.masks, gp.X_tilde @ U), axis=1)
    obj = cp.sum_squares(pred - gp.Y[:, 0]) / (2 * gp.s) + gp.lam * cp.sum(cp.norm(U, 2, axis=0))
    d_star = cp.Problem(cp.Minimize(obj)).solve(solver="CLARABEL", tol_gap_abs=1e-11,
                                                 tol_gap_rel=1e-11, tol_feas=1e-11)
    cl = claim(gp, certify(gp, U.value[None]), tol=TOL)
    assert cl.level == "gated_optimum", cl.sentence
    assert "relaxation" in cl.sentence and "global optimum" not in cl.sentence
    assert cl.primal - d_star <= TOL * cl.primal + 1e-12


def test_large_gap_says_how_far_and_no_more(complete):
    problem, p_star, W = complete
    W_half = 0.5 * W
    cert = certify(problem, W_half)
    cl = claim(problem, cert, tol=TOL)
    assert cl.level == "within_gap", cl.sentence
    assert "global" not in cl.sentence and "Not proven optimal" in cl.sentence
    # the percentage is the relative gap of the independently computed objective
    P = _objective_by_hand(problem, W_half)
    assert cl.primal == pytest.approx(P, rel=1e-9)
    rel = (P - cert.dual) / P
    assert describe_percent(rel) in cl.sentence
    # and it is a true statement: P − p* <= rel·P
    assert P - p_star <= rel * P + 1e-12


def test_gap_of_100_percent_proves_nothing_useful(complete):
    problem, _, W = complete
    cert = dataclasses.replace(certify(problem, 0.5 * W), dual=0.0)
    cl = claim(problem, cert, tol=TOL)
    assert cl.level == "no_claim"
    assert "nothing useful is proven" in cl.sentence and not cl.optimal


def test_several_outputs_only_among_one_output_per_neuron_networks():
    X, Y = _data(c=2, seed=2)  # two identical outputs
    problem = make_problem(X, Y, formulation="relu", lam=0.05, bias=True)
    p_ova, W = _loop_relu(problem)
    cl = claim(problem, certify(problem, W), tol=TOL)
    assert cl.level == "one_output_per_neuron", cl.sentence
    assert "among networks whose hidden neurons each feed one output" in cl.sentence
    assert "global optimum of weight-decay" not in cl.sentence
    # why: a dense network sharing each neuron between the two outputs does better.
    # Neuron from group u (norm r) with first layer t·u and second layer [1, 1]/t has
    # weight decay (λ/2)(t²r² + 2/t²), least at t² = √2/r: λ√2·r instead of 2λr.
    Xt = problem.X_tilde
    W1, W2 = [], []
    for sign, groups in ((1.0, W[0, 0]), (-1.0, W[1, 0])):
        for i in range(problem.p):
            r = np.linalg.norm(groups[:, i])
            if r > 1e-9:
                t = math.sqrt(math.sqrt(2.0) / r)
                W1.append(t * groups[:, i])
                W2.append(sign * np.ones(2) / t)
    W1, W2 = np.array(W1).T, np.array(W2)
    pred = np.maximum(Xt @ W1, 0) @ W2
    dense = (np.sum((pred - problem.Y) ** 2) / (2 * problem.s)
             + 0.5 * problem.lam * (np.sum(W1**2) + np.sum(W2**2)))
    assert dense < p_ova - 1e-3 * p_ova


def test_several_outputs_sampled_says_both_limits():
    X, Y = _data(c=2, seed=3)
    pats = sample_patterns(X, 5, seed=1, bias=True)
    problem = make_problem(X, Y, formulation="relu", lam=0.05, bias=True, patterns=pats)
    _, W = _loop_relu(problem)
    cl = claim(problem, certify(problem, W), tol=TOL)
    assert cl.level == "optimal_over_patterns"
    assert "among networks whose hidden neurons each feed one output" in cl.sentence
    assert "sampled" in cl.sentence


def test_lambda_zero_says_what_is_proven():
    X, y = _data(n=10, seed=4)
    problem = make_problem(X, y, formulation="gated_relu", lam=0.0, bias=True, n_gates=3, seed=0)
    # λ = 0: p* is the least-squares residual over range(A), A = [D_1X̃ … D_pX̃]
    A = np.hstack([problem.masks[:, [i]] * problem.X_tilde for i in range(problem.p)])
    u, *_ = np.linalg.lstsq(A, y, rcond=None)
    p_star = float(np.sum((A @ u - y) ** 2)) / (2 * problem.n)
    U = u.reshape(problem.p, problem.d).T[None]
    for weights in (U, problem.zero_weights()):
        cert = certify(problem, weights)
        cl = claim(problem, cert, tol=TOL)
        assert "λ = 0" in cl.sentence
        note = getattr(cert, "dual_note", "")
        if note:
            assert note.replace("λ = 0:", "").strip() in cl.sentence
        if cl.optimal:  # an optimality claim must be true
            assert cl.primal - p_star <= TOL * abs(cl.primal) + 1e-12
        assert cl.dual <= p_star + 1e-9
    # the zero weights are far from optimal: no optimality claim, whatever the bound
    assert not claim(problem, certify(problem, problem.zero_weights()), tol=TOL).optimal
    # a trivial bound is reported as such
    triv = dataclasses.replace(certify(problem, problem.zero_weights()), dual=0.0,
                               dual_note="λ = 0: trivial bound 0 (test)")
    cl = claim(problem, triv, tol=TOL)
    assert cl.level == "no_claim" and "trivial bound 0 (test)" in cl.sentence


def test_negative_gap_is_an_invalid_certificate(complete):
    problem, _, W = complete
    cert = certify(problem, W)
    bad = dataclasses.replace(cert, dual=cert.primal + 1e-3 * abs(cert.primal),
                              gap=-1e-3 * abs(cert.primal), relative_gap=-1e-3)
    cl = claim(problem, bad, tol=TOL)
    assert cl.level == "no_claim" and not cl.valid
    assert "invalid" in cl.sentence and "global" not in cl.sentence
    # the claim recomputes the gap: a certificate whose gap field lies is not believed
    liar = dataclasses.replace(bad, gap=0.0, relative_gap=0.0)
    assert claim(problem, liar, tol=TOL).level == "no_claim"
    # within round-off (1e-12·(|P| + ℓ(0))) a negative gap is 0
    ok = dataclasses.replace(cert, dual=cert.primal * (1 + 1e-14))
    cl = claim(problem, ok, tol=TOL)
    assert cl.level == "global_optimum" and cl.gap == 0.0
    nan = dataclasses.replace(cert, dual=float("nan"))
    assert claim(problem, nan, tol=TOL).level == "no_claim"


def test_y_zero_says_the_optimum_is_zero():
    X, _ = _data(seed=5)
    problem = make_problem(X, np.zeros(len(X)), formulation="gated_relu", lam=0.1, bias=True,
                           n_gates=4, seed=0)
    U = 1e-13 * np.ones(problem.weights_shape)
    cl = claim(problem, certify(problem, U), tol=TOL)
    assert cl.level == "within_gap" and "optimum is 0" in cl.sentence
    assert claim(problem, certify(problem, problem.zero_weights()), tol=TOL).level == "gated_optimum"


def test_network_claim_uses_the_networks_own_objective(complete):
    from convex_relu.networks import ReLUNetwork, network_claim, network_from_weights

    problem, p_star, W = complete
    net = network_from_weights(problem, certify(problem, W).weights, prune_tol=1e-7)
    cert, cl = network_claim(problem, net, tol=1e-5)
    assert cl.level == "global_optimum", cl.sentence
    assert cl.primal == pytest.approx(net.objective(problem.X, problem.Y, problem.lam), rel=1e-12)
    # a silent extra neuron (never active on the training rows) changes nothing the data
    # see but costs weight decay: the network is no longer optimal, and the claim says so
    Xt = problem.X_tilde
    dead = -np.r_[np.zeros(problem.d - 1), 1.0] * (np.abs(Xt[:, :-1]).sum(axis=1).max() + 1.0)
    assert np.all(Xt @ dead < 0)
    W1 = np.column_stack([net.W1, dead])
    W2 = np.vstack([net.W2, [[1.0]]])
    heavy = ReLUNetwork(W1, W2, bias=True)
    obj = (np.sum((np.maximum(Xt @ W1, 0) @ W2 - problem.Y) ** 2) / (2 * problem.n)
           + 0.5 * problem.lam * (np.sum(W1**2) + np.sum(W2**2)))
    _, cl2 = network_claim(problem, heavy, tol=1e-5)
    assert cl2.primal == pytest.approx(obj, rel=1e-12)
    assert cl2.level == "within_gap" and "global" not in cl2.sentence
    assert obj - p_star > 1e-5 * obj  # the downgrade is right: it really is suboptimal
    with pytest.raises(TypeError, match="network"):
        network_claim(problem, "net")


def test_bad_arguments(complete):
    problem, _, W = complete
    cert = certify(problem, W)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="tol"):
            claim(problem, cert, tol=bad)
    with pytest.raises(TypeError, match="tol"):
        claim(problem, cert, tol="small")
    with pytest.raises(TypeError, match="problem"):
        claim(None, cert, tol=TOL)
    with pytest.raises(TypeError, match="certificate"):
        claim(problem, None, tol=TOL)
    with pytest.raises(ValueError, match="dropped"):
        claim(problem, cert, tol=TOL, dropped=-1)
    with pytest.raises(ValueError, match="formulation"):
        claim(problem, cert, tol=TOL, formulation="tanh")
    with pytest.raises(ValueError, match="width"):
        claim(problem, cert, tol=TOL, width=-2)
    assert set(OPTIMAL_LEVELS) < set(LEVELS)


# ---------------------------------------------------------------------------------------
# penalties without an exact non-convex equivalent (issue 13)
# ---------------------------------------------------------------------------------------

_OTHER_PENALTIES = [("feature_group", None), ("l1", None), ("l2", None),
                    ("group_elastic_net", {"alpha": 0.5})]


def _loop_relu_penalty(problem, name, params):
    """C-ReLU with penalty ``name`` by CVXPY, written from the README's scalings with loops:
    λ(R(V) + R(W)), V and W of shape (c, d̃, p)."""
    Xt, Y, M = problem.X_tilde, problem.Y, problem.masks
    n, dt = Xt.shape
    c, p, s = Y.shape[1], M.shape[1], problem.s
    V = [[cp.Variable(dt) for _ in range(p)] for _ in range(c)]
    W = [[cp.Variable(dt) for _ in range(p)] for _ in range(c)]
    cons, loss = [], 0
    for k in range(c):
        pred = 0
        for i in range(p):
            sign = 2 * M[:, i] - 1
            pred = pred + cp.multiply(M[:, i], Xt @ (V[k][i] - W[k][i]))
            cons += [cp.multiply(sign, Xt @ V[k][i]) >= 0, cp.multiply(sign, Xt @ W[k][i]) >= 0]
        loss = loss + cp.sum_squares(pred - Y[:, k]) / (2 * s)

    def R(U):
        if name == "feature_group":
            return sum(cp.norm(cp.hstack([U[k][i][j] for k in range(c) for i in range(p)]), 2)
                       for j in range(dt))
        if name == "l1":
            return sum(cp.norm(U[k][i], 1) for k in range(c) for i in range(p))
        if name == "l2":
            return sum(0.5 * cp.sum_squares(U[k][i]) for k in range(c) for i in range(p))
        a = params["alpha"]
        return sum(a * cp.norm(U[k][i], 2) + 0.5 * (1 - a) * cp.sum_squares(U[k][i])
                   for k in range(c) for i in range(p))

    prob = cp.Problem(cp.Minimize(loss + problem.lam * (R(V) + R(W))), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    weights = np.zeros((2, c, dt, p))
    for k in range(c):
        for i in range(p):
            weights[0, k, :, i] = V[k][i].value
            weights[1, k, :, i] = W[k][i].value
    return float(prob.value), weights


@pytest.mark.parametrize("name,params", _OTHER_PENALTIES)
def test_non_equivalent_penalty_claims_only_the_convex_optimum(name, params):
    X, y = _data()
    problem = make_problem(X, y, formulation="relu", lam=0.05, bias=True, penalty=name,
                           penalty_params=params)
    assert problem.patterns.method == "enumerated" and not problem.penalty.network_equivalent
    from convex_relu.cvx import solve_exact

    p_star, W = _loop_relu_penalty(problem, name, params)
    # the certificate with the exact solve's cone multipliers (certify(problem, W) alone
    # is loose for the non-radial penalties of C-ReLU: see the report of issue 13)
    cert = solve_exact(problem, tol=1e-10).certificate
    cl = claim(problem, cert, tol=TOL)
    assert cl.level == "convex_optimum", cl.sentence
    assert cl.optimal and cl.level in OPTIMAL_LEVELS
    assert "no exact non-convex equivalent" in cl.sentence
    assert f"convex C-ReLU program with the {name} penalty" in cl.sentence
    assert "global optimum" not in cl.sentence and "any width" not in cl.sentence
    # true: the certified primal is the independent p* (our objective = the loop's)
    assert abs(cl.primal - p_star) <= 1e-6 * abs(p_star)
    # the same weights under the neuron-group problem would be judged by another program
    # entirely: with a far worse perturbation, only a bound is claimed, still without the
    # network sentence
    rng = np.random.default_rng(0)
    cl2 = claim(problem, certify(problem, W * (1 + 0.3 * rng.standard_normal(W.shape))), tol=TOL)
    assert cl2.primal > p_star
    assert cl2.level in ("within_gap", "no_claim"), cl2.sentence
    assert "any width" not in cl2.sentence and "global optimum" not in cl2.sentence
    if cl2.level == "within_gap":
        assert "no exact non-convex equivalent" in cl2.sentence


@pytest.mark.parametrize("name,params", _OTHER_PENALTIES)
def test_non_equivalent_penalty_gated_and_sampled(name, params):
    from convex_relu.cvx import solve_exact

    X, y = _data()
    for kw in ({"formulation": "gated_relu", "n_gates": 6}, {"formulation": "relu", "n_gates": 6}):
        problem = make_problem(X, y, lam=0.05, bias=True, penalty=name, penalty_params=params,
                               seed=1, **kw)
        sol = solve_exact(problem, tol=1e-10)
        cl = claim(problem, sol.certificate, tol=1e-5)
        assert cl.level == "convex_optimum", cl.sentence
        assert "no exact non-convex equivalent" in cl.sentence
        if kw["formulation"] == "relu":
            assert "over these activation patterns" in cl.sentence


def test_neuron_group_keeps_the_network_claim(complete):
    # network_equivalent is what grants the network sentence: the default penalty keeps it
    problem, _, W = complete
    assert problem.penalty.network_equivalent
    assert claim(problem, certify(problem, W), tol=TOL).level == "global_optimum"
