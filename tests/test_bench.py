"""Smoke and correctness tests of the benchmark harness (tiny sizes, a few seconds).

The harness must judge every tool by OUR certificate on the weights the tool returned;
these tests recompute that certificate, check the primal value against an independent
loop over patterns, check the ladder protocol with a scripted tool, the table layout,
missing tools, the size cap, the worker timeout and the command line.
"""

import json
import time

import numpy as np
import pytest

from convex_relu import bench
from convex_relu.certificates import certify
from convex_relu.cli import main


def _loop_objective(problem, U):
    """``‖y − Σ_i D_iX̃u_i‖²/(2nc) + λ Σ‖u_i‖`` by an explicit loop (independent of operators)."""
    Xt, M = problem.X_tilde, problem.masks
    total = 0.0
    for k in range(problem.c):
        pred = np.zeros(problem.n)
        for i in range(problem.p):
            pred += M[:, i] * (Xt @ U[k, :, i])
        total += np.sum((problem.Y[:, k] - pred) ** 2)
    reg = sum(np.linalg.norm(U[k, :, i]) for k in range(problem.c) for i in range(problem.p))
    return total / (2 * problem.n * problem.c) + problem.lam * reg


def _tiny_rows():
    return [bench.synthetic_row(60, 3, 8, seed=1)]


def _available(tools):
    missing = bench.missing_tools(tools)
    return [t for t in tools if t not in missing]


@pytest.fixture(scope="module")
def tiny_report():
    if "clarabel" not in _available(["clarabel"]):
        pytest.skip("clarabel not installed")
    # R-FISTA shows as "missing" where convex_relu.solvers is absent
    return bench.run_benchmark(_tiny_rows(), ["rfista", "clarabel"], repeats=2, timeout=60,
                               isolate=False)


def test_reported_gap_is_our_certificate_on_returned_weights(tiny_report):
    (row,) = tiny_report.rows
    problem = row.row.problem()
    assert problem.p == 8  # exactly p distinct patterns kept
    checked = 0
    for tool, res in row.results.items():
        if res.status == "missing":
            continue
        assert res.weights is not None, (tool, res.status, res.note)
        cert = certify(problem, res.weights)
        assert res.relative_gap == pytest.approx(cert.relative_gap, rel=1e-12, abs=1e-300)
        assert res.gap == pytest.approx(cert.gap, rel=1e-12, abs=1e-300)
        # the primal the table is based on is the objective of the returned weights
        assert res.primal == pytest.approx(_loop_objective(problem, res.weights), rel=1e-10)
        assert res.status == ("ok" if cert.relative_gap <= 1e-6 else "not reached")
        assert len(res.times) >= 1 and res.time == pytest.approx(np.median(res.times))
        checked += 1
    assert checked >= 1
    assert row.results["clarabel"].status == "ok"


def test_table_columns_and_json(tiny_report):
    text = bench.format_report(tiny_report)
    header = next(line for line in text.splitlines() if line.startswith("row"))
    for col in ("n", "d", "p", "λ/λmax", "R-FISTA", "Clarabel", "best peer/ours", "iter/2GEMM"):
        assert col in header
    assert "synthetic 60x3" in text
    assert "relative gap ≤ 1e-06" in text
    data = json.loads(json.dumps(bench.report_to_dict(tiny_report)))
    tools = data["rows"][0]["tools"]
    assert tools["clarabel"]["relative_gap"] == pytest.approx(
        tiny_report.rows[0].results["clarabel"].relative_gap)
    assert tools["clarabel"]["attempts"][0]["setting"] == 1e-8


def test_missing_tool_is_listed(monkeypatch):
    spec = bench.TOOLS["celer"]
    fake = bench.ToolSpec(spec.name, spec.label, spec.formulations, ("no_such_module_xyz_123",),
                          spec.ladder, spec.setting, dense=True)
    monkeypatch.setitem(bench.TOOLS, "celer", fake)
    report = bench.run_benchmark(_tiny_rows(), ["celer"], repeats=1, timeout=10, isolate=False)
    assert report.missing == {"celer": "no_such_module_xyz_123"}
    assert report.rows[0].results["celer"].status == "missing"
    text = bench.format_report(report)
    assert "Missing (not installed): celer (no module no_such_module_xyz_123)" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("synthetic"))
    assert "missing" in line


