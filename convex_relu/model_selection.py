"""Cross-validated estimators: ``λ`` chosen along a warm-started path per fold.

:class:`ConvexReLURegressorCV` and :class:`ConvexReLUClassifierCV` work in the
manner of scikit-learn's ``LassoCV`` / ``LogisticRegressionCV``:

1. one grid of ``λ`` for every fold, ``lams_``: ``lams`` values from the full
   training problem's ``λ_max`` down to ``lam_min_ratio · λ_max``, geometric
   (:func:`convex_relu.path.lambda_grid`), or the given array sorted decreasingly;
2. for each fold of ``cv``, one regularisation path on the training part, each solve
   certified to the loose relative gap ``path_tol`` (it only ranks the grid)
   (:func:`convex_relu.path.regularization_path`: warm-started first-order solves,
   or one compiled conic program), the folds run in parallel through joblib
   (:func:`convex_relu.path.path_many`; nothing names a backend, so
   ``joblib.parallel_config(backend="dask")`` sends them to a Dask cluster), with a
   tqdm bar over the folds when ``verbose``; the loose solves iterate in float32 when
   ``dtype="auto"`` and ``path_tol >= 1e-3`` (the certificates stay float64);
3. the network of every ``λ`` scored on the held-out part, ``cv_scores_`` of shape
   ``(n_folds, n_lams)``; ``lam_`` maximises the mean over the folds (ties: the
   larger ``λ``, the sparser network);

   *early stopping* (``patience``, default 2): a fold's path stops once its held-out
   stopping signal has been below that fold's best at ``patience`` consecutive ``λ`` (a
   tie is not below). The regressor's signal is its held-out score; the classifier's is
   minus its held-out loss ``(1/Σw) Σ_i w_i Σ_k ℓ(f_ik, y_ik)`` on the ``±1`` codes
   (``ℓ(f, y) = log(1 + e^{−yf})``: the log-loss of ``predict_proba`` for two classes,
   the sum of the one-vs-all log-losses for more; ``(f − y)²`` for ``loss="squared"``),
   since accuracy ties along the grid (so rarely stops) and dips at single ``λ`` on
   small held-out parts. The loss only decides when to stop: ``cv_scores_`` and ``lam_``
   stay on ``scoring``. A fold's smaller ``λ`` are never solved and their entries of
   ``cv_scores_`` are NaN. ``lam_``
   is then chosen only among the ``λ`` that *every* fold evaluated (the grid's first
   ``min_f len(paths_[f])`` values), never from a NaN entry. When each fold's score is
   unimodal along the grid and the folds' peaks lie within ``patience`` grid steps of
   each other, this is exactly the ``λ`` of the full path (the mean of unimodal scores
   peaks between the earliest and the latest fold peak, and every fold evaluates at
   least ``patience`` values past the earliest); for the classifier the same holds with
   the folds' stopping points read off their held-out losses. ``patience=None`` runs
   every path to the end of the grid;
4. a refit of :class:`~convex_relu.estimators.ConvexReLURegressor` /
   :class:`~convex_relu.estimators.ConvexReLUClassifier` on all the data at
   ``lam_``, certified to ``tol``; its fitted attributes (``network_``, ``certificate_``, …) are set on
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

from ._validation import InputTypeError, check_n_jobs, check_positive_float, check_positive_int
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

__all__ = [
    "ConvexReLURegressorCV",
    "ConvexReLUClassifierCV",
    "DEFAULT_CV_LAMS",
    "DEFAULT_CV_TOL",
    "DEFAULT_CV_PATH_TOL",
    "DEFAULT_CV_PATIENCE",
]

#: Default number of ``λ`` in the grid of the CV estimators.
DEFAULT_CV_LAMS = 10
#: Default certified relative gap of the regressor CV's refit (the classifier CV's is
#: the plain classifier's, CLASSIFIER_TOL = 3e-3); the fold paths use ``path_tol``.
DEFAULT_CV_TOL = 1e-4
#: Default certified relative gap of the fold paths (``path_tol``): the paths only rank
#: the ``λ`` of the grid, the refit at the chosen ``λ`` then meets ``tol``. On diabetes
#: and wine a path gap of 1e-2 chose the same ``λ`` as 1e-4 / 1e-3, with held-out
#: scores within 1e-3 of theirs, and cut the path seconds by about 40 %
#: (:mod:`convex_relu.bench_models` prints the CV rows).
DEFAULT_CV_PATH_TOL = 1e-2
#: Default smallest ``λ / λ_max`` of the grid.
DEFAULT_CV_LAM_MIN_RATIO = 1e-3
#: Default ``patience`` of the fold paths' early stopping (see the module docstring).
#: bench_models' folds, 1 thread, interleaved with MLP (seeded per fold), patience 2 against
#: the full (float32) path: the same ``lam_`` on every outer fold of diabetes, breast_cancer, wine
#: (CV scores 0.4989, 0.9824, 0.9830 both ways); diabetes' inner folds stop after 6-8 of
#: the 10 λ, fit time ×MLP 10.7 → 2.65. Patience 1 was faster (diabetes 1.80×) but moved
#: breast_cancer to 0.9807. Accuracy plateaus (wine) rarely fall below their best, so
#: those paths mostly ran to the end; the classifier now stops on the held-out loss
#: (module docstring). Same A/B, stopping on accuracy → on the held-out log-loss: the same
#: ``lam_`` on every outer fold of wine and breast_cancer (scores 0.9830, 0.9824 both
#: ways); fit ×MLP wine 13.55 → 13.11, breast_cancer 2.66 → 3.09 (the held-out log-loss
#: keeps falling towards the grid's end longer than the accuracy does). On the test
#: data of tests/test_model_selection.py the accuracy rule stopped a fold at a dip and
#: chose another ``λ`` than the full path; the loss rule chose the full path's.
DEFAULT_CV_PATIENCE = 2

# parameters of the plain estimator that the CV one does not have (λ is chosen)
_NOT_BASE = ("lam", "lam_ratio", "warm_start")
_CV_ONLY = ("lams", "lam_min_ratio", "cv", "scoring", "n_jobs", "path_tol", "patience")


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
        check_positive_float(self.path_tol, "path_tol")
        if self.patience is not None:
            check_positive_int(self.patience, "patience")
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

        patience = None if self.patience is None else int(self.patience)
        tasks, fold_states = [], []
        for tr, te in folds:
            Y_tr, state_tr = self._fold_targets(Xv[tr], y_arr[tr], Y[tr], sw[tr] if sw is not None else None,
                                                target_state)
            task = {"X": Xv[tr], "y": Y_tr, "lams": grid}
            if sw is not None:
                task["sample_weight"] = sw[tr]
            # the plain estimator's gates, drawn in the fold's coordinates with the seed
            fold_patterns = base._sampled_patterns(Xv[tr], task.get("sample_weight"), seed)
            if fold_patterns is not None:
                task["patterns"] = fold_patterns
            if patience is not None:
                task["callback"] = _FoldEarlyStopping(
                    base, state_tr, Xv[te], y_arr[te], None if sw is None else sw[te], scorer,
                    Xv.shape[1], patience, stop_loss=self._stop_loss(loss),
                    Y_te=None if self._stop_loss(loss) is None else Y[te])
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
            # the paths only rank the grid (a loose gap); the refit below meets tol
            "tol": float(self.path_tol),
            "max_iter": self.max_iter,
            "penalty": base._penalty(),
            # float32 iterations for the loose path gap (dtype="auto"); float64 certificates
            "dtype": base._iteration_dtype(float(self.path_tol)),
        }
        paths = path_many(tasks, n_jobs=self.n_jobs, verbose=bool(self.verbose), **common)

        # NaN: a λ that an early-stopped fold never solved
        scores = np.full((len(folds), grid.size), np.nan)
        for f, ((_, te), path, state_tr) in enumerate(zip(folds, paths, fold_states)):
            sw_te = None if sw is None else sw[te]
            for l in range(len(path)):
                est = _plain_estimator(base, path.problem_at(l), path.weights[l], state_tr, Xv.shape[1])
                scores[f, l] = _score(est, scorer, Xv[te], y_arr[te], sw_te)
        n_common = min(len(path) for path in paths)  # the λ that every fold evaluated
        mean = scores.mean(axis=0)
        if not np.all(np.isfinite(mean[:n_common])):
            raise ValueError("cross-validation produced non-finite scores; check scoring.")
        best = int(np.argmax(mean[:n_common]))  # first maximum: the largest such λ (sparsest)

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
            n_cv_lams_=n_common,
            paths_=paths,
        )
        return state

    def fit(self, X, y, sample_weight=None):
        """Cross-validate ``λ`` over ``lams_``, then refit at ``lam_`` on all of ``(X, y)``.

        ``sample_weight`` weights the loss of every fold's path and of the refit, and
        the held-out scores (passed to ``score`` or the scorer). Every parameter is
        validated first; a failed fit leaves the estimator as it was.
        """
        return self._transactional_fit(X, y, sample_weight)


def _plain_estimator(base, problem, weights, target_state, n_features):
    """A fitted plain estimator (a clone of ``base``) holding the network of ``weights``."""
    from sklearn.base import clone

    est = clone(base)
    est.__dict__.update(base._network_state(problem, weights))
    est.__dict__.update(target_state)
    est.n_features_in_ = n_features
    return est


def _held_out_loss(F, Y, loss, sample_weight):
    """``(1/Σ w_i) Σ_i w_i Σ_k ℓ(f_ik, y_ik)``: the classifier's loss on held-out ``±1`` codes.

    ``ℓ(f, y) = log(1 + e^{−y f})`` (``"logistic"``; for two classes the log-loss of
    ``predict_proba``, for ``K > 2`` the sum of the one-vs-all binary log-losses) or
    ``(f − y)²`` (``"squared"``); ``F``, ``Y`` of shape ``(n, c)``, ``w = 1`` by default.
    """
    terms = (np.logaddexp(0.0, -Y * F) if loss == "logistic" else (F - Y) ** 2).sum(axis=1)
    if sample_weight is None:
        return float(terms.mean())
    total = float(np.sum(sample_weight))
    # no held-out weight: no signal (NaN never stops the path)
    return float(np.dot(sample_weight, terms)) / total if total > 0 else np.nan


class _FoldEarlyStopping:
    """The ``callback`` of one fold's path: stop once the held-out stopping signal has
    been below the fold's best at ``patience`` consecutive ``λ`` (a tie is not below).

    The signal is the held-out score, exactly as the CV estimator scores the path
    afterwards (same network, same scorer), or, when ``stop_loss`` names a loss (the
    classifier), minus the held-out loss of the network on the ``±1`` codes ``Y_te``
    (:func:`_held_out_loss`): accuracy ties at many ``λ`` and would rarely stop, and
    its dips on few held-out samples stop a fold early. A non-finite signal never
    stops the path (the estimator then reports a non-finite score). Plain data only,
    so that it pickles to joblib / Dask workers.
    """

    def __init__(self, base, target_state, X_te, y_te, sw_te, scorer, n_features, patience,
                 stop_loss=None, Y_te=None):
        self.base, self.target_state = base, target_state
        self.X_te, self.y_te, self.sw_te = X_te, y_te, sw_te
        self.scorer, self.n_features, self.patience = scorer, n_features, patience
        self.stop_loss, self.Y_te = stop_loss, Y_te
        self.best = -np.inf
        self.n_below = 0

    def __call__(self, index, problem, weights):
        est = _plain_estimator(self.base, problem, weights, self.target_state, self.n_features)
        if self.stop_loss is None:
            score = _score(est, self.scorer, self.X_te, self.y_te, self.sw_te)
        else:
            score = -_held_out_loss(est._raw_predict(self.X_te), self.Y_te, self.stop_loss, self.sw_te)
        if not np.isfinite(score):
            return False
        if score >= self.best:
            self.best, self.n_below = score, 0
        else:
            self.n_below += 1
        return self.n_below >= self.patience


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
    tol : float > 0, default=DEFAULT_CV_TOL (1e-4; the classifier: CLASSIFIER_TOL, 3e-3)
        Certified relative gap of the refit at ``lam_``.
    path_tol : float > 0, default=DEFAULT_CV_PATH_TOL (1e-2)
        Certified relative gap of every solve of the fold paths, which only rank the
        grid (:data:`DEFAULT_CV_PATH_TOL`). With ``dtype="auto"`` and
        ``path_tol >= 1e-3`` these solves iterate in float32 (float64 certificates).
    patience : int >= 1 or None, default=DEFAULT_CV_PATIENCE (2)
        Early stopping of the fold paths: a fold stops once its held-out score has been
        below its best at ``patience`` consecutive ``λ`` (the classifier: once its
        held-out loss has been above its best, see :mod:`convex_relu.model_selection`;
        only to stop, the scores stay ``scoring``'s); ``lam_`` is then chosen among
        the ``λ`` that every fold evaluated (see :mod:`convex_relu.model_selection`).
        ``None``: every fold runs the whole grid.
    formulation, n_gates, gates, penalty, penalty_params, max_patterns, bias, solver,
    max_iter, dtype
        As for the plain estimator.
"""

