"""Plots draw exactly the data they are given (checked on the line data, Agg backend)."""

import sys

import numpy as np
import pytest

import matplotlib  # the test extra includes it: a missing matplotlib is an error, not a skip

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from convex_relu import GatedReLUProblem, Solution, sample_patterns  # noqa: E402
from convex_relu.certificates import certify  # noqa: E402
from convex_relu.plots import (  # noqa: E402
    convergence_series,
    plot_bound,
    plot_convergence,
    plot_path,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 2))
    return GatedReLUProblem(X, rng.standard_normal(12), sample_patterns(X, 10, seed=1, bias=True), lam=0.05)


def _solution(problem, solver, history=None, scale=1.0, compile_time=0.0, solve_time=0.5):
    W = scale * np.random.default_rng(2).standard_normal(problem.weights_shape)
    return Solution(
        problem=problem, weights=W, objective=problem.objective(W), status="optimal", solver=solver,
        converged=True, n_iter=None, solve_time=solve_time, compile_time=compile_time,
        certificate=certify(problem, W), history=history,
    )


def test_convergence_plot_draws_history_then_final_certificate():
    problem = _problem()
    hist = {"iteration": [0, 5, 10], "time": [0.01, 0.02, 0.04], "objective": [0.9, 0.5, 0.45],
            "gap": [0.5, 1e-2, 1e-4]}  # relative gaps, as the first-order solvers record them
    fast = _solution(problem, "rfista", hist, scale=0.01, solve_time=0.05)
    exact = _solution(problem, "clarabel", None, scale=0.02, compile_time=0.25, solve_time=0.5)

    ax = plot_convergence({"R-FISTA": fast, "Clarabel": exact}, metric="relative_gap")
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["R-FISTA", "Clarabel"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [0.01, 0.02, 0.04, 0.05])
    np.testing.assert_array_equal(lines[0].get_ydata(), [0.5, 1e-2, 1e-4, fast.certificate.relative_gap])
    # an exact solve is one point at compile + solve time with its certificate
    np.testing.assert_array_equal(lines[1].get_xdata(), [0.75])
    np.testing.assert_array_equal(lines[1].get_ydata(), [exact.certificate.relative_gap])
    assert ax.get_yscale() == "log" and ax.get_xscale() == "log"


def test_absolute_gap_metric_converts_relative_history():
    problem = _problem()
    hist = {"time": [0.1, 0.2], "objective": [2.0, -4.0], "gap": [0.5, 0.25]}
    sol = _solution(problem, "al", hist, scale=0.01)
    t, v = convergence_series(sol, "gap")
    np.testing.assert_array_equal(t, [0.1, 0.2, 0.5])
    np.testing.assert_array_equal(v, [1.0, 1.0, sol.certificate.gap])
    # an explicitly absolute history is used as recorded
    hist_abs = dict(hist, gap_kind="absolute")
    t, v = convergence_series(_solution(problem, "al", hist_abs, scale=0.01), "gap")
    np.testing.assert_array_equal(v[:2], [0.5, 0.25])


def test_suboptimality_uses_best_certified_lower_bound():
    problem = _problem()
    a = _solution(problem, "rfista", {"time": [0.1], "objective": [3.0], "gap": [0.1]}, scale=0.01)
    b = _solution(problem, "clarabel", None, scale=0.5)
    ref = max(a.certificate.dual, b.certificate.dual)
    ax = plot_convergence({"a": a, "b": b}, metric="suboptimality")
    ya = ax.get_lines()[0].get_ydata()
    np.testing.assert_array_equal(ya, [3.0 - ref, a.certificate.primal - ref])
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), [b.objective - ref])
    # explicit reference; non-positive values are left out of the log plot
    ax = plot_convergence({"a": a}, metric="suboptimality", reference=a.objective)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3.0 - a.objective])


def test_final_point_uses_the_certified_primal_and_skips_nan_history():
    """An infeasible C-ReLU iterate's objective can be below p*; its certificate's primal cannot."""
    import dataclasses

    problem = _problem()
    sol = _solution(problem, "al", {"time": [0.1, 0.2], "objective": [np.nan, 2.0], "gap": [np.nan, 0.5]},
                    scale=0.01)
    cert = dataclasses.replace(sol.certificate, primal=sol.certificate.primal + 0.125)
    sol = dataclasses.replace(sol, certificate=cert, objective=cert.dual - 1.0)  # "infeasible"
    ax = plot_convergence({"al": sol}, metric="suboptimality", reference=cert.dual)
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [0.2, 0.5])
    np.testing.assert_array_equal(line.get_ydata(), [2.0 - cert.dual, cert.primal - cert.dual])


def test_convergence_plot_on_given_axes_and_bad_input():
    problem = _problem()
    fig, ax = plt.subplots()
    out = plot_convergence({"x": _solution(problem, "clarabel")}, ax=ax)
    assert out is ax and len(ax.get_lines()) == 1
    with pytest.raises(ValueError, match="metric"):
        plot_convergence({"x": _solution(problem, "clarabel")}, metric="speed")
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_convergence([])


class _Path:
    """Just the attributes plot_path reads (a PathResult has them all)."""

    def __init__(self):
        self.lams = np.geomspace(1.0, 1e-3, 7)
        self.n_active = np.array([0, 1, 2, 4, 4, 7, 9])
        self.objectives = np.array([0.5, 0.49, 0.4, 0.3, 0.2, 0.15, 0.12])
        self.lam_max = 1.0


