"""The augmented Lagrangian for C-ReLU against independent references.

The reference optimum is a CVXPY program written here group by group (a loop of
``v_{k,i}``, ``w_{k,i}`` with their cone constraints) and solved by Clarabel.
"""

import warnings

import cvxpy as cp
import numpy as np
from conftest import planted_problem
import pytest

from convex_relu import ConvergenceWarning
from convex_relu.augmented_lagrangian import ALSmooth, _ConeProx, solve_al
from convex_relu.certificates import certify
from convex_relu.fista import fista_kernel


def _problem(loss="squared", bias=True, c=1, n=30, d=3, gates=10, lam=0.02, seed=0):
    return planted_problem("relu", loss=loss, bias=bias, c=c, n=n, d=d, gates=gates, lam=lam,
                           seed=seed)


def _reference_optimum(prob):
    """C-ReLU written group by group with explicit cone constraints (Clarabel)."""
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    V = [[cp.Variable(d) for _ in range(p)] for _ in range(c)]
    W = [[cp.Variable(d) for _ in range(p)] for _ in range(c)]
    cons = []
    for k in range(c):
        for i in range(p):
            Ai = (2 * prob.masks[:, i] - 1)[:, None] * prob.X_tilde
            cons += [Ai @ V[k][i] >= 0, Ai @ W[k][i] >= 0]
    preds = [sum(cp.multiply(prob.masks[:, i], prob.X_tilde @ (V[k][i] - W[k][i]))
                 for i in range(p)) for k in range(c)]
    s = n * c
    if prob.loss == "squared":
        loss = sum(cp.sum_squares(preds[k] - prob.Y[:, k]) for k in range(c)) / (2 * s)
    else:
        loss = sum(cp.sum(cp.logistic(-cp.multiply(prob.Y[:, k], preds[k]))) for k in range(c)) / s
    reg = prob.lam * sum(cp.norm(V[k][i], 2) + cp.norm(W[k][i], 2)
                         for k in range(c) for i in range(p))
    problem = cp.Problem(cp.Minimize(loss + reg), cons)
    with warnings.catch_warnings():
        # Clarabel may call 1e-10 "almost solved"; the comparisons below allow 1e-6
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status in ("optimal", "optimal_inaccurate")
    return problem.value


@pytest.mark.parametrize(
    "loss, bias, c",
    [("squared", True, 1), ("squared", False, 2), ("logistic", True, 1), ("logistic", True, 2)],
)
def test_al_matches_reference_optimum_and_is_feasible(loss, bias, c):
    prob = _problem(loss=loss, bias=bias, c=c)
    ref = _reference_optimum(prob)
    sol = solve_al(prob, tol=1e-7)
    assert sol.converged and sol.status == "optimal"
    cert = certify(prob, sol.weights)  # repairs if needed, independently of the solver
    assert cert.relative_gap <= 1e-7
    assert sol.certificate.relative_gap <= 1e-7
    assert cert.primal == pytest.approx(ref, rel=1e-6)
    assert cert.dual <= ref + 1e-8 * abs(ref)
    # feasible after repair (up to round-off), and nearly feasible as returned
    scale = np.linalg.norm(prob.X_tilde, axis=1).max() * np.linalg.norm(sol.weights, axis=-2).max()
    assert cert.residual_violation <= 1e-12 * scale
    assert sol.info["violation"] <= 1e-6
    assert prob.cone_violation(sol.weights) <= 1e-6 * scale
    # multipliers of the cone constraints
    assert sol.duals.shape == (2, prob.n, prob.c, prob.p)
    assert np.all(sol.duals >= 0)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_face_newton_and_face_rfista_reach_the_same_feasible_optimum(loss):
    prob = _problem(loss=loss, n=60, d=3, gates=20, lam=0.01, seed=4)
    ref = _reference_optimum(prob)
    with_newton = solve_al(prob, tol=1e-8, newton=True)
    without = solve_al(prob, tol=1e-8, newton=False)
    assert with_newton.info["face_newton_solves"] >= 1
    assert without.info["face_newton_solves"] == 0
    for sol in (with_newton, without):
        assert sol.converged
        cert = certify(prob, sol.weights)
        assert cert.relative_gap <= 1e-8
        assert prob.cone_violation(sol.weights) <= 1e-10
        assert sol.objective == pytest.approx(ref, rel=1e-7)


def test_plain_al_without_face_solve_converges_on_a_tiny_problem():
    prob = _problem(n=20, d=2, gates=6, lam=0.05, seed=2)
    ref = _reference_optimum(prob)
    sol = solve_al(prob, tol=1e-4, constraint_tol=1e-5, polish=False, max_iter=30_000)
    assert sol.converged
    assert sol.info["phase"] == "al"
    cert = certify(prob, sol.weights)
    assert cert.relative_gap <= 1e-4
    assert cert.primal == pytest.approx(ref, rel=1e-4)


