"""Cross-validated estimators: ``λ`` chosen along a warm-started path per fold.

:class:`ConvexReLURegressorCV` and :class:`ConvexReLUClassifierCV` work in the
manner of scikit-learn's ``LassoCV`` / ``LogisticRegressionCV``:

1. one grid of ``λ`` for every fold, ``lams_``: ``lams`` values from the full
   training problem's ``λ_max`` down to ``lam_min_ratio · λ_max``, geometric
   (:func:`convex_relu.path.lambda_grid`), or the given array sorted decreasingly;
2. for each fold of ``cv``, one regularisation path on the training part
   (:func:`convex_relu.path.regularization_path`: warm-started first-order solves,
   or one compiled conic program), the folds run in parallel through joblib
   (:func:`convex_relu.path.path_many`; nothing names a backend, so
   ``joblib.parallel_config(backend="dask")`` sends them to a Dask cluster), with a
   tqdm bar over the folds when ``verbose``;
3. the network of every ``λ`` scored on the held-out part, ``cv_scores_`` of shape
   ``(n_folds, n_lams)``; ``lam_`` maximises the mean over the folds (ties: the
   larger ``λ``, the sparser network);
4. a refit of :class:`~convex_relu.estimators.ConvexReLURegressor` /
   :class:`~convex_relu.estimators.ConvexReLUClassifier` on all the data at
   ``lam_``; its fitted attributes (``network_``, ``certificate_``, …) are set on
   the CV estimator, which then predicts like the plain one.

Each fold is prepared exactly as the plain estimator prepares its training data:
the regressor standardises the fold's targets with the fold's (weighted) mean and
standard deviation and maps predictions back; the classifier codes the labels
``±1`` (one-vs-all) with the classes of the whole ``y``. The gates are drawn with
the same seed in every fold (in each fold's standardised coordinates), and for
the refit.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils.validation import validate_data

from ._validation import InputTypeError, check_n_jobs, check_positive_int
from .estimators import (
    CLASSIFIER_N_GATES,
    CLASSIFIER_TOL,
    DEFAULT_GATES,
    DEFAULT_N_GATES,
    ConvexReLUClassifier,
    ConvexReLURegressor,
    _check_fit_sample_weight,
    _refuse_sparse_or_complex,
    _seed_from,
    _weighted_mean_scale,
)
from .networks import network_from_weights
from .path import _check_ratio, _resolve_grid, lambda_grid, path_many

__all__ = ["ConvexReLURegressorCV", "ConvexReLUClassifierCV", "DEFAULT_CV_LAMS", "DEFAULT_CV_TOL"]

#: Default number of ``λ`` in the grid of the CV estimators.
DEFAULT_CV_LAMS = 10
#: Default certified relative gap of every solve of the CV estimators (paths and refit):
#: choosing ``λ`` needs no more, and it keeps ``5 × 10`` solves affordable.
DEFAULT_CV_TOL = 1e-4
#: Default smallest ``λ / λ_max`` of the grid.
DEFAULT_CV_LAM_MIN_RATIO = 1e-3

# parameters of the plain estimator that the CV one does not have (λ is chosen)
_NOT_BASE = ("lam", "lam_ratio", "warm_start")
_CV_ONLY = ("lams", "lam_min_ratio", "cv", "scoring", "n_jobs")


class _CVMixin:
    """Shared fitting of the CV estimators (the plain estimator class is ``_base``)."""

    _base = None

    # ------------------------------------------------------------------ params
    def _base_params(self, **overrides):
        """The plain estimator's parameters taken from this one."""
        names = [n for n in self._base._get_param_names() if n not in _NOT_BASE]
        params = {n: getattr(self, n) for n in names}
        params.update(overrides)
        return params

    def _check_params(self):
        """Validate every parameter (the plain estimator's checks, then the CV ones)."""
        self._base(**self._base_params())._check_params()
        lams = self.lams
        if isinstance(lams, (numbers.Integral, np.integer)) and not isinstance(lams, (bool, np.bool_)):
            check_positive_int(lams, "lams")
        elif lams is None:
            raise InputTypeError("lams must be an int >= 1 or a 1-D array of λ >= 0; got None.")
        else:
            _resolve_grid(lams, 1.0, 0.5)
        _check_ratio(self.lam_min_ratio)
        check_n_jobs(self.n_jobs, "n_jobs")
        self._check_cv_param()
        self._scorer()

    def _check_cv_param(self):
        cv = self.cv
        if isinstance(cv, (numbers.Integral, np.integer)) and not isinstance(cv, (bool, np.bool_)):
            check_positive_int(cv, "cv", minimum=2)
        elif cv is None or isinstance(cv, (bool, np.bool_, str, bytes, float)):
            raise InputTypeError(
                f"cv must be an int >= 2, a cross-validation splitter or an iterable of "
                f"(train, test) index arrays; got {cv!r}."
            )
        elif not (hasattr(cv, "split") or hasattr(cv, "__iter__")):
            raise InputTypeError(
                f"cv must be an int >= 2, a cross-validation splitter or an iterable of "
                f"(train, test) index arrays; got {type(cv).__name__}."
            )

    def _scorer(self):
        """``None`` (the estimator's ``score``) or a scikit-learn scorer."""
        scoring = self.scoring
        if scoring is None:
            return None
        from sklearn.metrics import get_scorer

        if isinstance(scoring, str):
            try:
                return get_scorer(scoring)
            except ValueError as exc:
                raise ValueError(f"scoring={scoring!r} is not a known scorer: {exc}") from None
        if callable(scoring):
            return scoring
        raise InputTypeError(
            f"scoring must be None, a scorer name or a callable scorer(estimator, X, y); "
            f"got {scoring!r}."
        )

    # ------------------------------------------------------------------ fitting
    def _folds(self, X, y):
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        n_splits = cv.get_n_splits(X, y)
        n = X.shape[0]
        if isinstance(self.cv, (numbers.Integral, np.integer)) and n < n_splits:
            raise ValueError(
                f"cv={self.cv} needs at least {n_splits} samples; got {n} sample"
                f"{'' if n == 1 else 's'}."
            )
        folds = [(np.asarray(tr), np.asarray(te)) for tr, te in cv.split(X, y)]
        if len(folds) < 1:
            raise ValueError("cv produced no (train, test) split.")
        for tr, te in folds:
            if tr.size == 0 or te.size == 0:
                raise ValueError("cv produced an empty training or test set.")
        return folds

    def _fit(self, X, y, sample_weight):
        Xv, Y, loss, target_state, sw = self._validated_Xy(X, y, sample_weight)
        y_arr = self._y_for_scoring(y)
        scorer = self._scorer()
        seed = _seed_from(self.random_state)
        if seed is None:
            # one draw for every fold and the refit, even with fresh entropy
            seed = int(np.random.default_rng().integers(np.iinfo(np.int32).max))
        base = self._base(**self._base_params(random_state=seed))
        folds = self._folds(Xv, y_arr)

        # one grid for every fold, from the full training problem (as LassoCV does)
        full = base._problem(Xv, Y, loss, sw, seed)
        lam_max = float(full.lam_max())
        if not np.isfinite(lam_max):
            # no finite λ_max (e.g. "l2"): the grid starts at the neuron-group λ_max
            lam_max = float(full.with_penalty(None).lam_max())
        if isinstance(self.lams, (numbers.Integral, np.integer)):
            if not lam_max > 0:
                raise ValueError(
                    "lams: λ_max of the training problem is 0 (the zero network is optimal for "
                    "every λ, e.g. constant targets); pass the grid explicitly as lams=array."
                )
            grid = lambda_grid(lam_max, int(self.lams), self.lam_min_ratio)
        else:
            grid = _resolve_grid(self.lams, lam_max, self.lam_min_ratio)

        tasks, fold_states = [], []
        for tr, _ in folds:
            Y_tr, state_tr = self._fold_targets(Xv[tr], y_arr[tr], Y[tr], sw[tr] if sw is not None else None,
                                                target_state)
            task = {"X": Xv[tr], "y": Y_tr, "lams": grid}
            if sw is not None:
                task["sample_weight"] = sw[tr]
            # the plain estimator's gates, drawn in the fold's coordinates with the seed
            fold_patterns = base._sampled_patterns(Xv[tr], task.get("sample_weight"), seed)
            if fold_patterns is not None:
                task["patterns"] = fold_patterns
            tasks.append(task)
            fold_states.append(state_tr)
        common = {
            "formulation": self.formulation,
            "loss": loss,
            "bias": bool(self.bias),
            "n_gates": self.n_gates,
            "random_state": seed,
            "max_patterns": self.max_patterns,
            "method": self.solver,
            "tol": float(self.tol),
            "max_iter": self.max_iter,
            "penalty": base._penalty(),
        }
        paths = path_many(tasks, n_jobs=self.n_jobs, verbose=bool(self.verbose), **common)

        scores = np.empty((len(folds), grid.size))
        for f, ((_, te), path, state_tr) in enumerate(zip(folds, paths, fold_states)):
            sw_te = None if sw is None else sw[te]
            for l in range(grid.size):
                est = self._scoring_estimator(base, path, l, state_tr, Xv.shape[1])
                scores[f, l] = _score(est, scorer, Xv[te], y_arr[te], sw_te)
        mean = scores.mean(axis=0)
        if not np.all(np.isfinite(mean)):
            raise ValueError("cross-validation produced non-finite scores; check scoring.")
        best = int(np.argmax(mean))  # first maximum: the largest such λ (sparsest)

        refit = self._base(**self._base_params(random_state=seed, lam=float(grid[best])))
        refit.fit(X, y, sample_weight=sample_weight)
        state = {k: v for k, v in vars(refit).items() if k.endswith("_") or k == "_y_1d"}
        state.update(
            lams_=grid,
            cv_scores_=scores,
            mean_cv_scores_=mean,
            best_index_=best,
            lam_=float(grid[best]),
            lam_max_=float(refit.lam_max_),
            cv_lam_max_=lam_max,
            paths_=paths,
        )
        return state

    def _scoring_estimator(self, base, path, index, target_state, n_features):
        """A fitted plain estimator holding the network of ``path.weights[index]``."""
        from sklearn.base import clone

        est = clone(base)
        problem = path.problem_at(index)
        est.__dict__.update(base._network_state(problem, path.weights[index]))
        est.__dict__.update(target_state)
        est.n_features_in_ = n_features
        return est

    def fit(self, X, y, sample_weight=None):
        """Cross-validate ``λ`` over ``lams_``, then refit at ``lam_`` on all of ``(X, y)``.

        ``sample_weight`` weights the loss of every fold's path and of the refit, and
        the held-out scores (passed to ``score`` or the scorer). Every parameter is
        validated first; a failed fit leaves the estimator as it was.
        """
        return self._transactional_fit(X, y, sample_weight)


