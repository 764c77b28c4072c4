"""scikit-learn estimators that train two-layer (gated) ReLU networks by convex optimisation.

:class:`ConvexReLURegressor` and :class:`ConvexReLUClassifier` build the convex
program of the chosen formulation (DESIGN §1),

    C-ReLU:   min_{v,w ∈ K}  ℓ(Σ_i D_iX̃(v_i − w_i)) + λ Σ_i (‖v_i‖₂ + ‖w_i‖₂),
    C-GReLU:  min_u          ℓ(Σ_i D_iX̃u_i)         + λ Σ_i ‖u_i‖₂,

solve it, certify the result with a duality gap and turn the weights into a
network (DESIGN §3) that predicts on new data.

Scaling (the package convention, as in ``scnn``): the loss is divided by
``s = n·c`` (``c`` outputs), the penalty ``λ Σ‖·‖`` is **not** divided by ``n``.

The inputs are used as given: nothing is centred or scaled inside. Put a
:class:`~sklearn.preprocessing.StandardScaler` in front (a
:class:`~sklearn.pipeline.Pipeline`) unless the features already share a scale,
both because the gates are isotropic Gaussians and because ``λ`` acts on the
raw weights.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted, validate_data

from ._validation import (
    InputTypeError,
    check_bool,
    check_lam,
    check_positive_float,
    check_positive_int,
    check_seed,
)
from .certificates import certify
from .networks import network_from_weights
from .problems import FORMULATIONS, make_problem

__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier", "SOLVER_CHOICES"]

#: Values accepted for ``solver``: ``"auto"`` (:func:`convex_relu.solvers.choose_method`:
#: Clarabel for small problems, else R-FISTA for C-GReLU and the augmented Lagrangian
#: for C-ReLU), a fast method by name, or an exact conic solver via CVXPY.
SOLVER_CHOICES = ("auto", "rfista", "al", "clarabel", "scs", "mosek")
_EXACT = ("clarabel", "scs", "mosek")
#: Relative group norm below which an exact (interior-point) solution's group is not
#: turned into a neuron.
_EXACT_PRUNE_TOL = 1e-7


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


class _ConvexReLUBase(BaseEstimator):
    """Shared parameters, fitting and prediction (not used directly)."""

    def __init__(
        self,
        formulation="gated_relu",
        lam=1e-3,
        *,
        loss="squared",
        n_gates=50,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=1e-6,
        max_iter=None,
        verbose=False,
    ):
        self.formulation = formulation
        self.lam = lam
        self.loss = loss
        self.n_gates = n_gates
        self.max_patterns = max_patterns
        self.random_state = random_state
        self.bias = bias
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
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
        check_lam(self.lam, "lam")
        loss = getattr(self, "loss", "squared")
        if not isinstance(loss, str) or loss not in self._losses:
            exc = ValueError if isinstance(loss, str) else InputTypeError
            raise exc(f"loss must be one of {self._losses}; got {loss!r}.")
        if self.n_gates is not None:
            check_positive_int(self.n_gates, "n_gates")
        check_positive_int(self.max_patterns, "max_patterns")
        check_bool(self.bias, "bias")
        if not isinstance(self.solver, str) or self.solver not in SOLVER_CHOICES:
            exc = ValueError if isinstance(self.solver, str) else InputTypeError
            raise exc(f"solver must be one of {SOLVER_CHOICES}; got {self.solver!r}.")
        check_positive_float(self.tol, "tol")
        if self.max_iter is not None:
            check_positive_int(self.max_iter, "max_iter")
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral, np.integer)):
            raise InputTypeError(f"verbose must be a bool or an int; got {self.verbose!r}.")
        _check_random_state(self.random_state)

    def _transactional_fit(self, X, y):
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
            state = self._fit(X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        for k, v in state.items():
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ fitting
    def _fit_targets(self, X, Y, loss):
        """Build, solve and certify the convex program for float targets ``Y`` (n, c).

        Returns the fitted attributes as a dict (nothing is set on ``self``).
        """
        from .solvers import solve  # imported late: solvers import many modules

        seed = _seed_from(self.random_state)
        problem = make_problem(
            X,
            Y,
            formulation=self.formulation,
            lam=float(self.lam),
            loss=loss,
            bias=bool(self.bias),
            n_gates=self.n_gates,
            seed=seed,
            max_patterns=self.max_patterns,
        )
        kwargs = {"method": self.solver, "tol": float(self.tol), "verbose": bool(self.verbose)}
        if self.max_iter is not None:
            kwargs["max_iter"] = int(self.max_iter)
        solution = solve(problem, **kwargs)
        certificate = solution.certificate
        if certificate is None:
            try:
                certificate = certify(problem, solution.weights)
            except NotImplementedError:
                certificate = None

        weights, objective = solution.weights, float(solution.objective)
        if certificate is not None and certificate.repaired:
            # C-ReLU iterates may violate the cone constraints by round-off; the
            # certificate evaluates (and we deploy) the repaired, feasible weights,
            # on which the ReLU network reproduces the convex model exactly.
            weights, objective = certificate.weights, float(certificate.primal)

        # Interior-point groups that are zero at the optimum come back at ~1e-9 of the
        # largest: they stay in weights_ (which the certificate is about) but do not
        # become neurons.
        prune = _EXACT_PRUNE_TOL if solution.solver in _EXACT else 0.0
        network = network_from_weights(problem, weights, prune_tol=prune)
        return {
            "solution_": solution,
            "problem_": problem,
            "patterns_": problem.patterns,
            "weights_": weights,
            "certificate_": certificate,
            "objective_": objective,
            "gap_": float("nan") if certificate is None else float(certificate.gap),
            "relative_gap_": float("nan") if certificate is None else float(certificate.relative_gap),
            "converged_": bool(solution.converged),
            "n_iter_": 0 if solution.n_iter is None else int(solution.n_iter),
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
        from .claims import claim

        return claim(self.problem_, self.certificate_, tol=float(self.tol), width=self.n_neurons_)

    def _raw_predict(self, X):
        """Network outputs ``f(X)`` of shape ``(n, c)``."""
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


class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    """Two-layer (gated) ReLU regression trained by a convex program, with a certificate.

    Minimises ``‖f(X) − Y‖²_F / (2nc) + λ·R`` through its convex reformulation:
    C-ReLU (``formulation="relu"``, a ReLU network; with all patterns its optimum is
    the global optimum of weight-decay training) or C-GReLU (``"gated_relu"``, a
    gated ReLU network whose neuron ``j`` is ``1[x̃ᵀg_j >= 0]·x̃ᵀw_j``). ``y`` may have
    several columns (``c`` outputs, one group per output and pattern).

    Parameters
    ----------
    formulation : {"gated_relu", "relu"}, default="gated_relu"
        The gated program (an unconstrained group lasso, solved fast by R-FISTA) or
        C-ReLU (cone constraints; with all patterns its optimum is that of
        weight-decay training of the ReLU network).
    lam : float >= 0, default=1e-3
        ``λ``; the loss is divided by ``s = n·c``, the penalty is not.
    n_gates : int or None, default=50
        Number of Gaussian gates sampled for the activation patterns (duplicate
        and all-zero patterns are dropped, so ``p <= n_gates``). ``None``
        enumerates every pattern of ``[X, 1]`` (exact; feasible only for small
        rank, see ``max_patterns``).
    max_patterns : int, default=10000
        With ``n_gates=None``: refuse (``ValueError``) when Cover's bound on the
        number of patterns exceeds this.
    random_state : int, RandomState, Generator or None, default=0
        Seed of the gate draw (``None``: fresh entropy each fit).
    bias : bool, default=True
        Neurons act on ``[x, 1]``; the bias weight sits inside each group norm.
    solver : {"auto", "rfista", "al", "clarabel", "scs", "mosek"}, default="auto"
        ``"auto"``: Clarabel for small problems, else R-FISTA for C-GReLU and the
        augmented Lagrangian for C-ReLU.
        ``"clarabel"``, ``"scs"``, ``"mosek"``: exact conic solves through CVXPY.
        Interior-point groups smaller than ``1e-7`` times the largest are kept in
        ``weights_`` (the certified weights) but not turned into neurons of
        ``network_``.
    tol : float > 0, default=1e-6
        First-order methods stop at a certified relative duality gap ``tol``;
        interior-point solvers run at ``max(tol·1e-2, 1e-10)``, SCS at ``tol``
        (see :func:`convex_relu.solvers.solve`).
    max_iter : int or None, default=None
        Iteration limit (``None``: the solver's default).
    verbose : bool or int, default=False
        Solver progress output.

    Attributes
    ----------
    network_ : ReLUNetwork or GatedReLUNetwork
        The trained network; ``predict`` is ``network_.predict``.
    first_layer_ : ndarray (d̃, m)
        First-layer weights, the bias in the last row when ``bias``.
    second_layer_ : ndarray (m, c)
        Second-layer weights (each neuron feeds one output).
    n_neurons_ : int
        ``m``, the number of non-zero groups of the convex solution.
    patterns_ : Patterns
        The activation patterns (masks and gates) of the training data.
    weights_ : ndarray
        Convex weights, ``(c, d̃, p)`` (gated) or ``(2, c, d̃, p)`` (ReLU). For C-ReLU
        these are the certificate's feasible weights when the solver's iterate had to
        be repaired (round-off cone violations), so that the network is exactly the
        certified model.
    objective_ : float
        Convex objective at ``weights_``.
    certificate_ : Certificate or None
        Duality-gap certificate of ``weights_`` (``None`` if unavailable).
    gap_, relative_gap_ : float
        ``certificate_.gap`` (a proven bound on ``objective_ − optimum``) and the
        gap divided by ``|objective_|``; ``nan`` without a certificate.
    converged_ : bool
        Whether the solver met its tolerance (otherwise it warned).
    n_iter_ : int
        Solver iterations.
    solution_ : Solution
        The full solver result (status, timings, history).
    problem_ : ReLUProblem or GatedReLUProblem
        The convex program solved (it holds the training data).
    n_outputs_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.

    Notes
    -----
    ``X`` is not standardised inside: use ``make_pipeline(StandardScaler(), ...)``.
    """

    _losses = ("squared",)

    def __init__(
        self,
        formulation="gated_relu",
        lam=1e-3,
        *,
        n_gates=50,
        max_patterns=10_000,
        random_state=0,
        bias=True,
        solver="auto",
        tol=1e-6,
        max_iter=None,
        verbose=False,
    ):
        self.formulation = formulation
        self.lam = lam
        self.n_gates = n_gates
        self.max_patterns = max_patterns
        self.random_state = random_state
        self.bias = bias
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def fit(self, X, y):
        """Fit on ``X`` (n, d) and ``y`` (n,) or (n, c); returns ``self``.

        Every hyper-parameter is validated first; a fit that fails (bad input, solver
        error, ``KeyboardInterrupt``) leaves the estimator exactly as it was.
        """
        return self._transactional_fit(X, y)

    def _fit(self, X, y):
        X, y = validate_data(
            self, X, y, accept_sparse=False, dtype=np.float64, multi_output=True, y_numeric=True
        )
        y = np.asarray(y, dtype=np.float64)
        state = self._fit_targets(X, y, "squared")
        state["_y_1d"] = y.ndim == 1
        return state

    def predict(self, X):
        """Network predictions, shape ``(n,)`` (1-D ``y``) or ``(n, c)``."""
        pred = self._raw_predict(X)
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


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    """Two-layer (gated) ReLU classifier trained by a convex program, with a certificate.

    Two classes: one output, labels coded ``−1`` (``classes_[0]``) and ``+1``
    (``classes_[1]``). ``K > 2`` classes: one-vs-all, ``K`` outputs coded ``±1``,
    solved jointly (one group per output and pattern, ``s = n·K``).

    Parameters
    ----------
    formulation : {"gated_relu", "relu"}, default="gated_relu"
    lam : float >= 0, default=1e-3
    loss : {"squared", "logistic"}, default="squared"
        Squared loss on the ``±1`` codes, or the logistic loss
        ``(1/s) Σ log(1 + exp(−y f(x)))``.
    n_gates, max_patterns, random_state, bias, solver, tol, max_iter, verbose
        As in :class:`ConvexReLURegressor`.

    Attributes
    ----------
    classes_ : ndarray (K,)
    network_, first_layer_, second_layer_, n_neurons_, patterns_, weights_,
    objective_, certificate_, gap_, relative_gap_, converged_, n_iter_,
    solution_, problem_, n_outputs_, n_features_in_
        As in :class:`ConvexReLURegressor` (``n_outputs_`` is 1 for two classes,
        ``K`` otherwise).

    Notes
    -----
    ``predict`` takes the sign of the output (two classes) or the arg-max over the
    one-vs-all outputs. ``predict_proba`` exists only for ``loss="logistic"``: the
    sigmoid of the output for two classes; for ``K > 2`` the per-output sigmoids
    normalised to sum to one (a one-vs-all heuristic, not a calibrated
    multinomial model). ``X`` is not standardised inside.
    """

    _losses = ("squared", "logistic")

    def fit(self, X, y):
        """Fit on ``X`` (n, d) and labels ``y`` (n,); returns ``self``.

        Every hyper-parameter is validated first; a fit that fails (bad input, solver
        error, ``KeyboardInterrupt``) leaves the estimator exactly as it was, its old
        ``classes_`` and network included.
        """
        return self._transactional_fit(X, y)

    def _fit(self, X, y):
        X, y = validate_data(self, X, y, accept_sparse=False, dtype=np.float64)
        check_classification_targets(y)
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
        state = self._fit_targets(X, Y, self.loss)
        state["classes_"] = classes
        return state

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
        """Class probabilities (``loss="logistic"`` only), shape ``(n, K)``.

        Two classes: ``[1 − σ(f), σ(f)]``. ``K > 2``: ``σ(f_k) / Σ_l σ(f_l)``.
        """
        F = self.decision_function(X)
        if F.ndim == 1:
            p = expit(F)
            return np.column_stack([1.0 - p, p])
        P = expit(F)
        return P / P.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X):
        """``log(predict_proba(X))`` (``loss="logistic"`` only)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
