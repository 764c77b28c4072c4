"""The ``solve`` entry point: dispatch, ``"auto"``, errors.

The solvers themselves are tested against independent references in
``test_fista.py``, ``test_augmented_lagrangian.py`` and ``test_cvx.py``.
"""

import numpy as np
import pytest

from conftest import planted_problem

from convex_relu.certificates import certify
from convex_relu.solvers import AUTO_EXACT_SIZE, METHODS, choose_method, solve


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


@pytest.mark.parametrize("formulation, fast", [("gated_relu", "rfista"), ("relu", "al")])
def test_auto_picks_exact_for_small_and_first_order_for_large(formulation, fast):
    small = _problem(formulation)
    assert small.n * small.p * small.d <= AUTO_EXACT_SIZE[formulation]
    assert choose_method(small)[0] == "clarabel"
    sol = solve(small, "auto")
    assert sol.info["auto_choice"] == "clarabel"
    assert "auto_reason" in sol.info
    assert sol.solver.lower().startswith("clarabel")
    # a large problem (never solved here) goes to the first-order method
    big = _problem(formulation, n=5000, d=10, gates=40)
    assert big.n * big.p * big.d > AUTO_EXACT_SIZE[formulation]
    method, reason = choose_method(big)
    assert method == fast and fast in reason


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
