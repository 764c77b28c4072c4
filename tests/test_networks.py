"""Specification of convex solution → network (DESIGN §3)."""

import numpy as np
import pytest

from convex_relu import GatedReLUProblem, ReLUProblem, enumerate_patterns, sample_patterns
from convex_relu.networks import GatedReLUNetwork, ReLUNetwork, network_from_weights


def _data(n=15, d=2, c=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c)) if c > 1 else rng.standard_normal(n)
    return X, Y


def _feasible_relu_weights(problem, seed=1):
    """Random C-ReLU weights inside the cones: nonnegative multiples of each pattern's gate."""
    rng = np.random.default_rng(seed)
    G = problem.patterns.gates  # (d̃, p), each gate lies in its own cone
    a = rng.exponential(size=(2, problem.c, 1, problem.p))
    a[rng.random(a.shape) < 0.3] = 0.0  # some neurons off
    return a * G[None, None, :, :]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("c", [1, 2])
def test_gated_network_reproduces_convex_predictions_and_objective(bias, c):
    X, Y = _data(c=c)
    problem = GatedReLUProblem(X, Y, sample_patterns(X, 12, seed=3, bias=bias), lam=0.1)
    U = np.random.default_rng(2).standard_normal(problem.weights_shape)
    net = network_from_weights(problem, U)
    assert isinstance(net, GatedReLUNetwork)
    np.testing.assert_allclose(net.predict(X), problem.predict(U), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.objective(X, Y, 0.1), problem.objective(U), rtol=1e-12)
    assert net.width == c * problem.p


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("c", [1, 2])
def test_relu_network_equals_convex_model_on_feasible_weights(bias, c):
    X, Y = _data(c=c, seed=4)
    problem = ReLUProblem(X, Y, sample_patterns(X, 10, seed=5, bias=bias), lam=0.05)
    W = _feasible_relu_weights(problem)
    assert problem.cone_violation(W) <= 1e-12
    net = network_from_weights(problem, W)
    assert isinstance(net, ReLUNetwork)
    np.testing.assert_allclose(net.predict(X), problem.predict(W), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.objective(X, Y, 0.05), problem.objective(W), rtol=1e-12)
    # each nonzero group became exactly one neuron; zero groups were pruned
    assert net.width == int((np.linalg.norm(W, axis=-2) > 0).sum())
    # block-diagonal second layer: each neuron feeds one output
    assert np.all((net.W2 != 0).sum(axis=1) == 1)


def test_infeasible_relu_weights_do_not_map_exactly():
    X, Y = _data(seed=6)
    problem = ReLUProblem(X, Y, sample_patterns(X, 10, seed=7), lam=0.05)
    W = np.random.default_rng(8).standard_normal(problem.weights_shape)
    assert problem.cone_violation(W) > 0
    net = network_from_weights(problem, W)
    assert not np.allclose(net.predict(X), problem.predict(W))


def test_prune_tol_drops_small_groups():
    X, Y = _data(seed=9)
    problem = GatedReLUProblem(X, Y, sample_patterns(X, 10, seed=1), lam=0.1)
    U = np.random.default_rng(0).standard_normal(problem.weights_shape)
    U[..., :3] *= 1e-12
    assert network_from_weights(problem, U, prune_tol=1e-9).width == problem.p - 3
    assert network_from_weights(problem, U).width == problem.p


def test_network_validates_inputs():
    with pytest.raises(ValueError, match="W1"):
        ReLUNetwork(np.ones((3, 2)), np.ones((3, 1)))
    net = ReLUNetwork(np.ones((3, 2)), np.ones((2, 1)), bias=True)
    with pytest.raises(ValueError, match="features"):
        net.predict(np.ones((4, 3)))
    with pytest.raises(ValueError, match="lam"):
        net.objective(np.ones((4, 2)), np.ones(4), -1.0)


def _train_relu_gd(X, Y, lam, width, seed, steps=4000, lr=0.2):
    """Plain full-batch gradient descent on the non-convex objective (bias column in X)."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    s = Y.size
    W1 = rng.standard_normal((d, width)) / np.sqrt(d)
    W2 = rng.standard_normal((width, Y.shape[1])) / np.sqrt(width)
    for _ in range(steps):
        Z = X @ W1
        H = np.maximum(Z, 0.0)
        R = (H @ W2 - Y) / s
        g2 = H.T @ R + lam * W2
        g1 = X.T @ ((R @ W2.T) * (Z > 0)) + lam * W1
        W1 -= lr * g1
        W2 -= lr * g2
    return W1, W2


def test_certified_network_is_a_global_optimum():
    """With all patterns, the mapped network attains the C-ReLU optimum and GD never beats it."""
    from convex_relu.cvx import cleanup_solution, solve_exact
    from convex_relu.networks import network_from_solution

    X, y = _data(n=10, d=2, seed=11)
    lam = 0.02
    problem = ReLUProblem(X, y, enumerate_patterns(X, bias=True), lam=lam)
    sol = cleanup_solution(solve_exact(problem))
    net = network_from_solution(sol)
    p_star = sol.objective
    assert net.objective(X, y, lam) == pytest.approx(p_star, rel=1e-6)
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    for seed in range(5):
        W1, W2 = _train_relu_gd(Xt, y[:, None], lam, net.width, seed)
        nc = ReLUNetwork(W1, W2, bias=True).objective(X, y, lam)
        assert nc >= p_star * (1 - 1e-6)


@pytest.mark.parametrize("name", ["neuron_group", "feature_group", "l1", "l2", "group_elastic_net"])
def test_network_mapping_under_any_penalty(name):
    # predictions: the network realises the convex model for every penalty (checked against
    # an explicit loop over neurons); objective: the network's weight decay equals the convex
    # objective only when network_equivalent (the neuron group)
    from convex_relu import make_problem
    from convex_relu.cvx import solve_exact

    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    y = np.maximum(X @ np.array([1.0, -1.0]), 0) + 0.1 * rng.standard_normal(12)
    prob = make_problem(X, y, formulation="relu", lam=0.05, bias=True, penalty=name)
    W = solve_exact(prob, tol=1e-10).certificate.weights
    net = network_from_weights(prob, W)
    Xt = prob.X_tilde
    loop = np.zeros(prob.n)
    for sgn, part in ((1.0, W[0, 0]), (-1.0, W[1, 0])):
        for i in range(prob.p):
            loop += sgn * np.maximum(Xt @ part[:, i], 0.0)
    np.testing.assert_allclose(np.ravel(net.predict(X)), loop, rtol=1e-7, atol=1e-9)
    net_obj = net.objective(X, y, prob.lam, "squared")
    if prob.penalty.network_equivalent:
        assert abs(net_obj - prob.objective(W)) <= 1e-7 * abs(prob.objective(W))
    else:
        assert abs(net_obj - prob.objective(W)) > 1e-6 * abs(prob.objective(W))
