"""Weak duality, D <= p*, as property tests against independent optima.

The certificate's dual bound must never exceed the optimum, at λ = 0, at tiny λ
and at ordinary λ, for both losses and both programs, with and without a bias,
for 1–3 outputs, on shapes where null(Aᵀ) is trivial (p·d̃ >= n), tiny (a few
rows) and large (n ≫ p·d̃). The optima come from computations written here:

- λ = 0, squared loss: ``min_u ‖Au − y‖²/(2s)`` by ``numpy.linalg.lstsq`` (with two
  steps of iterative refinement) on the explicitly stacked ``A = [D_1X̃ … D_pX̃]``.
  C-ReLU has the same optimum when its cones have interiors (sampled patterns come
  with interior gates), and our λ = 0 dual point is a null vector of ``Aᵀ`` anyway,
  so both programs are checked against it.
- otherwise: the program written pattern by pattern in CVXPY (a Python loop, not the
  package's vectorised builder) and solved by Clarabel at tight tolerances. For
  C-GReLU the objective is re-evaluated here at Clarabel's weights, which is a
  true upper bound on p*.

Weights certified: random, zero, and near-optimal (the reference solution, exact
and perturbed).
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from convex_relu.certificates import certify, dual_roundoff
from convex_relu.cvx import solve_exact
from convex_relu.patterns import sample_patterns
from convex_relu.problems import GatedReLUProblem, ReLUProblem

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------


def _xt(X, bias):
    return np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X


def _stacked(prob):
    """``A = [D_1X̃ … D_pX̃]`` built column block by column block; column ``i·d̃ + j``."""
    Xt = _xt(prob.X, prob.bias)
    D = prob.patterns.masks.astype(float)
    return np.hstack([D[:, [i]] * Xt for i in range(D.shape[1])])


def _loss0(prob):
    """``ℓ(0)``: the scale of the data (``‖Y‖²/(2s)`` or ``log 2``)."""
    if prob.loss == "squared":
        return float(np.sum(prob.Y**2)) / (2 * prob.Y.size)
    return float(np.log(2.0))


def lstsq_optimum(prob):
    """``min_u ‖Au − Y‖²/(2s)`` and a minimiser in the package's weight layout."""
    A = _stacked(prob)
    Y = prob.Y
    U, *_ = np.linalg.lstsq(A, Y, rcond=None)
    for _ in range(2):  # iterative refinement: the residual to working accuracy
        dU, *_ = np.linalg.lstsq(A, Y - A @ U, rcond=None)
        U = U + dU
    value = float(np.sum((A @ U - Y) ** 2)) / (2 * Y.size)
    p, d = prob.patterns.masks.shape[1], A.shape[1] // prob.patterns.masks.shape[1]
    W = np.stack([U[:, k].reshape(p, d).T for k in range(Y.shape[1])])  # (c, d̃, p)
    return value, W


def cvx_optimum(prob):
    """The program as a CVXPY loop over outputs and patterns; returns ``(p*, weights)``.

    For C-GReLU ``p*`` is our own evaluation of the objective at Clarabel's point
    (an upper bound on the optimum whatever the solver's accuracy).
    """
    Xt = _xt(prob.X, prob.bias)
    D = prob.patterns.masks.astype(float)
    n, d = Xt.shape
    c, p, s = prob.Y.shape[1], D.shape[1], prob.Y.size
    relu = prob.formulation == "relu"
    V = [[cp.Variable(d) for _ in range(p)] for _ in range(c)]
    Wv = [[cp.Variable(d) for _ in range(p)] for _ in range(c)] if relu else None
    loss, reg, cons = 0, 0, []
    for k in range(c):
        pred = 0
        for i in range(p):
            DiX = D[:, [i]] * Xt
            if relu:
                Ai = (2 * D[:, [i]] - 1) * Xt
                pred = pred + DiX @ (V[k][i] - Wv[k][i])
                reg = reg + cp.norm(V[k][i]) + cp.norm(Wv[k][i])
                cons += [Ai @ V[k][i] >= 0, Ai @ Wv[k][i] >= 0]
            else:
                pred = pred + DiX @ V[k][i]
                reg = reg + cp.norm(V[k][i])
        y = prob.Y[:, k]
        if prob.loss == "squared":
            loss = loss + cp.sum_squares(pred - y) / (2 * s)
        else:
            loss = loss + cp.sum(cp.logistic(-cp.multiply(y, pred))) / s
    program = cp.Problem(cp.Minimize(loss + prob.lam * reg), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11,
                          tol_feas=1e-11, max_iter=400)
        except cp.error.SolverError:
            try:
                program.solve(solver="CLARABEL", tol_gap_abs=1e-8, tol_gap_rel=1e-8, tol_feas=1e-8)
            except cp.error.SolverError:
                # no independent reference for this case (e.g. logistic at λ = 0 on
                # separable data: the infimum 0 is not attained); hypothesis draws another
                assume(False)
    assert program.status in ("optimal", "optimal_inaccurate"), program.status

    def stack(vars_):
        return np.stack([np.stack([vars_[k][i].value for i in range(p)], axis=1) for k in range(c)])

    if relu:
        return float(program.value), np.stack([stack(V), stack(Wv)])
    U = stack(V)
    A = _stacked(prob)
    P = np.column_stack([A @ np.concatenate([U[k][:, i] for i in range(p)]) for k in range(c)])
    if prob.loss == "squared":
        lv = float(np.sum((P - prob.Y) ** 2)) / (2 * s)
    else:
        lv = float(np.logaddexp(0.0, -prob.Y * P).sum()) / s
    return lv + prob.lam * float(np.linalg.norm(U, axis=1).sum()), U


