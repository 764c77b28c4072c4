"""scikit-learn estimators that train two-layer (gated) ReLU networks by convex optimisation.

:class:`ConvexReLURegressor` and :class:`ConvexReLUClassifier` build the convex
program of the chosen formulation (DESIGN §1),

    C-ReLU:   min_{v,w ∈ K}  ℓ(Σ_i D_iX̃(v_i − w_i)) + λ Σ_i (‖v_i‖₂ + ‖w_i‖₂),
    C-GReLU:  min_u          ℓ(Σ_i D_iX̃u_i)         + λ Σ_i ‖u_i‖₂,

solve it, certify the result with a duality gap and turn the weights into a
network (DESIGN §3) that predicts on new data.

Scaling (the package convention, as in ``scnn``): the loss is divided by
``s = n·c`` (``c`` outputs), the penalty ``λ Σ‖·‖`` is **not** divided by ``n``.

λ relative to λ_max. By default ``λ = lam_ratio · λ_max``, where ``λ_max`` is the
smallest ``λ`` at which the zero network is optimal for *this* training problem
(:meth:`~convex_relu.problems.GatedReLUProblem.lam_max`). A ratio means the same
amount of regularisation whatever the units of ``y`` and the number of samples;
the default :data:`DEFAULT_LAM_RATIO` was chosen by 5-fold cross-validation on
scikit-learn's bundled data sets (see the class docstrings). An explicit
``lam=`` (a number) takes precedence over ``lam_ratio``.

Target units (regressor). The regressor standardises its targets,
``z = (y − ȳ)/σ_y`` per output column (weighted by ``sample_weight``), fits
the program on ``z`` and predicts ``ȳ + σ_y·f(x)``: the default ``λ`` then does
not depend on the units of ``y``. ``problem_``, ``weights_``, ``objective_``,
``certificate_`` and ``gap_`` are those of the standardised program (the one
solved and certified); ``relative_gap_`` is unit-free. ``y_mean_`` and
``y_scale_`` map back: in the units of ``y``, the program solved is the one on
the centred targets ``y − ȳ`` with ``λ_y = σ_y·λ`` and objective
``σ_y²·objective_`` (for one output; exact, as ``(y − ȳ) = σ_y·z``).
``standardize_target=False`` fits the raw ``y`` instead.

The inputs ``X`` are used as given: put a
:class:`~sklearn.preprocessing.StandardScaler` in front (a
:class:`~sklearn.pipeline.Pipeline`) unless the features already share a scale:
``λ`` acts on the raw weights.
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, _num_samples, check_is_fitted, validate_data

from ._validation import (
    InputTypeError,
    check_bool,
    check_lam,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from .networks import network_from_weights
from .patterns import sample_patterns
from .penalties import get_penalty
from .problems import FORMULATIONS, make_problem

__all__ = [
    "ConvexReLURegressor",
    "ConvexReLUClassifier",
    "SOLVER_CHOICES",
    "DEFAULT_LAM_RATIO",
    "CLASSIFIER_LAM_RATIO",
    "DEFAULT_N_GATES",
    "CLASSIFIER_N_GATES",
    "CLASSIFIER_TOL",
    "DEFAULT_GATES",
    "GATE_CHOICES",
    "DTYPE_CHOICES",
    "DEFAULT_TOL",
]

#: Values accepted for ``solver``: ``"auto"`` (:func:`convex_relu.solvers.choose_method`,
#: a cost model in the size, the loss and ``λ/λ_max``), a fast method by name, or an
#: exact conic solver via CVXPY.
SOLVER_CHOICES = ("auto", "rfista", "al", "clarabel", "scs", "mosek")

#: Default ``λ / λ_max`` of the regressor and of the classifier (5-fold CV measurements
#: in their docstrings: diabetes needs more shrinkage than the classification sets).
DEFAULT_LAM_RATIO = 0.05
CLASSIFIER_LAM_RATIO = "auto"
#: ``lam_ratio="auto"``: ``min(AUTO_RATIO_CAP, AUTO_RATIO_SCALE/√n)`` for ``n`` training rows.
#: The ``1/√n`` is the statistical rate of the lasso's λ (noise on ``Xᵀy/n`` shrinks like
#: ``1/√n`` while ``λ_max`` does not); the constants were chosen by 5-fold CV on the
#: benchmark's sets (wine, n = 142, wants 0.01; the 4000-row KEEL sets about 0.0025).
AUTO_RATIO_CAP = 0.01
AUTO_RATIO_SCALE = 0.15
#: Default certified relative gap of the estimators: 1e-4 of the objective is far below
#: what changes a prediction, and 3× cheaper than 1e-6 on the multi-class KEEL sets.
DEFAULT_TOL = 1e-4
#: Default number of sampled gates (regressor) and of the classifier.
DEFAULT_N_GATES = 50
CLASSIFIER_N_GATES = 100
#: Default certified relative gap of the classifier. 5-fold CV of bench_models' sets (same
#: folds, 1 thread, MLP seeded per fold, interleaved), tol 3e-3 vs 1e-3: mean accuracy
#: unchanged on wine, twonorm, ring (0.9775, 0.9772, 0.9568), segment 0.9567 vs 0.9563,
#: satimage 0.9034 vs 0.9036, breast_cancer 0.9754 vs 0.9771 (one test row); fit time
#: ratio vs MLP satimage 2.20 vs 3.05, segment 1.26 vs 1.71, wine 1.08 vs 1.38. float32
#: iterations reach it.
CLASSIFIER_TOL = 3e-3
#: Arithmetic of the first-order iterations (:func:`convex_relu.solvers.solve`); the
#: certificate that decides is float64 whatever this says.
DTYPE_CHOICES = ("auto", "float32", "float64", "mixed")
#: ``dtype="auto"`` iterates in float32 when the target relative gap is at least this:
#: float32 round-off (≈6e-8 relative) is then far below the target, GEMMs cost half.
FLOAT32_TOL = 1e-3
#: How sampled gates are placed (:func:`convex_relu.patterns.sample_patterns`):
#: ``"data"`` cuts the data at random quantiles along Gaussian normals (with a bias),
#: ``"gaussian"`` draws the bias coordinate like the others (hyperplanes near the mean).
GATE_CHOICES = ("data", "gaussian")
DEFAULT_GATES = "data"


def _is_convergence_warning(category):
    """A warning about a solve's verdict (:class:`~convex_relu.solution.SolverWarning`)."""
    from .solution import SolverWarning

    return issubclass(category, SolverWarning)


