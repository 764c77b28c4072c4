"""The cross-check passes on agreeing solvers and fails, naming the line, on wrong ones."""

import dataclasses
import json

import numpy as np
import pytest

from convex_relu.crosscheck import crosscheck
from convex_relu.cvx import solve_exact
from convex_relu.problems import make_problem
from convex_relu.solution import ConvergenceWarning, Solution


def _diabetes(n_rows, cols):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X[:n_rows, cols]
    X = (X - X.mean(0)) / X.std(0)
    y = y[:n_rows]
    return X, (y - y.mean()) / y.std()


@pytest.fixture(scope="module")
def gated():
    X, y = _diabetes(60, [2, 8, 3])
    gp = make_problem(X, y, formulation="gated_relu", lam=0.01, bias=True, n_gates=50, seed=0)
    return gp, solve_exact(gp, solver="clarabel")


@pytest.fixture(scope="module")
def relu():
    X, y = _diabetes(30, [2, 8])
    rp = make_problem(X, y, formulation="relu", lam=0.05, bias=True, n_gates=15, seed=0)
    return rp, solve_exact(rp, solver="clarabel")


@pytest.fixture(scope="module")
def gated_report(gated):
    gp, exact = gated
    return crosscheck(gp, exact=exact)


def _failed(report):
    return {c.name for c in report.failed_lines}


def loop_predictions(problem, U):
    out = np.zeros((problem.n, problem.c))
    for k in range(problem.c):
        for i in range(problem.p):
            out[:, k] += problem.masks[:, i] * (problem.X_tilde @ U[k, :, i])
    return out


# ---------------------------------------------------------------------------
# agreeing solvers
# ---------------------------------------------------------------------------


def test_agreeing_gated_solvers_pass(gated, gated_report):
    gp, exact = gated
    rep = gated_report
    assert rep.passed, str(rep)
    assert rep.exact is exact
    required = [c for c in rep.lines if c.passed is not None]
    assert all(c.passed for c in required)
    names = {c.name for c in rep.lines}
    assert {"objective agreement", "certificates consistent", "dual points agree",
            "predictions agree", "inactive groups (gap-safe)", "weights distance",
            "active groups differ", "fast: relative gap", "exact: relative gap"} <= names
    assert any(n.startswith("bound: ") for n in names) and rep.bound is not None
    # the prediction line measures what an explicit loop measures
    pf, pe = loop_predictions(gp, rep.fast.weights), loop_predictions(gp, exact.weights)
    ref = np.linalg.norm(pf - pe) / np.linalg.norm(pe)
    assert rep.line("predictions agree").value == pytest.approx(ref, rel=1e-6, abs=1e-12)
    # informational lines never decide
    assert rep.line("weights distance").passed is None
    out = rep.to_dict()
    assert json.loads(json.dumps(out))["passed"] is True
    assert "RESULT: PASS" in str(rep)


def test_agreeing_relu_solvers_pass(relu):
    rp, exact = relu
    rep = crosscheck(rp, exact=exact)
    assert rep.passed, str(rep)
    assert rep.bound is None
    assert rep.line("fast: cone violation").passed
    assert rep.line("exact: cone violation").passed
    json.dumps(rep.to_dict())


# ---------------------------------------------------------------------------
# wrong solutions are caught, and the failing line is named
# ---------------------------------------------------------------------------


def test_perturbed_weights_fail(gated, gated_report):
    gp, exact = gated
    good = gated_report.fast
    rng = np.random.default_rng(0)
    W = good.weights + 0.02 * np.abs(good.weights).max() * rng.standard_normal(good.weights.shape)
    bad = dataclasses.replace(good, weights=W, objective=gp.objective(W), certificate=None)
    rep = crosscheck(gp, fast=bad, exact=exact, bound=False)
    assert not rep.passed
    assert {"fast: relative gap", "inactive groups (gap-safe)"} <= _failed(rep)
    assert "exact: relative gap" not in _failed(rep)
    text = str(rep)
    assert "FAIL" in text and "fast: relative gap" in text.split("RESULT")[-1]


def test_wrong_lambda_fails(gated):
    from convex_relu.solvers import solve

    gp, exact = gated
    other = solve(gp.with_lam(3 * gp.lam), method="rfista")
    rep = crosscheck(gp, fast=other, exact=exact, bound=False)
    assert {"fast: same problem", "fast: objective as reported", "fast: relative gap"} <= _failed(rep)
    assert "lam" in rep.line("fast: same problem").detail


def test_truncated_solve_fails(gated):
    gp, exact = gated
    with pytest.warns(ConvergenceWarning):
        rep = crosscheck(gp, fast="rfista", exact=exact, max_iter=3, bound=False)
    assert "fast: relative gap" in _failed(rep)
    assert not rep.passed
    assert rep.to_dict()["failed"] == [c.name for c in rep.failed_lines]


