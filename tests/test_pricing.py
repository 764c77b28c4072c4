"""Tests of column generation over the whole arrangement (convex_relu.pricing).

Independent references, written here: the full program over *every* chamber
(enumerate_patterns + Clarabel through CVXPY with a loop-free but separate build), a
check of the dual point against every chamber by brute force over sign vectors
(each chamber's cone projection by scipy's NNLS), and non-convex networks trained
by scipy's L-BFGS on the NC objective written in this file.
"""

import numpy as np
import pytest
from scipy.optimize import minimize, nnls

from convex_relu.patterns import Arrangement, enumerate_patterns
from convex_relu.pricing import certify_network_global, price_arrangement, solve_global
from convex_relu.problems import make_problem
from convex_relu.solvers import solve
from convex_relu.certificates import certify


def data(n, seed=0, d=2):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, -1] ** 2 - 0.3 + 0.1 * rng.standard_normal(n)
    return X, y


def x_tilde(X):
    return np.hstack([X, np.ones((X.shape[0], 1))])


def proj_norm_nnls(Xt, mask, q):
    """‖Π_K(q)‖ for K = {u : (2D − I)X̃u >= 0}: Moreau with scipy's NNLS (independent of cones.py)."""
    A = np.where(mask[:, None], Xt, -Xt)
    alpha, res = nnls(A.T, -q, maxiter=5000)
    return res  # = ‖q + Aᵀα̂‖ = ‖Π_K(q)‖


def chamber_values(X, z, lam, formulation):
    """max over every chamber (from enumerate_patterns) of the dual constraint at z."""
    Xt = x_tilde(X)
    P = enumerate_patterns(X, bias=True)
    worst = 0.0
    for i in range(P.n_patterns):
        m = P.masks[:, i]
        q = Xt.T @ (m * z[:, 0])
        if formulation == "gated_relu":
            v = np.linalg.norm(q)
        else:
            v = max(proj_norm_nnls(Xt, m, q), proj_norm_nnls(Xt, m, -q))
        worst = max(worst, v)
    return worst / lam, P.n_patterns


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_column_generation_reaches_full_optimum(formulation):
    X, y = data(18, seed=1)
    lam = 0.01
    full = make_problem(X, y, formulation=formulation, lam=lam, bias=True)
    ref = certify(full, solve(full, "clarabel", tol=1e-10).weights)
    assert ref.relative_gap < 1e-8
    res = solve_global(X, y, lam=lam, formulation=formulation, tol=1e-9, init_gates=8)
    assert res.converged and res.status == "optimal"
    cert = res.certificate
    # the full solve's optimum lies in [dual, primal] of our global certificate
    assert cert.dual <= ref.primal * (1 + 1e-9)
    assert ref.dual <= cert.primal * (1 + 1e-9)
    assert abs(cert.primal - ref.primal) <= 1e-8 * ref.primal
    # the returned dual point passes an independent check of every chamber
    worst, n_ch = chamber_values(X, cert.dual_point, lam, formulation)
    assert worst <= 1 + 1e-7
    assert res.n_chambers >= n_ch
    # the dual value is recomputed independently: −ℓ*(z) = −(⟨z, y⟩ + (s/2)‖z‖²)
    z = cert.dual_point[:, 0]
    assert cert.dual == pytest.approx(-(z @ y + 0.5 * len(y) * z @ z), rel=1e-12)
    # the working set is much smaller than the arrangement
    assert res.problem.p < full.p


def test_price_arrangement_matches_brute_force_values():
    # pricing an arbitrary point: its largest value equals the independent per-chamber max
    X, y = data(12, seed=3)
    prob = make_problem(X, y, formulation="relu", lam=0.05, bias=True, n_gates=10)
    z = np.random.default_rng(4).standard_normal((12, 1)) * 0.1
    arr = Arrangement(X, bias=True)
    for form in ("gated_relu", "relu"):
        p = prob if form == "relu" else prob.gated_problem()
        pr = price_arrangement(arr, p, z)
        worst, _ = chamber_values(X, z, 0.05, form)
        assert pr.max_constraint[0] / 0.05 == pytest.approx(worst, rel=1e-7)