def _seed_from(random_state):
    """A seed for :func:`numpy.random.default_rng` from a scikit-learn ``random_state``.

    ``None`` and non-negative ints pass through (``None`` draws fresh entropy); a
    ``RandomState`` or ``Generator`` is consumed to draw one int, so that passing
    the same object twice gives two different draws, as scikit-learn expects.
    """
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    if random_state is None or isinstance(random_state, (numbers.Integral, np.integer)):
        return check_seed(random_state, "random_state")
    raise InputTypeError(
        f"random_state must be None, a non-negative int, a numpy RandomState or Generator; "
        f"got {random_state!r} (type {type(random_state).__name__})."
    )


def _check_random_state(random_state):
    """Validate ``random_state`` without consuming a RandomState/Generator."""
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return
    _seed_from(random_state)


def _refuse_sparse_or_complex(value, name):
    """Clear errors for scipy.sparse and complex data before scikit-learn converts them.

    The message keeps scikit-learn's phrases ("sparse", "Complex data not supported")
    that its estimator checks look for, and names the argument.
    """
    import scipy.sparse as sp

    if sp.issparse(value):
        raise InputTypeError(
            f"{name} is a scipy.sparse matrix ({type(value).__name__}); convex_relu needs dense "
            f"data: use {name}.toarray()."
        )
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        if np.iscomplexobj(value):
            raise InputTypeError(
                f"Complex data not supported: {name} has a complex dtype; convex_relu never "
                f"drops imaginary parts (pass {name}.real if that is what you mean)."
            )


def _num_samples_or_none(value):
    try:
        return int(_num_samples(value))
    except TypeError:
        return None


def _make_problem_accepts_sample_weight():
    return "sample_weight" in inspect.signature(make_problem).parameters


def _check_fit_sample_weight(sample_weight, X):
    """``sample_weight`` as a float64 (n,) array of finite weights >= 0, or ``None``.

    Checked before any work (scikit-learn's ``_check_sample_weight``: a scalar is
    broadcast, a wrong length, NaN or a negative weight raises ``ValueError``).
    """
    if sample_weight is None:
        return None
    _refuse_sparse_or_complex(sample_weight, "sample_weight")
    sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinite values.")
    if not sw.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one sample needs a weight > 0.")
    if not _make_problem_accepts_sample_weight():
        raise NotImplementedError(
            "sample_weight: this version of convex_relu.make_problem does not accept sample "
            "weights yet; fit without sample_weight."
        )
    return sw


