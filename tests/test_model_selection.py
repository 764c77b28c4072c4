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


def _fold_prediction(X_tr, Z_tr, X_te, lams, loss, tol=1e-4, dtype=None):
    """Predictions of every λ of an independent path run on one fold (network outputs).

    The gates are the estimators' default: 12 data-placed gates of the fold, seed 0.
    ``dtype``: the CV estimators' paths iterate in float32 at their loose ``path_tol``.
    """
    gates = sample_patterns(X_tr, 12, 0, bias=True, offsets="data")
    path = regularization_path(X_tr, Z_tr, lams, patterns=gates, random_state=0, loss=loss,
                               method="rfista", tol=tol, dtype=dtype)
    return [network_from_weights(path.problem_at(l), path.weights[l]).predict(X_te)
            for l in range(len(lams))]


def test_regressor_cv_best_lam_equals_a_hand_rolled_loop_over_folds():
    X, y = _regression()
    est = ConvexReLURegressorCV(lams=5, cv=3, n_gates=12, solver="rfista", patience=None).fit(X, y)
    lams = est.lams_
    assert lams.shape == (5,) and np.all(np.diff(lams) < 0)
    scores = np.empty((3, 5))
    for f, (tr, te) in enumerate(KFold(3).split(X)):
        mu, sd = y[tr].mean(), y[tr].std()
        preds = _fold_prediction(X[tr], (y[tr] - mu) / sd, X[te], lams, "squared", tol=est.path_tol,
                                 dtype="float32")
        scores[f] = [r2_score(y[te], mu + sd * P[:, 0]) for P in preds]
    np.testing.assert_allclose(est.cv_scores_, scores, rtol=0, atol=1e-9)
    best = int(np.argmax(scores.mean(axis=0)))
    assert est.lam_ == lams[best] and est.best_index_ == best
    # the refit is the plain estimator at lam_ on all the data
    from convex_relu import ConvexReLURegressor

    ref = ConvexReLURegressor(lam=lams[best], n_gates=12, solver="rfista", tol=est.tol).fit(X, y)
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=0, atol=1e-9 * np.abs(y).max())
    # the paths are certified to the loose path_tol, the refit to tol
    from convex_relu.certificates import certify

    assert est.path_tol > est.tol
    assert all(np.all(p.relative_gaps <= est.path_tol) for p in est.paths_)
    assert certify(est.problem_, est.weights_).relative_gap <= est.tol
    # the grid's top is λ_max of the full standardised problem: the zero network there
    assert est.paths_[0].n_active[0] == 0 and est.cv_lam_max_ == pytest.approx(lams[0])


def test_classifier_cv_best_lam_and_probabilities_match_hand_computations():
    X, y = _classes()
    est = ConvexReLUClassifierCV(lams=4, cv=3, n_gates=12, solver="rfista", patience=None).fit(X, y)
    assert est.classes_.tolist() == ["in", "out"]
    scores = np.empty((3, 4))
    for f, (tr, te) in enumerate(StratifiedKFold(3).split(X, y)):
        codes = np.where(y[tr] == "out", 1.0, -1.0)
        preds = _fold_prediction(X[tr], codes, X[te], est.lams_, "logistic", tol=est.path_tol,
                                 dtype="float32")
        scores[f] = [accuracy_score(y[te], np.where(P[:, 0] > 0, "out", "in")) for P in preds]
    np.testing.assert_allclose(est.cv_scores_, scores, rtol=0, atol=1e-12)
    assert est.lam_ == est.lams_[int(np.argmax(scores.mean(axis=0)))]
    f = est.decision_function(X)
    P = est.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(P[:, 1], 1.0 / (1.0 + np.exp(-f)), rtol=1e-12)


def test_scoring_parameter_is_used():
    X, y = _regression(n=60)
    a = ConvexReLURegressorCV(lams=3, cv=3, n_gates=12, solver="rfista", patience=None,
                              scoring="neg_mean_squared_error").fit(X, y)
    for f, (tr, te) in enumerate(KFold(3).split(X)):
        mu, sd = y[tr].mean(), y[tr].std()
        preds = _fold_prediction(X[tr], (y[tr] - mu) / sd, X[te], a.lams_, "squared", tol=a.path_tol,
                                 dtype="float32")
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
        ({"path_tol": 0.0}, ValueError, "path_tol"),
        ({"path_tol": "x"}, TypeError, "path_tol"),
        ({"patience": 0}, ValueError, "patience"),
        ({"patience": "x"}, TypeError, "patience"),
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


def _stop_index(scores, patience):
    """How many λ a fold evaluates under the patience rule, from its full-path scores."""
    best, below = -np.inf, 0
    for l, v in enumerate(scores):
        if v >= best:
            best, below = v, 0
        else:
            below += 1
        if below >= patience:
            return l + 1
    return len(scores)


