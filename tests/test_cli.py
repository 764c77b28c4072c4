"""The command line says only what the certificate proves, and crosscheck passes on agreeing solvers.

Runs ``convex_relu.cli.main`` in-process on tiny CSVs. Claims are checked against an
independent p* (a CVXPY loop formulation written here) and against deliberately bad
solutions and certificates injected with monkeypatch: the sentence must follow the
certificate, never the solver's word.
"""

import ast
import dataclasses
import functools
import json
import pathlib
import re

import cvxpy as cp
import numpy as np
import pytest

from convex_relu.cli import main


def _write_csv(path, X, y):
    rows = [",".join(f"c{j}" for j in range(X.shape[1])) + ",target"]
    rows += [",".join(repr(float(v)) for v in (*x, t)) for x, t in zip(X, y)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def _run(capsys, argv):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _json(capsys, argv):
    rc, out, err = _run(capsys, argv)
    return rc, json.loads(out), err


@pytest.fixture(scope="module")
def mixed_csv(tmp_path_factory):
    """Six rows whose two features differ in scale by 1e6."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 2))
    X[:, 1] *= 1e6
    y = X[:, 0] + 1e-6 * X[:, 1] + 0.1 * rng.standard_normal(6)
    return _write_csv(tmp_path_factory.mktemp("mixed") / "mixed.csv", X, y), X, y


@pytest.fixture(scope="module")
def gauss60(tmp_path_factory):
    """60 rows, 2 features: at its default tolerance (without refinement) Clarabel's
    certified gap on the 20-gate C-ReLU problem is 2.8e-6 > 1e-6."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 2))
    y = X[:, 0] - 0.5 * np.abs(X[:, 1]) + 0.1 * rng.standard_normal(60)
    d = tmp_path_factory.mktemp("g60")
    return _write_csv(d / "g60.csv", X, y), _write_csv(d / "zero60.csv", X, np.zeros(60))


def _loop_p_star(X, y, lam, patterns):
    """C-ReLU optimum by CVXPY, one constraint per pattern (DESIGN §1), squared loss /(2n)."""
    n = X.shape[0]
    Xt = np.hstack([X, np.ones((n, 1))])
    loss_pred, reg, cons = 0, 0, []
    for i in range(patterns.shape[1]):
        m = patterns[:, i].astype(float)
        v, w = cp.Variable(Xt.shape[1]), cp.Variable(Xt.shape[1])
        loss_pred = loss_pred + cp.multiply(m, Xt @ (v - w))
        reg = reg + cp.norm(v) + cp.norm(w)
        cons += [cp.multiply(2 * m - 1, Xt @ v) >= 0, cp.multiply(2 * m - 1, Xt @ w) >= 0]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(loss_pred - y) / (2 * n) + lam * reg), cons)
    return prob.solve(solver="CLARABEL", tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)


# ---------------------------------------------------------------------------------------
# certify: the sentence follows the certificate
# ---------------------------------------------------------------------------------------


def test_mixed_scale_claim_follows_the_certified_gap(mixed_csv, capsys):
    path, X, y = mixed_csv
    rc, rep, _ = _json(capsys, ["certify", path, "--json"])
    assert rep["patterns_complete"] and rep["pattern_method"] == "enumerated"
    certified = 0.0 <= rep["relative_gap"] <= rep["gap_tol"] or (
        abs(rep["relative_gap"]) < 1e-12 and rep["relative_gap"] <= rep["gap_tol"])
    says_global = "global optimum" in rep["claim"]
    assert says_global == (rep["claim_level"] == "global_optimum")
    assert says_global == certified, (rep["relative_gap"], rep["claim"])
    assert rc == (0 if certified else 1)
    assert rep["status"] == ("optimal" if certified else "not_certified")
    # a claim of optimality is true: compare with an independent p*
    from convex_relu.patterns import enumerate_patterns

    p_star = _loop_p_star(X, y, 0.01, enumerate_patterns(X, bias=True).masks)
    assert rep["network_objective"] >= p_star * (1 - 1e-6)
    if says_global:
        assert rep["network_objective"] - p_star <= rep["gap_tol"] * rep["network_objective"] + 1e-9