class _ConvexReLUBase(BaseEstimator):
    """Shared parameters, fitting and prediction (not used directly)."""

    def __init__(
        self,
        formulation="gated_relu",
        lam=None,
        *,
        lam_ratio=DEFAULT_LAM_RATIO,
        loss="squared",
        n_gates=DEFAULT_N_GATES,
        gates=DEFAULT_GATES,
        penalty="neuron_group",
        penalty_params=None,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=DEFAULT_TOL,
        max_iter=None,
        dtype="auto",
        warm_start=False,
        verbose=False,
    ):
        self.formulation = formulation
        self.lam = lam
        self.lam_ratio = lam_ratio
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
        self.warm_start = warm_start
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self):
        """Validate every hyper-parameter (messages name it); no state is touched.

        Wrong types raise :class:`~convex_relu._validation.InputTypeError` (a
        ``TypeError`` and a ``ValueError``), bad values ``ValueError``.
        """
        formulation = self.formulation
        if not isinstance(formulation, str) or formulation not in FORMULATIONS:
            exc = ValueError if isinstance(formulation, str) else InputTypeError
            raise exc(f"formulation must be one of {FORMULATIONS}; got {formulation!r}.")
        if self.lam is not None:
            check_lam(self.lam, "lam")
        if not (isinstance(self.lam_ratio, str) and self.lam_ratio == "auto"):
            check_positive_float(self.lam_ratio, "lam_ratio")
        loss = self._loss_name()
        if not isinstance(loss, str) or loss not in self._losses:
            exc = ValueError if isinstance(loss, str) else InputTypeError
            raise exc(f"loss must be one of {self._losses}; got {loss!r}.")
        if self.n_gates is not None:
            check_positive_int(self.n_gates, "n_gates")
        self._penalty()
        if not isinstance(self.gates, str) or self.gates not in GATE_CHOICES:
            exc = ValueError if isinstance(self.gates, str) else InputTypeError
            raise exc(f"gates must be one of {GATE_CHOICES}; got {self.gates!r}.")
        check_positive_int(self.max_patterns, "max_patterns")
        check_bool(self.bias, "bias")
        if not isinstance(self.solver, str) or self.solver not in SOLVER_CHOICES:
            exc = ValueError if isinstance(self.solver, str) else InputTypeError
            raise exc(f"solver must be one of {SOLVER_CHOICES}; got {self.solver!r}.")
        check_positive_float(self.tol, "tol")
        if self.max_iter is not None:
            check_positive_int(self.max_iter, "max_iter")
        if not isinstance(self.dtype, str) or self.dtype not in DTYPE_CHOICES:
            exc = ValueError if isinstance(self.dtype, str) else InputTypeError
            raise exc(f"dtype must be one of {DTYPE_CHOICES}; got {self.dtype!r}.")
        check_bool(self.warm_start, "warm_start")
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral, np.integer)):
            raise InputTypeError(f"verbose must be a bool or an int; got {self.verbose!r}.")
        _check_random_state(self.random_state)
        self._check_extra_params()

    def _check_extra_params(self):
        """Subclass hook for parameters of their own."""

    def _loss_name(self):
        return getattr(self, "loss", "squared")

    def _transactional_fit(self, X, y, sample_weight=None):
        """Run :meth:`_fit` so that a failure leaves the estimator exactly as it was.

        Every hyper-parameter is validated before any work; the fitted state is
        computed into locals and assigned at the end. Because scikit-learn's
        ``validate_data`` writes ``n_features_in_`` (and ``feature_names_in_``) on
        ``self`` as it converts ``X``, the instance dictionary is also snapshotted and
        restored on *any* exception, a ``KeyboardInterrupt`` during the solve included.
        """
        self._check_params()
        _refuse_sparse_or_complex(X, "X")
        _refuse_sparse_or_complex(y, "y")
        saved = dict(self.__dict__)
        try:
            state = self._fit(X, y, sample_weight)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        for k, v in state.items():
            setattr(self, k, v)
        return self

    def fit(self, X, y, sample_weight=None):
        """Fit on ``X`` (n, d) and ``y``; returns ``self``.

        Parameters
        ----------
        X : array (n, d)
        y : array (n,) (classifier: labels; regressor: also (n, c))
        sample_weight : array (n,) of weights >= 0, optional
            Sample ``j`` counts ``sample_weight[j]`` times in the loss (passed to
            :func:`convex_relu.problems.make_problem`, hence to every solver and to
            the certificate).

        Every hyper-parameter is validated first; a fit that fails (bad input, solver
        error, ``KeyboardInterrupt``) leaves the estimator exactly as it was.
        """
        return self._transactional_fit(X, y, sample_weight)

    # ------------------------------------------------------------------ fitting
    def _validated_Xy(self, X, y, sample_weight):
        """Subclasses: ``(X, Y, loss, target_state, sample_weight)`` from the user's data."""
        raise NotImplementedError

    def _fit(self, X, y, sample_weight):
        X, Y, loss, target_state, sw = self._validated_Xy(X, y, sample_weight)
        state = self._fit_targets(X, Y, loss, sw)
        state.update(target_state)
        return state

    def _problem(self, X, Y, loss, sample_weight, seed):
        """The training problem at ``λ = 0`` (``λ`` is set once ``λ_max`` is known)."""
        kwargs = {}
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        patterns = self._sampled_patterns(X, sample_weight, seed)
        return make_problem(
            X,
            Y,
            formulation=self.formulation,
            lam=0.0,
            loss=loss,
            bias=bool(self.bias),
            n_gates=self.n_gates,
            seed=seed,
            patterns=patterns,
            max_patterns=self.max_patterns,
            penalty=self._penalty(),
            **kwargs,
        )

    def _penalty(self):
        """The :class:`~convex_relu.penalties.Penalty` named by ``penalty`` / ``penalty_params``."""
        params = self.penalty_params
        if params is not None and not isinstance(params, dict):
            raise InputTypeError(f"penalty_params must be None or a dict; got {type(params).__name__}.")
        try:
            return get_penalty(self.penalty, **dict(params or {}))
        except TypeError as exc:
            raise InputTypeError(f"penalty: {exc}") from None

    def _iteration_dtype(self, tol):
        """The ``dtype`` passed to :func:`~convex_relu.solvers.solve` (``None``: its default)."""
        if self.dtype == "auto":
            return "float32" if tol >= FLOAT32_TOL else None
        return self.dtype

    def _sampled_patterns(self, X, sample_weight, seed):
        """The sampled gates of ``X`` (``None`` when ``n_gates=None``: enumeration).

        Drawn in the (``sample_weight``-weighted) standardised coordinates of ``X``,
        so that integer weights give the gates of the repeated rows; ``gates="data"``
        places the hyperplanes at random quantiles of the data (needs ``bias``; without
        it the hyperplanes pass through the origin whatever ``gates`` says).
        """
        if self.n_gates is None:
            return None
        offsets = "data" if (self.gates == "data" and self.bias) else "gaussian"
        return sample_patterns(X, int(self.n_gates), seed, bias=bool(self.bias),
                               sample_weight=sample_weight, offsets=offsets)

    def _resolve_lam(self, problem):
        """``(λ, λ_max)``: ``lam`` when given, else ``lam_ratio · λ_max``."""
        lam_max = float(problem.lam_max())
        if self.lam is not None:
            return float(self.lam), lam_max
        ratio = self._lam_ratio(problem.n)
        if not np.isfinite(lam_max):
            # no λ makes zero optimal (e.g. "l2"): the ratio is taken of the neuron-group
            # λ_max of the same data, as convex_relu.path does for its grid
            return ratio * float(problem.with_penalty(None).lam_max()), lam_max
        return ratio * lam_max, lam_max

    def _lam_ratio(self, n):
        """``lam_ratio`` as a number: ``"auto"`` is ``min(0.01, 0.15/√n)`` (n rows)."""
        if isinstance(self.lam_ratio, str):
            return min(AUTO_RATIO_CAP, AUTO_RATIO_SCALE / np.sqrt(max(int(n), 1)))
        return float(self.lam_ratio)

    def _warm_weights(self, problem):
        """The previous fit's weights when ``warm_start`` and they fit ``problem``."""
        if not self.warm_start:
            return None
        previous = getattr(self, "solution_", None)
        if previous is None:
            return None
        W = np.asarray(previous.weights)
        same = (
            getattr(previous.problem, "formulation", None) == problem.formulation
            and W.shape == tuple(problem.weights_shape)
        )
        return W if same else None

    def _fit_targets(self, X, Y, loss, sample_weight=None):
        """Build, solve and certify the convex program for float targets ``Y`` (n, c).

        Returns the fitted attributes as a dict (nothing is set on ``self``).
        """
        from .solution import finalize
        from .solvers import solve  # imported late: solvers import many modules

        seed = _seed_from(self.random_state)
        problem0 = self._problem(X, Y, loss, sample_weight, seed)
        lam, lam_max = self._resolve_lam(problem0)
        problem = problem0.with_lam(lam)
        tol = float(self.tol)
        warm = self._warm_weights(problem)
        if lam_max == 0.0 or (lam >= lam_max and lam > 0):
            # λ >= λ_max: the zero network is optimal by definition of λ_max (λ_max = 0:
            # zero is stationary, e.g. constant targets); certified like any answer
            solution = finalize(problem, problem.zero_weights(), solver="none", status="optimal",
                                tol=tol, info={"note": "λ >= λ_max: the zero network (no solver run)"})
        else:
            kwargs = {"method": self.solver, "tol": tol, "verbose": bool(self.verbose)}
            if self.max_iter is not None:
                kwargs["max_iter"] = int(self.max_iter)
            if warm is not None:
                kwargs["warm_start"] = warm
            dtype = self._iteration_dtype(tol)
            if dtype is not None:
                kwargs["dtype"] = dtype
            may_finish = self.dtype == "auto" and dtype == "float32"
            if not may_finish:
                solution = solve(problem, **kwargs)
            else:
                # the float32 run's warnings are held back: when the float64 finish below
                # certifies the result they describe an iterate that is not returned
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    solution = solve(problem, **kwargs)
                finish = not solution.converged and solution.status == "precision_limit"
                for w in caught:
                    if not (finish and _is_convergence_warning(w.category)):
                        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                if finish:
                    # float32 could not certify the target: finish in float64 from its point
                    # (its own warnings, if it does not certify either, say so)
                    kwargs.update(dtype="float64", warm_start=solution.weights)
                    solution = solve(problem, **kwargs)
        state = self._network_state(problem, solution.weights)
        certificate = solution.certificate
        state.update(
            {
                "solution_": solution,
                "problem_": problem,
                "patterns_": problem.patterns,
                "weights_": solution.weights,
                "certificate_": certificate,
                "objective_": float(solution.objective),
                "gap_": float("nan") if certificate is None else float(certificate.gap),
                "relative_gap_": (
                    float("nan") if certificate is None else float(certificate.relative_gap)
                ),
                "converged_": bool(solution.converged),
                "n_iter_": 0 if solution.n_iter is None else int(solution.n_iter),
                "lam_": float(lam),
                "lam_max_": float(lam_max),
                "warm_started_": warm is not None,
            }
        )
        return state

    @staticmethod
    def _network_state(problem, weights):
        """The network of the certified ``weights`` (every non-zero group a neuron).

        Exact solvers' interior-point groups of ~1e-9 are removed by the clean-up in
        :func:`convex_relu.solvers.solve` (when it keeps the certificate), so the
        network is exactly the certified model.
        """
        network = network_from_weights(problem, weights)
        return {
            "network_": network,
            "first_layer_": network.W1,
            "second_layer_": network.W2,
            "n_neurons_": int(network.width),
            "n_outputs_": int(problem.c),
        }

    @property
    def claim_(self):
        """What the certificate of the fitted model proves (:func:`convex_relu.claims.claim`).

        ``claim_.level`` is ``"global_optimum"`` only for C-ReLU with complete
        (enumerated, none dropped) patterns and a certified relative gap <= ``tol``;
        ``claim_.sentence`` says what *is* proven otherwise.
        """
        check_is_fitted(self, "network_")
        if self.certificate_ is None:
            raise AttributeError("claim_: the fitted model has no certificate.")
        if getattr(self, "problem_", None) is None:
            raise AttributeError(
                "claim_: this estimator was loaded without its training data (save(..., "
                "include_data=False)); the claim made when it was saved is in "
                "convex_relu.persistence.read_metadata(path)['claims']."
            )
        from .claims import claim

        return claim(self.problem_, self.certificate_, tol=float(self.tol), width=self.n_neurons_)

    def _raw_predict(self, X):
        """Network outputs ``f(X)`` of shape ``(n, c)`` (the program's units)."""
        check_is_fitted(self, "network_")
        _refuse_sparse_or_complex(X, "X")
        X = validate_data(self, X, accept_sparse=False, dtype=np.float64, reset=False)
        return self.network_.predict(X)

    def _check_score_inputs(self, X, y):
        """Before scikit-learn's score: a fitted model and a ``y`` that matches ``X``."""
        check_is_fitted(self, "network_")
        _refuse_sparse_or_complex(y, "y")
        n_x, n_y = _num_samples_or_none(X), _num_samples_or_none(y)
        if n_x is not None and n_y is not None and n_x != n_y:
            raise ValueError(f"y has {n_y} samples but X has {n_x}; they must match.")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