def test_global_dual_is_valid_even_before_convergence():
    # one round only: the scaled dual point is feasible for every chamber anyway
    X, y = data(14, seed=5)
    res = solve_global(X, y, lam=0.01, formulation="relu", tol=1e-12, init_gates=4, max_rounds=1)
    assert not res.converged and res.status == "max_rounds"
    worst, _ = chamber_values(X, res.certificate.dual_point, 0.01, "relu")
    assert worst <= 1 + 1e-7
    full = make_problem(X, y, formulation="relu", lam=0.01, bias=True)
    opt = certify(full, solve(full, "clarabel", tol=1e-10).weights).primal
    assert res.certificate.dual <= opt * (1 + 1e-9) <= res.certificate.primal * (1 + 2e-9)


# --------------------------------------------------------------------------- non-convex networks


def nc_objective(theta, Xt, y, m, lam):
    d = Xt.shape[1]
    W1 = theta[: d * m].reshape(d, m)
    w2 = theta[d * m:]
    H = Xt @ W1
    A = np.maximum(H, 0.0)
    r = A @ w2 - y
    n = len(y)
    f = r @ r / (2 * n) + 0.5 * lam * (W1.ravel() @ W1.ravel() + w2 @ w2)
    g_pred = r / n
    g_w2 = A.T @ g_pred + lam * w2
    g_H = np.outer(g_pred, w2) * (H > 0)
    g_W1 = Xt.T @ g_H + lam * W1
    return f, np.concatenate([g_W1.ravel(), g_w2])


def train(Xt, y, m, lam, seed, maxiter=3000):
    rng = np.random.default_rng(seed)
    d = Xt.shape[1]
    theta0 = np.concatenate([rng.standard_normal(d * m) / np.sqrt(d), rng.standard_normal(m) / np.sqrt(m)])
    out = minimize(nc_objective, theta0, args=(Xt, y, m, lam), jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "gtol": 1e-10})
    return out.x[: d * m].reshape(d, m), out.x[d * m:], out.fun


@pytest.mark.parametrize("n,seed", [(100, 11), (200, 12)])
def test_fifty_seeds_never_beat_the_certified_optimum(n, seed):
    X, y = data(n, seed=seed)
    lam = 0.01
    res = solve_global(X, y, lam=lam, formulation="relu", tol=1e-7)
    assert res.converged
    cert = res.certificate
    W = res.solution.weights
    width = int((np.linalg.norm(W, axis=2) > 1e-9 * np.abs(W).max()).sum())
    Xt = x_tilde(X)
    arr = Arrangement(X, bias=True)
    best = np.inf
    for m in (width, 2 * width):
        # 300 L-BFGS iterations per seed: the bound must hold for any weights, training
        # only makes the check bite (the best gets within 5% below)
        nets = [train(Xt, y, m, lam, sd, maxiter=300) for sd in range(50)]
        W1s = [t[0] for t in nets]
        w2s = [t[1] for t in nets]
        fs = np.array([t[2] for t in nets])
        assert np.all(fs >= cert.primal - cert.gap - 1e-12)
        best = min(best, fs.min())
        # the whole-arrangement bound of a few of them never exceeds the certified optimum
        for i in range(0, 50, 10):
            ng = certify_network_global(X, y, lam, W1s[i], w2s[i], bias=True, arrangement=arr)
            assert ng.dual <= cert.primal + 1e-12
    assert best <= cert.primal * 1.05  # training reaches the optimum closely


def test_trained_networks_never_beat_the_certified_optimum():
    X, y = data(100, seed=7)
    lam = 0.01
    res = solve_global(X, y, lam=lam, formulation="relu", tol=1e-7)
    assert res.converged
    cert = res.certificate
    W = res.solution.weights
    width = int((np.linalg.norm(W, axis=2) > 1e-9 * np.abs(W).max()).sum())
    Xt = x_tilde(X)
    arr = Arrangement(X, bias=True)
    best = np.inf
    for m in (width, 2 * width):
        for seed in range(6):
            W1, w2, f = train(Xt, y, m, lam, seed)
            best = min(best, f)
            # never below the certified global optimum by more than the certified gap
            assert f >= cert.primal - cert.gap - 1e-12
            # the network's own whole-arrangement bound never exceeds the certified optimum
            ng = certify_network_global(X, y, lam, W1, w2, bias=True, arrangement=arr)
            assert ng.network_objective == pytest.approx(f, rel=1e-10)
            assert ng.dual <= cert.primal + 1e-12
            assert ng.dual <= f + 1e-12
    # and training does get close to it (the reference is not vacuous)
    assert best <= cert.primal * 1.5