def test_solver_says_optimal_but_certificate_disagrees(mixed_csv, monkeypatch, capsys):
    """A solver that reports "Solved" on poor weights: the status line and sentence follow
    the certificate; the solver's word is shown only as evidence."""
    import convex_relu.cvx as cvx

    path, _, _ = mixed_csv
    real = cvx.solve_exact

    @functools.wraps(real)  # keeps the signature, so the CLI passes gap_tol as usual
    def liar(problem, *args, **kwargs):
        sol = real(problem, *args, **kwargs)
        W = 0.5 * sol.weights
        info = dict(sol.info, solver_status="Solved")
        return dataclasses.replace(sol, weights=W, objective=problem.objective(W),
                                   status="optimal", converged=True, certificate=None, info=info)

    monkeypatch.setattr(cvx, "solve_exact", liar)
    rc, out, _ = _run(capsys, ["certify", path])
    assert rc == 1
    assert "global optimum" not in out
    assert "reported Solved" in out
    status = [ln for ln in out.splitlines() if ln.startswith("status")][0]
    assert "NOT certified" in status
    assert "Not proven optimal" in out
    rc, rep, _ = _json(capsys, ["certify", path, "--json"])
    assert rep["claim_level"] == "within_gap" and rep["status"] == "not_certified"
    assert rep["solver_status"] == "Solved"


def test_lambda_zero_never_claims_global_with_a_negative_gap(tmp_path, capsys):
    """All patterns of 6 rows (rank A = n: the optimum interpolates and the dual bound is
    trivial), and 2 sampled gates on 10 rows (null(Aᵀ) nontrivial: an exact bound)."""
    rng = np.random.default_rng(0)
    six = _write_csv(tmp_path / "six.csv", rng.standard_normal((6, 2)), rng.standard_normal(6))
    ten = _write_csv(tmp_path / "ten.csv", rng.standard_normal((10, 2)), rng.standard_normal(10))
    for path, extra in ((six, []), (ten, ["--n-gates", "2"])):
        rc, rep, _ = _json(capsys, ["certify", path, "--lam", "0", "--json", *extra])
        rel = rep["relative_gap"]
        if rep["claim_level"] in ("global_optimum", "optimal_over_patterns"):
            assert -1e-9 <= rel <= rep["gap_tol"]
        if rel < -1e-9:
            assert rep["claim_level"] == "no_claim"
        assert rep["dual_bound"] <= rep["optimal_value"] + 1e-12 * (1 + abs(rep["optimal_value"]))
        assert "λ = 0" in rep["claim"]
        assert rep["claim"].count("global optimum") == (rep["claim_level"] == "global_optimum")


def test_invalid_certificate_gives_no_claim(tmp_path, monkeypatch, capsys):
    """The −1.1e19 relative gap of the issue: whatever the certificate says, no over-claim."""
    import convex_relu.certificates as certificates

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    path = _write_csv(tmp_path / "ten.csv", X, rng.standard_normal(10))
    real = certificates.certify

    def broken(problem, weights, **kwargs):
        c = real(problem, weights, **kwargs)
        return dataclasses.replace(c, dual=0.197, gap=c.primal - 0.197,
                                   relative_gap=(c.primal - 0.197) / max(abs(c.primal), 1e-300))

    monkeypatch.setattr(certificates, "certify", broken)
    rc, out, _ = _run(capsys, ["certify", path, "--lam", "0", "--n-gates", "2"])
    assert rc == 1
    assert "global optimum" not in out and "invalid" in out.lower()
    rc, rep, _ = _json(capsys, ["certify", path, "--lam", "0", "--json", "--n-gates", "2"])
    assert rep["claim_level"] == "no_claim" and rep["status"] == "invalid_certificate"


def test_certify_text_and_json_report(capsys):
    rc, out, _ = _run(capsys, ["certify", "--n-gates", "10"])
    assert rc == 0
    assert "solver        clarabel: reported" in out
    assert "status        certified: relative gap" in out
    assert "optimal over the" in out and "sampled activation patterns only" in out
    rc, rep, _ = _json(capsys, ["certify", "--n-gates", "10", "--formulation", "gated_relu", "--json"])
    assert rc == 0
    assert rep["claim_level"] == "gated_optimum" and "relaxation" in rep["claim"]
    assert {"claim", "claim_level", "status", "solver_status", "gap_tol"} <= set(rep)


# ---------------------------------------------------------------------------------------
# crosscheck
# ---------------------------------------------------------------------------------------


