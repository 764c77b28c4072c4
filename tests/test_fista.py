"""R-FISTA for C-GReLU against independent references.

The reference optimum is a CVXPY program written here group by group (a loop, unlike
the vectorised one of ``convex_relu.cvx``) and solved by Clarabel.
"""

import warnings

import cvxpy as cp
import numpy as np
from conftest import planted_problem
import pytest

from convex_relu import ConvergenceWarning
from convex_relu.certificates import certify
from convex_relu.fista import group_soft_threshold, solve_rfista
from convex_relu.solution import SolverWarning


def _problem(loss="squared", bias=True, c=1, n=40, d=3, gates=12, lam=0.02, seed=0):
    return planted_problem("gated_relu", loss=loss, bias=bias, c=c, n=n, d=d, gates=gates, lam=lam,
                           seed=seed)


def _reference_optimum(prob):
    """min ℓ(Σ_i D_iX̃u_{k,i}) + λ Σ‖u_{k,i}‖ written group by group (Clarabel)."""
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    U = [[cp.Variable(d) for _ in range(p)] for _ in range(c)]
    preds = [sum(cp.multiply(prob.masks[:, i], prob.X_tilde @ U[k][i]) for i in range(p))
             for k in range(c)]
    s = n * c
    if prob.loss == "squared":
        loss = sum(cp.sum_squares(preds[k] - prob.Y[:, k]) for k in range(c)) / (2 * s)
    else:
        loss = sum(cp.sum(cp.logistic(-cp.multiply(prob.Y[:, k], preds[k]))) for k in range(c)) / s
    reg = prob.lam * sum(cp.norm(U[k][i], 2) for k in range(c) for i in range(p))
    problem = cp.Problem(cp.Minimize(loss + reg))
    with warnings.catch_warnings():
        # Clarabel may call 1e-10 "almost solved"; the comparisons below allow 1e-6
        warnings.simplefilter("ignore", UserWarning)
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert problem.status in ("optimal", "optimal_inaccurate")
    return problem.value


# ---------------------------------------------------------------------------- prox


def test_group_soft_threshold_matches_cvxpy_prox():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4, 6)) * np.array([0.1, 0.5, 1.0, 2.0, 3.0, 0.0])
    t = 0.8
    want = np.empty_like(Z)
    for j in range(Z.shape[1]):
        u = cp.Variable(4)
        cp.Problem(cp.Minimize(t * cp.norm(u, 2) + 0.5 * cp.sum_squares(u - Z[:, j]))).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        want[:, j] = u.value
    np.testing.assert_allclose(group_soft_threshold(Z, t), want, atol=1e-7)


def test_group_soft_threshold_closed_form_properties():
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((2, 3, 5))  # groups along axis -2, leading batch axis
    t = 1.3
    P = group_soft_threshold(Z, t)
    norms = np.linalg.norm(Z, axis=-2)
    for b in range(2):
        for j in range(5):
            if norms[b, j] <= t:
                assert np.all(P[b, :, j] == 0)
            else:
                # same direction, norm shrunk by exactly t
                np.testing.assert_allclose(P[b, :, j], Z[b, :, j] * (1 - t / norms[b, j]))
                assert np.linalg.norm(P[b, :, j]) == pytest.approx(norms[b, j] - t)


# ------------------------------------------------------------------ optimality


@pytest.mark.parametrize(
    "loss, bias, c, working_set",
    [
        ("squared", True, 1, True),
        ("squared", False, 2, True),
        ("squared", True, 1, False),
        ("logistic", True, 1, True),
        ("logistic", True, 2, False),
    ],
)
def test_rfista_matches_reference_optimum(loss, bias, c, working_set):
    prob = _problem(loss=loss, bias=bias, c=c)
    ref = _reference_optimum(prob)
    sol = solve_rfista(prob, tol=1e-7, working_set=working_set)
    assert sol.converged and sol.status == "optimal"
    # certificate at exit, recomputed independently of the solver's bookkeeping
    cert = certify(prob, sol.weights)
    assert cert.relative_gap <= 1e-7
    assert sol.certificate.relative_gap <= 1e-7
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    # the dual bound is a lower bound on the reference optimum (up to its accuracy)
    assert cert.dual <= ref + 1e-8 * abs(ref)
    # history at the certified checks
    h = sol.history
    assert len(h["iteration"]) == len(h["gap"]) == len(h["objective"]) == len(h["time"])
    assert h["iteration"][-1] == sol.n_iter
    assert np.all(np.diff(h["iteration"]) >= 0)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_phase_and_plain_rfista_reach_the_same_optimum(loss):
    prob = _problem(loss=loss, n=80, d=3, gates=25, lam=0.01, seed=7)
    ref = _reference_optimum(prob)
    with_newton = solve_rfista(prob, tol=1e-8, newton=True)
    plain = solve_rfista(prob, tol=1e-8, newton=False)
    assert with_newton.info["newton_solves"] >= 1
    assert plain.info["newton_solves"] == 0
    for sol in (with_newton, plain):
        assert sol.converged
        assert certify(prob, sol.weights).relative_gap <= 1e-8
        assert sol.objective == pytest.approx(ref, rel=1e-7)
    # Newton on the settled support ends well below the tolerance in fewer iterations
    assert with_newton.n_iter < plain.n_iter


