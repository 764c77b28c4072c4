"""Exact solutions of C-GReLU and C-ReLU with CVXPY (Clarabel, SCS or MOSEK).

Both programs are written *vectorised* (DESIGN §5): one matrix variable per
weight block, group norms as ``cp.norm(U, 2, axis=0)`` and the cone constraints
as one elementwise inequality with a constant sign matrix, so the expression
tree has O(1) nodes whatever the number of patterns ``p`` or outputs ``c``.

Layout inside CVXPY. The ``c`` outputs are stacked along the columns: a variable
``U`` of shape ``(d̃, c·p)`` whose column ``k·p + i`` is the group of output
``k`` and pattern ``i``. With ``M_c = [M … M]`` (``n × c·p``) and the 0/1 block
matrix ``B`` (``c·p × c``, ``B[k·p + i, k] = 1``)

    Ŷ = (M_c ∘ X̃U) B                       (n × c),
    C-GReLU:  min_U  ℓ(Ŷ) + λ Σ_cols ‖U_{:,col}‖₂,
    C-ReLU:   min_{V,W} ℓ((M_c ∘ X̃(V − W)) B) + λ Σ_cols (‖V_{:,col}‖₂ + ‖W_{:,col}‖₂)
              s.t. S_c ∘ X̃V >= 0,  S_c ∘ X̃W >= 0,   S_c = 2M_c − 1,

with ``ℓ`` the package loss (``s = n·c``): ``‖Ŷ − Y‖²_F/(2s)`` or
``(1/s) Σ log(1 + exp(−Y ∘ Ŷ))``; with sample weights each row's term carries its
``ŵ_j`` (:mod:`convex_relu.losses`). A sparse ``X`` enters CVXPY through the
problem's dense copy ``X̃`` (the programs are small by construction). Solutions are returned in the package layout
``(c, d̃, p)`` / ``(2, c, d̃, p)``.
"""

from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .certificates import certify
from .solution import (
    DEFAULT_CONSTRAINT_TOL,
    Solution,
    SolverWarning,
    finalize,
    meets_request,
    relative_violation,
    warn_unconverged,
)

__all__ = [
    "CvxProgram",
    "build_program",
    "solve_exact",
    "cleanup_solution",
    "mosek_available",
    "SolverUnavailableError",
    "SolverFailedError",
    "SOLVERS",
    "DEFAULT_TOL",
    "DEFAULT_MAX_ITER",
    "DEFAULT_CLEANUP_THRESHOLD",
]

SOLVERS = ("clarabel", "scs", "mosek")

#: Default tolerance per solver. Interior-point methods reach 1e-8 cheaply; SCS is a
#: first-order (ADMM) method whose iteration count grows quickly below ~1e-6.
DEFAULT_TOL = {"clarabel": 1e-8, "scs": 1e-6, "mosek": 1e-8}
DEFAULT_MAX_ITER = {"clarabel": 200, "scs": 100_000, "mosek": 400}

#: Groups with norm below this fraction of the largest group norm are zeroed by the clean-up.
DEFAULT_CLEANUP_THRESHOLD = 1e-7

_CVXPY_NAME = {"clarabel": "CLARABEL", "scs": "SCS", "mosek": "MOSEK"}
_PIP_NAME = {"clarabel": "clarabel", "scs": "scs", "mosek": "mosek"}

_MOSEK_HOWTO = (
    "To use MOSEK provide a licence: set the environment variable MOSEKLM_LICENSE_FILE "
    "to the path of your mosek.lic (before the first MOSEK solve in the process; safest "
    "before importing cvxpy), or put mosek.lic in ~/mosek/ (free academic licences: "
    "https://www.mosek.com/products/academic-licenses/). Install the solver with "
    "`pip install convex-relu[mosek]`."
)


class SolverUnavailableError(RuntimeError):
    """The requested solver is not installed, or (MOSEK) has no usable licence."""


class SolverFailedError(RuntimeError):
    """The solver returned no solution (numerical failure, or an infeasible/unbounded status)."""


# --------------------------------------------------------------------------------------
# building the programs
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class CvxProgram:
    """A CVXPY model of one convex problem, ready to solve (and re-solve).

    Attributes
    ----------
    problem : cvxpy.Problem
    variables : tuple of cvxpy.Variable
        ``(U,)`` for C-GReLU, ``(V, W)`` for C-ReLU; each of shape ``(d̃, c·p)``,
        column ``k·p + i`` = output ``k``, pattern ``i``.
    lam : cvxpy.Parameter or None
        The regularisation strength when built with ``parameterized_lam=True`` (the
        program is DPP, so CVXPY compiles it once and re-solves for new ``lam.value``).
    cone_constraints : tuple of cvxpy.Constraint
        ``(S_c ∘ X̃V >= 0, S_c ∘ X̃W >= 0)`` for C-ReLU; empty for C-GReLU.
    predictions : cvxpy.Expression
        ``Ŷ`` of shape ``(n, c)``.
    source : GatedReLUProblem or ReLUProblem
        The problem the program was built from (its ``lam`` is only the initial value
        when ``lam`` is a Parameter).
    build_time : float
        Seconds spent building the expression tree.
    """

    problem: Any
    variables: tuple
    lam: Any
    cone_constraints: tuple
    predictions: Any
    source: Any
    build_time: float = 0.0

    @property
    def formulation(self):
        return self.source.formulation

    def weights(self):
        """Current variable values in the package layout, or ``None`` if unsolved."""
        vals = [v.value for v in self.variables]
        if any(v is None for v in vals):
            return None
        c, d, p = self.source.c, self.source.d, self.source.p
        # column k·p + i  ->  [k, :, i]
        blocks = [np.asarray(v).reshape(d, c, p).transpose(1, 0, 2) for v in vals]
        return blocks[0].copy() if len(blocks) == 1 else np.stack(blocks)

    def duals(self):
        """Multipliers of the cone constraints as ``(2, n, c, p)`` (``None`` if absent)."""
        if not self.cone_constraints:
            return None
        vals = [con.dual_value for con in self.cone_constraints]
        if any(v is None for v in vals):
            return None
        n, c, p = self.source.n, self.source.c, self.source.p
        return np.stack([np.asarray(v).reshape(n, c, p) for v in vals])