def test_crosscheck_passes_on_agreeing_solvers_60x2(gauss60, capsys):
    path, _ = gauss60
    rc, rep, _ = _json(capsys, ["crosscheck", path, "--n-gates", "20", "--seed", "5", "--json"])
    assert rc == 0, rep["failed"]
    assert rep["passed"] and rep["claim_level"] == "optimal_over_patterns"
    rc, rep, _ = _json(capsys, ["crosscheck", path, "--formulation", "gated_relu",
                                "--n-gates", "50", "--json"])
    assert rc == 0, rep["failed"]


def test_crosscheck_tightens_a_loose_exact_reference(gauss60, monkeypatch, capsys):
    """Without the solver's own refinement, Clarabel at its default tolerance misses
    1e-6 here; the cross-check re-solves tighter and passes. With no retries it fails."""
    import inspect

    import convex_relu.cvx as cvx

    path, _ = gauss60
    real = cvx.solve_exact
    if "refine" in inspect.signature(real).parameters:
        monkeypatch.setattr(cvx, "solve_exact",
                            lambda *a, **k: real(*a, **{**k, "refine": False}))
    argv = ["crosscheck", path, "--n-gates", "20", "--seed", "5", "--json", "--no-bound"]
    with pytest.warns(Warning):
        rc, rep, _ = _json(capsys, argv + ["--exact-retries", "0"])
    assert rc == 1 and "exact: relative gap" in rep["failed"]
    rc, rep, _ = _json(capsys, argv)
    assert rc == 0, rep["failed"]
    tight = [ln for ln in rep["lines"] if ln["name"] == "exact: tightening"][0]
    assert tight["value"] >= 1 and "1e-10" in tight["detail"]


def test_crosscheck_exact_tol_option(gauss60, capsys):
    path, _ = gauss60
    rc, rep, _ = _json(capsys, ["crosscheck", path, "--n-gates", "20", "--exact-tol", "1e-4",
                                "--json"])
    assert rc == 0, rep["failed"]
    tight = [ln for ln in rep["lines"] if ln["name"] == "exact: tightening"][0]
    assert tight["detail"].startswith("solver tol 1e-04")
    assert rep["lines"][[ln["name"] for ln in rep["lines"]].index("exact: relative gap")]["passed"]


def test_crosscheck_passes_when_y_is_zero(gauss60, capsys):
    _, zero = gauss60
    for form in ("relu", "gated_relu"):
        rc, rep, _ = _json(capsys, ["crosscheck", zero, "--formulation", form, "--n-gates", "20",
                                    "--json"])
        assert rc == 0, rep["failed"]
        assert rep["floor"] == 1e-12  # ℓ(0) = 0: the absolute floor


@pytest.mark.parametrize("argv, match", [
    (["certify", "--tol", "-1"], r"--tol"),
    (["certify", "--gap-tol", "0"], r"--gap-tol"),
    (["crosscheck", "--exact-tol", "0", "--n-gates", "5"], r"--exact-tol"),
    (["crosscheck", "--exact-retries", "-1", "--n-gates", "5"], r"--exact-retries"),
    (["crosscheck", "--tol", "nan", "--n-gates", "5"], r"--tol"),
])
def test_usage_errors_exit_two(argv, match, capsys):
    rc, _, err = _run(capsys, argv)
    assert rc == 2
    assert re.search(match, err), err
    assert "Traceback" not in err


def test_file_errors_exit_two(tmp_path, capsys):
    rc, _, err = _run(capsys, ["certify", str(tmp_path)])
    assert rc == 2 and "folder" in err
    rc, _, err = _run(capsys, ["crosscheck", str(tmp_path / "missing.csv")])
    assert rc == 2 and "missing.csv" in err