def test_wrong_exact_solution_is_blamed_on_exact(relu):
    rp, exact = relu
    W = exact.weights.copy()
    W[0] *= 1.5  # scales v: predictions and objective both move
    bad = dataclasses.replace(exact, weights=W, objective=rp.objective(W), certificate=None)
    # the good solution plays the fast one, so only the exact side can be blamed
    rep = crosscheck(rp, fast=exact, exact=bad)
    assert "exact: relative gap" in _failed(rep)
    assert "fast: relative gap" not in _failed(rep)


def test_inconsistent_certificates_are_detected(monkeypatch, gated, gated_report):
    """A dual bound above another solution's primal value proves a certificate wrong."""
    import convex_relu.certificates as certificates

    gp, exact = gated
    real = certificates.certify

    def inflated(problem, weights):
        cert = real(problem, weights)
        if weights is not None and np.array_equal(weights, exact.weights):
            return dataclasses.replace(cert, dual=cert.primal + 1e-3, gap=-1e-3)
        return cert

    monkeypatch.setattr(certificates, "certify", inflated)
    rep = crosscheck(gp, fast=gated_report.fast, exact=exact, bound=False)
    assert "certificates consistent" in _failed(rep)


def test_bad_arguments(gated):
    gp, exact = gated
    with pytest.raises(ValueError, match="exact"):
        crosscheck(gp, exact="gurobi")
    with pytest.raises(ValueError, match="fast"):
        crosscheck(gp, fast=3, exact=exact)
    with pytest.raises(ValueError, match="tol"):
        crosscheck(gp, exact=exact, tol=-1.0)
    with pytest.raises(ValueError, match="problem"):
        crosscheck("problem", exact=exact)
    wrong = Solution(gp, np.zeros((1, gp.d, gp.p + 1)), 0.0, "optimal", "x", True)
    with pytest.raises(ValueError, match="shape"):
        crosscheck(gp, fast=wrong, exact=exact)


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    X, y = _diabetes(30, [2, 8])
    path = tmp_path_factory.mktemp("data") / "diabetes.csv"
    rows = ["bmi,s5,target"] + [",".join(repr(float(v)) for v in (a, b, t)) for (a, b), t in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_cli_passes_and_prints_json(csv_path, capsys):
    from convex_relu.cli import main

    rc = main(["crosscheck", csv_path, "--formulation", "gated_relu", "--n-gates", "20", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out["failed"]
    assert out["passed"] is True and out["problem"]["formulation"] == "gated_relu"
    assert "diabetes.csv" in out["data"]


def test_cli_relu_text_report(csv_path, capsys):
    from convex_relu.cli import main

    rc = main(["crosscheck", csv_path, "--n-gates", "15", "--lam", "0.05"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "RESULT: PASS" in out and "fast: cone violation" in out


def test_cli_fails_with_status_one(csv_path, capsys):
    from convex_relu.cli import main

    with pytest.warns(ConvergenceWarning):
        rc = main(["crosscheck", csv_path, "--formulation", "gated_relu", "--n-gates", "20",
                   "--max-iter", "2", "--no-bound", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert "fast: relative gap" in out["failed"]


def test_cli_expected_errors_exit_two(tmp_path, capsys):
    from convex_relu.cli import main

    rc = main(["crosscheck", str(tmp_path / "missing.csv")])
    assert rc == 2
    assert "crosscheck: error" in capsys.readouterr().err
    rc = main(["crosscheck", "--n-gates", "10", "--fast", "no-such-method"])
    assert rc == 2


def test_certify_crosscheck_flag(csv_path, capsys):
    from convex_relu.cli import main

    rc = main(["certify", csv_path, "--n-gates", "15", "--crosscheck", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert out["crosscheck"]["passed"] is True


# ---------------------------------------------------------------------------
# floors (optimum 0) and the exact reference's tolerance
# ---------------------------------------------------------------------------


def test_objective_floor_formula():
    from convex_relu.crosscheck import objective_floor

    X, y = _diabetes(30, [2, 8])
    rp = make_problem(X, y, formulation="relu", lam=0.05, bias=True, n_gates=5, seed=0)
    # ℓ(0) = ‖y‖²/(2n), computed here by hand
    assert objective_floor(rp) == pytest.approx(1e-12 * float(np.sum(y**2)) / (2 * len(y)), rel=1e-12)
    zero = make_problem(X, 0 * y, formulation="relu", lam=0.05, bias=True, n_gates=5, seed=0)
    assert objective_floor(zero) == 1e-12


def test_zero_optimum_passes_with_floors_and_fails_without():
    """y = 0: p* = 0 (the zero weights, closed form). An interior-point-like answer with
    objective ~1e-12 and round-off cone violations agrees with it; relative checks alone
    fail on its noise-sized gap, groups and violation."""
    X, _ = _diabetes(30, [2, 8])
    rp = make_problem(X, np.zeros(30), formulation="relu", lam=0.05, bias=True, n_gates=15, seed=0)
    rng = np.random.default_rng(3)
    G = rp.patterns.gates
    W = np.abs(rng.standard_normal((2, 1, 1, rp.p))) * G[None, None] + 0.3 * rng.standard_normal(rp.weights_shape)
    W *= 2e-13 / (rp.lam * float(np.linalg.norm(W, axis=-2).sum()))
    assert rp.cone_violation(W) > 0
    noisy = Solution(rp, W, rp.objective(W), "optimal", "clarabel", True)
    assert 1e-13 < noisy.objective < 1e-12
    from convex_relu.certificates import certify
    assert certify(rp, W).primal < 1e-12  # after the repair onto the cones
    rep = crosscheck(rp, exact=noisy)
    assert rep.passed, str(rep)
    assert rep.floor == 1e-12
    # the certificates bracket the known optimum 0
    assert max(rep.line("exact: relative gap").value, 0) >= 0
    strict = crosscheck(rp, fast=rep.fast, exact=noisy, floor=0.0)
    assert {"exact: relative gap", "exact: cone violation", "inactive groups (gap-safe)"} <= _failed(strict)
    assert "RESULT: PASS" in str(rep) and "CLAIM:" in str(rep)


def test_exact_tol_and_retries_arguments(relu):
    rp, _ = relu
    rep = crosscheck(rp, exact="clarabel", exact_tol=1e-4)
    assert rep.passed, str(rep)
    assert rep.line("exact: tightening").detail.startswith("solver tol 1e-04")
    with pytest.raises(ValueError, match="exact_tol"):
        crosscheck(rp, exact_tol=0.0)
    with pytest.raises(ValueError, match="exact_retries"):
        crosscheck(rp, exact_retries=-1)
    with pytest.raises(ValueError, match="floor"):
        crosscheck(rp, floor=-1.0)
    out = rep.to_dict()
    assert out["claim_level"] == rep.claim.level and out["claim"] == rep.claim.sentence


# ---------------------------------------------------------------------------------------
# penalties (issue 13)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,params", [("feature_group", None), ("l1", None), ("l2", None),
                                         ("group_elastic_net", {"alpha": 0.5})])
def test_gated_crosscheck_with_any_penalty(name, params):
    # R-FISTA supports every penalty: fast and exact agree, and the objective compared is
    # this penalty's (an independent evaluation by loops, from the README's scalings)
    X, y = _diabetes(40, [2, 8])
    gp = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=12, seed=0,
                      penalty=name, penalty_params=params)
    rep = crosscheck(gp)
    assert rep.passed, _failed(rep)
    U = np.asarray(rep.exact.weights)[0]  # (d̃, p)
    if name == "feature_group":
        R = np.linalg.norm(U, axis=1).sum()
    elif name == "l1":
        R = np.abs(U).sum()
    elif name == "l2":
        R = 0.5 * (U ** 2).sum()
    else:
        R = 0.5 * np.linalg.norm(U, axis=0).sum() + 0.25 * (U ** 2).sum()
    pred = loop_predictions(gp, rep.exact.weights)
    val = float(np.sum((pred.ravel() - gp.Y.ravel()) ** 2)) / (2 * gp.s) + gp.lam * R
    assert abs(rep.claim.primal - val) <= 1e-5 * abs(val) + max(rep.claim.gap, 0)
    assert rep.claim.level == "convex_optimum", rep.claim.sentence
    names = {c.name: c for c in rep.lines}
    assert names["inactive groups (gap-safe)"].passed is None  # not claimed for this penalty


def test_relu_crosscheck_al_supports_every_penalty():
    from convex_relu.crosscheck import fast_support

    X, y = _diabetes(25, [2, 8])
    kw = dict(formulation="relu", lam=0.05, bias=True, n_gates=8, seed=0)
    rp = make_problem(X, y, penalty="group_elastic_net", penalty_params={"alpha": 0.5}, **kw)
    assert fast_support(rp)[0]
    rep = crosscheck(rp)
    assert rep.passed, _failed(rep)
    for name in ("l1", "feature_group"):
        # not radial: the AL's plain variant (al_penalized), cross-checked like the others
        other = make_problem(X, y, penalty=name, **kw)
        ok, why = fast_support(other)
        assert ok and name in why
        rep = crosscheck(other)
        assert rep.passed, _failed(rep)