def test_certify_network_global_bound_is_below_full_optimum():
    X, y = data(15, seed=9)
    lam = 0.02
    full = make_problem(X, y, formulation="relu", lam=lam, bias=True)
    opt = certify(full, solve(full, "clarabel", tol=1e-10).weights)
    for seed in range(3):
        W1, w2, f = train(x_tilde(X), y, 5, lam, seed)
        ng = certify_network_global(X, y, lam, W1, w2, bias=True)
        assert ng.dual <= opt.primal * (1 + 1e-9)
        assert ng.network_gap >= 0


def test_progress_hook_and_bad_input():
    X, y = data(12, seed=2)
    seen = []
    res = solve_global(X, y, lam=0.01, formulation="gated_relu", tol=1e-8, progress=seen.append)
    assert [r.round for r in seen] == list(range(1, len(res.rounds) + 1))
    assert seen[-1].relative_gap == res.certificate.relative_gap
    assert res.to_dict()["n_chambers"] == res.n_chambers
    with pytest.raises(ValueError, match="lam"):
        solve_global(X, y, lam=0.0)
    with pytest.raises(ValueError, match="formulation"):
        solve_global(X, y, lam=0.1, formulation="nope")
    with pytest.raises(ValueError, match="max_rounds"):
        solve_global(X, y, lam=0.1, max_rounds=0)
    with pytest.raises(TypeError, match="progress"):
        solve_global(X, y, lam=0.1, progress=3)


# --------------------------------------------------------------------------- exact face pricing (rank 3)


def chamber_values_all(X, z, lam):
    """Per-chamber C-ReLU values max(‖Π(q)‖, ‖Π(−q)‖) by scipy NNLS, every chamber of enumerate_patterns."""
    Xt = x_tilde(X) if X.shape[1] + 1 == 3 else np.hstack([X, np.ones((X.shape[0], 1))])
    P = enumerate_patterns(X, bias=True)
    out = {}
    for i in range(P.n_patterns):
        m = P.masks[:, i]
        q = Xt.T @ (m * z)
        out[np.packbits(m).tobytes()] = max(proj_norm_nnls(Xt, m, q), proj_norm_nnls(Xt, m, -q)) / lam
    return out