def test_crosscheck_library_does_not_import_the_cli():
    src = pathlib.Path(__file__).resolve().parent.parent / "convex_relu" / "crosscheck.py"
    tree = ast.parse(src.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.module not in ("cli", "convex_relu.cli"), "crosscheck imports the CLI"
            assert not (node.level and node.module is None and any(a.name == "cli" for a in node.names))
        if isinstance(node, ast.Import):
            assert all(a.name != "convex_relu.cli" for a in node.names)


# ---------------------------------------------------------------------------------------
# certify beyond --max-patterns: column generation over every chamber
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gauss20(tmp_path_factory):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((20, 2))
    y = np.sin(2 * X[:, 0]) + 0.3 * X[:, 1] + 0.1 * rng.standard_normal(20)
    return _write_csv(tmp_path_factory.mktemp("g20") / "g20.csv", X, y), X, y


def test_certify_uses_column_generation_above_max_patterns(gauss20, capsys):
    from convex_relu.patterns import enumerate_patterns

    path, X, y = gauss20
    lam = 0.01
    # independent p*: the loop program over every enumerated pattern
    p_star = _loop_p_star(X, y, lam, enumerate_patterns(X, bias=True).masks)
    rc, rep, err = _json(capsys, ["certify", path, "--max-patterns", "50", "--json"])
    assert rc == 0
    assert rep["claim_level"] == "global_optimum"
    assert "global optimum" in rep["claim"]
    pr = rep["pricing"]
    assert pr["rounds"] >= 1 and len(pr["patterns_priced"]) == pr["rounds"]
    assert all(v == rep["chambers"] for v in pr["patterns_priced"])
    assert rep["chambers"] > 50 and pr["max_violation"] <= 1 + 1e-6
    assert rep["dual_bound"] <= p_star * (1 + 1e-9) and rep["optimal_value"] >= p_star * (1 - 1e-9)
    assert rep["network_objective"] == pytest.approx(p_star, rel=2e-6)
    assert "pricing round 1" in err  # the progress bar (stderr)
    # the text report prints rounds, chambers priced and the final maximum violation
    rc, out, _ = _run(capsys, ["certify", path, "--max-patterns", "50", "--no-progress"])
    assert rc == 0
    m = re.search(r"pricing\s+(\d+) rounds over the (\d+) chambers \(chambers priced per round: ([^)]*)\)"
                  r"; final maximum violation", out)
    assert m and int(m.group(2)) == rep["chambers"]
    # rank 3: every round prices every chamber (no faces-only rounds)
    assert m.group(3).split(", ") == [str(rep["chambers"])] * int(m.group(1))
    # the claim sentence is the one of claims.claim for a complete pattern set
    assert "any width" in out.strip().splitlines()[-1]


def test_column_generation_claim_is_not_global_when_the_gap_is_missed(gauss20, capsys):
    path, _, _ = gauss20
    rc, rep, _ = _json(capsys, ["certify", path, "--max-patterns", "50", "--json", "--max-rounds", "1",
                                "--gap-tol", "1e-12", "--no-progress"])
    assert rc == 1
    assert rep["claim_level"] in ("within_gap", "no_claim")
    assert rep["status"] == "not_certified"


def test_bench_global_is_wired(capsys):
    rc = main(["bench-global", "--sizes", "30", "--full-max-chambers", "0", "--formulation", "gated_relu"])
    out = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"^\s+30\s+\d+", out, re.M)


# ---------------------------------------------------------------------------------------
# --penalty / --alpha (issue 13)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 2))
    y = np.maximum(X @ np.array([1.0, -0.7]), 0) + 0.1 * rng.standard_normal(12)
    return _write_csv(tmp_path_factory.mktemp("pen") / "small.csv", X, y), X, y


def test_penalty_names_match_the_registry():
    from convex_relu.cli import PENALTY_NAMES
    from convex_relu.penalties import PENALTIES

    assert set(PENALTY_NAMES) == set(PENALTIES)


def _loop_value(X, y, lam, name, alpha, masks, W):
    """C-ReLU objective by loops from the README's scalings (an independent evaluation)."""
    Xt = np.column_stack([X, np.ones(len(X))])
    n = len(y)
    pred = sum(masks[:, i] * (Xt @ (W[0, 0, :, i] - W[1, 0, :, i])) for i in range(masks.shape[1]))
    loss = float(np.sum((pred - y) ** 2)) / (2 * n)

    def R(U):  # U (d̃, p)
        if name == "feature_group":
            return sum(np.linalg.norm(U[j]) for j in range(U.shape[0]))
        if name == "l1":
            return float(np.abs(U).sum())
        if name == "l2":
            return 0.5 * float((U ** 2).sum())
        if name == "group_elastic_net":
            return sum(alpha * np.linalg.norm(U[:, i]) + 0.5 * (1 - alpha) * float(U[:, i] @ U[:, i])
                       for i in range(U.shape[1]))
        return sum(np.linalg.norm(U[:, i]) for i in range(U.shape[1]))

    return loss + lam * (R(W[0, 0]) + R(W[1, 0]))


