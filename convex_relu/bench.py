"""``convex-relu bench``: time to a certified relative gap, our solvers against the peers.

Every tool solves the *same* problem — same data ``X̃ = [X, 1]``, same activation
patterns (masks and gates), same λ, same scaling ``s = n·c`` with λ not divided by
``n`` — and every tool is judged by *our* certificate
(:func:`convex_relu.certificates.certify`) evaluated on the weights it returns, never
by its own stopping rule.

Protocol ("time to reach relative gap ε", default ε = 1e-6)
------------------------------------------------------------
Tools stop on their own criteria (a duality gap scaled by ‖y‖²/n for celer, a KKT
violation for skglm, the squared norm of a minimum-norm subgradient for scnn, interior
point tolerances for Clarabel, ADMM residuals for SCS), so each tool has a *ladder* of
its own tolerance settings, loosest first (:data:`TOOLS`). A rung *reaches* the target
when our certificate on its output has relative gap ``<= ε`` (and, for C-ReLU, cone
violation ``<= viol_tol``). The reported time is the median over ``repeats`` runs at
the loosest rung that reaches the target, i.e. the smallest time over the ladder if a
tighter setting never runs faster. To save benchmark time the search starts at the rung
one looser than the one that reached on the previous row and walks in both directions,
which finds the same rung as a scan from the loosest one whenever reaching is monotone
in the setting. A tool whose ladder ends without reaching is shown with the time and
best certified gap over its completed rungs and the mark ``✗``.

What is timed: the tool's solving call only. Work we do *for* a peer is excluded and
favours the peer: forming the explicit ``n × p·d̃`` matrix for celer and skglm,
converting arrays for scnn, CVXPY's canonicalisation for Clarabel and SCS (reported
separately in the JSON as ``compile_time``), and first-call compilation (every worker
first solves a tiny problem with each tool, so numba's JIT is not timed). Our solvers
are timed over the whole ``solve`` call.

Budget: ``timeout`` seconds per tool and row, ladder and repeats together; each call
gets what is left and is killed when it runs over (``timeout``); repeats stop early
(noted) when the budget cannot hold another run. A tool that timed out is not run on
later rows at least as large in ``n``, ``d̃`` and ``p`` (shown ``timeout``, noted).
Clarabel and SCS are skipped above ``exact_cap`` entries ``n·d̃·p`` of the stacked
operator (``skipped (cap)``).

Budgeted rows: on rows with ``n·d̃·p >= BUDGET_PROBE_SIZE`` our solvers first run two
probes of ``PROBE_ITERS`` and ``4·PROBE_ITERS`` iterations (the slope of time against
iterations is the cost of one iteration); later runs get the iteration cap that fits half the
remaining budget, so a row that does not reach the target in its budget still returns
weights, and the table shows ``✗`` with their certified gap. A tool that never reaches
shows the *best* certified gap over its completed settings.

Problems: squared loss by default (every tool supports it; breast cancer uses ±1
labels); logistic rows (``--logistic-sizes``, ``--relu-logistic-sizes``) on ±1 labels
for the tools that solve it (ours, Clarabel, SCS). λ = ``lam_frac``·λ_max of the row's
own formulation (``--lam-fracs`` repeats every row at several), ``p`` distinct sampled
patterns with a bias (``X̃ = [X, 1]``).

adelie: run by its own interpreter (it needs ``numpy < 2``; ``adelie_python=`` /
``--adelie-python`` / ``$CONVEX_RELU_ADELIE_PYTHON``) through
:mod:`convex_relu._adelie_worker`, which receives the problem as an ``.npz``, times its
``grpnet`` calls only, and returns the weights that we certify. Scaling: ``λ_a = c·λ``,
penalty factors 1 (see the worker).

Peak memory per row: the worker's RSS high-water mark during the timed call (reset just
before it through Linux's ``/proc/self/clear_refs``) minus its RSS before the call, the
largest over the tool's attempts (adelie measures the same in its own process). Shown
in MB in a table of its own, with our C-ReLU ÷ C-GReLU ratio on the same data.

Threads: each tool runs in its own worker process (``spawn``) with
``threadpoolctl.threadpool_limits(threads)`` around every call, plus
``torch.set_num_threads`` and ``numba.set_num_threads`` where those are loaded. A call
that exceeds the remaining per-tool budget is killed and reported as ``timeout``.

Physical-limit ratio (R-FISTA): the amortised time of one *full* R-FISTA iteration
(all groups, working sets off; the slope of the median time against iterations between
runs of two lengths, so backtracking and the periodic gap evaluations are included and set-up is not)
divided by the sum of the median times of the two bare GEMMs of the same size,
``X̃ @ U`` (n×d̃ by d̃×cp) and ``X̃ᵀ @ B`` (d̃×n by n×cp), measured in the same worker
process right after. The benchmark run's own time per iteration (working sets on, so
cheaper iterations) is in the JSON as ``rfista_run_time_per_iteration``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "TOOLS",
    "ToolSpec",
    "BenchRow",
    "ToolResult",
    "RowResult",
    "BenchReport",
    "synthetic_row",
    "dataset_row",
    "default_rows",
    "parse_sizes",
    "missing_tools",
    "run_benchmark",
    "format_report",
    "report_to_dict",
    "add_cli",
]


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    """One benchmarked tool.

    Attributes
    ----------
    name : str
        Key used on the command line (``--tools``).
    label : str
        Column header.
    formulations : tuple of str
        Programs the tool can solve (``"gated_relu"``, ``"relu"``).
    modules : tuple of str
        Importable modules it needs; a tool with one missing is reported ``missing``.
    ladder : tuple of float
        The tool's own tolerance settings, loosest first (see the module docstring).
    setting : str
        What a ladder value means for this tool (documentation and JSON).
    exact : bool
        A conic (CVXPY) solver: skipped above ``exact_cap``.
    dense : bool
        Needs the explicit ``n × p·d̃`` matrix: skipped above ``dense_cap``.
    ours : bool
        One of this package's solvers.
    losses : tuple of str
        Losses the tool solves (rows of another loss show ``—``).
    external : bool
        Runs in another interpreter (adelie, which needs ``numpy < 2``): available when
        that interpreter is configured and imports it (:func:`resolve_adelie_python`).
    """

    name: str
    label: str
    formulations: tuple
    modules: tuple
    ladder: tuple
    setting: str
    exact: bool = False
    dense: bool = False
    ours: bool = False
    losses: tuple = ("squared",)
    external: bool = False


def _decades(hi, lo, step=10.0):
    out, v = [], hi
    while v >= lo * (1 - 1e-9):
        out.append(float(f"{v:.0e}"))
        v /= step
    return tuple(out)


TOOLS = {
    "rfista": ToolSpec(
        "rfista", "R-FISTA", ("gated_relu",), ("convex_relu.fista",),
        (1.0, 1e-1, 1e-2), "multiple of the target passed as solve(tol=...) (certified gap)",
        ours=True, losses=("squared", "logistic"),
    ),
    "al": ToolSpec(
        "al", "AL", ("relu",), ("convex_relu.augmented_lagrangian",),
        (1.0, 1e-1, 1e-2),
        "multiple of the target passed as tol = constraint_tol (certified gap; relative violation)",
        ours=True, losses=("squared", "logistic"),
    ),
    "clarabel": ToolSpec(
        "clarabel", "Clarabel", ("gated_relu", "relu"), ("cvxpy", "clarabel", "convex_relu.cvx"),
        _decades(1e-8, 1e-12), "tol_gap_abs = tol_gap_rel = tol_feas (via convex_relu.cvx)",
        exact=True, losses=("squared", "logistic"),
    ),
    "scs": ToolSpec(
        "scs", "SCS", ("gated_relu", "relu"), ("cvxpy", "scs", "convex_relu.cvx"),
        _decades(1e-6, 1e-10), "eps_abs = eps_rel (via convex_relu.cvx)",
        exact=True, losses=("squared", "logistic"),
    ),
    "celer": ToolSpec(
        "celer", "celer", ("gated_relu",), ("celer",),
        _decades(1e-6, 1e-12), "GroupLasso tol (duality gap / (‖y‖²/n))",
        dense=True,
    ),
    "skglm": ToolSpec(
        "skglm", "skglm", ("gated_relu",), ("skglm",),
        _decades(1e-6, 1e-12), "GroupLasso tol (KKT violation)",
        dense=True,
    ),
    "scnn": ToolSpec(
        "scnn", "scnn", ("gated_relu", "relu"), ("scnn", "lab"),
        _decades(1e-6, 1e-16, step=100.0),
        "RFISTA / AL tol (squared min-norm subgradient; AL also constraint_tol)",
    ),
    "adelie": ToolSpec(
        "adelie", "adelie", ("gated_relu",), (),
        _decades(1e-7, 1e-16), "grpnet tol (coordinate-descent convergence), own interpreter",
        external=True,
    ),
}

#: Column order of the tables.
TOOL_ORDER = ("rfista", "al", "clarabel", "scs", "celer", "skglm", "scnn", "adelie")
PEERS = ("clarabel", "scs", "celer", "skglm", "scnn", "adelie")

#: Environment variable naming adelie's interpreter when ``adelie_python`` is not given.
ADELIE_ENV = "CONVEX_RELU_ADELIE_PYTHON"


def resolve_adelie_python(explicit=None):
    """The interpreter that runs adelie: ``explicit``, else ``$CONVEX_RELU_ADELIE_PYTHON``,
    else ``None`` (adelie then shows as missing)."""
    path = explicit if explicit is not None else os.environ.get(ADELIE_ENV)
    return str(path) if path else None


_ADELIE_OK = {}


def _adelie_available(python):
    """``None`` when ``python`` imports adelie, numpy and threadpoolctl, else why not."""
    if python is None:
        return f"adelie (no interpreter: pass adelie_python= or set ${ADELIE_ENV})"
    if python not in _ADELIE_OK:
        import subprocess

        try:
            res = subprocess.run([python, "-c", "import adelie, numpy, threadpoolctl"],
                                 capture_output=True, timeout=120)
            _ADELIE_OK[python] = None if res.returncode == 0 else \
                f"adelie (not importable by {python})"
        except (OSError, subprocess.SubprocessError) as exc:
            _ADELIE_OK[python] = f"adelie (cannot run {python}: {type(exc).__name__})"
    return _ADELIE_OK[python]


def missing_tools(names, adelie_python=None):
    """``{tool: missing module}`` for the tools in ``names`` that cannot be imported.

    adelie (an external tool) is looked for in its own interpreter
    (:func:`resolve_adelie_python` resolves ``adelie_python``).
    """
    out = {}
    for name in names:
        if TOOLS[name].external:
            why = _adelie_available(resolve_adelie_python(adelie_python))
            if why is not None:
                out[name] = why
            continue
        for mod in TOOLS[name].modules:
            try:
                found = importlib.util.find_spec(mod) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                out[name] = mod
                break
    return out


# ---------------------------------------------------------------------------
# Rows (problems)
# ---------------------------------------------------------------------------


@dataclass
class BenchRow:
    """One row of the table: a problem every tool solves."""

    name: str
    formulation: str
    X: np.ndarray
    y: np.ndarray
    n_gates: int
    lam_frac: float
    seed: int = 0
    bias: bool = True
    description: str = ""
    loss: str = "squared"
    _problem: object = field(default=None, repr=False)

    @property
    def label(self):
        return f"{self.name} p={self.n_gates}"

    @property
    def display_name(self):
        """The name shown in the tables (logistic rows marked)."""
        return self.name + (" [logistic]" if self.loss == "logistic" else "")

    def problem(self):
        """The problem (built once): ``p`` distinct sampled patterns, λ = lam_frac·λ_max."""
        if self._problem is None:
            from .problems import make_problem

            patterns = _sample_exactly(self.X, self.n_gates, self.seed, self.bias)
            prob = make_problem(
                self.X, self.y, formulation=self.formulation, lam=1.0, loss=self.loss,
                bias=self.bias, patterns=patterns,
            )
            self._problem = prob.with_lam(self.lam_frac * prob.lam_max())
        return self._problem


def _sample_exactly(X, p, seed, bias):
    """``p`` distinct non-zero patterns (the first ``p`` kept of a doubling gate draw).

    ``sample_patterns`` drops duplicates, so ``p`` gates may keep fewer than ``p``
    patterns; drawing more gates with the same seed and keeping the first ``p`` gives
    exactly ``p`` whenever the data have that many.
    """
    from .patterns import Patterns, sample_patterns

    m = p
    for _ in range(6):
        pats = sample_patterns(X, m, seed, bias=bias)
        if pats.n_patterns >= p:
            break
        m *= 2
    k = min(p, pats.n_patterns)
    return Patterns(masks=pats.masks[:, :k], gates=pats.gates[:, :k], bias=pats.bias,
                    method="sampled", seed=seed)


def synthetic_row(n, d, p, *, formulation="gated_relu", lam_frac=0.1, seed=0, width=10,
                  noise=0.1, loss="squared"):
    """Gaussian ``X`` (n×d), ``y`` from a planted ReLU network of ``width`` neurons + noise.

    ``y = Σ_j a_j (Xw_j)_+ + noise·ε`` with ``w_j ~ N(0, I/d)``, ``a_j = ±1``, all drawn
    from ``numpy.random.default_rng([seed, n, d])``; the same seed samples the gates.
    ``loss="logistic"``: the labels are ``sign(y − median(y))`` (±1, balanced).
    """
    rng = np.random.default_rng([seed, n, d])
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, width)) / math.sqrt(d)
    a = rng.choice([-1.0, 1.0], size=width)
    y = np.maximum(X @ W, 0.0) @ a + noise * rng.standard_normal(n)
    desc = f"Gaussian X, planted ReLU net (width {width}) + {noise} noise, seed {seed}"
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
        desc += ", ±1 labels sign(y − median y)"
    elif loss != "squared":
        raise ValueError(f"loss must be 'squared' or 'logistic'; got {loss!r}.")
    return BenchRow(
        name=f"synthetic {n}x{d}", formulation=formulation, X=X, y=y, n_gates=p,
        lam_frac=lam_frac, seed=seed, loss=loss, description=desc,
    )


DATASETS = ("diabetes", "breast_cancer")


def dataset_row(name, p, *, formulation="gated_relu", lam_frac=0.1, seed=0):
    """A scikit-learn dataset (standardised): ``diabetes`` (442×10, regression) or
    ``breast_cancer`` (569×30, squared loss on ±1 labels)."""
    from .datasets import load_breast_cancer_classification, load_diabetes_regression

    if name == "diabetes":
        X, y = load_diabetes_regression()
        desc = "scikit-learn diabetes, standardised"
    elif name == "breast_cancer":
        X, y = load_breast_cancer_classification()
        desc = "scikit-learn breast cancer, standardised, squared loss on ±1 labels"
    else:
        raise ValueError(f"datasets must be among {DATASETS}; got {name!r}.")
    return BenchRow(name=name, formulation=formulation, X=X, y=y, n_gates=p,
                    lam_frac=lam_frac, seed=seed, description=desc)


DEFAULT_SIZES = tuple((n, d, p) for n in (500, 2000, 10000) for d in (10, 50) for p in (100, 500))
DEFAULT_RELU_SIZES = ((500, 20, 100),)
DEFAULT_DATASET_GATES = (100, 500)
DEFAULT_RELU_DATASET_GATES = (100,)


def parse_sizes(text):
    """``"500x10x100,2000x50x500"`` → ``[(500, 10, 100), (2000, 50, 500)]`` (n×d×p)."""
    if text is None or text.strip().lower() in ("", "none"):
        return []
    out = []
    for item in text.split(","):
        parts = item.strip().lower().split("x")
        try:
            n, d, p = (int(v) for v in parts)
        except ValueError:
            raise ValueError(
                f"sizes must look like '500x10x100' (n x d x p), comma separated; got {item!r}."
            ) from None
        if min(n, d, p) < 1:
            raise ValueError(f"sizes must be positive; got {item!r}.")
        out.append((n, d, p))
    return out


#: The C-ReLU rows of issue 12, run at λ = 0.1 and 0.01·λ_max (``--relu-sizes scale``).
RELU_SCALE_SIZES = ((2000, 10, 100), (2000, 10, 500), (10000, 10, 100), (2000, 50, 100),
                    (10000, 50, 500))


def default_rows(*, formulation="both", sizes=None, relu_sizes=None, datasets=DATASETS,
                 dataset_gates=DEFAULT_DATASET_GATES,
                 relu_dataset_gates=DEFAULT_RELU_DATASET_GATES, lam_frac=0.1, seed=0,
                 lam_fracs=None, logistic_sizes=(), relu_logistic_sizes=()):
    """The benchmark's rows: synthetic sizes and datasets, for the chosen formulation(s).

    ``lam_fracs`` (a list) replaces the single ``lam_frac``: every row is repeated at
    each ``λ = f·λ_max``. ``logistic_sizes`` / ``relu_logistic_sizes`` add synthetic
    rows with the logistic loss on ±1 labels (C-GReLU / C-ReLU).
    """
    sizes = DEFAULT_SIZES if sizes is None else sizes
    relu_sizes = DEFAULT_RELU_SIZES if relu_sizes is None else relu_sizes
    fracs = [lam_frac] if lam_fracs is None else list(lam_fracs)
    rows = []
    for f in fracs:
        if formulation in ("gated_relu", "both"):
            rows += [synthetic_row(n, d, p, lam_frac=f, seed=seed) for n, d, p in sizes]
            rows += [synthetic_row(n, d, p, lam_frac=f, seed=seed, loss="logistic")
                     for n, d, p in logistic_sizes]
            rows += [dataset_row(ds, p, lam_frac=f, seed=seed)
                     for ds in datasets for p in dataset_gates]
        if formulation in ("relu", "both"):
            rows += [synthetic_row(n, d, p, formulation="relu", lam_frac=f, seed=seed)
                     for n, d, p in relu_sizes]
            rows += [synthetic_row(n, d, p, formulation="relu", lam_frac=f, seed=seed,
                                   loss="logistic") for n, d, p in relu_logistic_sizes]
            rows += [dataset_row(ds, p, formulation="relu", lam_frac=f, seed=seed)
                     for ds in datasets for p in relu_dataset_gates]
    return rows


# ---------------------------------------------------------------------------
# Executing one tool run (runs inside a worker process, or inline)
# ---------------------------------------------------------------------------


def _limit_threads(threads):
    """A context that caps BLAS/OpenMP threads, plus torch and numba when loaded."""
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "numba" in sys.modules:
        numba = sys.modules["numba"]
        try:
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        except Exception:  # numba without a threading layer: nothing to cap
            pass
    return threadpool_limits(limits=threads)


def _dense_matrix(problem):
    """``A = [D_1X̃ … D_pX̃]`` (n × p·d̃), column ``i·d̃ + j`` = ``D_i x̃_j`` (Fortran order)."""
    M, Xt, d = problem.masks, problem.X_tilde, problem.d
    # filled block by block in Fortran order: one copy of A in memory, never two
    A = np.empty((problem.n, problem.p * d), order="F")
    for i in range(problem.p):
        A[:, i * d:(i + 1) * d] = M[:, i:i + 1] * Xt
    return A


def _our_solver(method):
    """``convex_relu.solvers.solve`` (bound to ``method``), else the solver module itself."""
    try:
        from .solvers import solve
    except ImportError:
        if method == "rfista":
            from .fista import solve_rfista as fn
        else:
            from .augmented_lagrangian import solve_al as fn
        return fn, {}
    return solve, {"method": method}


def _run_ours(problem, method, tol, max_iter=None):
    fn, kwargs = _our_solver(method)
    params = inspect.signature(fn).parameters
    takes_options = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs["tol"] = tol
    if method == "al" and ("constraint_tol" in params or takes_options):
        kwargs["constraint_tol"] = tol
    if "max_iter" in params:
        # generous: the per-tool time budget, not an iteration cap, should stop a slow
        # run; a budgeted run (see _measure) passes the cap that fits its budget
        kwargs["max_iter"] = 1_000_000 if max_iter is None else int(max_iter)
    t0 = time.perf_counter()
    sol = fn(problem, **kwargs)
    elapsed = time.perf_counter() - t0
    return {"weights": sol.weights, "time": elapsed, "n_iter": sol.n_iter,
            "status": sol.status}


def _run_cvx(problem, solver, tol):
    from .cvx import solve_exact

    sol = solve_exact(problem, solver, tol=tol)
    return {"weights": sol.weights, "time": sol.solve_time, "compile_time": sol.compile_time,
            "n_iter": sol.n_iter, "status": sol.status}


def _run_group_lasso(problem, lib, tol, cache):
    """celer / skglm GroupLasso on the explicit matrix, one output at a time.

    Their objective is ``‖y − Aw‖²/(2n) + α Σ_g ‖w_g‖``; ours for output ``k`` is
    ``‖y_k − Au_k‖²/(2nc) + λ Σ_i ‖u_{k,i}‖ = (1/c)[‖y_k − Au_k‖²/(2n) + cλ Σ_i ‖u_{k,i}‖]``,
    so ``α = c·λ`` and ``w_g = u_{k,:,g}``.
    """
    if "A" not in cache:
        cache["A"] = _dense_matrix(problem)
    A = cache["A"]
    if lib == "celer":
        from celer import GroupLasso
        extra = {"max_iter": 10_000, "max_epochs": 1_000_000}
    else:
        from skglm import GroupLasso
        extra = {"max_iter": 10_000, "max_epochs": 1_000_000}
    c, d, p = problem.c, problem.d, problem.p
    U = np.zeros((c, d, p))
    elapsed, n_iter = 0.0, 0
    for k in range(c):
        model = GroupLasso(groups=d, alpha=c * problem.lam, tol=tol, fit_intercept=False,
                           **extra)
        y = np.ascontiguousarray(problem.Y[:, k])
        t0 = time.perf_counter()
        model.fit(A, y)
        elapsed += time.perf_counter() - t0
        U[k] = np.asarray(model.coef_).reshape(p, d).T
        n_iter += int(np.sum(getattr(model, "n_iter_", 0)))
    return {"weights": U, "time": elapsed, "n_iter": n_iter, "status": "done"}


def _run_scnn(problem, tol, cache):
    """scnn's own optimisers on our data and patterns.

    We build scnn's internal model (``ConvexMLP`` for R-FISTA, ``AL_MLP`` for AL) from
    OUR masks and gates and OUR ``X̃`` (bias column included, so scnn's ``bias=False``),
    and run the optimisation procedure that ``scnn.optimize_model`` builds for
    ``RFISTA`` / ``AL``. This is ``optimize_model(..., unitize_data=False,
    return_convex=True, dtype="float64")`` minus its data conversion, with the patterns
    kept in our order (``optimize_model`` recomputes them and re-sorts them with
    ``np.unique``; with its default ``unitize_data=True`` the group norms would be
    taken in column-normalised coordinates, a different problem).
    scnn's scaling is ours: squared loss ``‖·‖²/(2nc)`` and ``λ Σ‖·‖`` not divided by n.
    """
    import lab
    from scnn.metrics import Metrics
    from scnn.models import ConvexGatedReLU, ConvexReLU
    from scnn.private.interface import (
        build_metrics_tuple,
        build_optimizer,
        get_logger,
        set_device,
    )
    from scnn.private.models import AL_MLP, ConvexMLP, GroupL1Regularizer
    from scnn.regularizers import NeuronGL1
    from scnn.solvers import AL, RFISTA

    set_device("cpu", "float64", 0)
    if "scnn_data" not in cache:
        cache["scnn_data"] = tuple(
            lab.tensor(np.ascontiguousarray(a), dtype=lab.get_dtype())
            for a in (problem.X_tilde, problem.Y, problem.masks, problem.patterns.gates)
        )
    Xt, Y, D, G = cache["scnn_data"]
    gates = problem.patterns.gates
    # no metrics beyond what the procedure needs: cheaper than scnn's defaults
    metrics = Metrics(metric_freq=10**9, objective=False, grad_norm=False, time=False)
    reg = NeuronGL1(problem.lam)
    if problem.formulation == "gated_relu":
        public = ConvexGatedReLU(gates, c=problem.c)
        opt = RFISTA(public, max_iters=1_000_000, tol=tol)
        model = ConvexMLP(problem.d, D, G, "einsum", regularizer=GroupL1Regularizer(problem.lam),
                          c=problem.c)
    else:
        public = ConvexReLU(gates, c=problem.c)
        opt = AL(public, max_primal_iters=1_000_000, max_dual_iters=1_000_000, tol=tol,
                 constraint_tol=tol)
        model = AL_MLP(problem.d, D, G, "einsum", delta=1000,
                       regularizer=GroupL1Regularizer(problem.lam), c=problem.c)
    procedure = build_optimizer(opt, reg, metrics)
    logger = get_logger("scnn", False)
    t0 = time.perf_counter()
    exit_status, model, _ = procedure(logger, model, lambda m: m, (Xt, Y), (Xt, Y),
                                      build_metrics_tuple(metrics))
    elapsed = time.perf_counter() - t0
    W = np.asarray(lab.to_np(model.weights), dtype=np.float64)
    # scnn stores (c, p, d̃) / (2, c, p, d̃); ours is (c, d̃, p) / (2, c, d̃, p)
    W = np.swapaxes(W, -1, -2)
    n_iter = exit_status.get("iterations", exit_status.get("total_inner_iterations"))
    status = "converged" if exit_status.get("success") else "not converged"
    return {"weights": W, "time": elapsed, "n_iter": n_iter, "status": status}


def _run_adelie(problem, tol, cache, python, threads):
    """adelie's ``grpnet`` in its own interpreter (:mod:`convex_relu._adelie_worker`).

    The problem goes to the worker as an ``.npz`` in a temporary directory; the worker
    times its ``grpnet`` calls only and sends back the weights, which we certify. The
    scaling (``λ_a = c·λ``, penalty factors 1) is documented in the worker.
    """
    import subprocess
    import tempfile

    if python is None:
        raise ToolError(f"adelie: no interpreter (adelie_python= or ${ADELIE_ENV})")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_adelie_worker.py")
    with tempfile.TemporaryDirectory(prefix="convex_relu_adelie_") as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(src, Xt=np.asarray(problem.X_tilde, dtype=np.float64),
                 masks=np.asarray(problem.masks, dtype=np.float64),
                 Y=np.asarray(problem.Y, dtype=np.float64), lam=float(problem.lam),
                 tol=float(tol), threads=int(threads), warm=int(not cache.get("adelie_warm")),
                 alpha=float(getattr(getattr(problem, "penalty", None), "alpha", 1.0)))
        res = subprocess.run([python, script, src, dst], capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolError(f"adelie worker exited with {res.returncode}: "
                            f"{res.stderr.strip().splitlines()[-1:] or ''}", res.stderr[-2000:])
        with np.load(dst) as out:
            W = np.array(out["W"])
            elapsed = float(out["time"])
            n_iter = int(out["n_iter"])
            peak, base = int(out["peak_rss_kb"]), int(out["base_rss_kb"])
    cache["adelie_warm"] = True
    return {"weights": W, "time": elapsed, "n_iter": n_iter, "status": "done",
            "peak_rss_mb": peak / 1024 if peak > 0 else None,
            "mem_increase_mb": (peak - base) / 1024 if peak > 0 and base > 0 else None}


def _proc_status_kb(field_name):
    """``VmRSS`` / ``VmHWM`` of this process in kB (``None`` off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss():
    """Reset this process's RSS high-water mark (Linux ``clear_refs``); False if refused.

    First hands free heap memory back to the system (glibc ``malloc_trim``): memory an
    earlier call freed but the allocator kept would otherwise count as "before" and
    hide the call's own peak.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _execute(tool, problem, setting, cache, options=None):
    """Run ``tool`` once on ``problem`` with ladder value ``setting``; returns a dict.

    Keys: ``weights``, ``time`` (seconds of the timed call), ``n_iter``, ``status``,
    optional ``compile_time``, ``warnings`` (messages the tool emitted), and the memory
    of the call: ``peak_rss_mb`` (the process's RSS high-water mark, reset just before
    the call) and ``mem_increase_mb`` (that peak minus the RSS before the call). adelie
    reports the same two numbers from its own process. ``options``: ``max_iter``
    (ours), ``adelie_python``, ``threads`` (adelie).
    """
    options = options or {}
    reset = _reset_peak_rss()
    base = _proc_status_kb("VmRSS")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if tool in ("rfista", "al"):
            out = _run_ours(problem, tool, setting, options.get("max_iter"))
        elif tool == "adelie":
            out = _run_adelie(problem, setting, cache, options.get("adelie_python"),
                              options.get("threads", 1))
        elif tool in ("clarabel", "scs"):
            out = _run_cvx(problem, tool, setting)
        elif tool in ("celer", "skglm"):
            out = _run_group_lasso(problem, tool, setting, cache)
        elif tool == "scnn":
            out = _run_scnn(problem, setting, cache)
        else:
            raise ValueError(f"unknown tool {tool!r}")
    if "peak_rss_mb" not in out:
        peak = _proc_status_kb("VmHWM")
        if reset and peak is not None and base is not None:
            out["peak_rss_mb"] = peak / 1024
            out["mem_increase_mb"] = max(peak - base, 0) / 1024
        else:
            out["peak_rss_mb"] = out["mem_increase_mb"] = None
    msgs = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if text not in msgs and not issubclass(w.category, DeprecationWarning):
            msgs.append(text)
    out["warnings"] = msgs[:5]
    return out


def _tiny_problem(formulation):
    from .problems import make_problem

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.maximum(X[:, 0], 0.0) - X[:, 1] + 0.1 * rng.standard_normal(30)
    prob = make_problem(X, y, formulation=formulation, lam=1.0, bias=True, n_gates=6, seed=0)
    return prob.with_lam(0.1 * prob.lam_max())


def _warm_up(tool, formulation, threads, options=None):
    """Solve a tiny problem once so imports and JIT compilation are not timed."""
    if TOOLS[tool].external:
        return  # its worker warms itself up on a tiny problem, outside the timed calls
    prob = _tiny_problem(formulation)
    spec = TOOLS[tool]
    # the loosest setting: compiled code paths do not depend on the tolerance
    setting = spec.ladder[0] * (1e-6 if spec.ours else 1.0)
    with _limit_threads(threads):
        _execute(tool, prob, setting, {}, options)


def _gemm_time(problem, threads, reps=15):
    """Median seconds of the two bare GEMMs ``X̃ @ U`` and ``X̃ᵀ @ B`` (sum of medians)."""
    rng = np.random.default_rng(0)
    Xt = np.ascontiguousarray(problem.X_tilde)
    cp = problem.c * problem.p
    U = rng.standard_normal((problem.d, cp))
    B = rng.standard_normal((problem.n, cp))
    with _limit_threads(threads):
        for _ in range(3):
            Xt @ U
            Xt.T @ B
        t_fwd, t_adj = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            Xt @ U
            t1 = time.perf_counter()
            Xt.T @ B
            t2 = time.perf_counter()
            t_fwd.append(t1 - t0)
            t_adj.append(t2 - t1)
    return statistics.median(t_fwd) + statistics.median(t_adj)


def _rfista_iteration_time(problem, threads, iters=(30, 90), reps=3):
    """Seconds per full R-FISTA iteration (all groups, no working set).

    Runs from zero of ``iters[0]`` and ``iters[1]`` iterations (the target gap is out
    of reach, so they stop at ``max_iter``), ``reps`` times each: the slope
    ``Δ median time / Δ iterations`` cancels the fixed set-up cost and includes
    backtracking and the periodic gap evaluations, i.e. the amortised cost of one
    iteration. If timing noise makes the slope non-positive, the long run's time per
    iteration (an upper bound) is returned instead.
    """
    from .fista import solve_rfista

    params = inspect.signature(solve_rfista).parameters
    kwargs = {"tol": 1e-15}
    if "working_set" in params:
        kwargs["working_set"] = False
    if "dtype" in params:
        # float64 iterations (large rows default to "mixed", whose float32 phase is faster)
        kwargs["dtype"] = np.float64
    times = {m: [] for m in iters}
    counts = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with _limit_threads(threads):
            for _ in range(reps):
                for m in iters:
                    t0 = time.perf_counter()
                    sol = solve_rfista(problem, max_iter=m, **kwargs)
                    times[m].append(time.perf_counter() - t0)
                    counts[m] = sol.n_iter or 0
    (m1, m2) = iters
    t1, t2 = statistics.median(times[m1]), statistics.median(times[m2])
    n1, n2 = counts[m1], counts[m2]
    if n2 > n1 and t2 > t1:
        return (t2 - t1) / (n2 - n1)
    return t2 / max(n2, 1)


class _Executor:
    """Holds the current problem and per-tool caches; answers task messages."""

    def __init__(self, threads):
        self.threads = threads
        self.key = None
        self.problem = None
        self.cache = {}
        self.warmed = set()
        self.options = {"threads": threads}

    def handle(self, msg):
        kind = msg[0]
        if kind == "options":
            self.options.update(msg[1])
            return None
        if kind == "problem":
            _, key, problem = msg
            if key != self.key:
                self.key, self.problem, self.cache = key, problem, {}
            return None
        if kind == "warm":
            _, tool, formulation = msg
            if (tool, formulation) not in self.warmed:
                _warm_up(tool, formulation, self.threads)
                self.warmed.add((tool, formulation))
            return None
        if kind == "run":
            tool, setting = msg[1], msg[2]
            opts = dict(self.options, **(msg[3] if len(msg) > 3 else {}))
            self.handle(("warm", tool, self.problem.formulation))
            with _limit_threads(self.threads):
                return _execute(tool, self.problem, setting, self.cache, opts)
        if kind == "gemm":
            return _gemm_time(self.problem, self.threads)
        if kind == "iteration":
            return _rfista_iteration_time(self.problem, self.threads)
        if kind == "sleep":  # used by the tests of the timeout machinery
            time.sleep(msg[1])
            return msg[1]
        raise ValueError(f"unknown task {kind!r}")


def _worker_main(conn, threads):
    import threading

    from tqdm import tqdm

    # tqdm (used by scnn) otherwise creates a multiprocessing lock, which leaks a
    # semaphore whenever a timed-out worker is killed
    tqdm.set_lock(threading.RLock())
    executor = _Executor(threads)
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        try:
            conn.send(("ok", executor.handle(msg)))
        except BaseException as exc:  # reported to the parent, which marks the run
            conn.send(("error", f"{type(exc).__name__}: {exc}",
                       traceback.format_exc(limit=8)))


class ToolTimeout(Exception):
    """A tool call ran past its time budget (its worker was killed)."""


class ToolError(Exception):
    """A tool call raised; the message names the exception."""

    def __init__(self, message, detail=""):
        super().__init__(message)
        self.detail = detail


class _Worker:
    """A persistent ``spawn`` process for one tool (killed and restarted on timeout)."""

    def __init__(self, threads):
        self.threads = threads
        self.proc = None
        self.conn = None
        self.key = None

    def _start(self):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, self.threads), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        self.key = None

    def call(self, msg, timeout):
        if self.proc is None or not self.proc.is_alive():
            self._start()
        self.conn.send(msg)
        if not self.conn.poll(timeout):
            self.kill()
            raise ToolTimeout(f"no answer within {timeout:.0f} s")
        try:
            reply = self.conn.recv()
        except EOFError:
            self.kill()
            raise ToolError("worker process died (out of memory or crashed)") from None
        if reply[0] == "error":
            raise ToolError(reply[1], reply[2])
        return reply[1]

    def set_problem(self, key, problem, timeout):
        if self.proc is not None and self.proc.is_alive() and self.key == key:
            return
        self.call(("problem", key, problem), timeout)
        self.key = key

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
        if self.conn is not None:
            self.conn.close()
        self.proc = self.conn = None
        self.key = None

    def close(self):
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(5)
            except (OSError, BrokenPipeError):
                pass
        self.kill()


class _Inline:
    """The same interface, in this process (no timeout enforcement; for tests)."""

    def __init__(self, threads):
        self.executor = _Executor(threads)

    def call(self, msg, timeout):
        try:
            return self.executor.handle(msg)
        except Exception as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=8)) from None

    def set_problem(self, key, problem, timeout):
        self.executor.handle(("problem", key, problem))

    def close(self):
        pass


# ---------------------------------------------------------------------------
# Protocol
# ---------------------------------------------------------------------------


@dataclass
class ToolResult:
    """What the table shows for one (row, tool).

    ``status``: ``"ok"`` (reached the target), ``"not reached"``, ``"timeout"``,
    ``"error"``, ``"missing"``, ``"skipped (cap)"``, ``"n/a"``.
    ``time`` is the median over the recorded runs at ``setting``; ``relative_gap``,
    ``gap``, ``primal``, ``violation`` come from OUR certificate on the weights of the
    run whose time is the median (``weights``; not written to JSON).
    """

    tool: str
    status: str
    time: float = float("nan")
    times: list = field(default_factory=list)
    setting: float | None = None
    relative_gap: float = float("nan")
    gap: float = float("nan")
    primal: float = float("nan")
    violation: float = float("nan")
    n_iter: int | None = None
    compile_time: float | None = None
    note: str = ""
    attempts: list = field(default_factory=list)
    weights: np.ndarray | None = None
    peak_rss_mb: float | None = None
    mem_increase_mb: float | None = None

    @property
    def reached(self):
        return self.status == "ok"

    def to_dict(self):
        return {
            "tool": self.tool, "status": self.status, "time": _num(self.time),
            "times": [_num(t) for t in self.times], "setting": self.setting,
            "relative_gap": _num(self.relative_gap), "gap": _num(self.gap),
            "primal": _num(self.primal), "violation": _num(self.violation),
            "n_iter": self.n_iter, "compile_time": _num(self.compile_time),
            "note": self.note, "attempts": self.attempts,
            "peak_rss_mb": _num(self.peak_rss_mb), "mem_increase_mb": _num(self.mem_increase_mb),
        }


def _num(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class RowResult:
    row: BenchRow
    n: int
    d: int
    p: int
    lam: float
    lam_max: float
    results: dict
    gemm_time: float | None = None
    rfista_iter_time: float | None = None
    rfista_run_iter_time: float | None = None

    @property
    def gemm_ratio(self):
        if self.gemm_time and self.rfista_iter_time:
            return self.rfista_iter_time / self.gemm_time
        return None

    def speedup(self, ours):
        """Best peer time that reached the target / our time (None when undefined)."""
        mine = self.results.get(ours)
        if mine is None or not mine.reached:
            return None
        peers = [r.time for t, r in self.results.items() if t in PEERS and r.reached]
        return min(peers) / mine.time if peers else None

    def to_dict(self):
        return {
            "row": self.row.name, "formulation": self.row.formulation,
            "description": self.row.description, "n": self.n, "d": self.d, "p": self.p,
            "lam": self.lam, "lam_max": self.lam_max, "lam_frac": self.row.lam_frac,
            "seed": self.row.seed,
            "tools": {t: r.to_dict() for t, r in self.results.items()},
            "gemm_time": _num(self.gemm_time), "rfista_iter_time": _num(self.rfista_iter_time),
            "rfista_run_time_per_iteration": _num(self.rfista_run_iter_time),
            "rfista_iter_over_two_gemms": _num(self.gemm_ratio),
            "best_peer_over_ours": _num(self.speedup("rfista" if self.row.formulation
                                                      == "gated_relu" else "al")),
        }


@dataclass
class BenchReport:
    rows: list
    tools: list
    missing: dict
    config: dict
    environment: dict


def _judge(problem, weights, tol, viol_tol):
    """Our certificate on ``weights``: (reached, certificate)."""
    from .certificates import certify

    cert = certify(problem, weights)
    if cert.relative_gap < -NEGATIVE_GAP_TOL:
        # weak duality makes the gap >= 0: a clearly negative one means the certificate
        # itself is wrong, so nothing is accepted on its word
        raise ToolError(f"negative certified gap {cert.relative_gap:.3e} (certificate inconsistent)")
    reached = cert.relative_gap <= tol
    if problem.formulation == "relu":
        reached = reached and cert.violation <= viol_tol
    return reached, cert


#: Relative gaps below ``-NEGATIVE_GAP_TOL`` are reported as errors (round-off aside, a
#: certified gap cannot be negative).
NEGATIVE_GAP_TOL = 1e-9


class _LadderState:
    """Per (tool, formulation): the rung that reached on the previous row (search start)."""

    def __init__(self):
        self.last = {}


#: Our solvers on rows with ``n·d̃·p`` at least this get an iteration cap that fits
#: the budget (a probe run measures the time per iteration), so that a row that does
#: not reach the target still returns weights whose certified gap is shown.
BUDGET_PROBE_SIZE = 5e6
PROBE_ITERS = 20


def _measure(runner, tool, problem, *, tol, viol_tol, repeats, budget, state, progress,
             label):
    spec = TOOLS[tool]
    ladder = [tol * m if spec.ours else m for m in spec.ladder]
    start_time = time.perf_counter()
    attempts = []
    done = {}
    per_iter = [None]
    size = problem.n * problem.d * problem.p

    def remaining():
        return budget - (time.perf_counter() - start_time)

    def options(left):
        if per_iter[0] is None:
            return {}
        # half the remaining budget: later iterations (Newton, face solves) can cost more
        return {"max_iter": max(PROBE_ITERS, int(0.5 * left / per_iter[0]))}

    if spec.ours and size >= BUDGET_PROBE_SIZE and math.isfinite(budget):
        try:
            # two lengths: the slope cancels the fixed set-up and certification cost
            # (a single short run overstates the cost per iteration many times over)
            probes = []
            for m in (PROBE_ITERS, 4 * PROBE_ITERS):
                out = runner.call(("run", tool, ladder[0], {"max_iter": m}), remaining())
                probes.append((out["time"], int(out.get("n_iter") or m)))
            (t1, n1), (t2, n2) = probes
            per_iter[0] = (t2 - t1) / (n2 - n1) if n2 > n1 and t2 > t1 else t2 / max(n2, 1)
            progress(f"{label}: {spec.label} probe: {per_iter[0]:.3g} s per iteration")
        except ToolTimeout as exc:  # the worker was killed: this row ends here
            return ToolResult(tool, "timeout", note=f"probe of {4 * PROBE_ITERS} iterations "
                              f"ran past the {budget:.0f} s budget ({exc})")
        except ToolError as exc:
            return ToolResult(tool, "error", note=f"probe failed: {str(exc)[:300]}")

    def attempt(i):
        left = remaining()
        if left <= 0:
            raise ToolTimeout("budget spent")
        opts = options(left)
        out = runner.call(("run", tool, ladder[i], opts) if opts else ("run", tool, ladder[i]),
                          left)
        reached, cert = _judge(problem, out["weights"], tol, viol_tol)
        rec = {
            "setting": ladder[i], "time": out["time"], "relative_gap": cert.relative_gap,
            "violation": cert.violation, "reached": bool(reached), "n_iter": out.get("n_iter"),
            "status": out.get("status"), "warnings": out.get("warnings", []),
            "peak_rss_mb": out.get("peak_rss_mb"), "mem_increase_mb": out.get("mem_increase_mb"),
        }
        if opts:
            rec["max_iter"] = opts["max_iter"]
        if out.get("compile_time") is not None:
            rec["compile_time"] = out["compile_time"]
        attempts.append(rec)
        done.setdefault(i, []).append((out, cert, reached))
        progress(f"{label}: {spec.label} setting {ladder[i]:.0e}: {out['time']:.3g} s, "
                 f"rel gap {cert.relative_gap:.2e}"
                 + (f", violation {cert.violation:.1e}" if problem.formulation == "relu" else "")
                 + (" (reached)" if reached else ""))
        return reached

    result = ToolResult(tool=tool, status="not reached", attempts=attempts)
    found = None
    try:
        # search from one rung looser than last row's, both directions (module docstring)
        skey = (tool, problem.formulation)
        i = max(0, state.last.get(skey, 0) - 1)
        if attempt(i):
            found = i
            while found > 0 and attempt(found - 1):
                found -= 1
        else:
            i += 1
            while i < len(ladder):
                if attempt(i):
                    found = i
                    break
                i += 1
        if found is not None:
            state.last[skey] = found
            for _ in range(repeats - 1):
                typical = done[found][0][0]["time"]
                if remaining() < 1.5 * typical + 1.0:
                    result.note = f"{len(done[found])} of {repeats} runs (budget)"
                    break
                attempt(found)
    except ToolTimeout as exc:
        result.status = "timeout"
        result.note = f"timeout after {budget:.0f} s budget ({exc})"
    except ToolError as exc:
        result.status = "error"
        result.note = str(exc)[:300]
        progress(f"{label}: {spec.label} error: {exc}")

    pick = found
    if pick is None and done:
        # the best certified gap over the completed rungs (ties: the tightest rung)
        def badness(k):
            c = min((r[1] for r in done[k]), key=lambda cert: cert.relative_gap)
            v = c.violation if problem.formulation == "relu" else 0.0
            return (max(c.relative_gap / tol, v / viol_tol), -k)

        pick = min(done, key=badness)
    if pick is not None:
        runs = done[pick]
        times = [r[0]["time"] for r in runs]
        order = sorted(range(len(runs)), key=lambda k: times[k])
        med = runs[order[(len(runs) - 1) // 2]]
        out, cert, _ = med
        result.times = times
        result.time = statistics.median(times)
        result.setting = ladder[pick]
        result.relative_gap = cert.relative_gap
        result.gap = cert.gap
        result.primal = cert.primal
        result.violation = cert.violation
        result.n_iter = out.get("n_iter")
        result.compile_time = out.get("compile_time")
        result.weights = out["weights"]
        peaks = [a["peak_rss_mb"] for a in attempts if a.get("peak_rss_mb") is not None]
        incs = [a["mem_increase_mb"] for a in attempts if a.get("mem_increase_mb") is not None]
        result.peak_rss_mb = max(peaks) if peaks else None
        result.mem_increase_mb = max(incs) if incs else None
        if found is not None:
            # a timeout or error during the repeats leaves fewer runs, not a failure
            if all(r[2] for r in runs):
                result.status = "ok"
            else:
                result.status = "not reached"
                result.note = (result.note + "; " if result.note else "") + \
                    "some repeats did not reach the target"
    return result


def _environment(threads):
    from importlib import metadata

    vers = {}
    for pkg in ("numpy", "scipy", "cvxpy", "clarabel", "scs", "celer", "skglm", "pyscnn",
                "torch", "numba", "threadpoolctl", "adelie"):
        try:
            vers[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            vers[pkg] = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu_count": os.cpu_count(), "threads": threads, "versions": vers}


def run_benchmark(rows, tools=TOOL_ORDER, *, tol=1e-6, viol_tol=1e-6, repeats=3,
                  threads=None, timeout=120.0, exact_cap=3e6, dense_cap=5e8, isolate=True,
                  skip_after_timeout=True, progress=None, adelie_python=None):
    """Run every tool on every row and return a :class:`BenchReport`.

    Parameters
    ----------
    rows : list of BenchRow
    tools : iterable of str
        Keys of :data:`TOOLS`; tools that do not apply to a row's formulation show ``n/a``.
    tol : float
        Target relative gap (our certificate).
    viol_tol : float
        C-ReLU: largest cone violation of the returned weights counted as reaching.
    repeats : int
        Runs at the chosen ladder rung; the table shows their median.
    threads : int or None
        Thread cap for every tool (default: all cores).
    timeout : float
        Seconds each tool may spend on one row, ladder and repeats included.
    exact_cap : float
        Clarabel and SCS are skipped when ``n·d̃·p`` (entries of the stacked operator)
        exceeds this.
    dense_cap : float
        celer and skglm are skipped when the explicit matrix (``n·p·d̃`` entries) exceeds this.
    isolate : bool
        Run each tool in its own worker process (enforces ``timeout``). ``False`` runs
        in this process (tests).
    skip_after_timeout : bool
        A tool that timed out on a row is not run on rows at least as large in ``n``,
        ``d̃`` and ``p`` (same formulation); those show ``timeout`` with a note.
    progress : callable(str) or None
        Receives one line per run.
    adelie_python : str or None
        The interpreter that runs adelie (it needs ``numpy < 2``; default
        ``$CONVEX_RELU_ADELIE_PYTHON``); without one adelie shows as missing.

    Memory: each result has ``peak_rss_mb`` (the worker's RSS high-water mark during
    the timed call, reset before it) and ``mem_increase_mb`` (that peak minus the RSS
    before the call: what the call itself needed), the largest over the attempts.
    """
    tools = [t for t in TOOL_ORDER if t in set(tools)]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        raise ValueError(f"tools must be among {sorted(TOOLS)}; got {sorted(unknown)}.")
    if not (isinstance(repeats, int) and repeats >= 1):
        raise ValueError(f"repeats must be a positive integer; got {repeats!r}.")
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol!r}.")
    threads = threads or os.cpu_count() or 1
    progress = progress or (lambda line: None)
    adelie_py = resolve_adelie_python(adelie_python)
    missing = missing_tools(tools, adelie_py)
    runners = {}
    timed_out = {}
    state = _LadderState()
    results = []
    try:
        for r_idx, row in enumerate(rows):
            problem = row.problem()
            label = (f"[{r_idx + 1}/{len(rows)}] {row.name} p={problem.p} "
                     f"{'C-GReLU' if row.formulation == 'gated_relu' else 'C-ReLU'}")
            progress(f"{label}: n={problem.n} d̃={problem.d} λ={problem.lam:.4g}")
            size = problem.n * problem.d * problem.p
            rr = RowResult(row=row, n=problem.n, d=problem.X.shape[1], p=problem.p,
                           lam=problem.lam, lam_max=problem.lam / row.lam_frac, results={})
            for tool in tools:
                spec = TOOLS[tool]
                if row.formulation not in spec.formulations or row.loss not in spec.losses:
                    continue
                if tool in missing:
                    rr.results[tool] = ToolResult(tool, "missing",
                                                  note=f"module {missing[tool]} not importable")
                    continue
                if spec.exact and size > exact_cap:
                    rr.results[tool] = ToolResult(tool, "skipped (cap)",
                                                  note=f"n·d̃·p = {size:.3g} > exact cap {exact_cap:.3g}")
                    continue
                if spec.dense and size > dense_cap:
                    rr.results[tool] = ToolResult(tool, "skipped (cap)",
                                                  note=f"dense A has {size:.3g} > {dense_cap:.3g} entries")
                    continue
                dims = (problem.n, problem.d, problem.p)
                smaller = [t for t in timed_out.get((tool, row.formulation), [])
                           if all(a >= b for a, b in zip(dims, t))]
                if skip_after_timeout and smaller:
                    n0, d0, p0 = smaller[0]
                    rr.results[tool] = ToolResult(
                        tool, "timeout", note=f"not run: timed out on a smaller row "
                        f"(n={n0}, d̃={d0}, p={p0})")
                    progress(f"{label}: {spec.label} not run (timed out on a smaller row)")
                    continue
                runner = runners.get(tool)
                if runner is None:
                    runner = runners[tool] = _Worker(threads) if isolate else _Inline(threads)
                key = (r_idx, row.name)
                try:
                    runner.call(("options", {"adelie_python": adelie_py}), 300.0)
                    # start-up, data transfer and warm-up are outside the tool's budget
                    runner.set_problem(key, problem, max(timeout, 300.0))
                    runner.call(("warm", tool, row.formulation), max(timeout, 300.0))
                    res = _measure(runner, tool, problem, tol=tol, viol_tol=viol_tol,
                                   repeats=repeats, budget=timeout, state=state,
                                   progress=progress, label=label)
                except (ToolError, ToolTimeout) as exc:
                    res = ToolResult(tool, "error", note=f"could not start: {exc}")
                rr.results[tool] = res
                if res.status == "timeout":
                    timed_out.setdefault((tool, row.formulation), []).append(dims)
                if tool == "rfista" and res.weights is not None:
                    if res.n_iter:
                        rr.rfista_run_iter_time = res.time / res.n_iter
                    try:
                        rr.rfista_iter_time = runner.call(("iteration",), max(timeout, 60.0))
                        rr.gemm_time = runner.call(("gemm",), max(timeout, 60.0))
                        progress(f"{label}: R-FISTA iteration {rr.rfista_iter_time:.3g} s, "
                                 f"two GEMMs {rr.gemm_time:.3g} s, ratio {rr.gemm_ratio:.2f}")
                    except (ToolError, ToolTimeout) as exc:
                        progress(f"{label}: iteration/GEMM timing failed: {exc}")
            results.append(rr)
    finally:
        for runner in runners.values():
            runner.close()
    config = {"tol": tol, "viol_tol": viol_tol, "repeats": repeats, "threads": threads,
              "timeout": timeout, "exact_cap": exact_cap, "dense_cap": dense_cap,
              "isolate": isolate, "skip_after_timeout": skip_after_timeout,
              "losses": sorted({r.loss for r in rows}), "adelie_python": adelie_py,
              "memory": "worker RSS high-water mark during the timed call (reset by "
                        "/proc/self/clear_refs), minus the RSS before it",
              "ladders": {t: {"values": list(TOOLS[t].ladder), "meaning": TOOLS[t].setting}
                          for t in tools}}
    return BenchReport(rows=results, tools=tools, missing=missing, config=config,
                       environment=_environment(threads))


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _cell(res):
    if res is None:
        return "—"
    if res.status == "ok":
        return f"{res.time:.3g}"
    if res.status == "not reached":
        if math.isfinite(res.time):
            return f"{res.time:.3g} ✗{res.relative_gap:.0e}"
        return "✗"
    if res.status == "timeout":
        if math.isfinite(res.time):
            return f"timeout ✗{res.relative_gap:.0e}"
        return "timeout"
    return res.status


def _table(headers, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    return lines


def format_report(report):
    """The tables as printed by ``convex-relu bench``."""
    cfg = report.config
    out = []
    for form, ours, title in (("gated_relu", "rfista", "C-GReLU (gated ReLU)"),
                              ("relu", "al", "C-ReLU")):
        rows = [r for r in report.rows if r.row.formulation == form]
        if not rows:
            continue
        tools = [t for t in report.tools if form in TOOLS[t].formulations]
        headers = ["row", "n", "d", "p", "λ/λmax"] + [TOOLS[t].label for t in tools]
        headers.append("best peer/ours")
        if form == "gated_relu":
            headers.append("iter/2GEMM")
        body = []
        for r in rows:
            line = [r.row.display_name, str(r.n), str(r.d), str(r.p), f"{r.row.lam_frac:g}"]
            line += [_cell(r.results.get(t)) for t in tools]
            sp = r.speedup(ours)
            line.append(f"{sp:.1f}×" if sp is not None else "—")
            if form == "gated_relu":
                g = r.gemm_ratio
                line.append(f"{g:.2f}" if g is not None else "—")
            body.append(line)
        out.append(f"{title}: seconds to reach relative gap ≤ {cfg['tol']:g} by OUR certificate"
                   + (f" and cone violation ≤ {cfg['viol_tol']:g}" if form == "relu" else "")
                   + f" (median of {cfg['repeats']} runs, {cfg['threads']} thread(s))")
        out += _table(headers, body)
        out.append("")
    mem = format_memory(report)
    if mem:
        out += [mem, ""]
    out.append("Legend: a number = seconds (median) at the loosest tool tolerance whose output "
               "our certificate accepts; '✗g' = never reached, g = best relative gap over its "
               "completed settings; 'timeout' = per-tool budget "
               f"{cfg['timeout']:g} s spent on this row, or on a smaller one (then not run); 'skipped (cap)' = exact solver above the size "
               f"cap (n·d̃·p > {cfg['exact_cap']:g}); '—' = not applicable. "
               "'best peer/ours' = fastest peer that reached ÷ ours; 'iter/2GEMM' = one "
               "R-FISTA iteration ÷ the two bare GEMMs X̃U and X̃ᵀB.")
    if report.missing:
        out.append("Missing (not installed): " + ", ".join(
            (m if TOOLS[t].external else f"{TOOLS[t].label} (no module {m})")
            for t, m in report.missing.items()))
    else:
        out.append("Missing (not installed): none")
    notes = []
    for r in report.rows:
        for t, res in r.results.items():
            if res.status in ("error", "timeout") or (res.note and res.status != "missing"
                                                      and res.status != "skipped (cap)"):
                notes.append(f"  {r.row.display_name} p={r.p} {TOOLS[t].label}: {res.status}"
                             f"{' — ' + res.note if res.note else ''}")
    if notes:
        out.append("Notes:")
        out += notes
    return "\n".join(out)


def format_memory(report):
    """Peak memory per row and tool: MB the timed call added to its process's RSS.

    Measured as the worker's RSS high-water mark during the call (reset just before it
    through ``/proc/self/clear_refs``) minus its RSS before the call; the largest over
    the tool's attempts on the row. adelie's number comes from its own process. Our
    C-ReLU over C-GReLU ratio is shown where a C-ReLU row has a C-GReLU row of the same
    data and λ in the report.
    """
    rows = [r for r in report.rows if any(res.mem_increase_mb is not None
                                          for res in r.results.values())]
    if not rows:
        return ""
    tools = [t for t in report.tools if any(t in r.results for r in rows)]
    gated = {(r.row.name, r.p, r.row.lam_frac, r.row.loss): r for r in rows
             if r.row.formulation == "gated_relu"}
    headers = ["row", "program", "λ/λmax"] + [TOOLS[t].label for t in tools] + ["AL/R-FISTA"]
    body = []
    for r in rows:
        line = [f"{r.row.display_name} p={r.p}",
                "C-GReLU" if r.row.formulation == "gated_relu" else "C-ReLU",
                f"{r.row.lam_frac:g}"]
        for t in tools:
            res = r.results.get(t)
            line.append("—" if res is None or res.mem_increase_mb is None
                        else f"{res.mem_increase_mb:.0f}")
        ratio = "—"
        g = gated.get((r.row.name, r.p, r.row.lam_frac, r.row.loss))
        if r.row.formulation == "relu" and g is not None:
            a, b = r.results.get("al"), g.results.get("rfista")
            if a and b and a.mem_increase_mb and b.mem_increase_mb:
                ratio = f"{a.mem_increase_mb / b.mem_increase_mb:.1f}×"
        line.append(ratio)
        body.append(line)
    lines = ["Peak memory (MB the timed call added to its worker's RSS: high-water mark "
             "during the call minus RSS before it; largest over the attempts)"]
    lines += _table(headers, body)
    return "\n".join(lines)


def report_to_dict(report):
    """A JSON-serialisable dict (weights omitted)."""
    return {
        "config": report.config,
        "environment": report.environment,
        "missing": report.missing,
        "rows": [r.to_dict() for r in report.rows],
    }


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

QUICK = {"sizes": "500x10x100", "relu_sizes": "200x5x50", "datasets": "diabetes",
         "dataset_gates": "100", "relu_dataset_gates": "", "repeats": 1, "timeout": 8.0}


def _int_list(text, name):
    if text is None or text.strip().lower() in ("", "none"):
        return []
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers; got {text!r}.") from None
    if any(v < 1 for v in vals):
        raise ValueError(f"{name} must be positive; got {text!r}.")
    return vals


def _cmd_bench(args):
    try:
        quick = args.quick
        sizes = parse_sizes(args.sizes if args.sizes is not None
                            else (QUICK["sizes"] if quick else
                                  ",".join(f"{n}x{d}x{p}" for n, d, p in DEFAULT_SIZES)))
        relu_text = args.relu_sizes
        if relu_text is not None and relu_text.strip().lower() == "scale":
            relu_text = ",".join(f"{n}x{d}x{p}" for n, d, p in RELU_SCALE_SIZES)
        relu_sizes = parse_sizes(relu_text if relu_text is not None
                                 else (QUICK["relu_sizes"] if quick else
                                       ",".join(f"{n}x{d}x{p}" for n, d, p in DEFAULT_RELU_SIZES)))
        logistic_sizes = parse_sizes(args.logistic_sizes)
        relu_logistic_sizes = parse_sizes(args.relu_logistic_sizes)
        lam_fracs = None
        if args.lam_fracs is not None:
            try:
                lam_fracs = [float(v) for v in args.lam_fracs.split(",")]
            except ValueError:
                raise ValueError(f"--lam-fracs must be comma-separated numbers; "
                                 f"got {args.lam_fracs!r}.") from None
            if not lam_fracs or any(not (0 < f and math.isfinite(f)) for f in lam_fracs):
                raise ValueError(f"--lam-fracs must be positive numbers; got {args.lam_fracs!r}.")
        ds_text = args.datasets if args.datasets is not None else (
            QUICK["datasets"] if quick else ",".join(DATASETS))
        datasets = [] if ds_text.strip().lower() in ("", "none") else \
            [s.strip() for s in ds_text.split(",")]
        for ds in datasets:
            if ds not in DATASETS:
                raise ValueError(f"datasets must be among {DATASETS} (or 'none'); got {ds!r}.")
        dataset_gates = _int_list(args.dataset_gates if args.dataset_gates is not None else (
            QUICK["dataset_gates"] if quick else ",".join(map(str, DEFAULT_DATASET_GATES))),
            "--dataset-gates")
        relu_dataset_gates = _int_list(
            args.relu_dataset_gates if args.relu_dataset_gates is not None else (
                QUICK["relu_dataset_gates"] if quick
                else ",".join(map(str, DEFAULT_RELU_DATASET_GATES))), "--relu-dataset-gates")
        tools = [t.strip() for t in args.tools.split(",")] if args.tools else list(TOOL_ORDER)
        bad = [t for t in tools if t not in TOOLS]
        if bad:
            raise ValueError(f"--tools must be among {','.join(TOOL_ORDER)}; got {bad}.")
        repeats = args.repeats if args.repeats is not None else (QUICK["repeats"] if quick else 3)
        timeout = args.timeout if args.timeout is not None else (QUICK["timeout"] if quick else 120.0)
        for name, val in (("--repeats", repeats), ("--threads", args.threads or 1)):
            if val < 1:
                raise ValueError(f"{name} must be >= 1; got {val}.")
        for name, val in (("--tol", args.tol), ("--viol-tol", args.viol_tol),
                          ("--lam-frac", args.lam_frac), ("--timeout", timeout)):
            if not (val > 0 and math.isfinite(val)):
                raise ValueError(f"{name} must be positive; got {val}.")
        rows = default_rows(formulation=args.formulation, sizes=sizes, relu_sizes=relu_sizes,
                            datasets=datasets, dataset_gates=dataset_gates,
                            relu_dataset_gates=relu_dataset_gates, lam_frac=args.lam_frac,
                            seed=args.seed, lam_fracs=lam_fracs, logistic_sizes=logistic_sizes,
                            relu_logistic_sizes=relu_logistic_sizes)
        if not rows:
            raise ValueError("nothing to run: no sizes and no datasets selected.")
    except ValueError as exc:
        print(f"convex-relu bench: error: {exc}", file=sys.stderr)
        return 2

    def progress(line):
        print(line, file=sys.stderr, flush=True)

    report = run_benchmark(rows, tools, tol=args.tol, viol_tol=args.viol_tol, repeats=repeats,
                           threads=args.threads, timeout=timeout, exact_cap=args.exact_cap,
                           dense_cap=args.dense_cap, isolate=not args.no_isolate,
                           skip_after_timeout=not args.run_after_timeout, progress=progress,
                           adelie_python=args.adelie_python)
    print(format_report(report))
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report_to_dict(report), fh, indent=2)
        except OSError as exc:
            print(f"convex-relu bench: error: cannot write {args.json}: {exc}", file=sys.stderr)
            return 2
    return 0


def add_cli(subparsers):
    """Register ``bench`` on the ``convex-relu`` sub-command parser."""
    p = subparsers.add_parser(
        "bench",
        help="time to a certified relative gap: our solvers against Clarabel, SCS, celer, skglm, scnn",
        description=(
            "Benchmark: for each row (synthetic sizes and scikit-learn datasets) and each "
            "tool, the seconds to reach relative gap --tol as judged by OUR certificate on the "
            "tool's returned weights (same data, patterns, λ and scaling for all). Progress "
            "goes to stderr, the table to stdout. Peers that are not installed are reported "
            "as missing (pip install 'convex-relu[bench]')."),
    )
    p.add_argument("--sizes", default=None,
                   help="C-GReLU synthetic sizes n x d x p, comma separated "
                        "(default: n∈{500,2000,10000} × d∈{10,50} × p∈{100,500}); 'none' for none")
    p.add_argument("--relu-sizes", default=None,
                   help="C-ReLU synthetic sizes (default 500x20x100); 'none' for none; "
                        "'scale' for the rows 2000x10x100 … 10000x50x500")
    p.add_argument("--logistic-sizes", default=None,
                   help="C-GReLU synthetic sizes with the logistic loss (±1 labels); default none")
    p.add_argument("--relu-logistic-sizes", default=None,
                   help="C-ReLU synthetic sizes with the logistic loss; default none")
    p.add_argument("--lam-fracs", default=None,
                   help="comma-separated λ/λ_max values; every row is run at each "
                        "(replaces --lam-frac), e.g. 0.1,0.01")
    p.add_argument("--adelie-python", default=None, metavar="PYTHON",
                   help=f"interpreter with adelie and numpy<2 (default ${ADELIE_ENV}); "
                        "without one adelie is reported missing")
    p.add_argument("--datasets", default=None,
                   help="comma-separated among diabetes,breast_cancer (default both); 'none'")
    p.add_argument("--dataset-gates", default=None,
                   help="p for the C-GReLU dataset rows (default 100,500)")
    p.add_argument("--relu-dataset-gates", default=None,
                   help="p for the C-ReLU dataset rows (default 100)")
    p.add_argument("--formulation", choices=("gated_relu", "relu", "both"), default="both")
    p.add_argument("--tools", default=None,
                   help=f"comma-separated among {','.join(TOOL_ORDER)} (default all)")
    p.add_argument("--repeats", type=int, default=None, help="runs per measurement (default 3)")
    p.add_argument("--threads", type=int, default=None,
                   help=f"thread cap for every tool (default all cores: {os.cpu_count()})")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds one tool may spend on one row, tolerance ladder and repeats "
                        "included (default 120)")
    p.add_argument("--exact-cap", type=float, default=3e6,
                   help="skip Clarabel/SCS when n·d̃·p exceeds this (default 3e6)")
    p.add_argument("--dense-cap", type=float, default=5e8,
                   help="skip celer/skglm when their explicit matrix exceeds this many entries")
    p.add_argument("--tol", type=float, default=1e-6, help="target relative gap (default 1e-6)")
    p.add_argument("--viol-tol", type=float, default=1e-6,
                   help="C-ReLU: largest cone violation accepted (default 1e-6)")
    p.add_argument("--lam-frac", type=float, default=0.1, help="λ = lam_frac·λ_max (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and gates")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true",
                   help="a short preset (1-2 minutes): one small synthetic size per "
                        "formulation, diabetes, 1 repeat, 8 s per tool and row")
    p.add_argument("--run-after-timeout", action="store_true",
                   help="also run a tool on rows larger than one where it timed out "
                        "(default: such rows show 'timeout' without running it)")
    p.add_argument("--no-isolate", action="store_true",
                   help="run tools in this process (no timeouts enforced)")
    p.set_defaults(func=_cmd_bench)
    return p