def degenerate_data(kind, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((14, 2))
    if kind == "duplicates":
        X = np.vstack([X, X[:3], -X[3:5]])  # repeated and mirrored rows (merged hyperplanes)
    elif kind == "collinear3":
        X = np.column_stack([X, X[:, 0] - 2 * X[:, 1]])  # 3 features of rank 2: X̃ has rank 3
    return X


@pytest.mark.parametrize("kind,seed", [("gauss", 0), ("gauss", 1), ("duplicates", 2), ("collinear3", 3)])
def test_face_pricing_equals_independent_projections(kind, seed):
    X = degenerate_data(kind, seed)
    n = X.shape[0]
    rng = np.random.default_rng(10 + seed)
    y = rng.standard_normal(n)
    lam = 0.05
    prob = make_problem(X, y, formulation="relu", lam=lam, bias=True, n_gates=10)
    arr = Arrangement(X, bias=True)
    assert arr.rank == 3
    Xt = np.hstack([X, np.ones((n, 1))])
    # random dual points, and the dual point of a solved restricted problem (where the
    # maximum sits on faces and interiors near λ)
    zs = [rng.standard_normal(n) * 0.1, rng.standard_normal(n) * 0.01]
    cert = certify(prob, solve(prob, "clarabel", tol=1e-9).weights)
    zs.append(cert.dual_point[:, 0])
    for z in zs:
        ref = chamber_values_all(X, z, lam)
        worst = max(ref.values())
        faces = price_arrangement(arr, prob, z[:, None], relu_method="faces", top_k=20)
        nnls_route = price_arrangement(arr, prob, z[:, None], relu_method="nnls")
        assert faces.exact
        assert faces.max_constraint[0] / lam == pytest.approx(worst, rel=1e-9, abs=1e-12)
        # the NNLS route stops columns once below λ: exact above λ, an upper bound below
        assert nnls_route.max_constraint[0] / lam >= worst * (1 - 1e-7)
        if worst > 1 + 1e-6:
            assert nnls_route.max_constraint[0] / lam == pytest.approx(worst, rel=1e-7)
        # every chamber reported as violated really has at least the reported value
        masks = arr.expand(faces.top_signs)
        for i in range(masks.shape[1]):
            key = np.packbits(masks[:, i]).tobytes()
            if key in ref:  # (the all-zero mask has value 0 and is never reported)
                assert ref[key] >= faces.top_values[i] * (1 - 1e-9)
        if worst > 1 + 1e-6:
            assert faces.top_values.size and faces.top_values[0] == pytest.approx(worst, rel=1e-9)


def test_face_value_formula_is_relu_of_rows():
    # f(v) = zᵀ(X̃v)_+ = ⟨g0, v⟩ + Σ_c β_c|ν_cᵀv| on the row space, the identity the sweep rests on
    from convex_relu.pricing import _CircleSweep

    X = degenerate_data("duplicates", 5)
    n = X.shape[0]
    z = np.random.default_rng(6).standard_normal(n)
    prob = make_problem(X, z, formulation="relu", lam=0.1, bias=True, n_gates=4)
    sw = _CircleSweep(Arrangement(X, bias=True))
    g0, beta = sw.coefficients(prob, z[:, None])
    U = np.random.default_rng(7).standard_normal((3, 50))
    V = sw.B @ U
    lhs = z @ np.maximum(np.hstack([X, np.ones((n, 1))]) @ V, 0.0)
    rhs = g0[:, 0] @ U + np.abs(sw.n @ U).T @ beta[:, 0]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


def test_rep_signs_rows_matches_rep_signs():
    X = degenerate_data("duplicates", 8)
    arr = Arrangement(X, bias=True)
    rows = np.array([0, 3, 5, arr.n_hyperplanes - 1])
    for blk in arr.blocks():
        idx = np.arange(blk.n_chambers)
        np.testing.assert_array_equal(blk.rep_signs_rows(idx, rows), blk.rep_signs(idx)[rows])


def test_face_pricing_bad_input():
    X, y = data(12, seed=2)
    prob = make_problem(X, y, formulation="relu", lam=0.1, bias=True, n_gates=4)
    with pytest.raises(ValueError, match="relu_method"):
        price_arrangement(Arrangement(X, bias=True), prob, np.zeros((12, 1)), relu_method="x")
    X1 = X[:, :1]
    p1 = make_problem(X1, y, formulation="relu", lam=0.1, bias=True, n_gates=4)
    with pytest.raises(ValueError, match="rank 3"):
        price_arrangement(Arrangement(X1, bias=True), p1, np.zeros((12, 1)), relu_method="faces")


# --------------------------------------------------------------------------- restricted program (facets)


@pytest.mark.parametrize("kind,seed", [("gauss", 0), ("duplicates", 2), ("collinear3", 3)])
def test_cone_facets_imply_every_row(kind, seed):
    # every dropped row is implied: min ã_jᵀv over {Ã_F v >= 0, |v| <= 1} is >= 0 (scipy LP)
    from scipy.optimize import linprog
    from convex_relu.restricted import cone_facets

    X = degenerate_data(kind, seed)
    n = X.shape[0]
    Xt = np.hstack([X, np.ones((n, 1))])
    P = enumerate_patterns(X, bias=True)
    rng = np.random.default_rng(seed)
    for i in rng.choice(P.n_patterns, 12, replace=False):
        m = P.masks[:, i]
        F = cone_facets(Xt, m, P.gates[:, i])
        A = np.where(m[:, None], Xt, -Xt)
        assert F.size < n
        for j in np.setdiff1d(np.arange(n), F):
            lp = linprog(A[j], A_ub=-A[F], b_ub=np.zeros(F.size), bounds=[(-1, 1)] * Xt.shape[1],
                         method="highs")
            assert lp.status == 0 and lp.fun >= -1e-9


def test_restricted_solve_equals_cvxpy_on_all_rows():
    from convex_relu.restricted import solve_restricted_relu

    X, y = data(80, seed=4)
    rng = np.random.default_rng(1)
    for sw in (None, rng.uniform(0.2, 2.0, 80)):
        prob = make_problem(X, y, formulation="relu", lam=0.01, bias=True, n_gates=24, seed=3,
                            sample_weight=sw)
        ref = solve(prob, "clarabel", tol=1e-10)
        sol = solve_restricted_relu(prob, tol=1e-8)
        assert sol.converged and sol.certificate.relative_gap <= 1e-8
        assert sol.info["facet_rows"] < prob.p * prob.n / 4
        assert sol.objective == pytest.approx(ref.objective, rel=1e-8)
        # our certificate, recomputed on the returned weights
        assert certify(prob, sol.weights).primal == pytest.approx(sol.objective, rel=1e-12)


def test_sweep_chamber_count_equals_stream():
    for kind, seed in [("gauss", 0), ("duplicates", 2), ("collinear3", 3)]:
        X = degenerate_data(kind, seed)
        arr = Arrangement(X, bias=True)
        prob = make_problem(X, np.ones(X.shape[0]), formulation="relu", lam=0.1, bias=True, n_gates=4)
        pr = price_arrangement(arr, prob, np.zeros((X.shape[0], 1)))
        assert pr.n_chambers == sum(b.n_chambers for b in arr.blocks())
        st = price_arrangement(arr, prob, np.random.default_rng(0).standard_normal((X.shape[0], 1)),
                               relu_method="faces-stream")
        assert st.n_chambers == pr.n_chambers


# --------------------------------------------------------------------------- exact face pricing (rank 4)


def rank4_data(kind, seed, n=13):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    if kind == "duplicates":
        X = np.vstack([X, X[:2], -X[2:3]])  # repeated and mirrored rows (merged hyperplanes)
    elif kind == "collinear":
        # midpoints: x̃_k = (x̃_i + x̃_j)/2, so ν_i, ν_j, ν_k are coplanar and two projected
        # normals coincide inside H_i (merged in that hyperplane's rank-3 sweep)
        X = np.vstack([X, 0.5 * (X[0] + X[1]), 0.5 * (X[2] + X[3])])
    return X


@pytest.mark.parametrize("kind,seed", [("gauss", 0), ("gauss", 1), ("duplicates", 2), ("collinear", 3)])
def test_rank4_pricing_equals_brute_force(kind, seed):
    from convex_relu.pricing import _price_relu_rank4

    X = rank4_data(kind, seed)
    n = X.shape[0]
    rng = np.random.default_rng(20 + seed)
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2]
    lam = 0.02
    prob = make_problem(X, y, formulation="relu", lam=lam, bias=True, n_gates=6, seed=seed)
    arr = Arrangement(X, bias=True)
    assert arr.rank == 4
    # random points, and the dual point of a solved restricted problem (its maximum
    # sits on faces inside hyperplanes and on interiors near λ)
    zs = [rng.standard_normal(n) * 0.1, rng.standard_normal(n) * 0.01,
          certify(prob, solve(prob, "clarabel", tol=1e-10).weights).dual_point[:, 0]]
    for z in zs:
        ref = chamber_values_all(X, z, lam)
        worst = max(ref.values())
        pr = price_arrangement(arr, prob, z[:, None], top_k=40)
        assert pr.exact and pr.n_chambers in (len(ref), len(ref) + 1)  # (+ the all-zero mask)
        assert pr.max_constraint[0] / lam == pytest.approx(worst, rel=1e-9, abs=1e-12)
        # every chamber reported as violated really has at least the reported value
        masks = arr.expand(pr.top_signs)
        for i in range(masks.shape[1]):
            key = np.packbits(masks[:, i]).tobytes()
            assert key in ref or not masks[:, i].any()
            if key in ref:
                assert ref[key] >= pr.top_values[i] * (1 - 1e-9)
        if worst > 1 + 1e-6:
            assert pr.top_values.size and pr.top_values[0] == pytest.approx(worst, rel=1e-9)
        # the faces alone never exceed the whole maximum
        faces = _price_relu_rank4(arr, prob, z[:, None], 10, 1e-9, None, interiors=False)
        assert not faces.exact and faces.max_constraint[0] <= pr.max_constraint[0] * (1 + 1e-12)