_COMMON_PARAMS_DOC = """
    formulation : {"gated_relu", "relu"}, default="gated_relu"
        The gated program (an unconstrained group lasso, solved fast by R-FISTA) or
        C-ReLU (cone constraints; with all patterns its optimum is that of
        weight-decay training of the ReLU network).
    lam : float >= 0 or None, default=None
        ``λ`` of the program solved; the loss is divided by ``s = n·c``, the penalty
        is not. ``None``: ``λ = lam_ratio · λ_max``. A number takes precedence over
        ``lam_ratio``.
    lam_ratio : float > 0 or "auto", default=0.05 (regressor) or "auto" (classifier)
        ``λ / λ_max`` when ``lam`` is None; ``λ_max`` is that of the training
        problem (``lam_max_``), so ``lam_ratio >= 1`` gives the zero network.
        ``"auto"``: ``min(0.01, 0.15/√n)`` for ``n`` training rows (the lasso's
        ``1/√n`` rate; constants from 5-fold CV on the benchmark's sets).
    n_gates : int or None, default=DEFAULT_N_GATES (50; the classifier: CLASSIFIER_N_GATES, 100)
        Number of Gaussian gates sampled for the activation patterns (in
        standardised coordinates, nested in ``n_gates``; duplicate and all-zero
        patterns are dropped, so ``p <= n_gates``). ``None`` enumerates every
        pattern of ``[X, 1]`` (exact; feasible only for small rank, see
        ``max_patterns``).
    gates : {"data", "gaussian"}, default="data"
        How the sampled gates are placed (:func:`convex_relu.patterns.sample_patterns`,
        in the weighted standardised coordinates of ``X``): ``"data"`` cuts the data
        at a random quantile along each Gaussian normal (hyperplanes spread over the
        data; needs ``bias``), ``"gaussian"`` draws the bias coordinate ``N(0, 1)``
        too (every hyperplane near the mean). Without ``bias`` both are hyperplanes
        through the origin.
    penalty : str or Penalty, default="neuron_group"
        The regulariser ``R`` (:mod:`convex_relu.penalties`): ``"neuron_group"``
        ``Σ_i ‖u_i‖₂`` (weight decay of the ReLU network), ``"feature_group"``
        ``Σ_j ‖U_{j,·}‖₂`` (feature selection), ``"l1"`` ``‖U‖₁``, ``"l2"``
        ``½‖U‖²_F`` (its ``λ_max`` is infinite: ``lam_ratio`` then refers to the
        neuron-group ``λ_max``), ``"group_elastic_net"``
        ``α Σ_i ‖u_i‖₂ + (1 − α)/2 ‖U‖²_F``; or a ``Penalty`` instance. Only the
        neuron group is equivalent to a non-convex network (claims say so).
    penalty_params : dict or None, default=None
        Parameters of the named penalty, e.g. ``{"alpha": 0.5}``.
    max_patterns : int, default=10000
        With ``n_gates=None``: refuse (``ValueError``) when Cover's bound on the
        number of patterns exceeds this.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the gate draw (``None``: fresh entropy each fit).
    bias : bool, default=True
        Neurons act on ``[x, 1]``; the bias weight sits inside each group norm.
    solver : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}, default="auto"
        ``"auto"``: :func:`convex_relu.solvers.choose_method` (a cost model in the
        size, the loss and ``λ/λ_max``: R-FISTA / the augmented Lagrangian for
        logistic losses and moderate ``λ``, Clarabel for small squared-loss
        problems at small ``λ``). ``"clarabel"``, ``"scs"``, ``"mosek"``: exact
        conic solves through CVXPY, cleaned of their ~1e-9 groups when the
        certificate allows (``solution_.info["cleanup"]``).
    tol : float > 0, default=DEFAULT_TOL (1e-4; the classifier: CLASSIFIER_TOL, 3e-3)
        Target certified relative duality gap (see :func:`convex_relu.solvers.solve`).
    max_iter : int or None, default=None
        Iteration limit (``None``: the solver's default).
    dtype : {"auto", "float32", "float64", "mixed"}, default="auto"
        Arithmetic of the first-order iterations (the certificate is float64
        whatever this says; exact solvers ignore it). ``"auto"``: float32 when
        ``tol >= 1e-3`` (half the cost of the GEMMs; when float32 cannot certify
        ``tol`` the solve finishes in float64 from its point), float64 otherwise.
    warm_start : bool, default=False
        Start the solver from the previous fit's weights when their shape matches
        the new problem (same formulation, outputs, features and number of
        patterns; the first-order methods only, exact solvers ignore it).
        ``warm_started_`` says whether it was used.
    verbose : bool or int, default=False
        Solver progress output.
"""