def test_early_stopping_follows_the_patience_rule_and_picks_the_full_paths_lam():
    X, y = _regression(n=60, d=3, seed=0)
    kw = dict(lams=10, lam_min_ratio=1e-3, cv=3, n_gates=12, solver="rfista")
    full = ConvexReLURegressorCV(patience=None, **kw).fit(X, y)
    early = ConvexReLURegressorCV(patience=2, **kw).fit(X, y)
    assert not np.any(np.isnan(full.cv_scores_)) and full.n_cv_lams_ == 10
    stops = [_stop_index(full.cv_scores_[f], 2) for f in range(3)]
    assert min(stops) < 10  # the rule stops something here (else the test shows nothing)
    for f, stop in enumerate(stops):
        assert len(early.paths_[f]) == stop
        # the early-stopped path is the full path's prefix: the same scores, bitwise
        np.testing.assert_array_equal(early.cv_scores_[f, :stop], full.cv_scores_[f, :stop])
        assert np.all(np.isnan(early.cv_scores_[f, stop:]))
    n = min(stops)
    assert early.n_cv_lams_ == n
    # λ only among the λ every fold evaluated, never from a NaN entry
    assert early.best_index_ == int(np.argmax(full.cv_scores_.mean(axis=0)[:n]))
    assert np.all(np.isfinite(early.cv_scores_[:, early.best_index_]))
    # here one fold runs on and scores best at a small λ: a mean over the folds that
    # evaluated each λ would choose that λ, which the other folds never saw
    with np.errstate(all="ignore"):
        assert int(np.nanargmax(np.nanmean(early.cv_scores_, axis=0))) > n - 1
    # the scores are unimodal here: the early-stopped CV chooses the full path's λ
    assert early.lam_ == full.lam_
    np.testing.assert_array_equal(early.predict(X), full.predict(X))


def test_fold_paths_iterate_in_float32_and_the_refit_does_not(monkeypatch):
    from convex_relu import solvers

    seen = []
    real = solvers.solve

    def spy(problem, **kwargs):
        seen.append((kwargs.get("tol"), kwargs.get("dtype")))
        return real(problem, **kwargs)

    monkeypatch.setattr(solvers, "solve", spy)
    X, y = _regression(n=40)
    est = ConvexReLURegressorCV(lams=3, cv=2, n_gates=6, solver="rfista").fit(X, y)
    path_calls = [dt for tol, dt in seen if tol == est.path_tol]
    assert len(path_calls) >= 4 and set(path_calls) == {"float32"}
    assert [dt for tol, dt in seen if tol == est.tol] == [None]  # the refit at tol = 1e-4
    seen.clear()
    ConvexReLURegressorCV(lams=3, cv=2, n_gates=6, solver="rfista", dtype="float64").fit(X, y)
    assert {dt for _, dt in seen} == {"float64"}


def test_classifier_early_stopping_follows_the_held_out_log_loss_and_picks_the_full_paths_lam():
    from sklearn.metrics import log_loss

    X, y = _classes(n=120, seed=1)
    kw = dict(lams=10, lam_min_ratio=1e-3, cv=3, n_gates=12, solver="rfista")
    full = ConvexReLUClassifierCV(patience=None, **kw).fit(X, y)
    early = ConvexReLUClassifierCV(patience=2, **kw).fit(X, y)
    assert full.n_cv_lams_ == 10
    stops, acc_stops = [], []
    for f, (tr, te) in enumerate(StratifiedKFold(3).split(X, y)):
        codes = np.where(y[tr] == "out", 1.0, -1.0)
        preds = _fold_prediction(X[tr], codes, X[te], full.lams_, "logistic", tol=full.path_tol,
                                 dtype="float32")
        # sklearn's log-loss of [1 − σ(f), σ(f)]: the stopping signal, independently
        losses = [log_loss(y[te], np.column_stack([1 - 1 / (1 + np.exp(-P[:, 0])), 1 / (1 + np.exp(-P[:, 0]))]),
                           labels=["in", "out"]) for P in preds]
        stops.append(_stop_index(-np.array(losses), 2))
        acc_stops.append(_stop_index(full.cv_scores_[f], 2))
    assert min(stops) < 10  # the log-loss rule stops something here
    for f, stop in enumerate(stops):
        assert len(early.paths_[f]) == stop
        # the scores (accuracy) of the evaluated λ are the full path's, bitwise
        np.testing.assert_array_equal(early.cv_scores_[f, :stop], full.cv_scores_[f, :stop])
        assert np.all(np.isnan(early.cv_scores_[f, stop:]))
    # the paths stop on the log-loss, not on the accuracy: here the accuracy dips at one
    # λ of fold 0 and would stop it before its best λ, and another λ would be chosen
    assert stops != acc_stops
    assert int(np.argmax(full.cv_scores_.mean(axis=0)[:min(acc_stops)])) != full.best_index_
    n = min(stops)
    assert early.n_cv_lams_ == n
    # λ only among the λ every fold evaluated, chosen on the mean accuracy
    assert early.best_index_ == int(np.argmax(full.cv_scores_.mean(axis=0)[:n]))
    assert np.all(np.isfinite(early.cv_scores_[:, early.best_index_]))
    assert early.lam_ == full.lam_
    np.testing.assert_array_equal(early.predict(X), full.predict(X))