def test_rank4_face_value_formula_on_hyperplanes():
    # f(B_j u) = ⟨B_jᵀg0, u⟩ + Σ_c β_c‖B_jᵀν_c‖·|ν'_cᵀu|, merged classes: the identity of each sweep
    from convex_relu.pricing import _hyperplane_sweeps

    X = rank4_data("collinear", 5)
    n = X.shape[0]
    z = np.random.default_rng(6).standard_normal(n)
    prob = make_problem(X, z, formulation="relu", lam=0.1, bias=True, n_gates=4)
    arr = Arrangement(X, bias=True)
    hs = _hyperplane_sweeps(arr)
    g0, beta = hs.coefficients(prob, z[:, None])
    Xt = x_tilde(X)
    U = np.random.default_rng(7).standard_normal((3, 40))
    merged = 0
    for j in range(hs.m):
        Bj, others, w, reps, cls, flip = hs.local[j]
        merged += len(others) - reps.shape[0]
        bj = np.zeros(reps.shape[0])
        np.add.at(bj, cls, beta[others, 0] * w)
        V = hs.B @ (Bj @ U)  # points of H_j in user coordinates
        lhs = z @ np.maximum(Xt @ V, 0.0)
        rhs = (Bj.T @ g0[:, 0]) @ U + np.abs(reps @ U).T @ bj
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)
    assert merged > 0  # the collinear rows did make projected normals coincide


