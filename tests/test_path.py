"""Specification of regularisation paths (convex_relu.path).

The reference for every objective is an independent CVXPY model written here as a
Python loop over patterns (one variable per group), solved fresh at each λ.
"""


import cvxpy as cp
import joblib
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from convex_relu import cvx as cvx_module
from convex_relu.path import PathResult, lambda_grid, path_many, regularization_path
from convex_relu.problems import make_problem
from convex_relu.solution import SolverWarning


def _data(n=30, d=2, c=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W1 = rng.standard_normal((d, 3))
    W2 = rng.standard_normal((3, c))
    Y = np.maximum(X @ W1 + 0.3, 0) @ W2 + 0.1 * rng.standard_normal((n, c))
    return X, (Y[:, 0] if c == 1 else Y)


def _loop_optimum(problem):
    """Optimal value of ``problem`` by a CVXPY loop formulation (one variable per group)."""
    Xt, M, Y = problem.X_tilde, problem.masks, problem.Y
    n, d = Xt.shape
    s = Y.size
    preds, reg, cons = [], 0, []
    for k in range(problem.c):
        pk = 0
        for i in range(problem.p):
            Di_X = M[:, [i]] * Xt
            if problem.formulation == "gated_relu":
                u = cp.Variable(d)
                pk = pk + Di_X @ u
                reg = reg + cp.norm(u, 2)
            else:
                v, w = cp.Variable(d), cp.Variable(d)
                A_i = (2 * M[:, [i]] - 1) * Xt
                cons += [A_i @ v >= 0, A_i @ w >= 0]
                pk = pk + Di_X @ (v - w)
                reg = reg + cp.norm(v, 2) + cp.norm(w, 2)
        preds.append(pk)
    if problem.loss == "squared":
        fit = sum(cp.sum_squares(preds[k] - Y[:, k]) for k in range(problem.c)) / (2 * s)
    else:
        fit = sum(cp.sum(cp.logistic(cp.multiply(-Y[:, k], preds[k]))) for k in range(problem.c)) / s
    prog = cp.Problem(cp.Minimize(fit + problem.lam * reg), cons)
    prog.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert prog.status == "optimal"
    return prog.value


# --------------------------------------------------------------------------------------
# grids
# --------------------------------------------------------------------------------------


def test_lambda_grid_is_geometric_from_lam_max():
    grid = lambda_grid(2.0, 5, 1e-2)
    assert grid[0] == 2.0
    assert grid[-1] == pytest.approx(2e-2, rel=1e-14)
    ratios = grid[1:] / grid[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    assert lambda_grid(3.0, 1).tolist() == [3.0]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"lams": -1}, "lams"),
        ({"lams": [0.1, -0.2]}, "lams"),
        ({"lams": [[0.1]]}, "lams"),
        ({"lams": []}, "lams"),
        ({"lam_min_ratio": 0.0}, "lam_min_ratio"),
        ({"lam_min_ratio": 1.5}, "lam_min_ratio"),
        ({"method": "newton"}, "method"),
        ({"method": "al", "formulation": "gated_relu"}, "method"),
        ({"method": "rfista", "formulation": "relu"}, "method"),
        ({"tol": -1.0}, "tol"),
        ({"n_chunks": 0}, "n_chunks"),
        ({"formulation": "tanh"}, "formulation"),
        ({"dtype": "float16"}, "dtype"),
        ({"callback": lambda i, p, w: False, "n_chunks": 2}, "callback"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    X, y = _data(n=10)
    with pytest.raises(ValueError, match=name):
        regularization_path(X, y, **{"lams": 3, **kwargs})


def test_zero_targets_need_an_explicit_grid():
    X, _ = _data(n=10)
    with pytest.raises(ValueError, match="lam_max"):
        regularization_path(X, np.zeros(10), 4, method="clarabel")


def test_explicit_grid_is_sorted_decreasing_and_lam_max_gives_zero():
    X, y = _data(n=20)
    prob = make_problem(X, y, formulation="gated_relu", bias=True, n_gates=10, seed=0)
    lam_max = prob.lam_max()
    res = regularization_path(
        X, y, [0.5 * lam_max, 2 * lam_max, lam_max, 0.9 * lam_max], n_gates=10, method="clarabel"
    )
    np.testing.assert_array_equal(res.lams, [2 * lam_max, lam_max, 0.9 * lam_max, 0.5 * lam_max])
    assert res.lam_max == pytest.approx(lam_max)
    # λ >= λ_max: the zero network, certified optimal (gap 0)
    assert not np.any(res.weights[:2]) and res.n_active[:2].tolist() == [0, 0]
    assert res.gaps[:2] == pytest.approx([0.0, 0.0], abs=1e-15)
    # just below λ_max something is active (λ_max is tight), and the optimum agrees with CVXPY
    assert res.n_active[2] >= 1
    assert res.objectives[2] == pytest.approx(_loop_optimum(res.problem_at(2)), rel=1e-6)


# --------------------------------------------------------------------------------------
# objectives against independent solves
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "formulation, method",
    [("gated_relu", "clarabel"), ("relu", "clarabel"), ("gated_relu", "rfista"), ("relu", "al")],
)
def test_path_objectives_match_independent_solves(formulation, method):
    X, y = _data(n=25, d=2)
    tol = None if method == "clarabel" else 1e-7
    res = regularization_path(
        X, y, 5, formulation=formulation, n_gates=12, random_state=1, method=method,
        lam_min_ratio=1e-2, tol=tol,
    )
    assert isinstance(res, PathResult) and len(res) == 5
    assert res.weights.shape == (5,) + res.problem.weights_shape
    assert np.all(np.diff(res.lams) < 0)
    for i in range(len(res)):
        prob = res.problem_at(i)
        # the recorded objective is the objective of the recorded weights
        assert res.objectives[i] == pytest.approx(prob.objective(res.weights[i]), rel=1e-12)
        assert res.objectives[i] == pytest.approx(_loop_optimum(prob), rel=1e-5)
        if formulation == "relu":
            assert prob.cone_violation(res.weights[i]) <= 1e-6 * max(1.0, np.abs(res.weights[i]).max())
    # decreasing λ: the objective decreases and the model grows
    assert np.all(np.diff(res.objectives) < 0)
    assert res.n_active[-1] > res.n_active[1] >= 1
    assert np.all(res.converged)
    assert np.all(res.times >= 0)