def _import_cvxpy():
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - cvxpy is a hard dependency
        raise SolverUnavailableError(
            "the exact solvers need cvxpy: `pip install cvxpy`."
        ) from exc
    return cp


def _check_problem(problem):
    if getattr(problem, "formulation", None) not in ("gated_relu", "relu"):
        raise ValueError(
            "problem must be a GatedReLUProblem or ReLUProblem (see make_problem); "
            f"got {type(problem).__name__}."
        )


def _penalty_expression(problem, blocks, c, p):
    """``Σ_b R(block_b)`` in CVXPY: the penalty object's expression (default: group norms)."""
    import cvxpy as cp

    from .penalties import DEFAULT_PENALTY

    pen = getattr(problem, "penalty", DEFAULT_PENALTY)
    if pen is DEFAULT_PENALTY:
        return sum(cp.sum(cp.norm(Z, 2, axis=0)) for Z in blocks)
    return sum(pen.cvx_expression(Z, c, p) for Z in blocks)


def build_program(problem, *, parameterized_lam=False):
    """Build the vectorised CVXPY model of ``problem`` (see the module docstring).

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    parameterized_lam : bool
        Make ``λ`` a nonnegative ``cvxpy.Parameter`` (initial value ``problem.lam``).
        The objective ``ℓ(Ŷ) + λ·Σ‖·‖`` is then DPP, so solving a λ-path with
        :func:`solve_exact` (``program=``) canonicalises the model only once.

    Returns
    -------
    CvxProgram
    """
    _check_problem(problem)
    if not isinstance(parameterized_lam, (bool, np.bool_)):
        raise ValueError(f"parameterized_lam must be True or False; got {parameterized_lam!r}.")
    cp = _import_cvxpy()
    t0 = time.perf_counter()
    n, d, c, p, s = problem.n, problem.d, problem.c, problem.p, problem.s
    Xt = problem.X_tilde
    Y = problem.Y
    Mc = np.tile(problem.masks, (1, c))
    # B sums the p pattern columns of each output: a (c·p × c) 0/1 matrix
    B = sp.csr_array(sp.kron(sp.eye(c), np.ones((p, 1))))

    def predictions(Z):
        return cp.multiply(Mc, Xt @ Z) @ B

    if parameterized_lam:
        lam = cp.Parameter(nonneg=True, value=problem.lam, name="lam")
    else:
        lam = None

    if problem.formulation == "gated_relu":
        U = cp.Variable((d, c * p), name="U")
        variables = (U,)
        pred = predictions(U)
        norms = _penalty_expression(problem, (U,), c, p)
        constraints = []
    else:
        V = cp.Variable((d, c * p), name="V")
        W = cp.Variable((d, c * p), name="W")
        variables = (V, W)
        pred = predictions(V - W)
        norms = _penalty_expression(problem, (V, W), c, p)
        Sc = 2.0 * Mc - 1.0
        constraints = [cp.multiply(Sc, Xt @ V) >= 0, cp.multiply(Sc, Xt @ W) >= 0]

    rw = getattr(problem, "row_weights", None)
    if problem.loss == "squared":
        if rw is None:
            fit = cp.sum_squares(pred - Y) / (2.0 * s)
        else:
            # Σ ŵ_j r_jk²/(2s) as ‖√ŵ ∘ r‖²: one SOC, zero-weight rows drop out
            fit = cp.sum_squares(cp.multiply(np.sqrt(rw), pred - Y)) / (2.0 * s)
    else:
        if rw is None:
            fit = cp.sum(cp.logistic(cp.multiply(-Y, pred))) / s
        else:
            fit = cp.sum(cp.multiply(np.broadcast_to(rw, Y.shape),
                                     cp.logistic(cp.multiply(-Y, pred)))) / s

    if lam is not None:
        objective = fit + lam * norms
    elif problem.lam > 0:
        objective = fit + problem.lam * norms
    else:
        # at λ = 0 the norm cones would only add work
        objective = fit
    prog = cp.Problem(cp.Minimize(objective), constraints)
    return CvxProgram(
        problem=prog,
        variables=variables,
        lam=lam,
        cone_constraints=tuple(constraints),
        predictions=pred,
        source=problem,
        build_time=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------
# solver selection and options
# --------------------------------------------------------------------------------------

_MOSEK_PROBE: tuple[bool, str] | None = None


def mosek_available(*, refresh=False):
    """Whether MOSEK is installed *and* licensed, by a tiny probe solve.

    The answer is cached for the process (``refresh=True`` probes again, e.g. after
    setting ``MOSEKLM_LICENSE_FILE``).

    Returns
    -------
    (bool, str)
        Availability and a message (why not, and how to provide a licence).
    """
    global _MOSEK_PROBE
    if _MOSEK_PROBE is not None and not refresh:
        return _MOSEK_PROBE
    cp = _import_cvxpy()
    try:
        import mosek  # noqa: F401
    except ImportError:
        _MOSEK_PROBE = (False, "MOSEK is not installed. " + _MOSEK_HOWTO)
        return _MOSEK_PROBE
    x = cp.Variable(2)
    probe = cp.Problem(cp.Minimize(cp.norm(x - 1.0, 2)), [x >= 0])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe.solve(solver=cp.MOSEK, verbose=False)
    except Exception as exc:  # licence errors surface as mosek.Error or cvxpy.SolverError
        msg = str(exc).strip() or type(exc).__name__
        _MOSEK_PROBE = (False, f"MOSEK is installed but a probe solve failed: {msg} " + _MOSEK_HOWTO)
        return _MOSEK_PROBE
    if probe.status != "optimal":
        _MOSEK_PROBE = (False, f"MOSEK probe solve returned status {probe.status!r}. " + _MOSEK_HOWTO)
    else:
        _MOSEK_PROBE = (True, "MOSEK is installed and licensed.")
    return _MOSEK_PROBE


def _resolve_solver(solver):
    if not isinstance(solver, str) or solver.lower() not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS} (case-insensitive); got {solver!r}.")
    name = solver.lower()
    cp = _import_cvxpy()
    if _CVXPY_NAME[name] not in cp.installed_solvers():
        raise SolverUnavailableError(
            f"solver {name!r} is not installed (cvxpy sees {cp.installed_solvers()}); "
            f"install it with `pip install {_PIP_NAME[name]}`"
            + (" or `pip install convex-relu[mosek]`." if name == "mosek" else ".")
        )
    if name == "mosek":
        ok, msg = mosek_available()
        if not ok:
            raise SolverUnavailableError(msg)
    return name