_COMMON_ATTRS_DOC = """
    network_ : ReLUNetwork or GatedReLUNetwork
        The trained network (in the program's units).
    first_layer_ : ndarray (d̃, m)
        First-layer weights, the bias in the last row when ``bias``.
    second_layer_ : ndarray (m, c)
        Second-layer weights (each neuron feeds one output).
    n_neurons_ : int
        ``m``, the number of non-zero groups of the certified weights.
    lam_ : float
        The ``λ`` used; ``lam_max_`` the training problem's ``λ_max``.
    patterns_ : Patterns
        The activation patterns (masks and gates) of the training data.
    weights_ : ndarray
        Certified convex weights, ``(c, d̃, p)`` (gated) or ``(2, c, d̃, p)`` (ReLU;
        repaired onto the cones when the solver's iterate violated them by
        round-off, predictions unchanged).
    objective_ : float
        Convex objective at ``weights_`` (``certificate_.primal``).
    certificate_ : Certificate or None
        Duality-gap certificate of ``weights_``.
    gap_, relative_gap_ : float
        ``certificate_.gap`` (a proven bound on ``objective_ − optimum``) and the
        gap divided by ``|objective_|``.
    converged_ : bool
        Whether the certified relative gap met ``tol`` (otherwise a warning said so).
    n_iter_ : int
        Solver iterations.
    warm_started_ : bool
    solution_ : Solution
        The full solver result (status, timings, history, ``info``).
    problem_ : ReLUProblem or GatedReLUProblem
        The convex program solved (it holds the training data).
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
"""