def test_logistic_multi_output_path_matches_independent_solves():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((24, 2))
    Y = np.where(rng.random((24, 2)) + 0.3 * X[:, :1] > 0.5, 1.0, -1.0)
    res = regularization_path(X, Y, 3, loss="logistic", n_gates=8, method="clarabel", lam_min_ratio=0.05)
    for i in range(1, 3):
        assert res.objectives[i] == pytest.approx(_loop_optimum(res.problem_at(i)), rel=1e-5)


def test_certificates_bound_the_optimum_along_the_path():
    X, y = _data(n=25, d=2, seed=3)
    res = regularization_path(X, y, 4, n_gates=10, method="rfista", tol=1e-4, lam_min_ratio=1e-2)
    for i in range(len(res)):
        opt = _loop_optimum(res.problem_at(i))
        assert res.objectives[i] - res.gaps[i] <= opt + 1e-10
        assert res.objectives[i] >= opt - 1e-10
        assert res.relative_gaps[i] <= 1e-4


def test_n_active_counts_the_network_neurons():
    X, y = _data(n=25, d=2, seed=5)
    res = regularization_path(X, y, 4, formulation="relu", n_gates=10, method="al", lam_min_ratio=1e-2)
    for i in range(len(res)):
        assert res.network(i).width == res.n_active[i]
        norms = np.linalg.norm(res.weights[i], axis=-2)
        expected = int(np.sum(norms > res.active_tol * norms.max())) if norms.max() > 0 else 0
        assert res.n_active[i] == expected


# --------------------------------------------------------------------------------------
# warm starts and compile-once
# --------------------------------------------------------------------------------------


def test_fast_path_is_warm_started():
    X, y = _data(n=40, d=3, seed=6)
    common = dict(n_gates=30, method="rfista", tol=1e-8, lam_min_ratio=1e-2)
    warm = regularization_path(X, y, 8, **common)
    # one chunk per λ: every solve starts from zero
    cold = regularization_path(X, y, 8, n_chunks=8, **common)
    np.testing.assert_allclose(warm.objectives, cold.objectives, rtol=1e-6)
    assert warm.n_iter[1:].sum() < cold.n_iter[1:].sum()