def _solver_options(name, tol, max_iter, solver_options):
    """The complete option set passed to the solver (user options override ours).

    Every tolerance is passed explicitly: CVXPY would otherwise use its own
    defaults, which differ between solvers and versions.
    """
    # Both programs are always feasible and bounded, so infeasibility tolerances stay
    # strict (a loose one only makes a false "infeasible" more likely).
    strict = min(tol, 1e-8)
    if name == "clarabel":
        opts = {
            "tol_gap_abs": tol,
            "tol_gap_rel": tol,
            "tol_feas": tol,
            "tol_infeas_abs": strict,
            "tol_infeas_rel": strict,
            "tol_ktratio": 1e-6,
            "max_iter": max_iter,
        }
    elif name == "scs":
        opts = {"eps_abs": tol, "eps_rel": tol, "eps_infeas": 1e-9, "max_iters": max_iter}
    else:
        opts = {
            "mosek_params": {
                "MSK_DPAR_INTPNT_CO_TOL_PFEAS": tol,
                "MSK_DPAR_INTPNT_CO_TOL_DFEAS": tol,
                "MSK_DPAR_INTPNT_CO_TOL_REL_GAP": tol,
                "MSK_DPAR_INTPNT_CO_TOL_INFEAS": strict,
                "MSK_IPAR_INTPNT_MAX_ITERATIONS": max_iter,
            }
        }
    if solver_options:
        user = dict(solver_options)
        if name == "mosek" and "mosek_params" in user:
            opts["mosek_params"].update(user.pop("mosek_params"))
        opts.update(user)
    return opts


def _check_tol(tol, name, arg="tol"):
    if tol is None:
        return DEFAULT_TOL[name]
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"{arg} must be a finite number > 0 (or None); got {tol!r}.")
    return float(tol)


def _check_max_iter(max_iter, name):
    if max_iter is None:
        return DEFAULT_MAX_ITER[name]
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1 (or None); got {max_iter!r}.")
    return int(max_iter)


def _cleanup_threshold(cleanup):
    """``None`` (no clean-up) or the relative threshold asked for by ``cleanup=``."""
    if cleanup is None or cleanup is False:
        return None
    if cleanup is True:
        return DEFAULT_CLEANUP_THRESHOLD
    if isinstance(cleanup, numbers.Real) and np.isfinite(cleanup) and cleanup >= 0:
        return float(cleanup)
    raise ValueError(
        f"cleanup must be None, False, True or a relative threshold >= 0; got {cleanup!r}."
    )