def test_exact_solvers_skipped_above_cap():
    report = bench.run_benchmark(_tiny_rows(), ["clarabel", "scs"], repeats=1, timeout=10,
                                 exact_cap=100, isolate=False)
    for tool in ("clarabel", "scs"):
        assert report.rows[0].results[tool].status == "skipped (cap)"
    assert "skipped (cap)" in bench.format_report(report)


class _ScriptedRunner:
    """A fake tool: good weights only for settings <= ``good_below``; time = 1/setting."""

    def __init__(self, good, bad, good_below):
        self.good, self.bad, self.good_below = good, bad, good_below
        self.calls = []

    def call(self, msg, timeout):
        _, tool, setting = msg
        self.calls.append(setting)
        W = self.good if setting <= self.good_below else self.bad
        return {"weights": W, "time": 1e-9 / setting, "n_iter": 1, "status": "done"}


def test_ladder_picks_loosest_reaching_setting():
    from convex_relu.cvx import solve_exact

    problem = _tiny_rows()[0].problem()
    good = solve_exact(problem, "clarabel").weights
    assert certify(problem, good).relative_gap <= 1e-6
    bad = np.zeros_like(good)
    state = bench._LadderState()
    runner = _ScriptedRunner(good, bad, good_below=1e-9)
    kw = dict(tol=1e-6, viol_tol=1e-6, repeats=3, budget=60, state=state,
              progress=lambda s: None, label="t")
    res = bench._measure(runner, "celer", problem, **kw)  # ladder 1e-6 … 1e-12
    assert res.status == "ok" and res.setting == 1e-9
    assert res.time == pytest.approx(1.0) and len(res.times) == 3
    assert runner.calls[:4] == [1e-6, 1e-7, 1e-8, 1e-9]
    # next row: the search starts one rung looser than last time and still finds the
    # loosest reaching rung when that has become looser
    runner2 = _ScriptedRunner(good, bad, good_below=1e-7)
    res2 = bench._measure(runner2, "celer", problem, **kw)
    assert res2.setting == 1e-7
    assert runner2.calls[:3] == [1e-8, 1e-7, 1e-6]
    # a tool that never reaches: tightest completed rung, marked
    runner3 = _ScriptedRunner(good, bad, good_below=0.0)
    res3 = bench._measure(runner3, "celer", problem, **kw)
    assert res3.status == "not reached" and res3.setting == 1e-12
    assert res3.relative_gap == pytest.approx(certify(problem, bad).relative_gap)
    assert "✗" in bench._cell(res3)


def test_worker_timeout_kills_and_restarts():
    worker = bench._Worker(threads=1)
    try:
        t0 = time.perf_counter()
        with pytest.raises(bench.ToolTimeout):
            worker.call(("sleep", 30), timeout=1.0)
        assert time.perf_counter() - t0 < 20
        assert worker.proc is None  # killed
        assert worker.call(("sleep", 0), timeout=60) == 0
        with pytest.raises(bench.ToolError, match="unknown task"):
            worker.call(("nonsense",), timeout=60)
    finally:
        worker.close()