def test_exact_path_builds_one_program_per_chunk(monkeypatch):
    calls = []
    real = cvx_module.build_program

    def counting(problem, **kwargs):
        calls.append(kwargs)
        return real(problem, **kwargs)

    monkeypatch.setattr(cvx_module, "build_program", counting)
    X, y = _data(n=20)
    res = regularization_path(X, y, 5, n_gates=10, method="clarabel", n_jobs=1)
    assert calls == [{"parameterized_lam": True}]
    calls.clear()
    res2 = regularization_path(X, y, 5, n_gates=10, method="clarabel", n_chunks=2)
    assert len(calls) == 2
    # Clarabel never warm starts: chunking cannot change the result
    np.testing.assert_array_equal(res.weights, res2.weights)


# --------------------------------------------------------------------------------------
# parallel runs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "formulation, method, n_chunks",
    [("gated_relu", "rfista", 2), ("relu", "al", 2), ("gated_relu", "clarabel", None)],
)
def test_parallel_path_equals_serial(formulation, method, n_chunks):
    X, y = _data(n=30, d=2, seed=7)
    common = dict(
        formulation=formulation, n_gates=12, method=method, lam_min_ratio=1e-2, n_chunks=n_chunks
    )
    serial = regularization_path(X, y, 6, n_jobs=1, **({**common, "n_chunks": n_chunks or 2}))
    parallel = regularization_path(X, y, 6, n_jobs=2, **common)
    assert len(parallel.chunks) == 2
    np.testing.assert_array_equal(parallel.lams, serial.lams)
    np.testing.assert_allclose(parallel.weights, serial.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(parallel.objectives, serial.objectives, rtol=1e-12)
    np.testing.assert_array_equal(parallel.n_active, serial.n_active)


def _folds(n_folds=3, seed=8):
    X, y = _data(n=36, d=2, seed=seed)
    idx = np.arange(36)
    return [(X[idx % n_folds != f], y[idx % n_folds != f]) for f in range(n_folds)]


def test_path_many_parallel_equals_serial_and_single_paths():
    folds = _folds()
    common = dict(lams=4, n_gates=10, method="rfista", lam_min_ratio=1e-2)
    serial = path_many(folds, n_jobs=1, **common)
    parallel = path_many(folds, n_jobs=2, **common)
    # several runs use one BLAS thread each (whatever n_jobs); a lone path does not
    with threadpool_limits(limits=1):
        single = regularization_path(*folds[1], **common)
    assert len(serial) == len(parallel) == 3
    for a, b in zip(serial, parallel):
        np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(serial[1].weights, single.weights, rtol=0, atol=1e-12)
    # a dict task overrides the common settings
    res = path_many([{"X": folds[0][0], "y": folds[0][1], "lams": 2}], **common)
    assert len(res[0]) == 2
    with pytest.raises(ValueError, match="tasks"):
        path_many([folds[0][0]], **common)
    with pytest.raises(ValueError, match="n_gatez"):
        path_many(folds, n_gatez=3)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_unconverged_solves_are_reported_and_warned(n_jobs):
    X, y = _data(n=30, d=2, seed=9)
    with pytest.warns(SolverWarning) as record:
        res = regularization_path(
            X, y, 4, n_gates=10, method="rfista", max_iter=2, tol=1e-10, n_chunks=2, n_jobs=n_jobs
        )
    # the summary reaches this process even when the solver's own warnings stay in workers
    summary = [str(w.message) for w in record if "did not converge" in str(w.message)]
    assert len(summary) == 1 and "3 of 4" in summary[0]
    assert res.status[0] == "optimal" and res.converged[0]  # λ_max: zero is optimal
    assert not res.converged[1:].any() and set(res.status[1:]) == {"max_iter"}
    # even unconverged weights are certified: the gap bounds their suboptimality
    for i in range(1, 4):
        assert res.objectives[i] - res.gaps[i] <= _loop_optimum(res.problem_at(i)) + 1e-10


def test_dask_backend_gives_the_serial_result():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    folds = _folds(n_folds=2)
    common = dict(lams=3, n_gates=8, method="rfista", lam_min_ratio=1e-2)
    serial = path_many(folds, n_jobs=1, **common)
    X, y = folds[0]
    serial_chunks = regularization_path(X, y, n_chunks=2, n_jobs=1, **common)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as ts:
            on_dask = path_many(folds, n_jobs=2, **common)
            chunks_on_dask = regularization_path(X, y, n_chunks=2, n_jobs=2, **common)
    # the work really went through the cluster: 2 paths + 2 chunks, on both workers
    assert len(ts.data) >= 4
    assert len({task["worker"] for task in ts.data}) == 2
    for a, b in zip(serial, on_dask):
        np.testing.assert_allclose(a.weights, b.weights, rtol=0, atol=1e-12)
    np.testing.assert_allclose(serial_chunks.weights, chunks_on_dask.weights, rtol=0, atol=1e-12)


def test_verbose_shows_a_progress_bar(capsys):
    X, y = _data(n=15)
    res = regularization_path(X, y, 3, n_gates=6, method="auto", verbose=True)
    err = capsys.readouterr().err
    assert "λ path" in err and "3/3" in err
    # "auto" is resolved once for the whole path
    from convex_relu.solvers import choose_method

    # (the cost model depends on λ/λ_max: judged at the grid's geometric mean)
    typical = float(np.exp(np.mean(np.log(res.lams))))
    assert res.method == choose_method(res.problem.with_lam(typical))[0]


# --------------------------------------------------------------------------------------
# dtype pass-through and early stopping by callback
# --------------------------------------------------------------------------------------


def test_dtype_reaches_every_solve_and_certificates_stay_float64(monkeypatch):
    from convex_relu import solvers
    from convex_relu.certificates import certify

    seen = []
    real = solvers.solve

    def spy(problem, **kwargs):
        seen.append(kwargs.get("dtype"))
        return real(problem, **kwargs)

    monkeypatch.setattr(solvers, "solve", spy)
    X, y = _data(n=40, d=3, seed=2)
    res = regularization_path(X, y, 5, n_gates=20, method="rfista", tol=1e-3, dtype="float32")
    assert len(seen) == 4 and set(seen) == {"float32"}  # λ_max needs no solve
    # the reported gaps are float64 certificates of the returned weights (recomputed here)
    for l in range(len(res)):
        cert = certify(res.problem_at(l), res.weights[l])
        assert res.relative_gaps[l] == pytest.approx(cert.relative_gap, rel=1e-9, abs=1e-15)
        assert cert.relative_gap <= 1e-3
    seen.clear()
    regularization_path(X, y, 3, n_gates=20, method="rfista", tol=1e-3)
    assert set(seen) == {None}


def test_callback_stops_the_path_and_keeps_the_full_paths_prefix():
    X, y = _data(n=40, d=3, seed=3)
    common = dict(n_gates=20, method="rfista", tol=1e-6)
    full = regularization_path(X, y, 6, **common)
    calls = []

    def stop_after_third(index, problem, weights):
        calls.append(index)
        # the callback sees the problem at lams[index] and the path's weights there
        assert problem.lam == full.lams[index]
        np.testing.assert_array_equal(weights, full.weights[index])
        return index == 2

    short = regularization_path(X, y, 6, callback=stop_after_third, **common)
    assert calls == [0, 1, 2]
    assert len(short) == 3 and short.weights.shape[0] == 3 and short.n_iter.shape == (3,)
    np.testing.assert_array_equal(short.lams, full.lams[:3])
    np.testing.assert_array_equal(short.weights, full.weights[:3])
    np.testing.assert_array_equal(short.objectives, full.objectives[:3])
    # the same in path_many, with the callback per task (folds)
    [many] = path_many([{"X": X, "y": y, "lams": 6, "callback": lambda i, p, w: i == 1}], **common)
    np.testing.assert_array_equal(many.weights, full.weights[:2])
    with pytest.raises(TypeError, match="callback"):
        regularization_path(X, y, 3, callback=3, **common)