# ------------------------------------------------------- penalties that are not radial


def _loop_optimum_l1_fg(prob, pen):
    """C-ReLU with ``l1`` / ``feature_group`` written group by group (Clarabel)."""
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    B = [[[cp.Variable(d) for _ in range(p)] for _ in range(c)] for _ in range(2)]
    cons = [cp.multiply(2 * prob.masks[:, i] - 1, prob.X_tilde @ B[b][k][i]) >= 0
            for b in range(2) for k in range(c) for i in range(p)]
    preds = [sum(cp.multiply(prob.masks[:, i], prob.X_tilde @ (B[0][k][i] - B[1][k][i]))
                 for i in range(p)) for k in range(c)]
    s = n * c
    if prob.loss == "squared":
        loss = sum(cp.sum_squares(preds[k] - prob.Y[:, k]) for k in range(c)) / (2 * s)
    else:
        loss = sum(cp.sum(cp.logistic(-cp.multiply(prob.Y[:, k], preds[k]))) for k in range(c)) / s
    if pen == "l1":
        reg = sum(cp.norm(B[b][k][i], 1) for b in range(2) for k in range(c) for i in range(p))
    else:  # feature j of block b across all outputs and patterns
        reg = sum(cp.norm(cp.hstack([B[b][k][i][j] for k in range(c) for i in range(p)]), 2)
                  for b in range(2) for j in range(d))
    problem = cp.Problem(cp.Minimize(loss + prob.lam * reg), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return problem.value


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("pen", ["l1", "feature_group"])
def test_plain_variant_reaches_the_loop_optimum_certified(pen, loss):
    """l1 / feature_group (not radial): the AL then the splitting finish, judged by certify."""
    from convex_relu.al_penalized import al_variant

    prob = _problem(loss=loss, n=25, d=2, gates=6, lam=0.03, seed=13).with_penalty(pen)
    assert al_variant(prob.penalty) == "plain"
    ref = _loop_optimum_l1_fg(prob, pen)
    sol = solve_al(prob, tol=1e-7)
    assert sol.converged and sol.info["phase"] == "split", (sol.status, sol.relative_gap)
    assert sol.info["violation"] <= 1e-6
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    # one truth: the returned multipliers re-certify the returned weights at tol
    again = certify(prob, sol.weights, multipliers=sol.duals)
    assert again.relative_gap <= 1e-7
    assert np.all(sol.duals >= 0)
    assert again.dual <= ref + 1e-9 * abs(ref)


def test_plain_variant_status_follows_the_certificate_at_a_small_budget():
    prob = _problem(n=25, d=2, gates=6, lam=0.01, seed=14).with_penalty("l1")
    with pytest.warns(ConvergenceWarning):
        sol = solve_al(prob, tol=1e-10, max_iter=100)
    assert not sol.converged and sol.status == "max_iter"
    # the better of the AL multipliers and certify's own: both recomputed here
    gap = min(certify(prob, sol.weights, multipliers=sol.duals).gap, certify(prob, sol.weights).gap)
    assert sol.certificate.gap == pytest.approx(gap, rel=1e-6)
    assert sol.certificate.relative_gap > 1e-10


@pytest.mark.parametrize("pen", ["l1", "feature_group"])
def test_plain_subproblem_dual_bound_is_a_lower_bound(pen):
    prob = _problem(n=20, d=2, gates=5, seed=9).with_penalty(pen)
    rng = np.random.default_rng(10)
    Lam = np.abs(rng.standard_normal((prob.n, 2, 1, prob.p))) * 0.05
    sm = ALSmooth(prob, prob.X_tilde, prob.masks, prob.signs, Lam, 2.0)
    x0 = np.zeros((prob.d, 2 * prob.p))
    layout = (2, 1, prob.p)
    res = fista_kernel(sm, prob.lam, x0, step=1e-2, max_iter=20_000, gap_target=1e-12,
                       prox=lambda Z, t: prob.penalty.prox_columns(Z, t, layout),
                       penalty_value=lambda Z: prob.penalty.value_columns(Z, layout))
    opt = res.f + res.reg
    assert res.status == "converged"
    for _ in range(5):
        z = rng.standard_normal(x0.shape)
        assert sm.dual_bound(sm.gradient(sm.forward(z))) <= opt + 1e-12


def test_warm_start_from_the_optimum_is_cheap():
    prob = _problem(seed=4)
    first = solve_al(prob, tol=1e-7)
    again = solve_al(prob, tol=1e-6, warm_start=first)
    assert again.converged
    assert again.n_iter <= first.n_iter


def test_max_iter_warns_and_marks_not_converged():
    prob = _problem(lam=0.005)
    with pytest.warns(ConvergenceWarning):
        sol = solve_al(prob, tol=1e-10, max_iter=20)
    assert not sol.converged and sol.status == "max_iter"
    assert sol.certificate.gap == pytest.approx(certify(prob, sol.weights).gap, rel=1e-9)


def test_float32_al_is_honest():
    prob = _problem(seed=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_al(prob, tol=1e-6, dtype=np.float32, max_iter=20_000)
    cert = certify(prob, sol.weights)
    # converged means certified in float64; otherwise the status says why
    assert sol.converged == (sol.status == "optimal")
    if sol.converged:
        assert cert.relative_gap <= 1e-6
    else:
        assert sol.status in ("precision_limit", "max_iter")


# ------------------------------------------------------------------ building blocks


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_al_smooth_gradient_matches_finite_differences(loss):
    prob = _problem(loss=loss, c=2, n=20, d=2, gates=5, seed=7)
    rng = np.random.default_rng(8)
    c, p = prob.c, prob.p
    Lam = np.abs(rng.standard_normal((prob.n, 2, c, p))) * 0.1
    sm = ALSmooth(prob, prob.X_tilde, prob.masks, prob.signs, Lam, 3.0)
    x = rng.standard_normal((prob.d, 2 * c * p))
    G = sm.gradient(sm.forward(x))
    for _ in range(3):
        e = rng.standard_normal(x.shape)
        h = 1e-6
        fd = (sm.value(sm.forward(x + h * e)) - sm.value(sm.forward(x - h * e))) / (2 * h)
        assert np.vdot(G, e) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_al_subproblem_dual_bound_is_a_lower_bound():
    prob = _problem(n=20, d=2, gates=5, seed=9)
    rng = np.random.default_rng(10)
    Lam = np.abs(rng.standard_normal((prob.n, 2, 1, prob.p))) * 0.05
    sm = ALSmooth(prob, prob.X_tilde, prob.masks, prob.signs, Lam, 2.0)
    x0 = np.zeros((prob.d, 2 * prob.p))
    res = fista_kernel(sm, prob.lam, x0, step=1e-2, max_iter=20_000, gap_target=1e-12)
    opt = res.f + res.reg
    assert res.status == "converged"
    for _ in range(5):
        z = rng.standard_normal(x0.shape)
        assert sm.dual_bound(sm.gradient(sm.forward(z))) <= opt + 1e-12


def test_cone_prox_projection_matches_cvxpy():
    prob = _problem(n=25, d=3, gates=8, seed=11)
    rng = np.random.default_rng(12)
    m = prob.p
    pat = np.arange(m)
    prox = _ConeProx(prob.X_tilde, prob.patterns.masks, prob.signs[:, pat], pat,
                     np.zeros((prob.n, m), dtype=bool))
    for trial in range(2):  # cold, then warm-started from the previous passive sets
        Z = rng.standard_normal((prob.d, m))
        U = prox.project(Z)
        for j in range(m):
            u = cp.Variable(prob.d)
            Ai = prob.signs[:, j][:, None] * prob.X_tilde
            cp.Problem(cp.Minimize(cp.sum_squares(u - Z[:, j])), [Ai @ u >= 0]).solve(
                solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
            np.testing.assert_allclose(U[:, j], u.value, atol=1e-6)
            assert np.min(Ai @ U[:, j]) >= -1e-10 * np.linalg.norm(Z[:, j])
    # the prox of t‖·‖ + ι_K shrinks the projection
    Z = rng.standard_normal((prob.d, m))
    t = 0.3
    X, norms = prox(Z.copy(), t)
    P = prox.project(Z)
    pn = np.linalg.norm(P, axis=0)
    want = P * np.where(pn > t, 1 - t / np.where(pn > 0, pn, 1), 0.0)
    np.testing.assert_allclose(X, want, atol=1e-12)
    np.testing.assert_allclose(norms, np.linalg.norm(want, axis=0), atol=1e-12)


def test_al_rejects_bad_input():
    prob = _problem()
    with pytest.raises(ValueError, match="ReLUProblem"):
        solve_al(prob.gated_problem())
    with pytest.raises(ValueError, match="constraint_tol"):
        solve_al(prob, constraint_tol=-1)
    with pytest.raises(ValueError, match="window"):
        solve_al(prob, window=(1.0, 0.5))
    with pytest.raises(ValueError, match="delta"):
        solve_al(prob, delta=0.0)
