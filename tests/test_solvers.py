"""The ``solve`` entry point: dispatch, ``"auto"``, errors.

The solvers themselves are tested against independent references in
``test_fista.py``, ``test_augmented_lagrangian.py`` and ``test_cvx.py``.
"""

import numpy as np
import pytest

from conftest import planted_problem

from convex_relu.certificates import certify
from convex_relu.solvers import METHODS, choose_method, estimated_seconds, solve


def _problem(formulation="gated_relu", n=30, d=3, gates=8, lam=0.02, seed=0, c=1):
    return planted_problem(formulation, c=c, n=n, d=d, gates=gates, lam=lam, seed=seed)


def test_unknown_method_lists_the_methods():
    with pytest.raises(ValueError, match="method must be one of") as info:
        solve(_problem(), "newton")
    for m in METHODS:
        assert m in str(info.value)


def test_wrong_pairings_are_rejected():
    gated, relu = _problem(), _problem("relu")
    with pytest.raises(ValueError, match="rfista"):
        solve(relu, "rfista")
    with pytest.raises(ValueError, match="'al'"):
        solve(gated, "al")


@pytest.mark.parametrize("tol", [-1.0, 0.0, float("nan"), "1e-6", True])
def test_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tol"):
        solve(_problem(), "rfista", tol=tol)


def test_problem_type_is_checked():
    with pytest.raises(ValueError, match="GatedReLUProblem or ReLUProblem"):
        solve(np.zeros((3, 3)), "rfista")


def test_method_names_are_case_insensitive():
    sol = solve(_problem(), "RFISTA")
    assert sol.solver == "rfista" and sol.converged


def _ratio_problem(formulation, loss, n, ratio, c=1, gates=50, seed=0):
    """A planted problem at λ = ratio · λ_max of its gated relaxation."""
    prob = planted_problem(formulation, loss=loss, c=c, n=n, d=10, gates=gates, lam=1.0, seed=seed)
    gated = prob if formulation == "gated_relu" else prob.gated_problem()
    return prob.with_lam(ratio * gated.lam_max())


@pytest.mark.parametrize("formulation, fast", [("gated_relu", "rfista"), ("relu", "al")])
def test_auto_sends_logistic_problems_to_the_first_order_method(formulation, fast):
    # the case of the issue: wine-sized one-vs-all logistic (n = 178, c = 3), λ = 0.01 λ_max
    prob = _ratio_problem(formulation, "logistic", n=178, ratio=0.01, c=3)
    method, reason = choose_method(prob)
    assert method == fast and "logistic" in reason
    # and also a small one, where Clarabel's estimate alone would be close
    assert choose_method(_ratio_problem(formulation, "logistic", n=30, ratio=0.01))[0] == fast


def test_auto_solves_the_wine_case_fast_and_certified():
    prob = _ratio_problem("gated_relu", "logistic", n=178, ratio=0.01, c=3)
    sol = solve(prob, "auto")
    assert sol.info["auto_choice"] == "rfista" and sol.converged
    # independent check of the certified optimum: Clarabel on the same program
    ref = solve(prob, "clarabel", tol=1e-7)
    assert abs(sol.objective - ref.objective) <= sol.gap + ref.gap + 1e-12


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_auto_picks_clarabel_for_small_squared_problems_at_small_lam(formulation):
    small = _ratio_problem(formulation, "squared", n=30, ratio=1e-4)
    assert choose_method(small)[0] == "clarabel"
    # moderate λ on a larger problem: the first-order method
    big = _ratio_problem(formulation, "squared", n=1000, ratio=0.05)
    assert choose_method(big)[0] == {"gated_relu": "rfista", "relu": "al"}[formulation]
    t_fast, t_exact = estimated_seconds(small)
    assert t_exact < t_fast