def _as_weights(prob, U):
    """C-GReLU weights ``U`` for either program (C-ReLU: ``v = U``, ``w = 0``; certify repairs)."""
    return np.stack([U, np.zeros_like(U)]) if prob.formulation == "relu" else U


# ---------------------------------------------------------------------------
# problem strategy
# ---------------------------------------------------------------------------

SHAPES = {
    # name: (n range, d range, gates range)
    "trivial_null": ((4, 9), (1, 2), (10, 16)),   # p·d̃ >= n: rank A = n, p* = 0 at λ = 0
    "tiny": ((2, 4), (1, 1), (1, 3)),
    "large": ((24, 36), (1, 2), (1, 3)),          # n ≫ p·d̃: a big null space
}


@st.composite
def problems(draw, loss=None, lam_kind=None):
    shape = draw(st.sampled_from(sorted(SHAPES)))
    (n0, n1), (d0, d1), (g0, g1) = SHAPES[shape]
    n = draw(st.integers(n0, n1))
    d = draw(st.integers(d0, d1))
    gates = draw(st.integers(g0, g1))
    c = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    loss = loss or draw(st.sampled_from(["squared", "logistic"]))
    formulation = draw(st.sampled_from(["gated_relu", "relu"]))
    seed = draw(st.integers(0, 2**20))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c))
    if loss == "logistic":
        Y = np.where(Y > 0, 1.0, -1.0)
    try:
        P = sample_patterns(X, gates, seed=seed, bias=bias)
    except ValueError:  # every gate gave the all-zero pattern (tiny n, no bias)
        assume(False)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    prob = cls(X, Y, P, 1.0, loss=loss, bias=bias)
    kind = lam_kind or draw(st.sampled_from(["tiny", "ordinary"]))
    if kind == "zero":
        return prob.with_lam(0.0), rng
    lam_max = prob.lam_max()
    frac = 1e-8 if kind == "tiny" else draw(st.floats(0.05, 0.8))
    return prob.with_lam(frac * max(lam_max, 1e-12)), rng


def _check(prob, cert, p_star, tol):
    assert np.isfinite(cert.dual)
    assert cert.dual <= p_star + tol, (cert.dual, p_star, cert.dual_note)
    # no negative gap beyond the certificate's stated round-off
    assert cert.gap >= -dual_roundoff(prob, cert.primal)
    assert cert.primal >= p_star - tol or prob.formulation == "relu"


# ---------------------------------------------------------------------------
# λ = 0
# ---------------------------------------------------------------------------


@settings(max_examples=25, **SETTINGS)
@given(problems(loss="squared", lam_kind="zero"))
def test_weak_duality_at_lam_zero_squared_against_lstsq(case):
    prob, rng = case
    p_star, U_star = lstsq_optimum(prob)
    tol = 1e-10 * _loss0(prob)
    W_star = _as_weights(prob, U_star)
    for W in (prob.zero_weights(), rng.standard_normal(prob.weights_shape), W_star,
              W_star + 1e-3 * rng.standard_normal(prob.weights_shape)):
        cert = certify(prob, W)
        _check(prob, cert, p_star, tol)
        if prob.formulation == "gated_relu":
            # for the squared loss at λ = 0 the null-space bound does not depend on u:
            # it is the optimum itself whenever null(Aᵀ) is computed exactly (n ≫ p·d̃)
            if _stacked(prob).shape[1] <= prob.n:
                assert cert.dual == pytest.approx(p_star, rel=1e-9, abs=tol)


@settings(max_examples=10, **SETTINGS)
@given(problems(loss="logistic", lam_kind="zero"))
def test_weak_duality_at_lam_zero_logistic_against_cvxpy(case):
    prob, rng = case
    gated = prob.gated_problem() if prob.formulation == "relu" else prob
    # p*(C-GReLU) <= p*(C-ReLU), and our own evaluation at Clarabel's point bounds it
    p_star, U = cvx_optimum(gated)
    tol = 1e-7 * _loss0(prob)
    for W in (prob.zero_weights(), rng.standard_normal(prob.weights_shape), _as_weights(prob, U)):
        _check(prob, certify(prob, W), p_star, tol)


# ---------------------------------------------------------------------------
# λ > 0: tiny (1e-8·λ_max) and ordinary
# ---------------------------------------------------------------------------


