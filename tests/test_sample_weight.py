"""sample_weight: the weighted loss Σ_j w_j ℓ_j / (c·Σw), carried into every solver.

Independent references written here:

- duplicated rows: integer weights must give the problem of the data with row j
  repeated w_j times (same gates, masks repeated) — objective, λ_max and certificate
  to 1e-10, and the optima found by Clarabel and the first-order methods;
- a CVXPY program written as a loop over rows and patterns with the raw weights and
  S = c·Σw in it (not the package's ŵ);
- the Fenchel conjugate of the weighted loss in closed form from the raw weights,
  evaluated at the certificate's dual point;
- weak duality (hypothesis): the certificate's dual at random weights never exceeds
  the loop program's optimum.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import xlogy

from convex_relu.augmented_lagrangian import solve_al
from convex_relu.certificates import certify
from convex_relu.fista import solve_rfista
from convex_relu.patterns import Patterns
from convex_relu.problems import GatedReLUProblem, ReLUProblem, make_problem
from convex_relu.solvers import solve

CLS = {"gated_relu": GatedReLUProblem, "relu": ReLUProblem}


def _data(loss, n=24, d=3, seed=0, zeros=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * X[:, 0] + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    w = rng.integers(1, 4, n).astype(float)
    if zeros:
        w[rng.choice(n, n // 4, replace=False)] = 0.0
    return X, y, w


def _pair(formulation, loss, lam=0.02, bias=True, gates=8, seed=0, zeros=False):
    """(weighted problem, duplicated-rows problem) on the same gates."""
    X, y, w = _data(loss, seed=seed, zeros=zeros)
    pw = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias,
                      n_gates=gates, seed=seed, sample_weight=w)
    reps = w.astype(int)
    pats = Patterns(masks=np.repeat(pw.patterns.masks, reps, axis=0), gates=pw.patterns.gates,
                    bias=bias, method="sampled")
    pd = CLS[formulation](np.repeat(X, reps, axis=0), np.repeat(y, reps), pats, lam, loss=loss,
                          bias=bias)
    return pw, pd, w


CASES = [(f, l) for f in ("gated_relu", "relu") for l in ("squared", "logistic")]


@pytest.mark.parametrize("formulation,loss", CASES)
def test_integer_weights_equal_duplicated_rows_at_any_weights(formulation, loss):
    pw, pd, _ = _pair(formulation, loss)
    assert pw.lam_max() == pytest.approx(pd.lam_max(), rel=1e-10)
    rng = np.random.default_rng(1)
    for scale in (0.0, 0.05, 0.5):
        W = scale * rng.standard_normal(pw.weights_shape)
        assert pw.objective(W) == pytest.approx(pd.objective(W), rel=1e-10, abs=1e-14)
        cw, cd = certify(pw, W), certify(pd, W)
        assert cw.primal == pytest.approx(cd.primal, rel=1e-10, abs=1e-14)
        assert cw.dual == pytest.approx(cd.dual, rel=1e-10, abs=1e-12)
        assert cw.dual <= cw.primal + 1e-12


@pytest.mark.parametrize("formulation,loss", CASES)
@pytest.mark.parametrize("method", ["clarabel", "first_order"])
def test_integer_weights_equal_duplicated_rows_at_the_optimum(formulation, loss, method):
    pw, pd, _ = _pair(formulation, loss)
    # the reference: the duplicated data solved by Clarabel (the AL on duplicated rows,
    # whose cone constraints repeat, can stall short of 1e-10)
    sd = solve(pd, "clarabel", tol=1e-10)
    if method == "clarabel":
        sw = solve(pw, "clarabel", tol=1e-10)
    else:
        fast = "rfista" if formulation == "gated_relu" else "al"
        sw = solve(pw, fast, tol=1e-11)
    assert sw.converged and sd.converged, (sw.status, sd.status, sw.relative_gap, sd.relative_gap)
    # both certified to 1e-10 or better: their optima agree to that
    assert sw.objective == pytest.approx(sd.objective, rel=1e-10)
    # and the weighted solution is certified the same on the duplicated problem
    cw, cd = certify(pw, sw.weights), certify(pd, sw.weights)
    assert cw.primal == pytest.approx(cd.primal, rel=1e-10)
    assert cw.relative_gap == pytest.approx(cd.relative_gap, rel=1e-6, abs=1e-10)
    assert cd.relative_gap <= 1e-10


# -- an independent CVXPY loop with the raw weights ---------------------------


def _loop_optimum(prob, w):
    """The weighted program as loops over rows and patterns, raw ``w`` and ``S = c·Σw``."""
    X = prob.X
    Xt = np.hstack([X, np.ones((X.shape[0], 1))]) if prob.bias else X
    D = prob.patterns.masks.astype(float)
    n, d = Xt.shape
    c, p = prob.Y.shape[1], D.shape[1]
    S = c * float(np.sum(w))
    relu = prob.formulation == "relu"
    V = [cp.Variable(d) for _ in range(p)]
    Wv = [cp.Variable(d) for _ in range(p)] if relu else None
    reg, cons = 0, []
    pred = 0
    for i in range(p):
        DiX = D[:, [i]] * Xt
        if relu:
            Ai = (2 * D[:, [i]] - 1) * Xt
            pred = pred + DiX @ (V[i] - Wv[i])
            reg = reg + cp.norm(V[i]) + cp.norm(Wv[i])
            cons += [Ai @ V[i] >= 0, Ai @ Wv[i] >= 0]
        else:
            pred = pred + DiX @ V[i]
            reg = reg + cp.norm(V[i])
    y = prob.Y[:, 0]
    terms = []
    for j in range(n):
        if prob.loss == "squared":
            terms.append(w[j] * cp.square(pred[j] - y[j]) / 2)
        else:
            terms.append(w[j] * cp.logistic(-y[j] * pred[j]))
    program = cp.Problem(cp.Minimize(cp.sum(cp.hstack(terms)) / S + prob.lam * reg), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert program.status in ("optimal", "optimal_inaccurate")
    return float(program.value)


@pytest.mark.parametrize("formulation,loss", CASES)
def test_weighted_cvxpy_optimum_equals_loop_formulation(formulation, loss):
    X, y, w = _data(loss, n=16, zeros=True)
    w = w * 0.37  # non-integer: only ratios matter
    prob = make_problem(X, y, formulation=formulation, lam=0.03, loss=loss, bias=True,
                        n_gates=5, seed=2, sample_weight=w)
    ref = _loop_optimum(prob, w)
    sol = solve(prob, "clarabel", tol=1e-8)
    assert sol.converged
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    fast = "rfista" if formulation == "gated_relu" else "al"
    sol2 = solve(prob, fast, tol=1e-8)
    assert sol2.converged
    assert sol2.objective == pytest.approx(ref, rel=1e-6)


# -- conjugate in closed form, from the raw weights ----------------------------


def _conjugate_raw(loss, z, Y, w):
    """``ℓ_w*(z)`` with ``ℓ_w = Σ_jk (w_j/S) f(ŷ_jk, y_jk)``, per entry, ``S = c·Σw``."""
    S = Y.shape[1] * float(np.sum(w))
    a = (w / S)[:, None] * np.ones_like(Y)  # the per-entry factor of f
    zero = a == 0
    if np.any(z[zero] != 0):
        return np.inf
    za, Ya, aa = z[~zero], Y[~zero], a[~zero]
    if loss == "squared":  # sup ζŷ − a(ŷ − y)²/2 = ζy + ζ²/(2a)
        return float(np.sum(za * Ya + za**2 / (2 * aa)))
    mu = -za * Ya / aa  # sup ζŷ − a·log(1 + e^{−yŷ}) = a·h(−ζy/a)
    assert np.all(mu >= -1e-12) and np.all(mu <= 1 + 1e-12)
    mu = np.clip(mu, 0, 1)
    return float(np.sum(aa * (xlogy(mu, mu) + xlogy(1 - mu, 1 - mu))))


@pytest.mark.parametrize("formulation,loss", CASES)
def test_certificate_dual_is_the_raw_weight_conjugate(formulation, loss):
    X, y, w = _data(loss, zeros=True)
    prob = make_problem(X, y, formulation=formulation, lam=0.02, loss=loss, bias=True,
                        n_gates=6, seed=3, sample_weight=w)
    W = 0.1 * np.random.default_rng(4).standard_normal(prob.weights_shape)
    cert = certify(prob, W)
    z = cert.dual_point
    assert np.all(z[w == 0] == 0)  # zero-weight rows carry no dual mass
    assert cert.dual == pytest.approx(-_conjugate_raw(loss, z, prob.Y, w), rel=1e-10, abs=1e-14)
    # the primal, by the raw formula
    pred = prob.predict(cert.weights)
    S = float(np.sum(w))
    if loss == "squared":
        lv = float(np.sum(w[:, None] * (pred - prob.Y) ** 2)) / (2 * S)
    else:
        lv = float(np.sum(w[:, None] * np.logaddexp(0, -prob.Y * pred))) / S
    assert cert.primal == pytest.approx(lv + prob.regularizer(cert.weights), rel=1e-12)


# -- zero weights: rows that do not count ---------------------------------------


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_zero_weight_rows_are_dropped_rows_for_the_gated_program(loss):
    X, y, w = _data(loss, zeros=True)
    pw = make_problem(X, y, formulation="gated_relu", lam=0.02, loss=loss, bias=True,
                      n_gates=8, seed=5, sample_weight=w)
    keep = w > 0
    pats = Patterns(masks=pw.patterns.masks[keep], gates=pw.patterns.gates, bias=True)
    pk = GatedReLUProblem(X[keep], y[keep], pats, 0.02, loss=loss, sample_weight=w[keep])
    sw = solve_rfista(pw, tol=1e-10)
    sk = solve_rfista(pk, tol=1e-10)
    assert sw.converged and sk.converged
    assert sw.objective == pytest.approx(sk.objective, rel=1e-9)
    assert pw.lam_max() == pytest.approx(pk.lam_max(), rel=1e-12)


@pytest.mark.parametrize("lam", [0.0, 1e-6])
def test_zero_weights_keep_the_certificate_valid_at_small_lam(lam):
    """The null-space dual points do not vanish on zero-weight rows: not used, bound valid."""
    X, y, w = _data("squared", n=10, zeros=True)
    prob = make_problem(X, y, formulation="gated_relu", lam=lam, loss="squared", bias=True,
                        n_gates=2, seed=6, sample_weight=w)
    W = 0.1 * np.random.default_rng(0).standard_normal(prob.weights_shape)
    cert = certify(prob, W)
    assert np.isfinite(cert.dual) and cert.dual >= 0
    assert np.all(cert.dual_point[w == 0] == 0)
    ref = _loop_optimum(prob, w)
    assert cert.dual <= ref + 1e-9


# -- weak duality (hypothesis) -------------------------------------------------


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    seed=st.integers(0, 10_000),
    formulation=st.sampled_from(["gated_relu", "relu"]),
    loss=st.sampled_from(["squared", "logistic"]),
    lam_exp=st.floats(-3, -1),
    n_zero=st.integers(0, 3),
    scale=st.sampled_from([0.0, 0.1, 1.0]),
)
def test_weak_duality_with_weights(seed, formulation, loss, lam_exp, n_zero, scale):
    rng = np.random.default_rng(seed)
    n, d = 10, 2
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > 0, 1.0, -1.0)
    w = rng.exponential(size=n)
    w[rng.choice(n, n_zero, replace=False)] = 0.0
    prob = make_problem(X, y, formulation=formulation, lam=10.0**lam_exp, loss=loss, bias=True,
                        n_gates=3, seed=seed, sample_weight=w)
    ref = _loop_optimum(prob, w)
    W = scale * rng.standard_normal(prob.weights_shape)
    cert = certify(prob, W)
    assert cert.dual <= ref + 1e-8 * max(1.0, abs(ref))
    assert cert.primal >= ref - 1e-8 * max(1.0, abs(ref))


# -- validation, the unweighted path, invariances ------------------------------


@pytest.mark.parametrize("bad,exc,word", [
    (-np.ones(24), ValueError, "non-negative"),
    (np.r_[np.nan, np.ones(23)], ValueError, "NaN"),
    (np.r_[np.inf, np.ones(23)], ValueError, "NaN or infinite"),
    (np.ones(23), ValueError, "24"),
    (np.zeros(24), ValueError, "all zero"),
    (np.ones((24, 1)), ValueError, "1-D"),
    (2.0, ValueError, "scalar"),
    (["a"] * 24, TypeError, "numeric"),
    (np.ones(24) * 1j, TypeError, "real"),
])
def test_bad_sample_weight_is_named_before_any_work(bad, exc, word, monkeypatch):
    import convex_relu.problems as problems

    def boom(*a, **k):  # pattern computation must not start
        raise AssertionError("patterns computed before sample_weight was checked")

    monkeypatch.setattr(problems, "enumerate_patterns", boom)
    monkeypatch.setattr(problems, "sample_patterns", boom)
    X, y, _ = _data("squared")
    with pytest.raises(exc, match="sample_weight") as info:
        make_problem(X, y, sample_weight=bad)
    assert word in str(info.value)


def test_unit_weights_and_rescaled_weights_change_nothing():
    X, y, w = _data("squared")
    base = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=8)
    assert base.row_weights is None and base.sample_weight is None
    ones = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=8,
                        sample_weight=np.ones(X.shape[0]))
    s0, s1 = solve_rfista(base, tol=1e-9), solve_rfista(ones, tol=1e-9)
    np.testing.assert_allclose(s1.weights, s0.weights, rtol=0, atol=1e-12)
    a = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=8,
                     sample_weight=w)
    b = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=8,
                     sample_weight=w * 1e6)
    W = 0.1 * np.random.default_rng(0).standard_normal(a.weights_shape)
    assert a.objective(W) == pytest.approx(b.objective(W), rel=1e-14)


def test_weighted_problem_in_other_units():
    """normalized(): the weights pass through the power-of-two rescaling."""
    X, y, w = _data("squared")
    a = make_problem(X, y, formulation="relu", lam=0.02, bias=False, n_gates=6,
                     sample_weight=w)
    big = make_problem(X * 2.0**20, y * 2.0**10, formulation="relu", lam=0.02 * 2.0**30,
                       bias=False, n_gates=6, sample_weight=w)
    inner, _ = big.normalized()
    np.testing.assert_array_equal(inner.row_weights, a.row_weights)
    sa, sb = solve(a, "al", tol=1e-8), solve(big, "al", tol=1e-8)
    assert sa.converged and sb.converged
    assert sb.objective == pytest.approx(2.0**20 * sa.objective, rel=1e-6)


def test_weighted_al_and_rfista_run_through_the_estimator_keyword():
    """The keyword H7's estimators pass: ``make_problem(..., sample_weight=...)``."""
    X, y, w = _data("logistic", zeros=True)
    prob = make_problem(X, y, formulation="relu", lam=0.02, loss="logistic", bias=True,
                        n_gates=6, sample_weight=w)
    sol = solve_al(prob, tol=1e-7)
    assert sol.converged
    assert certify(prob, sol.weights).relative_gap <= 1e-7
    assert "weighted" in repr(prob)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_logistic_dual_scaling_is_the_best_for_the_weighted_conjugate(formulation):
    """The certificate's γ maximises −ℓ_w*(γ∇ℓ) over [0, min(1, λ/M)] (a grid search here)."""
    X, y, w = _data("logistic", zeros=True)
    w = w**3  # very unequal weights: the best γ moves with them
    prob = make_problem(X, y, formulation=formulation, lam=5.0, loss="logistic", bias=True,
                        n_gates=6, seed=7, sample_weight=w)
    W = 1.5 * np.random.default_rng(8).standard_normal(prob.weights_shape)
    cert = certify(prob, W)
    g = prob.loss_grad(prob.predict(cert.weights))
    gmax = min(1.0, prob.lam / float(cert.max_constraint[0]))
    grid = np.linspace(0.0, gmax, 2001)
    vals = [-_conjugate_raw("logistic", t * g, prob.Y, w) for t in grid]
    best = int(np.argmax(vals))
    assert 0 < best < grid.size - 1  # an interior optimum: the search matters
    assert cert.dual >= vals[best] - 1e-9 * abs(vals[best])