def test_exact_solutions_are_cleaned_and_the_certificate_is_kept():
    prob = _problem("relu", n=20, d=2, gates=40, lam=1e-3)
    raw = solve(prob, "clarabel", cleanup=False)
    sol = solve(prob, "clarabel")
    rec = sol.info["cleanup"]
    raw_norms = np.linalg.norm(raw.weights, axis=-2)
    assert rec["n_zeroed"] == int(((raw_norms > 0) & (raw_norms < 1e-7 * raw_norms.max())).sum())
    if rec["applied"]:
        assert sol.converged and certify(prob, sol.weights).relative_gap <= 1e-6
        assert (np.linalg.norm(sol.weights, axis=-2) > 0).sum() < (raw_norms > 0).sum()
    # a clean-up that would destroy the optimum (half of the largest group) is refused
    # unless a polish recovers a certified answer; never an uncertified one
    harsh = solve(prob, "clarabel", cleanup=0.5)
    assert harsh.converged
    assert certify(prob, harsh.weights).relative_gap <= 1e-6
    assert harsh.info["cleanup"]["applied"] in (True, False)
    if not harsh.info["cleanup"]["applied"]:
        np.testing.assert_array_equal(harsh.weights, raw.weights)


def test_cleanup_argument_is_checked():
    with pytest.raises(ValueError, match="cleanup"):
        solve(_problem(), "clarabel", cleanup=2.0)
    with pytest.raises(TypeError, match="cleanup"):
        solve(_problem(), "clarabel", cleanup="yes")


def test_auto_verbose_says_what_it_chose(capsys):
    solve(_problem(), "auto", verbose=False)
    assert capsys.readouterr().out == ""
    prob = _problem(n=2000, d=10, gates=40, lam=0.05)
    sol = solve(prob, "auto", verbose=True)
    out = capsys.readouterr().out
    assert "chose 'rfista'" in out
    assert sol.info["auto_choice"] == "rfista"


@pytest.mark.parametrize("method", ["rfista", "clarabel"])
def test_solutions_carry_a_certificate_of_their_weights(method):
    prob = _problem()
    sol = solve(prob, method, tol=1e-6)
    assert sol.converged
    cert = certify(prob, sol.weights)
    assert sol.certificate.gap == pytest.approx(cert.gap, rel=1e-6, abs=1e-12)
    assert cert.relative_gap <= 1e-6


def test_fast_and_exact_agree_for_both_formulations():
    for formulation, fast in (("gated_relu", "rfista"), ("relu", "al")):
        prob = _problem(formulation, seed=3)
        a = solve(prob, fast, tol=1e-7)
        b = solve(prob, "clarabel", tol=1e-7)
        assert a.converged and b.converged
        assert a.certificate.primal == pytest.approx(b.certificate.primal, rel=2e-6)


def test_options_and_limits_reach_the_solver():
    prob = _problem(lam=1e-3)
    with pytest.warns(Warning):
        sol = solve(prob, "rfista", tol=1e-12, max_iter=3)
    assert sol.status == "max_iter"
    sol = solve(prob, "rfista", working_set=False, check_every=5)
    assert sol.info["working_set"] is False
    with pytest.raises(TypeError):
        solve(prob, "rfista", no_such_option=1)


def test_warm_start_is_passed_to_first_order_and_noted_for_exact():
    prob = _problem()
    first = solve(prob, "rfista", tol=1e-9)
    again = solve(prob, "rfista", tol=1e-8, warm_start=first.weights)
    assert again.n_iter <= 10
    exact = solve(prob, "clarabel", warm_start=first.weights)
    assert exact.info.get("warm_start_ignored") is True


def test_float32_reaches_the_fast_solver():
    prob = _problem(n=60, gates=10)
    sol = solve(prob, "rfista", tol=1e-4, dtype=np.float32)
    assert sol.info["dtype"] == "float32" and sol.converged