def _score(est, scorer, X, y, sample_weight):
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    if scorer is None:
        return float(est.score(X, y, **kwargs))
    return float(scorer(est, X, y, **kwargs))


_CV_PARAMS_DOC = """
    lams : int or array, default=DEFAULT_CV_LAMS (10)
        An int ``L``: ``L`` values geometric from the full training problem's
        ``λ_max`` down to ``lam_min_ratio · λ_max``; an array: those ``λ`` (sorted
        in decreasing order).
    lam_min_ratio : float in (0, 1), default=1e-3
    cv : int, splitter or iterable, default=5
        scikit-learn's ``check_cv``: an int gives ``KFold`` (regressor) or
        ``StratifiedKFold`` (classifier), unshuffled.
    scoring : None, str or callable, default=None
        ``None``: the estimator's ``score`` (R² / accuracy); else a scorer name of
        :func:`sklearn.metrics.get_scorer` or a callable ``scorer(est, X, y)``.
    n_jobs : int or None, default=None
        joblib workers for the folds (one path per fold; BLAS limited to one thread
        per path when there are several folds).
    random_state : int, RandomState, Generator or None, default=0
        Seed of the gate draws (one seed for every fold and for the refit).
    verbose : bool or int, default=False
        A tqdm progress bar over the folds.
    tol : float > 0, default=DEFAULT_CV_TOL (1e-4)
        Certified relative gap of every solve (the paths and the refit).
    formulation, n_gates, gates, penalty, penalty_params, max_patterns, bias, solver,
    max_iter, dtype
        As for the plain estimator.
"""