def test_path_plot_draws_active_neurons_and_objective():
    path = _Path()
    top, bottom = plot_path(path)
    (l1,), (l2,) = top.get_lines()[:1], bottom.get_lines()[:1]
    np.testing.assert_array_equal(l1.get_xdata(), path.lams)
    np.testing.assert_array_equal(l1.get_ydata(), path.n_active)
    np.testing.assert_array_equal(l2.get_xdata(), path.lams)
    np.testing.assert_array_equal(l2.get_ydata(), path.objectives)
    assert top.get_xscale() == "log"
    # λ_max marked on both panels
    for a in (top, bottom):
        assert any(np.all(np.asarray(ln.get_xdata()) == 1.0) for ln in a.get_lines()[1:])


def test_path_plot_with_a_real_path_result():
    from convex_relu.path import regularization_path

    X = np.random.default_rng(0).standard_normal((20, 2))
    y = np.sin(X[:, 0])
    path = regularization_path(X, y, lams=5, n_gates=10, method="clarabel")
    top, bottom = plot_path(path, label="clarabel")
    np.testing.assert_array_equal(top.get_lines()[0].get_ydata(), path.n_active)
    np.testing.assert_array_equal(bottom.get_lines()[0].get_ydata(), path.objectives)


def test_bound_plot_draws_each_quantity_and_skips_missing():
    lams = [1e-1, 1e-2, 1e-3]
    reports = [
        {"gated_objective": 0.30, "relu_objective": 0.31, "p_cd": 0.32, "bound": 0.5},
        {"gated_objective": 0.20, "relu_objective": None, "p_cd": 0.21, "bound": 0.4},
        {"gated_objective": 0.10, "relu_objective": 0.10, "p_cd": 0.10, "bound": 0.3},
    ]
    ax = plot_bound(reports, lams)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert len(lines) == 4
    d = next(v for k, v in lines.items() if k.startswith("d*"))
    np.testing.assert_array_equal(d.get_ydata(), [0.30, 0.20, 0.10])
    pc = next(v for k, v in lines.items() if k.startswith("p*_C"))
    np.testing.assert_array_equal(pc.get_xdata(), [1e-1, 1e-3])  # the missing one is skipped
    np.testing.assert_array_equal(pc.get_ydata(), [0.31, 0.10])
    ub = next(v for k, v in lines.items() if k.startswith("bound"))
    np.testing.assert_array_equal(ub.get_ydata(), [0.5, 0.4, 0.3])

    ax = plot_bound(reports, lams, relative=True)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    pcd = next(v for k, v in lines.items() if k.startswith("p_CD"))
    np.testing.assert_allclose(pcd.get_ydata(), [0.32 - 0.30, 0.21 - 0.20])  # 0 left out
    with pytest.raises(ValueError, match="one λ per report"):
        plot_bound(reports, lams[:2])


def test_bound_plot_with_real_reports():
    from convex_relu.decomposition import decomposition_bound

    rng = np.random.default_rng(5)
    X = rng.standard_normal((15, 2))
    y = np.abs(X[:, 0]) - X[:, 1]
    base = GatedReLUProblem(X, y, sample_patterns(X, 12, seed=2, bias=True), lam=1.0)
    lams = base.lam_max() * np.array([0.3, 0.1])
    reports = []
    for lam in lams:
        W = _solution(base.with_lam(lam), "x", scale=0.1).weights  # any u: the bound holds for all
        reports.append(decomposition_bound(base.with_lam(lam), W, method="gate_shift", exact_relu=None))
    ax = plot_bound(reports, lams)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert not any(k.startswith("p*_C") for k in lines)  # exact C-ReLU not requested
    np.testing.assert_array_equal(
        next(v for k, v in lines.items() if k.startswith("p_CD")).get_ydata(), [r.p_cd for r in reports])
    np.testing.assert_array_equal(
        next(v for k, v in lines.items() if k.startswith("bound")).get_ydata(), [r.bound for r in reports])


def test_missing_matplotlib_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    problem = _problem()
    with pytest.raises(ImportError, match=r'pip install matplotlib.*pip install -e "\.\[plots\]"'):
        plot_convergence({"x": _solution(problem, "clarabel")})


def test_bound_plot_uses_log_axes_when_values_span_decades():
    """Objectives along a λ path span decades: a linear axis would flatten the small ones."""
    lams = [1e-1, 1e-2, 1e-3]
    spanning = [{"gated_objective": g, "relu_objective": g * 1.01, "p_cd": g * 1.1, "bound": g * 3}
                for g in (0.3, 0.01, 1e-4)]
    assert plot_bound(spanning, lams).get_yscale() == "log"
    narrow = [{"gated_objective": g, "relu_objective": g, "p_cd": g, "bound": g + 0.1} for g in (0.3, 0.2, 0.25)]
    assert plot_bound(narrow, lams).get_yscale() == "linear"  # 0.2 … 0.4: less than a decade
    assert plot_bound(narrow, lams, yscale="log").get_yscale() == "log"
    assert plot_bound(spanning, lams, yscale="linear").get_yscale() == "linear"
    with_zero = [dict(d, gated_objective=0.0) if i == 2 else d for i, d in enumerate(spanning)]
    assert plot_bound(with_zero, lams).get_yscale() == "linear"  # 0 has no place on a log axis
    ax = plot_bound(spanning, lams, relative=True)
    assert ax.get_yscale() == "log" and "d*" in ax.get_ylabel()
    with pytest.raises(ValueError, match="yscale"):
        plot_bound(spanning, lams, yscale="symlog")