def _same_data(program, problem):
    src = program.source
    if src is problem:
        return True
    if src.formulation != problem.formulation or src.loss != problem.loss:
        return False
    if getattr(src, "penalty", None) != getattr(problem, "penalty", None):
        return False
    for attr in ("X_tilde", "masks", "Y"):
        a, b = getattr(src, attr), getattr(problem, attr)
        if a is not b and (a.shape != b.shape or not np.array_equal(a, b)):
            return False
    wa, wb = getattr(src, "row_weights", None), getattr(problem, "row_weights", None)
    if (wa is None) != (wb is None) or (wa is not None and not np.array_equal(wa, wb)):
        return False
    return True


# --------------------------------------------------------------------------------------
# solving
# --------------------------------------------------------------------------------------


class _StatusOverride:
    """A Clarabel result seen with another status (to let CVXPY map back an iterate)."""

    def __init__(self, raw, status):
        self._raw = raw
        self.status = status

    def __getattr__(self, attr):
        return getattr(self._raw, attr)


def _raw_objectives(name, raw):
    """``(primal, dual)`` objective of the solver's own (canonicalised) problem, or ``None``."""
    try:
        if name == "clarabel":
            return float(raw.obj_val), float(raw.obj_val_dual)
        if name == "scs":
            return float(raw["info"]["pobj"]), float(raw["info"]["dobj"])
        if name == "mosek":
            import mosek

            task = raw["task"]
            sol = mosek.soltype.itr
            pobj, dobj = float(task.getprimalobj(sol)), float(task.getdualobj(sol))
            if task.getobjsense() == mosek.objsense.maximize:
                # CVXPY hands MOSEK the dual (a maximisation, same value): the task's
                # primal objective is our dual bound and its dual objective our primal.
                # Not exercised by the tests (no licence in CI).
                pobj, dobj = dobj, pobj
            return pobj, dobj
    except Exception:  # a solver that does not expose them: reported as unavailable
        return None
    return None