# ------------------------------------------------- one-vs-all split over outputs
def _cvx_loop_optimum(prob):
    """The optimum of ``prob`` from a CVXPY loop formulation written here (one variable per group)."""
    import cvxpy as cp

    X, Y, M = prob.X_tilde, prob.Y, prob.masks
    n, d = X.shape
    c, p = prob.c, prob.p
    relu = prob.formulation == "relu"
    cons, reg, loss = [], 0, 0
    for k in range(c):
        pred = 0
        for i in range(p):
            u = cp.Variable(d)
            reg = reg + cp.norm(u, 2)
            if relu:
                w = cp.Variable(d)
                reg = reg + cp.norm(w, 2)
                S = (2 * M[:, i] - 1)[:, None] * X
                cons += [S @ u >= 0, S @ w >= 0]
                u = u - w
            pred = pred + cp.multiply(M[:, i], X @ u)
        if prob.loss == "squared":
            loss = loss + cp.sum_squares(pred - Y[:, k]) / (2 * n * c)
        else:
            loss = loss + cp.sum(cp.logistic(cp.multiply(-Y[:, k], pred))) / (n * c)
    val = cp.Problem(cp.Minimize(loss + prob.lam * reg), cons).solve(solver="CLARABEL")
    return float(val)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_split_and_joint_reach_the_cvxpy_optimum(formulation, loss):
    prob = planted_problem(formulation, loss=loss, c=3, n=30, d=2, gates=6, lam=0.01, seed=3)
    method = "rfista" if formulation == "gated_relu" else "al"
    ref = _cvx_loop_optimum(prob)
    split = solve(prob, method, tol=1e-8, split_outputs=True)
    joint = solve(prob, method, tol=1e-8, split_outputs=False)
    assert "split_outputs" in split.info and "split_outputs" not in joint.info
    assert split.info["split_outputs"]["n_outputs"] == 3
    for sol in (split, joint):
        assert sol.converged and sol.relative_gap <= 1e-8
        assert abs(sol.objective - ref) <= 1e-6 * abs(ref)
        # the joint certificate is of the returned weights on the joint problem
        assert certify(prob, sol.weights).relative_gap <= 1e-7
    # joint objective = mean over outputs of the per-output objectives (λ_k = c·λ)
    from convex_relu.split import output_problem

    ax = 1 if formulation == "relu" else 0
    parts = [output_problem(prob, k).objective(np.take(split.raw_weights, [k], axis=ax))
             for k in range(3)]
    assert np.isclose(np.mean(parts), prob.objective(split.raw_weights), rtol=1e-12)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_split_warm_start_from_the_optimum_stops_at_once(formulation):
    prob = planted_problem(formulation, c=2, n=30, d=2, gates=6, lam=0.01, seed=4)
    method = "rfista" if formulation == "gated_relu" else "al"
    first = solve(prob, method, tol=1e-7)
    assert first.converged and "split_outputs" in first.info
    again = solve(prob, method, tol=1e-7, warm_start=first)
    assert again.converged
    assert again.n_iter <= 2 * 10 and again.n_iter < first.n_iter


def test_split_max_iter_warns_and_is_not_converged():
    from convex_relu.solution import SolverWarning

    prob = planted_problem("gated_relu", loss="logistic", c=3, n=40, d=3, gates=10, lam=1e-4, seed=5)
    with pytest.warns(SolverWarning, match="certified relative gap"):
        sol = solve(prob, "rfista", tol=1e-12, max_iter=3, split_outputs=True)
    assert not sol.converged and sol.status == "max_iter"
    assert all(k <= 3 + 10 for k in sol.info["split_outputs"]["n_iter"])


def test_split_runs_in_parallel_with_the_same_answer():
    prob = planted_problem("gated_relu", c=2, n=30, d=2, gates=6, lam=0.01, seed=6)
    one = solve(prob, "rfista", tol=1e-7, n_jobs=1)
    two = solve(prob, "rfista", tol=1e-7, n_jobs=2)
    assert two.info["split_outputs"]["n_jobs"] == 2
    assert np.allclose(one.raw_weights, two.raw_weights, atol=1e-12)


def test_a_penalty_coupling_outputs_is_not_split():
    prob = planted_problem("gated_relu", c=2, n=30, d=2, gates=6, lam=0.01, seed=7)
    fg = prob.with_penalty("feature_group")
    sol = solve(fg, "rfista", tol=1e-6)
    assert "split_outputs" not in sol.info
    with pytest.raises(ValueError, match="split_outputs"):
        solve(fg, "rfista", split_outputs=True)
    with pytest.raises(TypeError, match="split_outputs"):
        solve(prob, "rfista", split_outputs="yes")
    with pytest.raises(ValueError, match="n_jobs"):
        solve(prob, "rfista", n_jobs=0)
