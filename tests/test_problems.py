"""Specification of the problem objects: validation at the boundary, objectives, λ_max."""

import numpy as np
import pytest

from convex_relu import GatedReLUProblem, ReLUProblem, make_problem, sample_patterns


def _data(n=20, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def _explicit_A(Xt, masks):
    """The stacked matrix [D_1X̃ … D_pX̃] written out (only for tiny tests)."""
    return np.hstack([masks[:, [i]] * Xt for i in range(masks.shape[1])])


@pytest.mark.parametrize("bias", [False, True])
def test_gated_objective_matches_explicit_group_lasso(bias):
    X, y = _data()
    P = sample_patterns(X, 15, seed=1, bias=bias)
    prob = GatedReLUProblem(X, y, P, lam=0.3)
    U = np.random.default_rng(2).standard_normal(prob.weights_shape)
    Xt = np.hstack([X, np.ones((20, 1))]) if bias else X
    A = _explicit_A(Xt, P.masks.astype(float))
    u = U[0].T.reshape(-1)  # pattern-major, matching the column blocks of A
    expected = np.sum((A @ u - y) ** 2) / (2 * len(y)) + 0.3 * sum(
        np.linalg.norm(U[0][:, i]) for i in range(prob.p)
    )
    assert prob.objective(U) == pytest.approx(expected, rel=1e-12)


def test_logistic_multi_output_objective():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    Y = np.where(rng.random((12, 2)) > 0.5, 1.0, -1.0)
    prob = GatedReLUProblem(X, Y, sample_patterns(X, 6, seed=0), lam=0.1, loss="logistic")
    U = rng.standard_normal(prob.weights_shape)
    pred = np.stack(
        [sum((prob.masks[:, i] * (X @ U[k][:, i])) for i in range(prob.p)) for k in range(2)],
        axis=1,
    )
    expected = np.log1p(np.exp(-Y * pred)).sum() / Y.size + 0.1 * np.linalg.norm(U, axis=1).sum()
    assert prob.objective(U) == pytest.approx(expected, rel=1e-12)


def test_relu_objective_and_cone_violation():
    X, y = _data(seed=4)
    prob = ReLUProblem(X, y, sample_patterns(X, 8, seed=0), lam=0.2)
    W = np.random.default_rng(5).standard_normal(prob.weights_shape)
    gated = prob.gated_problem()
    assert prob.objective(W) == pytest.approx(
        gated.objective(W[0] - W[1]) - 0.2 * np.linalg.norm(W[0] - W[1], axis=1).sum()
        + 0.2 * np.linalg.norm(W, axis=-2).sum(), rel=1e-12)
    S = 2 * prob.patterns.masks - 1.0
    worst = max(
        max(0.0, -(S[:, i] * (X @ W[t, 0][:, i])).min()) for t in range(2) for i in range(prob.p)
    )
    assert prob.cone_violation(W) == pytest.approx(worst, rel=1e-12)


def test_gated_lam_max_matches_formula():
    X, y = _data(seed=6)
    P = sample_patterns(X, 10, seed=0)
    prob = GatedReLUProblem(X, y, P, lam=0.1)
    expected = max(np.linalg.norm(X.T @ (P.masks[:, i] * y)) for i in range(prob.p)) / len(y)
    assert prob.lam_max() == pytest.approx(expected, rel=1e-12)
    logistic = GatedReLUProblem(X, np.sign(y), P, lam=0.1, loss="logistic")
    expected = max(np.linalg.norm(X.T @ (P.masks[:, i] * np.sign(y))) for i in range(prob.p))
    assert logistic.lam_max() == pytest.approx(expected / (2 * len(y)), rel=1e-12)


def test_relu_lam_max_is_at_most_gated():
    X, y = _data(seed=7)
    prob = ReLUProblem(X, y, sample_patterns(X, 10, seed=0), lam=0.1)
    assert 0 < prob.lam_max() <= prob.gated_problem().lam_max() * (1 + 1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"X": np.full((5, 2), np.nan)}, "X contains NaN"),
        ({"X": np.ones(5)}, "X must be 2-D"),
        ({"X": np.ones((0, 2)), "y": np.ones(0)}, "X is empty"),
        ({"y": np.ones(7)}, "y has 7 rows"),
        ({"y": np.array([1.0, np.inf, 1, 1, 1])}, "y contains NaN"),
        ({"lam": -1.0}, "lam must be finite and >= 0"),
        ({"lam": "big"}, "lam must be a real number"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"loss": "logistic", "y": np.array([0.0, 1, 1, 0, 1])}, r"labels in \{-1, \+1\}"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, match):
    rng = np.random.default_rng(0)
    X0 = rng.standard_normal((5, 2))
    P = sample_patterns(X0, 4, seed=0)
    args = {"X": X0, "y": np.ones(5), "lam": 0.1, "loss": "squared"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        GatedReLUProblem(args["X"], args["y"], P, args["lam"], loss=args["loss"])


def test_patterns_must_belong_to_the_data():
    X, y = _data(seed=8)
    other = np.random.default_rng(9).standard_normal(X.shape)
    with pytest.raises(ValueError, match="patterns do not match X"):
        GatedReLUProblem(X, y, sample_patterns(other, 10, seed=0), lam=0.1)
    with pytest.raises(ValueError, match="bias"):
        GatedReLUProblem(X, y, sample_patterns(X, 10, seed=0, bias=True), lam=0.1, bias=False)
    with pytest.raises(ValueError, match="Patterns object"):
        GatedReLUProblem(X, y, np.ones((20, 3)), lam=0.1)


def test_weights_are_validated():
    X, y = _data()
    prob = make_problem(X, y, formulation="gated_relu", n_gates=5)
    with pytest.raises(ValueError, match="shape"):
        prob.objective(np.zeros((2, 2)))
    W = prob.zero_weights()
    W[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        prob.objective(W)
    with pytest.raises(ValueError, match="formulation"):
        make_problem(X, y, formulation="deep")


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("kx,ky", [(-150, 0), (150, 0), (0, -150), (0, 150), (7, -3), (0, 0)])
def test_normalized_problem_is_the_same_problem_in_other_units(formulation, loss, bias, kx, ky):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 3)) * 10.0**kx
    y = rng.standard_normal((20, 2)) * 10.0**ky
    if loss == "logistic":
        y = np.sign(y)
    prob = make_problem(X, y, formulation=formulation, lam=0.3 * 10.0 ** (kx + ky), loss=loss,
                        bias=bias, n_gates=15, seed=1)
    inner, sc = prob.normalized()
    # the inner data has magnitude ~1 whatever the user's units
    assert 0.5 <= np.abs(inner.X_tilde).max() <= 2 and (loss == "logistic" or 0.5 <= np.abs(inner.Y).max() <= 2)
    np.testing.assert_array_equal(inner.masks, prob.masks)
    W = rng.standard_normal(inner.weights_shape)
    # independent evaluation in the user's units: the explicit objective on user weights
    Wu = sc.weights_to_user(W)
    np.testing.assert_allclose(prob.objective(Wu), sc.value_to_user(inner.objective(W)), rtol=1e-12)
    np.testing.assert_allclose(prob.predict(Wu), sc.predictions_to_user(inner.predict(W)), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_array_equal(sc.weights_to_inner(Wu), W)  # powers of two: exact
    again, sc2 = inner.normalized()
    assert again is inner and sc2.is_identity


@pytest.mark.parametrize("name,kwargs,match", [
    ("y", dict(y_scale=1e160), "y has entries of magnitude"),
    ("y", dict(y_scale=1e-160), "y has entries of magnitude"),
    ("X", dict(x_scale=1e260), "X has entries of magnitude"),
    ("X", dict(x_scale=1e-260), "X has entries of magnitude"),
])
def test_magnitudes_no_float64_computation_can_handle_are_refused(name, kwargs, match):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 2)) * kwargs.get("x_scale", 1.0)
    y = rng.standard_normal(10) * kwargs.get("y_scale", 1.0)
    pats = sample_patterns(rng.standard_normal((10, 2)), 5, 0)
    with pytest.raises(ValueError, match=match):
        GatedReLUProblem(X, y, pats, 0.1)


def test_squared_loss_and_norms_do_not_overflow_in_user_units():
    # residuals ~1e152 and weights ~1e-300: plain sums of squares overflow / underflow
    from convex_relu.losses import squared_value

    r = np.array([[3e152], [4e152]])
    assert squared_value(r, np.zeros_like(r)) == pytest.approx((9e304 + 16e304) / 4, rel=1e-14)
    W = np.array([[[3e-300], [4e-300]]])
    np.testing.assert_allclose(GatedReLUProblem.group_norms(W), [[5e-300]], rtol=1e-14)