def solve_exact(
    problem,
    solver="clarabel",
    *,
    tol=None,
    max_iter=None,
    verbose=False,
    warm_start=None,
    solver_options=None,
    cleanup=None,
    program=None,
    gap_tol=None,
    constraint_tol=DEFAULT_CONSTRAINT_TOL,
    refine=True,
):
    """Solve C-GReLU or C-ReLU to high accuracy with a conic solver through CVXPY.

    The solver's own "optimal" is checked, never trusted: the flags follow
    :func:`convex_relu.solution.finalize` (our certificate must reach ``gap_tol``, and
    for C-ReLU the relative cone violation ``constraint_tol``). When the solver says
    (about) optimal but the certificate misses, the answer is *refined* (``refine``):
    for C-ReLU with Clarabel/MOSEK up to :data:`MAX_RESOLVES` re-solves at a 100×
    tighter tolerance (down to :data:`RESOLVE_TOL_FLOOR`); then, if still short, a
    polish by the first-order method warm-started from the exact weights (R-FISTA for
    C-GReLU, where it needs tens of iterations; the augmented Lagrangian with the
    solver's cone multipliers for C-ReLU). The best certified candidate is returned
    and ``info`` records what happened: ``resolves``, ``polished_with`` (``None`` or
    the method), ``refine_log`` (each step's tolerance and certified gap) and
    ``polish``. A run stopped by ``max_iter`` is not refined.

    Parameters
    ----------
    problem : GatedReLUProblem or ReLUProblem
    solver : {"clarabel", "scs", "mosek"}, case-insensitive
        Always passed explicitly to CVXPY (which might otherwise pick an installed
        but unlicensed MOSEK). MOSEK needs a licence (see :func:`mosek_available`).
    tol : float, optional
        Solver tolerance; defaults to :data:`DEFAULT_TOL` (1e-8 Clarabel/MOSEK,
        1e-6 SCS). Clarabel: ``tol_gap_abs = tol_gap_rel = tol_feas = tol``; SCS:
        ``eps_abs = eps_rel = tol``; MOSEK: ``MSK_DPAR_INTPNT_CO_TOL_{PFEAS,DFEAS,REL_GAP}
        = tol``. Infeasibility tolerances are ``min(tol, 1e-8)`` (SCS: ``eps_infeas =
        1e-9``): both programs are feasible, so a loose one could only produce a false
        "infeasible". Every option is passed explicitly on every call, and Clarabel gets
        a fresh solver object each time (CVXPY's cached one would keep old settings).
    max_iter : int, optional
        Defaults to :data:`DEFAULT_MAX_ITER` (200 / 100000 / 400).
    verbose : bool
        Print the solver's log.
    warm_start : bool or None
        Only SCS can warm start, and through CVXPY only from its previous solve of the
        same model: pass ``program=`` together with ``warm_start=True`` along a λ-path.
        Ignored by Clarabel and MOSEK (recorded in ``info["warm_start_used"]``).
    solver_options : dict, optional
        Extra solver options, applied over ours (for MOSEK, ``mosek_params`` is merged).
    cleanup : None, bool or float
        ``True`` or a relative threshold: apply :func:`cleanup_solution` to the result.
        Default: no clean-up (the raw interior-point solution).
    program : CvxProgram, optional
        A model from :func:`build_program` for the same data, loss and formulation;
        built with ``parameterized_lam=True`` it is re-solved at ``problem.lam``
        without recompiling. Built here when omitted.
    gap_tol : float, optional
        Certified relative duality gap the result must reach to be reported optimal.
        Default ``100·tol`` for Clarabel and MOSEK, ``tol`` for SCS (what
        :func:`convex_relu.solve` asks for its ``tol``): with the defaults, ``1e-6``.
    constraint_tol : float
        Relative cone violation allowed (C-ReLU; see
        :func:`convex_relu.solution.relative_violation`), default ``1e-6``.
    refine : bool
        Re-solve / polish when the certificate misses ``gap_tol`` (default ``True``).

    Returns
    -------
    Solution
        ``raw_weights`` the solver's (or the polish's) weights in the package layout;
        ``weights`` those the certificate was evaluated at (C-ReLU: repaired onto the
        cones, predictions unchanged); ``objective = certificate.primal``;
        ``status``: ``"optimal"`` iff the certificate meets the request, else
        ``"inaccurate"`` (the solver said optimal), or CVXPY's own word
        (``"optimal_inaccurate"``, ``"user_limit"``, …); ``converged`` iff optimal;
        ``info["solver_status"]`` the solver's raw status; ``duals`` (C-ReLU) the multipliers ``γ >= 0`` of the cone constraints, shape
        ``(2, n, c, p)``, for the Lagrangian ``F(v, w) − Σ ⟨γ, Ã v⟩``;
        ``certificate`` from :func:`convex_relu.certificates.certify` where available.

        Timings: ``compile_time`` = building the expression tree (0 for a given
        ``program``) + CVXPY's canonicalisation (``get_problem_data``), both wall-clock;
        ``solve_time`` = wall-clock of everything else: the solver calls (setup, e.g.
        KKT factorisation analysis, and iterations), any re-solves and polish, and the
        certificates. ``info`` holds the pieces of the first solve and the solver's own
        reported time; ``info["certificate_time"]`` is the time spent in the first
        :func:`~convex_relu.certificates.certify`; ``n_iter`` sums the conic solver's
        iterations over the re-solves (the polish's are in ``info["polish"]``).

        ``info`` also holds ``solver_objective`` (CVXPY's value: the solver's primal
        objective plus CVXPY's constant offset), ``solver_dual_objective`` (the solver's
        dual objective shifted by the same offset, as the solver reports it: Clarabel's
        ``obj_val_dual``, SCS's ``dobj``, MOSEK's dual objective; ``None`` if not
        exposed. It is *not* a certified bound: SCS's dual iterate is only
        approximately feasible and may exceed the primal; ``certificate`` is the
        certified one), ``solver_gap`` (solver primal − dual) and, for C-ReLU,
        ``cone_violation``.

    Raises
    ------
    ValueError
        Unknown solver or bad arguments.
    SolverUnavailableError
        The solver is not installed, or MOSEK has no licence.
    SolverFailedError
        The solver returned no solution (CVXPY status ``solver_error``, ``infeasible``,
        ``unbounded``, …). Both programs are feasible (zero weights) and bounded below,
        so this always means numerical trouble; try another solver or tolerance.

    Warns
    -----
    SolverWarning
        Not certified optimal (the message gives the certified gap);
        :class:`ConvergenceWarning` when the iteration or time limit was hit
        (``"user_limit"``: the last iterate is returned).
    """
    _check_problem(problem)
    name = _resolve_solver(solver)
    tol = _check_tol(tol, name)
    if gap_tol is None:
        gap_tol = tol if name == "scs" else 100.0 * tol
    else:
        gap_tol = _check_tol(gap_tol, name, "gap_tol")
    constraint_tol = (DEFAULT_CONSTRAINT_TOL if constraint_tol is None
                      else _check_tol(constraint_tol, name, "constraint_tol"))
    if not isinstance(refine, (bool, np.bool_)):
        raise ValueError(f"refine must be True or False; got {refine!r}.")
    max_iter = _check_max_iter(max_iter, name)
    threshold = _cleanup_threshold(cleanup)
    if solver_options is not None and not isinstance(solver_options, dict):
        raise ValueError(f"solver_options must be a dict or None; got {type(solver_options).__name__}.")
    if warm_start is not None and not isinstance(warm_start, (bool, np.bool_)):
        raise ValueError(
            "warm_start must be True, False or None: conic solvers cannot start from given "
            "weights (SCS reuses its previous iterate of the same program)."
        )
    if not isinstance(verbose, (bool, np.bool_)):
        raise ValueError(f"verbose must be True or False; got {verbose!r}.")
    warm = bool(warm_start) and name == "scs"

    if program is None:
        program = build_program(problem)
        build_time = program.build_time
    else:
        if not isinstance(program, CvxProgram):
            raise ValueError(f"program must be a CvxProgram from build_program; got {type(program).__name__}.")
        if not _same_data(program, problem):
            raise ValueError(
                "program was built for different data, loss or formulation than problem."
            )
        if program.lam is not None:
            program.lam.value = problem.lam
        elif program.source.lam != problem.lam:
            raise ValueError(
                f"program has λ = {program.source.lam} fixed but problem.lam = {problem.lam}; "
                "build it with parameterized_lam=True to re-solve at other λ."
            )
        build_time = 0.0

    t_all = time.perf_counter()
    run = _solve_once(program, problem, name, tol, max_iter, solver_options, warm, verbose)
    runs = [run]
    t0 = time.perf_counter()
    cert = _try_certify(problem, run["weights"], run["duals"])
    run["info"]["certificate_time"] = time.perf_counter() - t0
    best = (run, cert, "exact")
    refine_log = [{"step": "solve", "tol": tol, "relative_gap": _rg(cert)}]
    polish_info = None
    # at λ = 0 with a trivial dual bound (rank A = n: the bound is 0, whatever the
    # weights) no refinement can raise the certified gap to the target: skip it
    trivial = problem.lam == 0 and "trivial" in (getattr(cert, "dual_note", "") or "")
    if refine and not trivial and not _meets(problem, cert, run["weights"], gap_tol,
                                             constraint_tol) and run["status"] in (
        "optimal", "optimal_inaccurate"
    ):
        # the solver says (about) optimal but our certificate disagrees
        if problem.formulation == "relu" and name in ("clarabel", "mosek"):
            # interior point converges fast at the end: a tighter tolerance is cheap,
            # unless it already stopped short of its own tolerance ("inaccurate")
            t = tol
            while (
                run["status"] == "optimal"
                and len(runs) <= MAX_RESOLVES
                and t > RESOLVE_TOL_FLOOR
                and not _meets(problem, best[1], best[0]["weights"], gap_tol, constraint_tol)
            ):
                t = max(t * 1e-2, RESOLVE_TOL_FLOOR)
                run = _solve_once(program, problem, name, t, max_iter, solver_options, False, False)
                runs.append(run)
                c_new = _try_certify(problem, run["weights"], run["duals"])
                refine_log.append({"step": "resolve", "tol": t, "relative_gap": _rg(c_new)})
                if _better(problem, (run["weights"], c_new), (best[0]["weights"], best[1]),
                           gap_tol, constraint_tol):
                    best = (run, c_new, "exact")
        if not _meets(problem, best[1], best[0]["weights"], gap_tol, constraint_tol) and (
            _first_order_supports(problem)
        ):
            # C-GReLU: R-FISTA from an interior-point point needs tens of iterations, far
            # cheaper than another conic solve; C-ReLU: the AL's face solve from the
            # exact weights and multipliers
            polished, polish_info = _polish_with_first_order(
                problem, best[0]["weights"], best[0]["duals"], gap_tol, constraint_tol
            )
            refine_log.append({"step": "polish", "method": polish_info["method"],
                               "relative_gap": _rg(polished.certificate)})
            if _better(problem, (polished.raw_weights, polished.certificate),
                       (best[0]["weights"], best[1]), gap_tol, constraint_tol):
                best = ({**best[0], "weights": polished.raw_weights,
                         "duals": polished.duals if polished.duals is not None else best[0]["duals"]},
                        polished.certificate, "polish")
            else:
                polish_info["used"] = False

    run, certificate, source = best
    weights = run["weights"]
    status = runs[0]["status"] if source == "polish" else run["status"]
    info = dict(run["info"])
    info.update(
        build_time=build_time,
        resolves=len(runs) - 1,
        refine_log=refine_log,
        polished_with=None if source != "polish" else polish_info["method"],
    )
    if polish_info is not None:
        info["polish"] = polish_info
    if problem.formulation == "relu":
        info["cone_violation"] = problem.cone_violation(weights)
    compile_time = build_time + sum(r["info"]["cvxpy_compile_time"] for r in runs)
    solve_time = time.perf_counter() - t_all - sum(r["info"]["cvxpy_compile_time"] for r in runs)
    n_iter = sum(r["n_iter"] or 0 for r in runs) if runs[0]["n_iter"] is not None else None
    hint = {
        "user_limit": "Increase max_iter.",
        "optimal_inaccurate": "Try another solver or rescale the data.",
        "optimal": "The solver's tolerance was tightened and its answer polished without "
                   "reaching tol; try another solver or rescale the data.",
    }.get(status, "")
    if certificate is None:  # pragma: no cover - certify is implemented for both programs
        raise SolverFailedError(f"{name}: the solution could not be certified.")
    sol = finalize(
        problem,
        weights,
        solver=name,
        status=status,
        tol=gap_tol,
        constraint_tol=constraint_tol,
        certificate=certificate,
        hint=hint,
        n_iter=n_iter,
        solve_time=solve_time,
        compile_time=compile_time,
        duals=run["duals"],
        info=info,
    )
    if threshold is not None:
        sol = cleanup_solution(sol, threshold)
    return sol