@pytest.mark.parametrize("name,alpha", [("feature_group", None), ("l1", None), ("l2", None),
                                        ("group_elastic_net", 0.25), ("neuron_group", None)])
def test_certify_with_penalty_reports_it_and_its_claim(capsys, small_csv, name, alpha):
    from convex_relu import make_problem
    from convex_relu.cvx import solve_exact

    path, X, y = small_csv
    argv = ["certify", path, "--json", "--lam", "0.05", "--penalty", name]
    if alpha is not None:
        argv += ["--alpha", str(alpha)]
    rc, rep, _ = _json(capsys, argv)
    assert rep["penalty"] == name
    assert rep["penalty_params"] == ({"alpha": alpha} if alpha is not None else {})
    assert rep["network_equivalent"] == (name == "neuron_group")
    # the value reported is the objective of THIS penalty's program at the optimum:
    # compare with an independent exact solve evaluated by loops
    prob = make_problem(X, y, formulation="relu", lam=0.05, bias=True, penalty=name,
                        penalty_params=None if alpha is None else {"alpha": alpha})
    sol = solve_exact(prob, tol=1e-10)
    ref = _loop_value(X, y, 0.05, name, alpha, prob.masks, sol.weights)
    assert abs(rep["optimal_value"] - ref) <= 1e-6 * abs(ref)
    if name == "neuron_group":
        assert rep["claim_level"] == "global_optimum"
    else:
        assert rc == 0 and rep["claim_level"] == "convex_optimum", rep["claim"]
        assert "no exact non-convex equivalent" in rep["claim"]
        assert rep["network_objective"] is None


@pytest.mark.parametrize("argv,msg", [
    (["--penalty", "lasso"], "--penalty"),
    (["--alpha", "0.5"], "--alpha applies only to --penalty group_elastic_net"),
    (["--penalty", "group_elastic_net", "--alpha", "1.5"], r"--alpha must be a number in \[0, 1\]"),
    (["--penalty", "group_elastic_net", "--alpha", "nan"], r"--alpha must be a number in \[0, 1\]"),
])
@pytest.mark.parametrize("command", ["certify", "crosscheck"])
def test_bad_penalty_arguments_are_named(capsys, small_csv, argv, msg, command):
    path = small_csv[0]
    try:
        rc = main([command, path, *argv])
    except SystemExit as exc:  # argparse's own choices error
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert re.search(msg, err), err


def test_crosscheck_with_penalty(capsys, small_csv):
    path = small_csv[0]
    rc, rep, _ = _json(capsys, ["crosscheck", path, "--json", "--lam", "0.05", "--formulation",
                                "gated_relu", "--n-gates", "6", "--penalty", "l1"])
    assert rc == 0 and rep["passed"], rep
    assert rep["penalty"] == "l1"
    # C-ReLU with a non-radial penalty: the AL's plain variant is the fast method
    rc, rep, _ = _json(capsys, ["crosscheck", path, "--json", "--lam", "0.05", "--n-gates", "6",
                                "--penalty", "feature_group"])
    assert rc == 0 and rep["passed"], rep


def test_no_import_circle_between_cli_and_crosscheck():
    # crosscheck never imports cli (the library does not depend on its command line)
    import subprocess
    import sys

    code = ("import sys, convex_relu.crosscheck; "
            "print('convex_relu.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    src = pathlib.Path(__file__).parents[1] / "convex_relu" / "crosscheck.py"
    tree = ast.parse(src.read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "cli" not in names and "convex_relu.cli" not in names


@pytest.mark.parametrize("command,module", [("bench-real", "bench_real"), ("bench-headline", "bench_headline")])
def test_benchmark_subcommands_dispatch_to_their_modules(command, module, monkeypatch):
    import importlib

    from convex_relu import cli

    seen = []
    mod = importlib.import_module(f"convex_relu.{module}")
    monkeypatch.setattr(mod, "main", lambda argv: seen.append(list(argv)) or 0)
    assert cli.main([command, "--sets", "wine"]) == 0
    assert seen == [["--sets", "wine"]]