_CV_ATTRS_DOC = """
    lams_ : ndarray (L,)
        The grid (decreasing).
    cv_scores_ : ndarray (n_folds, L)
        Held-out score of every fold at every ``λ``.
    mean_cv_scores_ : ndarray (L,)
    best_index_ : int
    lam_ : float
        The ``λ`` with the best mean score; the refit used it.
    cv_lam_max_ : float
        ``λ_max`` of the full training problem (the grid's top).
    paths_ : list of PathResult
        The path of each fold.
    network_, weights_, certificate_, objective_, gap_, relative_gap_, converged_, …
        Those of the refit at ``lam_`` (see the plain estimator).
"""


class ConvexReLURegressorCV(_CVMixin, ConvexReLURegressor):
    __doc__ = """:class:`~convex_relu.estimators.ConvexReLURegressor` with ``λ`` chosen by cross-validation.

    See :mod:`convex_relu.model_selection` for the procedure.

    Parameters
    ----------""" + _CV_PARAMS_DOC + """    standardize_target : bool, default=True

    Attributes
    ----------""" + _CV_ATTRS_DOC

    _base = ConvexReLURegressor

    def __init__(
        self,
        formulation="gated_relu",
        *,
        lams=DEFAULT_CV_LAMS,
        lam_min_ratio=DEFAULT_CV_LAM_MIN_RATIO,
        cv=5,
        scoring=None,
        n_jobs=None,
        n_gates=DEFAULT_N_GATES,
        gates=DEFAULT_GATES,
        penalty="neuron_group",
        penalty_params=None,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=DEFAULT_CV_TOL,
        max_iter=None,
        dtype="auto",
        standardize_target=True,
        verbose=False,
    ):
        self.formulation = formulation
        self.lams = lams
        self.lam_min_ratio = lam_min_ratio
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.n_gates = n_gates
        self.gates = gates
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.max_patterns = max_patterns
        self.random_state = random_state
        self.bias = bias
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.dtype = dtype
        self.standardize_target = standardize_target
        self.verbose = verbose

    @staticmethod
    def _y_for_scoring(y):
        return np.asarray(y)

    def _fold_targets(self, X_tr, y_tr, Y_tr_full, sw_tr, target_state):
        """The fold's standardised targets and the state that maps predictions back."""
        Y = np.asarray(y_tr, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if self.standardize_target:
            mean, scale = _weighted_mean_scale(Y, sw_tr)
        else:
            mean, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        state = {"_y_1d": target_state["_y_1d"], "y_mean_": mean, "y_scale_": scale}
        return (Y - mean) / scale, state


class ConvexReLUClassifierCV(_CVMixin, ConvexReLUClassifier):
    __doc__ = """:class:`~convex_relu.estimators.ConvexReLUClassifier` with ``λ`` chosen by cross-validation.

    See :mod:`convex_relu.model_selection` for the procedure.

    Parameters
    ----------""" + _CV_PARAMS_DOC + """    loss : {"logistic", "squared"}, default="logistic"

    Attributes
    ----------
    classes_ : ndarray (K,)""" + _CV_ATTRS_DOC

    _base = ConvexReLUClassifier

    def __init__(
        self,
        formulation="gated_relu",
        *,
        lams=DEFAULT_CV_LAMS,
        lam_min_ratio=DEFAULT_CV_LAM_MIN_RATIO,
        cv=5,
        scoring=None,
        n_jobs=None,
        loss="logistic",
        n_gates=CLASSIFIER_N_GATES,
        gates=DEFAULT_GATES,
        penalty="neuron_group",
        penalty_params=None,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=CLASSIFIER_TOL,
        max_iter=None,
        dtype="auto",
        verbose=False,
    ):
        self.formulation = formulation
        self.lams = lams
        self.lam_min_ratio = lam_min_ratio
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.loss = loss
        self.n_gates = n_gates
        self.gates = gates
        self.penalty = penalty
        self.penalty_params = penalty_params
        self.max_patterns = max_patterns
        self.random_state = random_state
        self.bias = bias
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.dtype = dtype
        self.verbose = verbose

    def _y_for_scoring(self, y):
        # the labels as validate_data left them (1-D), for the splitter and the scores
        from sklearn.utils.validation import column_or_1d

        return column_or_1d(np.asarray(y), warn=False)

    def _fold_targets(self, X_tr, y_tr, Y_tr_full, sw_tr, target_state):
        """The fold's ``±1`` codes, with the classes of the whole ``y``."""
        return Y_tr_full, {"classes_": target_state["classes_"]}