def _weighted_mean_scale(Y, sample_weight):
    """Per-column mean and standard deviation of ``Y`` (weighted); scale 1 for constants."""
    mean = np.average(Y, axis=0, weights=sample_weight)
    var = np.average((Y - mean) ** 2, axis=0, weights=sample_weight)
    scale = np.sqrt(var)
    # a (numerically) constant column: centring makes it zero, nothing to scale
    constant = scale <= 1e-12 * np.maximum(1.0, np.abs(mean))
    scale = np.where(constant, 1.0, scale)
    return mean, scale


class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    __doc__ = """Two-layer (gated) ReLU regression trained by a convex program, with a certificate.

    Minimises ``‖f(X) − Z‖²_F / (2nc) + λ·R`` through its convex reformulation, for
    the standardised targets ``Z = (Y − ȳ)/σ_y`` (``standardize_target=True``, the
    default; see the module docstring for the units): C-ReLU
    (``formulation="relu"``, a ReLU network; with all patterns its optimum is the
    global optimum of weight-decay training) or C-GReLU (``"gated_relu"``, a gated
    ReLU network whose neuron ``j`` is ``1[x̃ᵀg_j >= 0]·x̃ᵀw_j``). ``y`` may have
    several columns (``c`` outputs, one group per output and pattern). Predictions
    are ``ȳ + σ_y·f(x)``, in the units of ``y``.

    Defaults. ``λ = 0.05·λ_max`` (:data:`DEFAULT_LAM_RATIO`) with 50 gates, chosen by
    5-fold CV (unshuffled ``KFold``) inside ``make_pipeline(StandardScaler(), ·)`` on
    diabetes: mean R² 0.376 at ``λ/λ_max = 0.01``, 0.477 at 0.03, 0.478 at 0.1
    (RidgeCV: 0.488; the previous default ``λ = 1e-3`` on the raw target scored
    −1.72). :class:`ConvexReLURegressorCV` chooses ``λ`` by cross-validation.

    Parameters
    ----------""" + _COMMON_PARAMS_DOC + """    standardize_target : bool, default=True
        Fit the standardised targets and map the predictions back (module
        docstring). ``False``: fit ``y`` as given.

    Attributes
    ----------""" + _COMMON_ATTRS_DOC + """    y_mean_, y_scale_ : ndarray (c,)
        ``ȳ`` and ``σ_y`` (``0`` and ``1`` with ``standardize_target=False``; ``σ_y``
        is 1 for a constant column).

    Notes
    -----
    ``X`` is not standardised inside: use ``make_pipeline(StandardScaler(), ...)``.
    """

    _losses = ("squared",)

    def __init__(
        self,
        formulation="gated_relu",
        lam=None,
        *,
        lam_ratio=DEFAULT_LAM_RATIO,
        n_gates=DEFAULT_N_GATES,
        gates=DEFAULT_GATES,
        penalty="neuron_group",
        penalty_params=None,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=DEFAULT_TOL,
        max_iter=None,
        dtype="auto",
        warm_start=False,
        standardize_target=True,
        verbose=False,
    ):
        self.formulation = formulation
        self.lam = lam
        self.lam_ratio = lam_ratio
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
        self.warm_start = warm_start
        self.standardize_target = standardize_target
        self.verbose = verbose

    def _loss_name(self):
        return "squared"

    def _check_extra_params(self):
        check_bool(self.standardize_target, "standardize_target")

    def _validated_Xy(self, X, y, sample_weight):
        X, y = validate_data(
            self, X, y, accept_sparse=False, dtype=np.float64, multi_output=True, y_numeric=True
        )
        sw = _check_fit_sample_weight(sample_weight, X)
        y = np.asarray(y, dtype=np.float64)
        Y = y[:, None] if y.ndim == 1 else y
        if self.standardize_target:
            mean, scale = _weighted_mean_scale(Y, sw)
        else:
            mean, scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
        Z = (Y - mean) / scale
        state = {"_y_1d": y.ndim == 1, "y_mean_": mean, "y_scale_": scale}
        return X, Z, "squared", state, sw

    def predict(self, X):
        """Predictions ``ȳ + σ_y·f(X)`` in the units of ``y``: shape ``(n,)`` (1-D ``y``)
        or ``(n, c)``."""
        pred = self._raw_predict(X) * self.y_scale_ + self.y_mean_
        return pred[:, 0] if self._y_1d else pred

    def score(self, X, y, sample_weight=None):
        """R² of ``predict(X)`` against ``y`` (scikit-learn's), ``y`` checked against ``X``."""
        self._check_score_inputs(X, y)
        return RegressorMixin.score(self, X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags


def _has_proba(estimator):
    """``predict_proba`` is offered only for the logistic loss (a likelihood model)."""
    if estimator.loss != "logistic":
        raise AttributeError(
            "predict_proba is available only with loss='logistic'; the squared loss "
            "does not model probabilities (use decision_function)."
        )
    return True


def _proba_from_decision(F):
    """Probabilities from one-vs-all scores: ``[1 − σ(f), σ(f)]`` or ``σ(f_k)/Σ_l σ(f_l)``."""
    if F.ndim == 1:
        p = expit(F)
        return np.column_stack([1.0 - p, p])
    P = expit(F)
    return P / P.sum(axis=1, keepdims=True)


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    __doc__ = """Two-layer (gated) ReLU classifier trained by a convex program, with a certificate.

    Two classes: one output, labels coded ``−1`` (``classes_[0]``) and ``+1``
    (``classes_[1]``). ``K > 2`` classes: one-vs-all, ``K`` outputs coded ``±1``,
    solved jointly (one group per output and pattern, ``s = n·K``).

    Defaults. The logistic loss, ``lam_ratio="auto"`` (``λ = min(0.01, 0.15/√n)·λ_max``,
    :data:`CLASSIFIER_LAM_RATIO`), 100 data-placed gates, ``tol=3e-3`` in float32
    iterations (:data:`CLASSIFIER_TOL`), chosen by 5-fold CV inside
    ``make_pipeline(StandardScaler(), ·)`` on :mod:`convex_relu.bench_models`' sets:
    smaller ratios fit the larger KEEL sets better (segment: 0.938 at 0.01, 0.953 at
    0.003 with 100 gates), 150 or 200 gates helped some sets and hurt magic
    (0.8562 → 0.8526 / 0.8464). :mod:`convex_relu.bench_models` prints the table
    beside scikit-learn's models.

    Parameters
    ----------""" + _COMMON_PARAMS_DOC + """    loss : {"logistic", "squared"}, default="logistic"
        The logistic loss ``(1/s) Σ log(1 + exp(−y f(x)))`` on the ``±1`` codes
        (with ``predict_proba``), or the squared loss on them.

    Attributes
    ----------
    classes_ : ndarray (K,)""" + _COMMON_ATTRS_DOC + """
    Notes
    -----
    ``predict`` takes the sign of the output (two classes) or the arg-max over the
    one-vs-all outputs. ``decision_function`` returns the network outputs.
    ``predict_proba`` exists only for ``loss="logistic"``: ``[1 − σ(f), σ(f)]`` for
    two classes (the fitted likelihood model); for ``K > 2`` the per-class sigmoids
    of the one-vs-all outputs normalised to sum to one, ``σ(f_k)/Σ_l σ(f_l)`` (a
    one-vs-all heuristic, not a calibrated multinomial model; it ranks classes as
    ``decision_function`` does). ``X`` is not standardised inside.
    """

    _losses = ("logistic", "squared")

    def __init__(
        self,
        formulation="gated_relu",
        lam=None,
        *,
        lam_ratio=CLASSIFIER_LAM_RATIO,
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
        warm_start=False,
        verbose=False,
    ):
        super().__init__(
            formulation, lam, lam_ratio=lam_ratio, loss=loss, n_gates=n_gates, gates=gates,
            penalty=penalty, penalty_params=penalty_params,
            max_patterns=max_patterns, random_state=random_state, bias=bias, solver=solver,
            tol=tol, max_iter=max_iter, dtype=dtype, warm_start=warm_start, verbose=verbose,
        )

    def _validated_Xy(self, X, y, sample_weight):
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=np.float64)
        check_classification_targets(y)
        sw = _check_fit_sample_weight(sample_weight, X)
        classes, idx = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"ConvexReLUClassifier needs samples of at least 2 classes; got one class "
                f"({classes[0]!r})."
            )
        if classes.size == 2:
            Y = np.where(idx == 1, 1.0, -1.0)[:, None]
        else:
            Y = -np.ones((idx.size, classes.size))
            Y[np.arange(idx.size), idx] = 1.0
        return X, Y, self.loss, {"classes_": classes}, sw

    def decision_function(self, X):
        """Network outputs: shape ``(n,)`` for two classes (positive favours
        ``classes_[1]``), ``(n, K)`` one-vs-all scores otherwise."""
        F = self._raw_predict(X)
        return F[:, 0] if self.classes_.size == 2 else F

    def predict(self, X):
        """Class labels: sign of the output (two classes) or arg-max (one-vs-all)."""
        F = self.decision_function(X)
        idx = (F > 0).astype(np.intp) if F.ndim == 1 else np.argmax(F, axis=1)
        return self.classes_[idx]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against ``y`` (scikit-learn's), ``y`` checked against ``X``."""
        self._check_score_inputs(X, y)
        return ClassifierMixin.score(self, X, y, sample_weight=sample_weight)

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities (``loss="logistic"`` only), shape ``(n, K)``, rows sum to 1.

        Two classes: ``[1 − σ(f), σ(f)]``. ``K > 2``: ``σ(f_k) / Σ_l σ(f_l)`` with
        ``f = decision_function(X)``.
        """
        return _proba_from_decision(self.decision_function(X))

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))`` (``loss="logistic"`` only)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