@settings(max_examples=20, **SETTINGS)
@given(problems())
def test_weak_duality_at_positive_lam_against_cvxpy(case):
    prob, rng = case
    p_star, W_star = cvx_optimum(prob)
    # Clarabel's accuracy at these tolerances, relative to the data's scale
    tol = 1e-7 * (abs(p_star) + _loss0(prob))
    for W in (prob.zero_weights(), rng.standard_normal(prob.weights_shape), W_star,
              W_star + 1e-4 * rng.standard_normal(W_star.shape)):
        _check(prob, certify(prob, W), p_star, tol)


# ---------------------------------------------------------------------------
# regressions
# ---------------------------------------------------------------------------


def _issue_case(formulation):
    """Zero weights on 10×2 data, 12 sampled gates, bias: the dual was 0.197 at p* ~ 1e-25."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2))
    y = rng.standard_normal(10)
    P = sample_patterns(X, 12, 0, bias=True)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    return cls(X, y, P, 0.0, bias=True)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
def test_lam_zero_trivial_null_space_gives_the_trivial_bound(formulation):
    prob = _issue_case(formulation)
    p_star, U = lstsq_optimum(prob)
    assert np.linalg.matrix_rank(_stacked(prob)) == prob.n  # null(Aᵀ) is trivial
    assert p_star <= 1e-20
    for W in (prob.zero_weights(), _as_weights(prob, U)):
        cert = certify(prob, W)
        assert cert.dual <= 1e-12
        assert cert.gap >= -dual_roundoff(prob, cert.primal)
        assert "trivial bound 0" in cert.dual_note
        assert cert.to_dict()["dual_note"] == cert.dual_note


def test_lam_zero_dual_is_never_above_the_lstsq_optimum_over_many_seeds():
    """The over-claim came from amplified round-off: sweep shapes around p·d̃ ≈ n."""
    for seed in range(40):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(6, 20))
        X = rng.standard_normal((n, 2))
        y = rng.standard_normal(n)
        P = sample_patterns(X, int(rng.integers(2, 14)), seed, bias=bool(seed % 2))
        prob = GatedReLUProblem(X, y, P, 0.0, bias=bool(seed % 2))
        p_star, _ = lstsq_optimum(prob)
        cert = certify(prob, prob.zero_weights())
        assert cert.dual <= p_star + 1e-10 * _loss0(prob), (seed, cert.dual, p_star)


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_tiny_lam_certifies_the_clarabel_solution(formulation, loss):
    """At λ = 1e-8·λ_max an inexact solution has ‖(Aᵀ∇ℓ)_i‖ ≫ λ, so γ∇ℓ ≈ 0 and the
    gap read ~100 %; the null-space dual point certifies it to a small relative gap."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = rng.standard_normal(60)
    if loss == "logistic":
        y = np.sign(y)
    P = sample_patterns(X, 5, 0, bias=False)
    cls = ReLUProblem if formulation == "relu" else GatedReLUProblem
    prob = cls(X, y, P, 1.0, loss=loss, bias=False)
    prob = prob.with_lam(1e-8 * prob.lam_max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = solve_exact(prob, "clarabel", tol=1e-6)
    cert = certify(prob, sol.weights)
    assert cert.relative_gap <= 1e-4
    p_star, _ = cvx_optimum(prob)
    assert cert.dual <= p_star + 1e-7 * (p_star + _loss0(prob))
    assert cert.gap >= -dual_roundoff(prob, cert.primal)


@pytest.mark.parametrize("route", ["explicit_svd", "kernel_eigh"])
def test_lam_zero_bound_is_tight_and_valid_on_both_basis_routes(route, monkeypatch):
    """p·d̃ > n with rank A < n (shared directions): the explicit SVD and the n × n
    kernel route (eigendecomposition, then a check of ‖Aᵀv‖ with A itself) both
    give D <= p* and, where a null space exists, D = p*."""
    import convex_relu.certificates as certificates

    if route == "kernel_eigh":
        monkeypatch.setattr(certificates, "EXPLICIT_SVD_MAX_FLOPS", 0.0)
    seen = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(8, 30))
        X = rng.standard_normal((n, int(rng.integers(1, 3))))
        y = rng.standard_normal(n)
        P = sample_patterns(X, int(rng.integers(3, 15)), seed, bias=True)
        prob = GatedReLUProblem(X, y, P, 0.0, bias=True)
        A = _stacked(prob)
        if A.shape[1] <= n:
            continue
        p_star, _ = lstsq_optimum(prob)
        cert = certify(prob, prob.zero_weights())
        assert cert.dual <= p_star + 1e-10 * _loss0(prob), (seed, cert.dual, p_star)
        if np.linalg.matrix_rank(A) < n:
            seen += 1
            assert cert.dual == pytest.approx(p_star, rel=1e-8), (seed, cert.dual_note)
    assert seen >= 3  # the sweep does reach rank-deficient shapes