def test_rfista_default_tolerance_certified():
    prob = _problem(n=60, d=4, gates=30, lam=0.01, seed=3)
    sol = solve_rfista(prob)
    assert sol.converged
    assert certify(prob, sol.weights).relative_gap <= 1e-6


def test_zero_is_optimal_above_lam_max():
    prob = _problem()
    big = prob.with_lam(1.01 * prob.lam_max())
    sol = solve_rfista(big)
    assert sol.converged and sol.n_iter == 0
    assert np.all(sol.weights == 0)


# --------------------------------------------------------------- line search


def test_backtracking_never_accepts_a_step_violating_the_descent_inequality():
    prob = _problem(n=50, d=3, gates=20, lam=0.005, seed=5)
    A = np.hstack([prob.masks[:, [i]] * prob.X_tilde for i in range(prob.p)])
    s = prob.s

    def f_and_grad(U_cols):
        # independent: explicit matrix, vec order pattern-major
        r = A @ U_cols.T.reshape(-1) - prob.Y[:, 0]
        return r @ r / (2 * s), (A.T @ r / s).reshape(prob.p, prob.d).T

    seen = []

    def monitor(info):
        f_v, g_v = f_and_grad(info["v"])
        f_x, _ = f_and_grad(info["x"])
        step = info["x"] - info["v"]
        bound = f_v + np.vdot(g_v, step) + np.vdot(step, step) / (2 * info["step"])
        seen.append(f_x - bound)

    sol = solve_rfista(prob, tol=1e-8, working_set=False, monitor=monitor)
    assert sol.converged
    assert len(seen) == sol.n_iter
    # the accepted steps satisfy the inequality up to round-off of f
    assert max(seen) <= 1e-13
    assert sol.info["n_backtracks"] >= 1  # the test did exercise backtracking


# ------------------------------------------------------- warm start / limits


def test_warm_start_from_the_optimum_stops_at_once():
    prob = _problem()
    first = solve_rfista(prob, tol=1e-9)
    assert first.n_iter > 10
    again = solve_rfista(prob, tol=1e-8, warm_start=first.weights, check_every=10)
    assert again.converged
    assert again.n_iter <= 10
    also = solve_rfista(prob, tol=1e-8, warm_start=first)  # a Solution works too
    assert also.n_iter <= 10


def test_max_iter_warns_and_marks_not_converged():
    prob = _problem(lam=1e-3)
    with pytest.warns(ConvergenceWarning):
        sol = solve_rfista(prob, tol=1e-12, max_iter=5)
    assert not sol.converged
    assert sol.status == "max_iter"
    assert sol.n_iter <= 5 + 10
    # the reported certificate is that of the returned weights
    assert sol.certificate.gap == pytest.approx(certify(prob, sol.weights).gap, rel=1e-9)


def test_float32_reaches_moderate_tolerance():
    prob = _problem(n=80, d=4, gates=20, lam=0.02, seed=7)
    sol = solve_rfista(prob, tol=1e-4, dtype=np.float32)
    assert sol.converged
    assert sol.info["dtype"] == "float32"
    assert certify(prob, sol.weights).relative_gap <= 1e-4