#: At most this many re-solves with a 100× tighter tolerance (C-ReLU, interior point).
MAX_RESOLVES = 2
#: Tightest tolerance a re-solve asks of Clarabel / MOSEK.
RESOLVE_TOL_FLOOR = 1e-12
#: Iteration limit of the first-order polish (R-FISTA; the AL gets 5× this).
POLISH_MAX_ITER = 5000


def _rg(cert):
    return None if cert is None else float(cert.relative_gap)


def _meets(problem, cert, weights, gap_tol, constraint_tol):
    return cert is not None and meets_request(
        cert, relative_violation(problem, weights), gap_tol, constraint_tol
    )


def _better(problem, new, old, gap_tol, constraint_tol):
    """Whether candidate ``new = (weights, certificate)`` beats ``old``.

    One that meets the request beats one that does not; otherwise the smaller
    certified relative gap wins (every certificate is valid, so this is a fair
    comparison of the proven quality).
    """
    (w_new, c_new), (w_old, c_old) = new, old
    if c_new is None or not np.isfinite(c_new.relative_gap):
        return False
    if c_old is None or not np.isfinite(c_old.relative_gap):
        return True
    m_new = _meets(problem, c_new, w_new, gap_tol, constraint_tol)
    m_old = _meets(problem, c_old, w_old, gap_tol, constraint_tol)
    if m_new != m_old:
        return m_new
    return c_new.relative_gap < c_old.relative_gap


