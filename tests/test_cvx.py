"""Tests of the exact CVXPY programs (convex_relu.cvx).

The reference for every optimum is an independent CVXPY model written here with a
Python loop: one variable per (output, pattern) group, one constraint block
``(2D_i − I)X̃ v >= 0`` per pattern, predictions summed pattern by pattern.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest

from convex_relu import GatedReLUProblem, ReLUProblem, make_problem
from convex_relu.cvx import (
    CvxProgram,
    SolverFailedError,
    SolverUnavailableError,
    build_program,
    cleanup_solution,
    mosek_available,
    solve_exact,
)
from convex_relu.solution import ConvergenceWarning, Solution, SolverWarning

REF_OPTS = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=500)


def _data(n, d, c, loss, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if loss == "squared":
        y = rng.standard_normal((n, c)) + np.sin(X @ rng.standard_normal((d, c)))
    else:
        y = np.where(X @ rng.standard_normal((d, c)) + 0.3 * rng.standard_normal((n, c)) > 0, 1.0, -1.0)
    return X, (y[:, 0] if c == 1 else y)


def _problem(formulation, loss="squared", *, n=24, d=2, c=1, bias=True, lam=1e-2, n_gates=12, seed=0):
    X, y = _data(n, d, c, loss, seed)
    return make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias, n_gates=n_gates, seed=seed + 1)


def loop_reference(problem):
    """Solve the program written plainly, group by group. Returns (optimum, predictions)."""
    Xt = np.column_stack([problem.X, np.ones(problem.n)]) if problem.bias else problem.X
    M = problem.patterns.masks.astype(float)
    Y = problem.Y
    n, d = Xt.shape
    p, c = M.shape[1], Y.shape[1]
    s = n * c
    relu = isinstance(problem, ReLUProblem)
    reg = 0
    fit = 0
    constraints = []
    preds = []
    for k in range(c):
        pred_k = 0
        for i in range(p):
            D = np.diag(M[:, i])
            if relu:
                v, w = cp.Variable(d), cp.Variable(d)
                A_i = (2 * D - np.eye(n)) @ Xt
                constraints += [A_i @ v >= 0, A_i @ w >= 0]
                pred_k = pred_k + D @ Xt @ (v - w)
                reg = reg + cp.norm(v) + cp.norm(w)
            else:
                u = cp.Variable(d)
                pred_k = pred_k + D @ Xt @ u
                reg = reg + cp.norm(u)
        preds.append(pred_k)
        if problem.loss == "squared":
            fit = fit + cp.sum_squares(pred_k - Y[:, k]) / (2 * s)
        else:
            fit = fit + cp.sum(cp.logistic(-cp.multiply(Y[:, k], pred_k))) / s
    ref = cp.Problem(cp.Minimize(fit + problem.lam * reg), constraints)
    ref.solve(solver=cp.CLARABEL, **REF_OPTS)
    assert ref.status == "optimal"
    return ref.value, np.column_stack([np.asarray(pk.value) for pk in preds])


CASES = [
    ("squared", False, 1),
    ("squared", True, 2),
    ("logistic", True, 1),
    ("logistic", False, 2),
]


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss,bias,c", CASES)
def test_optimum_matches_loop_formulation(formulation, loss, bias, c):
    prob = _problem(formulation, loss, bias=bias, c=c, n=24 if c == 1 else 20, n_gates=12, seed=3)
    sol = solve_exact(prob, tol=1e-10)
    assert sol.status == "optimal" and sol.converged
    assert sol.weights.shape == prob.weights_shape
    ref_value, ref_pred = loop_reference(prob)
    # our objective is recomputed from the returned weights in the package layout
    np.testing.assert_allclose(sol.objective, ref_value, rtol=1e-6)
    np.testing.assert_allclose(sol.info["solver_objective"], ref_value, rtol=1e-6)
    if loss == "squared":
        # strictly convex in the predictions: the optimal predictions are unique, and
        # an objective error δ allows a prediction error up to sqrt(2sδ)
        np.testing.assert_allclose(sol.predict(), ref_pred, atol=1e-4)
    # the solver's dual objective (shifted by cvxpy's offset) brackets the optimum
    dual = sol.info["solver_dual_objective"]
    assert dual is not None
    np.testing.assert_allclose(dual, ref_value, rtol=1e-6)


def test_lambda_zero_same_optimum():
    # n = 40 > p·d̃ so the optimum is a strictly positive least-squares residual
    gated = _problem("gated_relu", n=40, d=2, lam=0.0, n_gates=8, seed=5)
    relu = gated.relu_problem()
    assert gated.p * gated.d < gated.n
    sg, sr = solve_exact(gated), solve_exact(relu)
    ref_value, _ = loop_reference(gated)
    assert ref_value > 1e-3
    np.testing.assert_allclose(sg.objective, ref_value, rtol=1e-6)
    np.testing.assert_allclose(sr.objective, sg.objective, rtol=1e-6)
    assert sr.info["cone_violation"] <= 1e-7 * max(1.0, np.abs(sr.weights).max())


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_gated_lower_bounds_relu(loss):
    gated = _problem("gated_relu", loss, n=30, d=2, lam=5e-3, n_gates=10, seed=7)
    sg = solve_exact(gated)
    sr = solve_exact(gated.relu_problem())
    assert sg.objective <= sr.objective + 1e-8 * abs(sr.objective)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_lam_max_gives_zero_solution(formulation):
    prob = _problem(formulation, n=30, d=3, bias=True, lam=1.0, n_gates=10, seed=11)
    lam_max = prob.lam_max()
    loss_at_zero = prob.loss_value(np.zeros_like(prob.Y))

    above = solve_exact(prob.with_lam(1.01 * lam_max))
    assert np.linalg.norm(above.weights, axis=-2).max() < 1e-6
    np.testing.assert_allclose(above.objective, loss_at_zero, rtol=1e-7)

    below = solve_exact(prob.with_lam(0.8 * lam_max))
    assert np.linalg.norm(below.weights, axis=-2).max() > 1e-3
    assert below.objective < loss_at_zero - 1e-6


def test_relu_feasible_and_duals_satisfy_kkt():
    prob = _problem("relu", n=30, d=2, bias=True, c=2, lam=2e-3, n_gates=10, seed=13)
    sol = solve_exact(prob)
    W = sol.weights
    scale = np.abs(W).max()
    assert prob.cone_violation(W) <= 1e-7 * max(1.0, scale)
    # info reports the solver's (raw) weights; ``weights`` are the certified, repaired ones
    assert sol.info["cone_violation"] == prob.cone_violation(sol.raw_weights)
    assert prob.cone_violation(W) <= prob.cone_violation(sol.raw_weights)

    G = sol.duals
    assert G.shape == (2, prob.n, prob.c, prob.p)
    assert G.min() >= -1e-8 * max(1.0, np.abs(G).max())

    # independent check of the multipliers' sign and scaling: stationarity of
    # L = ℓ(Σ D_i X̃(v_i − w_i)) + λΣ(‖v_i‖ + ‖w_i‖) − Σ γᵀ(S_i ∘ X̃v_i) − Σ ξᵀ(S_i ∘ X̃w_i)
    Xt = prob.X_tilde
    M = prob.patterns.masks.astype(float)
    S = 2 * M - 1
    resid = (sol.predict() - prob.Y) / prob.s  # ∇ℓ for the squared loss
    checked = 0
    for b, sign in ((0, 1.0), (1, -1.0)):
        for k in range(prob.c):
            for i in range(prob.p):
                u = W[b, k, :, i]
                grad_loss = sign * Xt.T @ (M[:, i] * resid[:, k])
                cone_term = Xt.T @ (S[:, i] * G[b, :, k, i])
                r = grad_loss - cone_term
                if np.linalg.norm(u) > 1e-3 * scale:
                    np.testing.assert_allclose(r + prob.lam * u / np.linalg.norm(u), 0, atol=1e-6)
                    checked += 1
                else:
                    assert np.linalg.norm(r) <= prob.lam * (1 + 1e-4)
    assert checked > 0
    # complementary slackness
    slack = prob.cone_slacks(W)
    assert abs(np.sum(G * slack)) <= 1e-6


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_scs_agrees_with_clarabel(formulation):
    prob = _problem(formulation, n=24, d=2, lam=1e-2, n_gates=10, seed=17)
    a = solve_exact(prob, "clarabel")
    b = solve_exact(prob, "SCS")
    assert b.solver == "scs" and b.status == "optimal"
    np.testing.assert_allclose(b.objective, a.objective, rtol=1e-4)
    assert b.compile_time > 0 and b.solve_time > 0 and b.n_iter > 0


def test_unknown_solver_and_case_insensitive_names():
    prob = _problem("gated_relu", n=12, n_gates=4)
    with pytest.raises(ValueError, match="clarabel"):
        solve_exact(prob, "ecos")
    with pytest.raises(ValueError, match="solver"):
        solve_exact(prob, None)
    assert solve_exact(prob, "CLARABEL").solver == "clarabel"


def test_mosek_without_licence_raises_clear_error():
    import importlib.util

    if importlib.util.find_spec("mosek") is None:
        # not installed: the error says how to install it (the test extra installs it)
        with pytest.raises(SolverUnavailableError, match="pip install"):
            solve_exact(_problem("gated_relu", n=12, n_gates=4), "mosek")
        return
    ok, msg = mosek_available()
    assert isinstance(msg, str)
    assert mosek_available() == (ok, msg)  # cached
    if ok:
        pytest.skip("a MOSEK licence is present")
    assert "MOSEKLM_LICENSE_FILE" in msg
    prob = _problem("gated_relu", n=12, n_gates=4)
    with pytest.raises(SolverUnavailableError, match="MOSEKLM_LICENSE_FILE") as exc:
        solve_exact(prob, "Mosek")
    assert "convex-relu[mosek]" in str(exc.value)
    assert isinstance(exc.value, RuntimeError)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_cleanup_zeroes_tiny_groups(formulation):
    # λ well inside (0, λ_max): a sparse optimum whose zero groups come back as ~1e-10
    prob = _problem(formulation, n=30, d=2, bias=True, lam=1.0, n_gates=14, seed=19)
    prob = prob.with_lam(0.3 * prob.lam_max())
    sol = solve_exact(prob)
    norms = np.linalg.norm(sol.weights, axis=-2)
    cut = 1e-7 * norms.max()
    expected = (norms < cut) & (norms > 0)
    assert expected.sum() > 0, "test needs a solution with inactive groups"

    clean = cleanup_solution(sol)
    report = clean.info["cleanup"]
    assert report["n_zeroed"] == expected.sum()
    new_norms = np.linalg.norm(clean.weights, axis=-2)
    assert np.all(new_norms[expected] == 0)
    keep = ~expected
    np.testing.assert_array_equal(new_norms[keep], norms[keep])
    # objective reported, recomputed and barely moved
    assert report["objective_before"] == sol.objective
    np.testing.assert_allclose(report["objective_after"], prob.objective(clean.weights), rtol=1e-14)
    assert clean.objective == report["objective_after"]
    assert abs(report["objective_change"]) <= 1e-8 * abs(sol.objective)
    # the input solution is untouched
    np.testing.assert_array_equal(np.linalg.norm(sol.weights, axis=-2), norms)
    if formulation == "relu":
        assert prob.cone_violation(clean.weights) <= prob.cone_violation(sol.weights) + 1e-15
    else:
        assert clean.certificate is not None and clean.gap <= 1e-7
    # the same through solve_exact(cleanup=...)
    again = solve_exact(prob, cleanup=True)
    assert again.info["cleanup"]["n_zeroed"] == expected.sum()


def test_iteration_limit_reports_status_and_warns():
    prob = _problem("relu", n=24, d=2, lam=1e-2, n_gates=10, seed=23)
    for solver in ("clarabel", "scs"):
        with pytest.warns(SolverWarning, match="user_limit") as rec:
            sol = solve_exact(prob, solver, max_iter=2)
        assert any(issubclass(r.category, ConvergenceWarning) for r in rec)
        assert sol.status == "user_limit" and not sol.converged
        assert sol.n_iter == 2
        assert np.all(np.isfinite(sol.weights))
        np.testing.assert_allclose(sol.objective, prob.objective(sol.weights))
    # settings do not leak into the next solve of the same model
    prog = build_program(prob)
    with pytest.warns(SolverWarning):
        solve_exact(prob, program=prog, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SolverWarning)
        assert solve_exact(prob, program=prog).status == "optimal"


def test_solver_failure_raises_clear_error():
    prob = _problem("relu", n=24, d=2, lam=1e-2, n_gates=10, seed=23)
    # a step cap of 1e-10 stalls the interior-point method: Clarabel reports no solution
    with pytest.raises(SolverFailedError, match="clarabel"):
        solve_exact(prob, solver_options={"max_step_fraction": 1e-10})


def test_parameterized_program_resolves_path():
    prob = _problem("relu", "squared", n=24, d=2, c=2, lam=1e-2, n_gates=10, seed=29)
    prog = build_program(prob, parameterized_lam=True)
    assert isinstance(prog, CvxProgram)
    assert prog.problem.is_dcp(dpp=True)
    assert len(prog.cone_constraints) == 2 and len(prog.variables) == 2
    for lam in (3e-2, 1e-3):
        p_lam = prob.with_lam(lam)
        reused = solve_exact(p_lam, program=prog)
        fresh = solve_exact(p_lam)
        assert reused.info["build_time"] == 0.0
        np.testing.assert_allclose(reused.objective, fresh.objective, rtol=1e-7)
    fixed = build_program(prob)
    with pytest.raises(ValueError, match="parameterized_lam"):
        solve_exact(prob.with_lam(0.5), program=fixed)
    other = _problem("relu", "squared", n=24, d=2, c=2, lam=1e-2, n_gates=10, seed=31)
    with pytest.raises(ValueError, match="different data"):
        solve_exact(other, program=prog)
    with pytest.raises(ValueError, match="different data"):
        solve_exact(prob.gated_problem(), program=prog)


def test_gated_solution_carries_certificate():
    prob = _problem("gated_relu", "logistic", n=24, d=2, lam=1e-2, n_gates=10, seed=37)
    sol = solve_exact(prob)
    assert sol.certificate is not None
    # the certificate scales ∇ℓ by λ/max‖(Aᵀ∇ℓ)_i‖: linear in the iterate's dual
    # infeasibility (~1e-5 relative at tol=1e-8 with exponential cones), so it is looser
    # than the true suboptimality; tighter tol shrinks it
    assert 0 <= sol.gap <= 1e-5
    tight = solve_exact(prob, tol=1e-11)
    assert 0 <= tight.gap <= 1e-7
    assert tight.certificate.dual <= sol.objective
    assert sol.certificate.dual <= sol.objective + 1e-12
    assert sol.info["solver_gap"] is not None


def test_bad_arguments():
    prob = _problem("gated_relu", n=12, n_gates=4)
    with pytest.raises(ValueError, match="problem"):
        solve_exact("not a problem")
    with pytest.raises(ValueError, match="problem"):
        build_program(object())
    with pytest.raises(ValueError, match="tol"):
        solve_exact(prob, tol=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        solve_exact(prob, max_iter=0)
    with pytest.raises(ValueError, match="cleanup"):
        solve_exact(prob, cleanup="yes")
    with pytest.raises(ValueError, match="solver_options"):
        solve_exact(prob, solver_options=[("max_iter", 3)])
    with pytest.raises(ValueError, match="warm_start"):
        solve_exact(prob, warm_start=np.zeros(prob.weights_shape))
    with pytest.raises(ValueError, match="program"):
        solve_exact(prob, program="nope")
    sol = solve_exact(prob)
    with pytest.raises(ValueError, match="threshold"):
        cleanup_solution(sol, threshold=-1.0)
    with pytest.raises(ValueError, match="solution"):
        cleanup_solution(prob)
    assert isinstance(sol, Solution)
    assert isinstance(prob, GatedReLUProblem)


def test_scs_warm_start_along_path():
    prob = _problem("gated_relu", n=24, d=2, lam=1e-2, n_gates=10, seed=41)
    prog = build_program(prob, parameterized_lam=True)
    first = solve_exact(prob, "scs", program=prog)
    second = solve_exact(prob.with_lam(1.1e-2), "scs", program=prog, warm_start=True)
    assert second.info["warm_start_used"] and not first.info["warm_start_used"]
    ref = solve_exact(prob.with_lam(1.1e-2))
    np.testing.assert_allclose(second.objective, ref.objective, rtol=1e-4)
    # Clarabel has no warm start: recorded, not an error
    assert not solve_exact(prob, program=prog, warm_start=True).info["warm_start_used"]