def test_float32_stops_with_an_honest_status():
    prob = _problem(lam=1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve_rfista(prob, tol=1e-12, dtype=np.float32, max_iter=50_000)
    assert not sol.converged
    assert sol.status == "precision_limit"
    assert sol.n_iter < 50_000  # stopped on stagnation, not at max_iter
    assert any(issubclass(w.category, SolverWarning) for w in caught)
    # the gap reported is our float64 certificate of the returned weights, above tol
    cert = certify(prob, sol.weights)
    assert sol.certificate.gap == pytest.approx(cert.gap, rel=1e-9)
    assert cert.relative_gap > 1e-12


def test_verbose_prints_progress(capsys):
    prob = _problem()
    solve_rfista(prob, tol=1e-6, verbose=True)
    out = capsys.readouterr().out
    assert "[rfista]" in out and "rel. gap" in out
    assert len(out.splitlines()) < 50  # one line per certified check, not per iteration


# ------------------------------------------------------------------ validation


def test_rfista_rejects_bad_input():
    prob = _problem()
    with pytest.raises(ValueError, match="GatedReLUProblem"):
        solve_rfista(prob.relu_problem())
    with pytest.raises(ValueError, match="tol"):
        solve_rfista(prob, tol=0.0)
    with pytest.raises(ValueError, match="dtype"):
        solve_rfista(prob, dtype=np.int32)
    with pytest.raises(ValueError, match="max_iter"):
        solve_rfista(prob, max_iter=0)
    with pytest.raises(ValueError, match="warm_start"):
        solve_rfista(prob, warm_start=np.zeros((1, 2, 3)))


def test_mixed_precision_finishes_in_float64_and_certifies():
    prob = _problem(n=80, d=4, gates=20, lam=0.01, seed=8)
    sol = solve_rfista(prob, tol=1e-7, dtype="mixed")
    assert sol.converged and sol.info["dtype"] == "mixed"
    assert certify(prob, sol.weights).relative_gap <= 1e-7


# -- float32 input X: float32 iterations, float64 certificate ------------------


def _float32_problem(formulation="gated_relu"):
    from convex_relu.problems import make_problem

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4)).astype(np.float32)
    y = (np.maximum(X @ rng.standard_normal(4), 0) + 0.1 * rng.standard_normal(80)).astype(np.float32)
    return make_problem(X, y, formulation=formulation, lam=0.01, bias=True, n_gates=15, seed=0)


def test_float32_input_iterates_in_float32_and_is_certified_in_float64():
    prob = _float32_problem()
    assert prob.dtype == np.float32
    assert prob.X.dtype == np.float64 and prob.X_tilde.dtype == np.float64  # the data
    sol = solve_rfista(prob, tol=1e-4)  # no dtype: the problem's
    assert sol.info["dtype"] == "float32"
    cert = certify(prob, sol.weights)  # float64, independent of the run
    assert sol.weights.dtype == np.float64
    assert sol.relative_gap == pytest.approx(cert.relative_gap, rel=1e-12)
    assert sol.converged == (cert.relative_gap <= 1e-4)
    assert sol.converged
    # an explicit dtype wins
    assert solve_rfista(prob, tol=1e-4, dtype=np.float64).info["dtype"] == "float64"


def test_float32_input_beyond_float32_precision_is_flagged():
    prob = _float32_problem()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve_rfista(prob, tol=1e-12, max_iter=30_000)
    assert sol.info["dtype"] == "float32"
    cert = certify(prob, sol.weights)
    assert not sol.converged and sol.status != "optimal"
    assert cert.relative_gap > 1e-12
    assert any(issubclass(w.category, SolverWarning) for w in caught)


def test_float32_input_al_iterates_in_float32():
    from convex_relu.augmented_lagrangian import solve_al

    prob = _float32_problem("relu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_al(prob, tol=1e-4)
    assert sol.info["dtype"] == "float32"
    cert = certify(prob, sol.raw_weights)
    assert sol.converged == (cert.relative_gap <= 1e-4 and
                             sol.info["relative_violation"] <= 1e-6)


# ------------------------------------------------- Newton-CG finish and auto "mixed"


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_newton_cg_finish_through_the_factors_reaches_the_reference(monkeypatch, loss):
    from convex_relu import fista

    # every support counts as too large for the explicit matrices: the factored
    # Newton-CG finish must run and land on the independent optimum
    monkeypatch.setattr(fista, "_NEWTON_MAX_VARS", 1)
    prob = _problem(loss=loss, n=60, gates=15, lam=0.005, seed=3)
    sol = solve_rfista(prob, tol=1e-8)
    assert sol.converged
    assert sol.info["newton_cg_products"] > 0
    assert certify(prob, sol.weights).relative_gap <= 1e-8
    assert sol.objective == pytest.approx(_reference_optimum(prob), rel=1e-6)


def test_large_float64_problems_default_to_mixed_and_certify(monkeypatch):
    from convex_relu import fista

    prob = _problem(n=60, gates=15, lam=0.005, seed=4)
    monkeypatch.setattr(fista, "_AUTO_MIXED_SIZE", 1)
    sol = solve_rfista(prob, tol=1e-7)
    assert sol.info["dtype"] == "mixed"
    assert sol.converged and certify(prob, sol.weights).relative_gap <= 1e-7
    assert sol.objective == pytest.approx(_reference_optimum(prob), rel=1e-6)
    # an explicit dtype is obeyed
    assert solve_rfista(prob, tol=1e-7, dtype=np.float64).info["dtype"] == "float64"
