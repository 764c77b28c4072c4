"""The cross-validated estimators (convex_relu.model_selection) against hand-rolled CV loops."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import KFold, StratifiedKFold

from convex_relu import ConvexReLUClassifierCV, ConvexReLURegressorCV, regularization_path
from convex_relu.networks import network_from_weights
from convex_relu.patterns import sample_patterns


def _regression(n=90, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal(d), 0) - 0.5 * X[:, 0] + 0.3 * rng.standard_normal(n)
    return X, 50.0 * y + 7.0  # targets in their own units: the estimator standardises


def _classes(n=90, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = np.where(np.linalg.norm(X, axis=1) < 1.1, "in", "out")
    return X, y


def _fold_prediction(X_tr, Z_tr, X_te, lams, loss, tol=1e-4):
    """Predictions of every λ of an independent path run on one fold (network outputs).

    The gates are the estimators' default: 12 data-placed gates of the fold, seed 0.
    """
    gates = sample_patterns(X_tr, 12, 0, bias=True, offsets="data")
    path = regularization_path(X_tr, Z_tr, lams, patterns=gates, random_state=0, loss=loss,
                               method="rfista", tol=tol)
    return [network_from_weights(path.problem_at(l), path.weights[l]).predict(X_te)
            for l in range(len(lams))]


def test_regressor_cv_best_lam_equals_a_hand_rolled_loop_over_folds():
    X, y = _regression()
    est = ConvexReLURegressorCV(lams=5, cv=3, n_gates=12, solver="rfista").fit(X, y)
    lams = est.lams_
    assert lams.shape == (5,) and np.all(np.diff(lams) < 0)
    scores = np.empty((3, 5))
    for f, (tr, te) in enumerate(KFold(3).split(X)):
        mu, sd = y[tr].mean(), y[tr].std()
        preds = _fold_prediction(X[tr], (y[tr] - mu) / sd, X[te], lams, "squared")
        scores[f] = [r2_score(y[te], mu + sd * P[:, 0]) for P in preds]
    np.testing.assert_allclose(est.cv_scores_, scores, rtol=0, atol=1e-9)
    best = int(np.argmax(scores.mean(axis=0)))
    assert est.lam_ == lams[best] and est.best_index_ == best
    # the refit is the plain estimator at lam_ on all the data
    from convex_relu import ConvexReLURegressor

    ref = ConvexReLURegressor(lam=lams[best], n_gates=12, solver="rfista", tol=est.tol).fit(X, y)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=0, atol=1e-9 * np.abs(y).max())
    # the grid's top is λ_max of the full standardised problem: the zero network there
    assert est.paths_[0].n_active[0] == 0 and est.cv_lam_max_ == pytest.approx(lams[0])


def test_classifier_cv_best_lam_and_probabilities_match_hand_computations():
    X, y = _classes()
    est = ConvexReLUClassifierCV(lams=4, cv=3, n_gates=12, solver="rfista").fit(X, y)
    assert est.classes_.tolist() == ["in", "out"]
    scores = np.empty((3, 4))
    for f, (tr, te) in enumerate(StratifiedKFold(3).split(X, y)):
        codes = np.where(y[tr] == "out", 1.0, -1.0)
        preds = _fold_prediction(X[tr], codes, X[te], est.lams_, "logistic", tol=est.tol)
        scores[f] = [accuracy_score(y[te], np.where(P[:, 0] > 0, "out", "in")) for P in preds]
    np.testing.assert_allclose(est.cv_scores_, scores, rtol=0, atol=1e-12)
    assert est.lam_ == est.lams_[int(np.argmax(scores.mean(axis=0)))]
    f = est.decision_function(X)
    P = est.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(P[:, 1], 1.0 / (1.0 + np.exp(-f)), rtol=1e-12)


def test_scoring_parameter_is_used():
    X, y = _regression(n=60)
    a = ConvexReLURegressorCV(lams=3, cv=3, n_gates=12, solver="rfista",
                              scoring="neg_mean_squared_error").fit(X, y)
    for f, (tr, te) in enumerate(KFold(3).split(X)):
        mu, sd = y[tr].mean(), y[tr].std()
        preds = _fold_prediction(X[tr], (y[tr] - mu) / sd, X[te], a.lams_, "squared")
        ref = [-np.mean((y[te] - (mu + sd * P[:, 0])) ** 2) for P in preds]
        np.testing.assert_allclose(a.cv_scores_[f], ref, rtol=1e-9)


def test_folds_in_parallel_give_the_same_result():
    import joblib

    X, y = _regression(n=60)
    serial = ConvexReLURegressorCV(lams=3, cv=3, n_gates=8, solver="rfista").fit(X, y)
    with joblib.parallel_config(backend="threading"):
        par = ConvexReLURegressorCV(lams=3, cv=3, n_gates=8, solver="rfista", n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(serial.cv_scores_, par.cv_scores_)
    assert serial.lam_ == par.lam_


def test_verbose_shows_a_progress_bar_over_the_folds(capsys):
    X, y = _regression(n=40)
    ConvexReLURegressorCV(lams=2, cv=2, n_gates=6, solver="rfista", verbose=True).fit(X, y)
    assert "2/2" in capsys.readouterr().err


@pytest.fixture(scope="module")
def fitted_cv():
    X, y = _regression(n=40)
    return ConvexReLURegressorCV(lams=2, cv=2, n_gates=6, solver="rfista").fit(X, y)


@pytest.mark.parametrize(
    "params, exc, name",
    [
        ({"cv": 1}, ValueError, "cv"),
        ({"cv": "five"}, TypeError, "cv"),
        ({"scoring": "no_such_score"}, ValueError, "scoring"),
        ({"scoring": 3}, TypeError, "scoring"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"lams": 0}, ValueError, "lams"),
        ({"lams": [-1.0, 0.1]}, ValueError, "lams"),
        ({"lam_min_ratio": 2.0}, ValueError, "lam_min_ratio"),
        ({"n_gates": 0}, ValueError, "n_gates"),
        ({"random_state": "x"}, TypeError, "random_state"),
    ],
)
def test_bad_parameters_raise_naming_them_and_leave_the_fit_unchanged(params, exc, name, fitted_cv):
    import copy

    X, y = _regression(n=40)
    est = copy.deepcopy(fitted_cv)
    before = {k: v for k, v in vars(est).items()}
    est.set_params(**params)
    with pytest.raises(exc, match=name):
        est.fit(X[:30], y[:30])
    assert set(vars(est)) == set(before)
    assert est.lams_ is before["lams_"] and est.network_ is before["network_"]


def test_too_few_samples_for_the_folds():
    X, y = _regression(n=3)
    with pytest.raises(ValueError, match="cv=5 needs at least 5 samples; got 3 samples"):
        ConvexReLURegressorCV(n_gates=4).fit(X, y)