class _Start:
    """A warm start carrying weights and cone multipliers (what ``solve_al`` reads)."""

    def __init__(self, weights, duals):
        self.weights = weights
        self.duals = duals


def _first_order_supports(problem):
    """Whether the formulation's first-order method handles the problem's penalty."""
    if problem.formulation == "gated_relu":
        return True
    from .augmented_lagrangian import al_supports

    return al_supports(problem.penalty)


def _polish_with_first_order(problem, weights, duals, gap_tol, constraint_tol):
    """R-FISTA (C-GReLU) or the AL (C-ReLU) warm-started from exact weights.

    Returns ``(Solution, info)``; the Solution's own warning is suppressed (the
    caller reports the final result).
    """
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverWarning)
        if problem.formulation == "gated_relu":
            from .fista import solve_rfista

            sol = solve_rfista(problem, tol=gap_tol, warm_start=weights, max_iter=POLISH_MAX_ITER)
        else:
            from .augmented_lagrangian import solve_al

            sol = solve_al(problem, tol=gap_tol, constraint_tol=constraint_tol,
                           warm_start=_Start(weights, duals), max_iter=5 * POLISH_MAX_ITER)
    return sol, {
        "method": sol.solver,
        "status": sol.status,
        "n_iter": sol.n_iter,
        "time": time.perf_counter() - t0,
        "relative_gap": float(sol.relative_gap),
        "used": True,
    }


def _solve_once(program, problem, name, tol, max_iter, solver_options, warm, verbose):
    """One conic solve of ``program`` at ``tol``; the raw result as a dict (no certificate)."""
    cp = _import_cvxpy()
    opts = _solver_options(name, tol, max_iter, solver_options)
    prog = program.problem
    cvx_name = _CVXPY_NAME[name]

    with warnings.catch_warnings():
        # CVXPY's generic "may be inaccurate" warning is replaced by our SolverWarning
        warnings.filterwarnings("ignore", message="Solution may be inaccurate")
        t0 = time.perf_counter()
        data, chain, inverse = prog.get_problem_data(cvx_name, verbose=False, solver_opts=dict(opts))
        compile_cvxpy = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            # A fresh solver object per call (warm_start False for Clarabel): CVXPY's
            # cached Clarabel solver keeps settings from earlier calls.
            raw = chain.solve_via_data(prog, data, warm, bool(verbose), dict(opts))
        except cp.error.SolverError as exc:
            raise SolverFailedError(f"{name} failed: {exc}") from exc
        solve_wall = time.perf_counter() - t0
        raw_obj = _raw_objectives(name, raw)

        limit_hit = False
        to_unpack = raw
        if name == "clarabel" and str(raw.status) in ("MaxIterations", "MaxTime"):
            limit_hit = True
            if raw.x is not None and len(raw.x) and np.all(np.isfinite(raw.x)):
                # CVXPY drops the iterate of a stopped run; read it back as an inaccurate one
                to_unpack = _StatusOverride(raw, "AlmostSolved")
        try:
            prog.unpack_results(to_unpack, chain, inverse)
        except cp.error.SolverError as exc:
            raise SolverFailedError(
                f"{name} failed (raw status {_raw_status(name, raw)!r}): {exc}"
            ) from exc

    status = "user_limit" if limit_hit else str(prog.status)
    weights = program.weights()
    if weights is None or not np.all(np.isfinite(weights)):
        raise SolverFailedError(
            f"{name} returned status {status!r} (raw {_raw_status(name, raw)!r}) and no usable "
            "solution. Both programs are feasible and bounded, so this is numerical trouble: "
            "try another solver, a looser tol, or rescale the data."
        )
    if name == "scs" and status != "optimal" and "max_iters" in _raw_status(name, raw):
        # SCS calls a run stopped at max_iters "solved (inaccurate)"; report the limit
        status = "user_limit"
        limit_hit = True

    stats = prog.solver_stats
    info = {
        "solver_status": _raw_status(name, raw),
        "cvxpy_status": str(prog.status),
        "solver_objective": None if prog.value is None else float(prog.value),
        "solver_dual_objective": None,
        "solver_gap": None,
        "tol": tol,
        "max_iter": max_iter,
        "solver_options": opts,
        "cvxpy_compile_time": compile_cvxpy,
        "solver_wall_time": solve_wall,
        "solver_reported_time": None if stats.solve_time is None else float(stats.solve_time),
        "warm_start_used": warm,
        "parameterized_lam": program.lam is not None,
    }
    if raw_obj is not None and prog.value is not None:
        pobj, dobj = raw_obj
        info["solver_dual_objective"] = float(prog.value) + (dobj - pobj)
        info["solver_gap"] = pobj - dobj
    return {
        "weights": weights,
        "duals": program.duals(),
        "status": status,
        "limit_hit": limit_hit,
        "n_iter": None if stats.num_iters is None else int(stats.num_iters),
        "info": info,
    }