def test_cli_bench_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    code = main(["bench", "--sizes", "50x3x6", "--datasets", "none", "--formulation",
                 "gated_relu", "--tools", "clarabel", "--repeats", "1", "--no-isolate",
                 "--json", str(path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Clarabel" in out and "synthetic 50x3" in out
    assert "Clarabel setting 1e-08" in err  # progress on stderr
    data = json.loads(path.read_text())
    assert data["rows"][0]["tools"]["clarabel"]["status"] == "ok"
    assert data["config"]["tol"] == 1e-6


@pytest.mark.parametrize("argv, message", [
    (["--sizes", "500by10"], "sizes must look like"),
    (["--datasets", "iris"], "datasets must be among"),
    (["--tools", "foo"], "--tools must be among"),
    (["--repeats", "0"], "--repeats must be >= 1"),
    (["--tol", "-1"], "--tol must be positive"),
])
def test_cli_bad_input(argv, message, capsys):
    assert main(["bench", *argv]) == 2
    assert message in capsys.readouterr().err


def test_scnn_mapping_matches_our_objective():
    """scnn's own objective on its weights equals ours on the mapped weights (scaling, layout)."""
    pytest.importorskip("scnn")
    pytest.importorskip("lab")
    problem = _tiny_rows()[0].problem()
    cache = {}
    out = bench._run_scnn(problem, 1e-6, cache)
    U = out["weights"]
    assert U.shape == problem.weights_shape
    import lab

    from scnn.private.models import ConvexMLP, GroupL1Regularizer

    Xt, Y, D, G = cache["scnn_data"]
    model = ConvexMLP(problem.d, D, G, "einsum", regularizer=GroupL1Regularizer(problem.lam))
    model.weights = lab.tensor(np.swapaxes(U, -1, -2))
    assert float(model.objective(Xt, Y)) == pytest.approx(_loop_objective(problem, U), rel=1e-10)


def test_group_lasso_mapping_matches_our_objective():
    """Their objective ‖y − Aw‖²/(2n) + αΣ‖w_g‖ with α = λ (c = 1) equals ours on the mapping.

    celer only: skglm goes through the same mapping code, and its first call spends tens
    of seconds in numba compilation.
    """
    lib = "celer"
    pytest.importorskip(lib)
    problem = _tiny_rows()[0].problem()
    cache = {}
    out = bench._run_group_lasso(problem, lib, 1e-10, cache)
    U = out["weights"]
    A = cache["A"]
    w = U[0].T.reshape(-1)  # group i = columns i·d̃ … (i+1)·d̃ − 1
    theirs = (np.sum((problem.Y[:, 0] - A @ w) ** 2) / (2 * problem.n)
              + problem.lam * np.linalg.norm(w.reshape(problem.p, problem.d), axis=1).sum())
    assert theirs == pytest.approx(_loop_objective(problem, U), rel=1e-12)
    assert certify(problem, U).relative_gap < 1e-6


def test_tool_not_rerun_on_larger_rows_after_timeout(monkeypatch):
    calls = []

    def fake_measure(runner, tool, problem, **kw):
        calls.append(problem.n)
        return bench.ToolResult(tool, "timeout", note="scripted")

    monkeypatch.setattr(bench, "_measure", fake_measure)
    rows = [bench.synthetic_row(40, 3, 5), bench.synthetic_row(80, 3, 5),
            bench.synthetic_row(30, 3, 5)]
    report = bench.run_benchmark(rows, ["clarabel"], repeats=1, timeout=5, isolate=False)
    assert calls == [40, 30]  # the 80-row dominates the timed-out 40-row; 30 does not
    res = report.rows[1].results["clarabel"]
    assert res.status == "timeout" and "smaller row" in res.note


def test_relu_row_judged_by_gap_and_violation():
    row = bench.synthetic_row(40, 2, 6, formulation="relu", seed=2)
    report = bench.run_benchmark([row], ["clarabel"], repeats=1, timeout=60, isolate=False)
    res = report.rows[0].results["clarabel"]
    assert res.weights is not None and res.weights.shape == row.problem().weights_shape
    cert = certify(row.problem(), res.weights)
    assert res.violation == pytest.approx(cert.violation, abs=1e-300)
    assert res.relative_gap == pytest.approx(cert.relative_gap, rel=1e-12, abs=1e-300)
    reached = cert.relative_gap <= 1e-6 and cert.violation <= 1e-6
    assert res.status == ("ok" if reached else "not reached")
    assert "C-ReLU" in bench.format_report(report)