_CV_ATTRS_DOC = """
    lams_ : ndarray (L,)
        The grid (decreasing).
    cv_scores_ : ndarray (n_folds, L)
        Held-out score of every fold at every ``λ``; NaN where an early-stopped fold
        did not solve that ``λ``.
    mean_cv_scores_ : ndarray (L,)
        Mean over the folds (NaN where a fold has NaN).
    n_cv_lams_ : int
        How many ``λ`` (the first of ``lams_``) every fold evaluated: ``lam_`` is the
        best of these.
    best_index_ : int
    lam_ : float
        The ``λ`` with the best mean score among the first ``n_cv_lams_``; the refit
        used it.
    cv_lam_max_ : float
        ``λ_max`` of the full training problem (the grid's top).
    paths_ : list of PathResult
        The path of each fold (an early-stopped one is shorter than the grid).
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
        path_tol=DEFAULT_CV_PATH_TOL,
        patience=DEFAULT_CV_PATIENCE,
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
        self.path_tol = path_tol
        self.patience = patience
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

    @staticmethod
    def _stop_loss(loss):
        # R² (or a user's scorer) rarely ties: the folds stop on the score itself
        return None

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
        path_tol=DEFAULT_CV_PATH_TOL,
        patience=DEFAULT_CV_PATIENCE,
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
        self.path_tol = path_tol
        self.patience = patience
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

    @staticmethod
    def _stop_loss(loss):
        # accuracy ties along the grid: the folds stop on the held-out loss instead
        return loss

    def _y_for_scoring(self, y):
        # the labels as validate_data left them (1-D), for the splitter and the scores
        from sklearn.utils.validation import column_or_1d

        return column_or_1d(np.asarray(y), warn=False)

    def _fold_targets(self, X_tr, y_tr, Y_tr_full, sw_tr, target_state):
        """The fold's ``±1`` codes, with the classes of the whole ``y``."""
        return Y_tr_full, {"classes_": target_state["classes_"]}