def _raw_status(name, raw):
    try:
        if name == "clarabel":
            return str(raw.status)
        if name == "scs":
            return str(raw["info"]["status"])
        if name == "mosek":
            import mosek

            return str(raw["task"].getsolsta(mosek.soltype.itr))
    except Exception:
        return "unknown"
    return "unknown"


def _try_certify(problem, weights, duals=None):
    try:
        return certify(problem, weights, multipliers=duals)
    except NotImplementedError:
        # C-ReLU certificates are being written; until then solutions carry none
        return None


# --------------------------------------------------------------------------------------
# clean-up
# --------------------------------------------------------------------------------------


def cleanup_solution(solution, threshold=DEFAULT_CLEANUP_THRESHOLD, *, relative=True):
    """Zero the groups whose norm is negligible; return a new :class:`Solution`.

    Interior-point solutions are never exactly sparse: a group that is zero at the
    optimum comes back with a norm of ~1e-9 relative to the active ones. This sets a
    group (an ``(output, pattern)`` column of ``U``, or of ``v`` / ``w`` separately
    for C-ReLU) to zero when

        ‖group‖₂ < threshold · max_g ‖g‖₂      (relative=True, the default)
        ‖group‖₂ < threshold                     (relative=False).

    The groups are those of ``solution.weights`` (for C-ReLU the certified, repaired
    weights); zero is in every cone ``K_i``, so feasible weights stay feasible. The
    result is a new answer, judged like any other
    (:func:`convex_relu.solution.finalize`, against the solution's own request
    ``info["gap_tol"]``, ``info["constraint_tol"]``): its certificate is recomputed,
    ``objective`` is its certified primal (it can move either way: the regulariser
    drops, the loss changes), and ``converged`` / ``status`` follow it — a
    :class:`SolverWarning` says so when the clean-up loses a certified optimum.
    ``info["cleanup"]`` holds ``threshold``, ``absolute_threshold``, ``n_zeroed``,
    ``objective_before``, ``objective_after`` and ``objective_change``. The duals are
    kept as they are.

    Parameters
    ----------
    solution : Solution
    threshold : float >= 0
        Default ``1e-7`` (relative).
    relative : bool
    """
    if not isinstance(solution, Solution):
        raise ValueError(f"solution must be a Solution; got {type(solution).__name__}.")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, numbers.Real)
        or not np.isfinite(threshold)
        or threshold < 0
    ):
        raise ValueError(f"threshold must be a finite number >= 0; got {threshold!r}.")
    problem = solution.problem
    W = np.array(solution.weights, dtype=np.float64, copy=True)
    norms = np.linalg.norm(W, axis=-2)  # (..., p): one norm per group
    largest = float(norms.max()) if norms.size else 0.0
    cut = float(threshold) * largest if relative else float(threshold)
    small = (norms < cut) & (norms > 0)
    W[np.broadcast_to(small[..., None, :], W.shape)] = 0.0
    before = float(solution.objective)
    info = dict(solution.info)
    info.pop("solver_status", None)
    # the clean-up is a new answer: its flags follow its own certificate, against the
    # request the solution was judged by (the defaults for a hand-made Solution)
    tol = float(solution.info.get("gap_tol", 1e-6))
    constraint_tol = float(solution.info.get("constraint_tol", DEFAULT_CONSTRAINT_TOL))
    own = solution.info.get("solver_status", solution.status)
    cleaned = finalize(
        problem,
        W,
        solver=solution.solver,
        status=solution.status if solution.status != "inaccurate" else "optimal",
        tol=tol,
        constraint_tol=constraint_tol,
        warn=False,
        n_iter=solution.n_iter,
        solve_time=solution.solve_time,
        compile_time=solution.compile_time,
        history=solution.history,
        duals=solution.duals,
        info=info,
    )
    after = cleaned.objective
    cleaned.info["solver_status"] = own
    cleaned.info["cleanup"] = {
        "threshold": float(threshold),
        "relative": bool(relative),
        "absolute_threshold": cut,
        "n_zeroed": int(small.sum()),
        "objective_before": before,
        "objective_after": after,
        "objective_change": after - before,
    }
    if problem.formulation == "relu":
        cleaned.info["cone_violation"] = problem.cone_violation(cleaned.weights)
    if solution.converged and not cleaned.converged:
        warn_unconverged(
            cleaned,
            hint=f"The clean-up (threshold {threshold:g}) raised the certified gap; use the "
                 "solution before the clean-up or a smaller threshold.",
            stacklevel=2,
        )
    return cleaned