@pytest.mark.parametrize("partial", [True, False])
def test_rank4_column_generation_reaches_full_optimum(partial):
    X = rank4_data("gauss", 8, n=12)
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1
    lam = 0.01
    full = make_problem(X, y, formulation="relu", lam=lam, bias=True)
    ref = certify(full, solve(full, "clarabel", tol=1e-10).weights)
    assert ref.relative_gap < 1e-8
    res = solve_global(X, y, lam=lam, formulation="relu", tol=1e-9, init_gates=6, max_add=8,
                       partial_pricing=partial)
    assert res.converged and res.status == "optimal"
    assert any(r.partial for r in res.rounds) == partial
    cert = res.certificate
    assert cert.dual <= ref.primal * (1 + 1e-9)
    assert ref.dual <= cert.primal * (1 + 1e-9)
    assert abs(cert.primal - ref.primal) <= 1e-8 * ref.primal
    # the returned dual point passes an independent check of every chamber (scipy NNLS)
    worst, n_ch = chamber_values(X, cert.dual_point, lam, "relu")
    assert worst <= 1 + 1e-7
    assert res.n_chambers >= n_ch
    z = cert.dual_point[:, 0]
    assert cert.dual == pytest.approx(-(z @ y + 0.5 * len(y) * z @ z), rel=1e-12)
    assert res.problem.p < full.p


def test_rank4_bound_only_from_full_rounds():
    # a partial round (faces only) gives columns, never a bound; the last round prices everything
    X = rank4_data("gauss", 9, n=12)
    y = np.cos(X[:, 0]) + X[:, 1] * X[:, 2]
    lam = 0.01
    res = solve_global(X, y, lam=lam, formulation="relu", tol=1e-12, init_gates=4, max_add=4, max_rounds=2)
    assert res.status == "max_rounds"
    assert res.rounds[0].partial and not res.rounds[-1].partial
    assert res.rounds[0].n_chambers == 0 and res.rounds[0].relative_gap == np.inf
    cert = res.certificate
    assert np.isfinite(cert.dual) and cert.n_chambers == res.rounds[-1].n_chambers > 0
    worst, _ = chamber_values(X, cert.dual_point, lam, "relu")
    assert worst <= 1 + 1e-7
    full = make_problem(X, y, formulation="relu", lam=lam, bias=True)
    opt = certify(full, solve(full, "clarabel", tol=1e-10).weights).primal
    assert cert.dual <= opt * (1 + 1e-9) <= cert.primal * (1 + 2e-9)
