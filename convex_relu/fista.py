"""R-FISTA for C-GReLU: restarted, accelerated proximal gradient with working sets.

The program (DESIGN §1, §5) is the group lasso

    min_U  F(U) = ℓ(AU) + λ Σ_g ‖U_g‖₂,      A = [D_1X̃ … D_pX̃],  s = n·c,

with one group ``g = (k, i)`` per output and pattern. One iteration at the
extrapolated point ``v`` is

    x⁺ = prox_{ηλ‖·‖₂,₁}(v − η∇f(v)),    prox: u_g ↦ u_g (1 − ηλ/‖u_g‖)₊,

with backtracking ``η ← 0.8η`` until the descent inequality

    f(x⁺) <= f(v) + ⟨∇f(v), x⁺ − v⟩ + ‖x⁺ − v‖²/(2η)

holds, FISTA momentum ``t⁺ = (1 + √(1 + 4t²))/2``, ``v = x⁺ + ((t − 1)/t⁺)(x⁺ − x)``,
a gradient-based restart (``t = 1``, ``v = x⁺``) when ``⟨x⁺ − x, v − x⁺⟩ > 0`` and a
step increase ``η ← 1.25η`` when the accepted steps saw a curvature five times below
``1/η`` (three steps in a row: the curvature along momentum steps fluctuates, and
growing on every flat step would pay a rejected step, i.e. an extra forward product,
nearly every iteration). For the squared loss the descent test uses the exact
Bregman term ``‖A(x⁺ − v)‖²/(2s)``, free of cancellation.

Cost. Predictions are linear in the weights, so ``A v`` is obtained from ``A x⁺``
and ``A x`` as ``A x⁺ + β(A x⁺ − A x)`` instead of a new product: an iteration costs
one forward product (for ``f(x⁺)``, needed by the line search) and one adjoint
product (for ``∇f(v)``), plus one forward per rejected step.

Working sets. Solutions are neuron-sparse. The solver alternates (i) a certified
duality gap of the *full* problem at the current weights (one adjoint pass over all
groups, DESIGN §4), whose dual point also scores every group by its dual constraint
``‖(Aᵀz)_g‖/λ`` (a group with score > 1 violates the optimality conditions), and
(ii) R-FISTA on the groups of a working set (the active groups plus the
highest-scoring others, at least 1.5 times as many as are active), stopped when the
restricted problem's own duality gap is below a fraction of the full gap. The inner
products only touch the working-set columns. The method stops when the certified
gap of the full problem is at most ``tol`` relative to the objective, so the working
sets are a pure speed device: the stopping rule is the same as without them.

Newton finish. First-order methods converge only linearly in the tail. Once the
support is the same at consecutive checks (and the gap is below 3e-2), the objective
restricted to that support is smooth, and Newton's method on it
(:mod:`convex_relu.newton`) converges quadratically; it is run when its cost (forming
``A_Sᵀ A_S``, a few Cholesky factorisations) is below that of about 100 iterations.
Larger supports (thousands of variables, dense ``X̃``) get Newton-CG with the
products applied through the factors of ``A_S`` (two GEMMs each, the price of one
R-FISTA iteration on the support), at most 300 products per attempt; past the
cost model (explicit or factored) Newton is tried at most three times per solve. If the support was right the next certificate closes the gap;
if not, R-FISTA goes on from the (never worse) Newton point. In ``dtype="mixed"`` the
Newton finish also ends the float32 phase.

Stopping rule: ``certify(problem, U).relative_gap <= tol`` (default ``1e-6``). Inside
an R-FISTA run the gap is estimated for free every ``check_every`` iterations from
the gradient already computed at the extrapolated point (its scaled dual point is
feasible for the restricted problem).

Precision. ``dtype=float32`` runs the products in single precision (certificates
stay float64) and stops with ``"precision_limit"`` when the gap stalls at the
rounding level; ``dtype="mixed"`` switches to float64 instead, which keeps most of
the float32 speed and still certifies ``1e-6``; it is the default for float64
problems with ``n·d̃·c·p >= 1e7``.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from . import losses
from ._validation import check_positive_int
from .certificates import _best_gamma, _penalty_dual, _scaled_dual_value, certify, null_space_dual
from .penalties import DEFAULT_PENALTY
from .newton import newton_on_support
from .operators import ColumnOperator, from_columns, to_columns
from .solution import finalize

__all__ = ["solve_rfista", "group_soft_threshold", "fista_kernel", "KernelResult"]

#: Smoothness constant of the loss in units of ``1/s``: ``∇²ℓ <= L_ℓ I``.
_LOSS_SMOOTHNESS = {"squared": 1.0, "logistic": 0.25}

#: Flat steps in a row before the step size grows (see the kernel).
_GROW_AFTER = 3
#: Carry the FISTA momentum into a new working set.
_KEEP_MOMENTUM = True
#: A working set holds at least this many times the active groups.
_WS_GROWTH = 1.5
#: ``dtype=None`` on a float64 problem with ``n·d̃·c·p`` at least this: ``"mixed"``.
_AUTO_MIXED_SIZE = 1e7
#: ``dtype="mixed"``: relative gap at which the float32 phase hands over to float64.
_MIXED_SWITCH = 1e-4
#: Newton on the support is tried once the certified relative gap is below this ...
_NEWTON_START = 3e-2
#: ... when the support has not changed over this many checks ...
_NEWTON_SETTLED = 2
#: ... and the support has at most this many variables per output ...
_NEWTON_MAX_VARS = 2000
#: ... and the explicit support matrix at most this many entries ...
_NEWTON_MAX_ENTRIES = 1e7
#: ... and its cost is at most that of this many R-FISTA iterations.
_NEWTON_ITERATIONS = 100
#: The explicit Newton stops at a decrement ``_NEWTON_DECREMENT·tol·|P|`` and group
#: gradients ``_NEWTON_GRAD·tol·λ`` (quadratic convergence: one more step would be wasted)
_NEWTON_DECREMENT = 1e-3
_NEWTON_GRAD = 1e-2
#: Supports too large for the explicit Newton matrices get Newton-CG through the factors
#: of ``A_S`` (:class:`convex_relu.newton.FactoredSupport`) with this budget of Hessian
#: products (each costs about one R-FISTA iteration on the support) per attempt ...
_NEWTON_CG_PRODUCTS = 300
#: ... and at most this many Newton attempts past the cost model per solve (a wrong
#: support costs a budget).
_NEWTON_CG_ATTEMPTS = 3
#: Interpreter overhead of one R-FISTA iteration, in flops of GEMM (about 50 µs).
_ITERATION_OVERHEAD = 5e5
#: A certified gap below this many ``eps·ℓ(0)`` is at the rounding level of the dual.
_GAP_FLOOR_EPS = 64.0
#: "stalled": this many certified checks without a 10 % smaller gap, while the
#: objective fell by less than ``_STALL_DECREASE·tol`` (relative) over them.
_STALL_CHECKS = 10
_STALL_DECREASE = 0.1
#: Kernel checks per run when the certificate, not the kernel, decides (λ = 0, stalls).
_CHUNK_CHECKS = 20


# --------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------


def group_norms_columns(U):
    """``‖U[:, j]‖₂`` for every column of a ``(d, q)`` matrix (fast for small ``d``)."""
    return np.sqrt(np.einsum("ij,ij->j", U, U))


def group_soft_threshold(U, threshold):
    """Proximal operator of ``threshold · Σ_g ‖U_g‖₂``, groups along axis ``-2``.

    ``prox(U)_g = U_g · max(0, 1 − threshold/‖U_g‖)`` (zero where ``‖U_g‖ <= threshold``).

    Parameters
    ----------
    U : array of shape (..., d, q)
    threshold : float >= 0
    """
    U = np.asarray(U)
    norms = np.sqrt(np.sum(U * U, axis=-2, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norms > threshold, 1.0 - threshold / np.where(norms > 0, norms, 1.0), 0.0)
    return U * scale.astype(U.dtype, copy=False)


def _prox_columns(U, threshold):
    """In-place group soft-threshold of the columns of ``U`` (the kernel's hot path)."""
    norms = group_norms_columns(U)
    scale = np.zeros_like(norms)
    big = norms > threshold
    scale[big] = 1.0 - threshold / norms[big]
    U *= scale
    return U, norms * scale


def _bregman(loss, w, pred_new, pred_v, f_new, f_v, lin):
    """Bregman divergence of ``ℓ`` between two prediction matrices.

    Squared loss: ``Σ ŵ_j ‖r_j‖²/(2s)`` with ``r = A(x⁺ − v)`` (``ℓ`` is quadratic),
    free of the cancellation in ``f(x⁺) − f(v) − ⟨∇f(v), x⁺ − v⟩``.
    """
    if loss == "squared":
        r = pred_new - pred_v
        if w is None:
            return float(np.vdot(r, r)) / (2.0 * r.size)
        return float(np.sum(w * r * r)) / (2.0 * r.size)
    return f_new - f_v - lin


def loss_smoothness(problem):
    """Lipschitz constant of ``∇ℓ`` w.r.t. the predictions: ``κ·max ŵ / s``.

    ``κ = 1`` (squared) or ``1/4`` (logistic); ``max ŵ = 1`` unweighted.
    """
    L = _LOSS_SMOOTHNESS[problem.loss] / problem.s
    w = getattr(problem, "row_weights", None)
    return L if w is None else L * float(w.max())


def resolve_dtype(dtype, problem):
    """``dtype=None``: the problem's own (float32 for float32 input ``X``, else float64)."""
    if dtype is None:
        return np.dtype(getattr(problem, "dtype", np.float64))
    return _check_dtype(dtype)


def _quick_dual(problem, grad, max_norm):
    """``max D(γ_k ∇ℓ_k)`` over feasible per-output scalings (cheap version for stopping tests).

    ``max_norm`` (c,): the largest dual-constraint value of each output's column of
    ``grad``. Squared loss: the exact best ``γ_k`` (closed form). Logistic loss:
    ``γ_k = min(1, λ/M_k)`` (the certificate refines it by a 1-D search).
    """
    lam = problem.lam
    M = np.asarray(max_norm, dtype=float)
    with np.errstate(divide="ignore"):
        cap = np.where(M > 0, lam / np.where(M > 0, M, 1.0), np.inf)
    if problem.loss == "squared":
        # D(γ) = −γ⟨g, Y⟩ − (s/2)γ² Σ g²/ŵ (weighted conjugate, losses module)
        rr = problem.conjugate_curvature(grad, axis=0)
        ry = -np.einsum("nk,nk->k", grad, problem.Y)
        gamma = np.zeros_like(rr)
        ok = rr > 0
        gamma[ok] = np.minimum(np.maximum(ry[ok] / (problem.s * rr[ok]), 0.0), cap[ok])
    else:
        gamma = np.minimum(1.0, cap)
    return -problem.loss_conjugate(grad * gamma[None, :])


class GatedSmooth:
    """``f(U) = ℓ(A U)`` on a set of groups, with predictions as the cached state.

    The state of a point is its prediction matrix ``AU`` (``n × c``). ``dual_bound``
    turns the gradient computed at a point into a lower bound on the restricted
    problem's optimum (DESIGN §4): ``z = ∇ℓ(AU)`` scaled into the dual-feasible set
    ``{‖(Aᵀz)_g‖ <= λ}``.
    """

    linear = True

    def __init__(self, problem, op, dual_fn=None):
        self.problem = problem
        self.op = op
        self.dual_fn = dual_fn
        self.loss = problem.loss
        self.Y = problem.Y
        self.w = getattr(problem, "row_weights", None)
        self.lam = problem.lam
        self._lgrad = None

    def forward(self, U):
        return self.op.forward(U)

    def value(self, pred):
        return losses.loss_value(self.loss, pred, self.Y, self.w)

    def gradient(self, pred):
        self._lgrad = losses.loss_grad(self.loss, pred, self.Y, self.w)
        return self.op.adjoint(self._lgrad)

    def bregman(self, pred_new, pred_v, f_new, f_v, lin):
        return _bregman(self.loss, self.w, pred_new, pred_v, f_new, f_v, lin)

    def extrapolate(self, pred_new, pred_old, beta, U_new):
        # A is linear: A(x⁺ + β(x⁺ − x)) = Ax⁺ + β(Ax⁺ − Ax)
        return pred_new + beta * (pred_new - pred_old)

    def dual_bound(self, G):
        """Dual value of the gradient of the last :meth:`gradient` call, scaled feasible."""
        if self.dual_fn is not None:
            return self.dual_fn(self._lgrad, G)
        return _quick_dual(self.problem, self._lgrad, self.op.output_max(group_norms_columns(G)))


@dataclass
class KernelResult:
    """State and outcome of :func:`fista_kernel`; pass it back as ``resume`` to continue."""

    x: np.ndarray
    state: object
    f: float
    reg: float
    n_iter: int
    status: str  # "converged", "max_iter", "precision_limit", "step_underflow", "non_finite", "stopped"
    step: float
    v: np.ndarray | None = None
    state_v: object = None
    t: float = 1.0
    dual: float = -np.inf
    gap: float = np.inf
    best_gap: float = np.inf
    stall: int = 0
    n_backtracks: int = 0
    n_restarts: int = 0


def fista_kernel(
    smooth,
    lam,
    x0=None,
    *,
    step=None,
    max_iter,
    gap_target,
    check_every=10,
    state0=None,
    min_iter=0,
    patience=30,
    precision_floor=None,
    resume=None,
    prox=None,
    penalty_value=None,
    monitor=None,
    on_check=None,
    stop_check=None,
    stall_stop=False,
):
    """Restarted FISTA with backtracking on ``F(x) = f(x) + lam Σ_j ‖x[:, j]‖₂``.

    A pure numerical kernel (no printing); the columns of ``x`` are the groups.

    Parameters
    ----------
    smooth : object
        The smooth part ``f``, through cached *states* (whatever a point's products
        are): ``forward(x) -> state``, ``value(state) -> float``,
        ``gradient(state) -> ∇f`` (shaped like ``x``), ``bregman(st_new, st_v, f_new,
        f_v, lin) -> f(x⁺) − f(v) − ⟨∇f(v), x⁺ − v⟩`` (exact formulas avoid
        cancellation), ``extrapolate(st_new, st_old, beta, v) -> state of v`` and
        ``dual_bound(G) -> float``, a lower bound on ``min F`` built from the last
        gradient ``G`` (valid for any point, so the best one seen is kept).
    lam : float
    x0 : (d, q) array
        Starting point (copied). Not needed with ``resume``.
    step : float
        Initial step size ``η`` (default: ``resume.step``).
    max_iter : int
        Iterations of this call.
    gap_target : float
        Stop when ``F(x) − best dual bound <= gap_target`` (absolute). Tested every
        ``check_every`` iterations, from iteration ``min_iter`` on.
    state0 : optional
        ``smooth.forward(x0)`` if already known.
    patience : int
        Consecutive checks without a 1% decrease of the best gap after which, if the
        gap is below ``precision_floor·|F|``, the kernel stops with
        ``"precision_limit"``: rounding in ``x0.dtype`` dominates the progress.
    precision_floor : float, optional
        Default ``1e4·eps(dtype)``.
    resume : KernelResult, optional
        Continue a previous run on the *same* problem: iterate, momentum, step, best
        dual bound and stall counter are kept.
    prox : callable, optional
        ``prox(z, t) -> (x, parts)``, the proximal map of ``t·R`` plus any constraint
        indicator, with ``Σ parts = R(x)`` (default: ``R = Σ_j ‖x[:, j]‖``, group
        soft-thresholding in place, ``parts`` the column norms).
    penalty_value : callable, optional
        ``R(x)`` of a starting point (default ``Σ_j ‖x[:, j]‖``); with ``prox``.
    monitor : callable, optional
        Called after every accepted step with a dict ``v, x, G, f_v, f_x, step``.
    on_check : callable, optional
        Called at every check with ``(iteration, objective, gap, step)``.
    stop_check : callable, optional
        Called at every check (after ``on_check``) with ``(norms, objective, gap)``,
        ``norms`` the group norms of the iterate; returning ``True`` ends the run with
        status ``"stopped"``.
    stall_stop : bool
        End with status ``"stalled"`` after ``patience`` checks without a 1 % smaller
        gap when the objective's decrease over them, extrapolated linearly over the
        rest of ``max_iter``, is below a tenth of the gap: the budget cannot close it.

    Returns
    -------
    KernelResult
        ``status``: ``"converged"`` (gap target met), ``"max_iter"``,
        ``"precision_limit"``, ``"step_underflow"`` (the line search shrank ``η`` below
        1e-30, or ``η`` is NaN), ``"non_finite"`` (``f`` or ``∇f`` overflowed: the last
        finite iterate is returned), ``"stalled"`` (``stall_stop``) or ``"stopped"``.
        Every loop is bounded: a
        non-finite value ends the run instead of looping.
    """
    if resume is not None:
        x, st_x, f_x, reg_x = resume.x, resume.state, resume.f, resume.reg
        v, st_v, t = resume.v, resume.state_v, resume.t
        best_dual, best_gap, stall = resume.dual, resume.best_gap, resume.stall
        eta = float(resume.step if step is None else step)
    else:
        x = np.array(x0, copy=True)
        st_x = smooth.forward(x) if state0 is None else state0
        f_x = smooth.value(st_x)
        reg_x = lam * (float(group_norms_columns(x).sum()) if penalty_value is None
                       else float(penalty_value(x)))
        v, st_v, t = x, st_x, 1.0
        best_dual, best_gap, stall = -np.inf, np.inf, 0
        eta = float(step)
    if prox is None:
        prox = _prox_columns
    dtype = x.dtype
    eps = float(np.finfo(dtype).eps)
    if precision_floor is None:
        precision_floor = 1e4 * eps
    # f is evaluated from products rounded in ``dtype``: the sufficient-decrease test
    # allows that much noise, else η collapses once the true decrease is below it. The
    # rounding of ℓ(Av) scales with |f| and with ⟨∇ℓ(Av), Av⟩ = ⟨∇f(v), v⟩.
    slack_rel = 16.0 * eps
    obj_at_best, it_at_best = f_x + reg_x, 0
    n_bt = n_rs = 0
    flat = 0
    status = "max_iter"
    gap = np.inf
    it = 0
    if not (math.isfinite(eta) and eta > 0.0) or not math.isfinite(f_x):
        # an overflowed norm estimate or objective: no iteration can be trusted
        status = "non_finite"
        max_iter = 0
    for it in range(1, max_iter + 1):
        f_v = f_x if v is x else smooth.value(st_v)
        G = smooth.gradient(st_v)
        # ⟨∇f(v), v⟩ is needed anyway; it is NaN/inf whenever G, v or f(v) is (0·inf =
        # NaN), so this one test guards the iteration against overflow for free
        slack = slack_rel * (abs(f_v) + abs(float(np.vdot(G, v))))
        if not math.isfinite(slack):
            status = "non_finite"
            it -= 1
            break
        while True:
            x_new = v - eta * G
            x_new, norms_new = prox(x_new, eta * lam)
            st_new = smooth.forward(x_new)
            f_new = smooth.value(st_new)
            s = x_new - v
            lin = float(np.vdot(G, s))
            ss = float(np.vdot(s, s))
            breg = smooth.bregman(st_new, st_v, f_new, f_v, lin)
            # a non-finite trial point (a step so long that f overflows) is rejected
            if math.isfinite(f_new) and breg <= ss / (2.0 * eta) + slack:
                break
            eta *= 0.8
            n_bt += 1
            flat = 0
            if not eta >= 1e-30:  # also ends a NaN step size
                status = "step_underflow"
                break
        if status == "step_underflow":
            break
        if monitor is not None:
            monitor({"v": v, "x": x_new, "G": G, "f_v": f_v, "f_x": f_new, "step": eta})
        # a step whose curvature is far below 1/η could have been longer. The curvature
        # seen along momentum steps varies: growing after one flat step and shrinking on
        # the next would cost a forward product per iteration, so grow only after
        # ``_GROW_AFTER`` flat steps in a row
        flat = flat + 1 if ss > 10.0 * eta * breg else 0
        eta_next = eta
        if flat >= _GROW_AFTER:
            eta_next, flat = 1.25 * eta, 0
        # restart when the momentum points against the last step
        if float(np.vdot(x_new - x, v - x_new)) > 0.0:
            t = 1.0
            v_next, st_v_next = x_new, st_new
            n_rs += 1
        else:
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_next
            t = t_next
            if beta == 0.0:
                v_next, st_v_next = x_new, st_new
            else:
                v_next = x_new + beta * (x_new - x)
                st_v_next = smooth.extrapolate(st_new, st_x, beta, v_next)
        at_check = it % check_every == 0 and it >= min_iter
        if at_check:
            # the gradient at v is already paid for: its dual point costs nothing
            best_dual = max(best_dual, smooth.dual_bound(G))
        x, st_x, f_x = x_new, st_new, f_new
        reg_x = lam * float(norms_new.sum())
        v, st_v = v_next, st_v_next
        eta = eta_next
        if at_check:
            obj = f_x + reg_x
            gap = obj - best_dual
            if on_check is not None:
                on_check(it, obj, gap, eta)
            if stop_check is not None and stop_check(norms_new, obj, gap):
                status = "stopped"
                break
            if gap <= gap_target:
                status = "converged"
                break
            if gap < 0.99 * best_gap:
                best_gap, stall, obj_at_best, it_at_best = gap, 0, obj, it
            else:
                stall += 1
                if stall >= patience and gap <= precision_floor * abs(obj):
                    status = "precision_limit"
                    break
                if stall_stop and stall >= patience:
                    # the objective's decrease since the gap last moved, extrapolated
                    # linearly over the remaining budget (optimistic: convex objectives
                    # decelerate) against the gap
                    rate = (obj_at_best - obj) / max(it - it_at_best, 1)
                    if rate * (max_iter - it) <= 0.1 * gap:
                        status = "stalled"
                        break
    return KernelResult(
        x=x,
        state=st_x,
        f=f_x,
        reg=reg_x,
        n_iter=it,
        status=status,
        step=eta,
        v=v,
        state_v=st_v,
        t=t,
        dual=best_dual,
        gap=gap,
        best_gap=best_gap,
        stall=stall,
        n_backtracks=n_bt,
        n_restarts=n_rs,
    )


# --------------------------------------------------------------------------------------
# the solver
# --------------------------------------------------------------------------------------


def _check_tol(tol, name="tol"):
    if isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a positive number; got {tol!r}.")
    tol = float(tol)
    if not (tol > 0 and np.isfinite(tol)):
        raise ValueError(f"{name} must be positive and finite; got {tol}.")
    return tol


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}.") from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64; got {dt}.")
    return dt


def _warm_start_columns(problem, warm_start, name="warm_start"):
    if warm_start is None:
        return np.zeros((problem.d, problem.c * problem.p))
    if hasattr(warm_start, "weights"):  # a Solution
        warm_start = warm_start.weights
    W = problem.check_weights(warm_start, name)
    return to_columns(W)


def newton_size_ok(n, m):
    """Whether Newton's explicit matrices fit: ``m`` variables per output, ``n`` rows."""
    return m <= _NEWTON_MAX_VARS and n * m <= _NEWTON_MAX_ENTRIES


def _newton_cg_possible(problem):
    """Newton-CG through the factors needs the dense ``X̃`` (the caller also needs the default penalty)."""
    return getattr(problem, "X_tilde_sparse", None) is None and isinstance(problem.X_tilde, np.ndarray)


def _newton_fits(problem, support, ws_columns):
    """Whether the explicit Newton on ``support`` is worth its price.

    Its cost, ``n·m²`` to form ``A_Sᵀ A_S`` plus about five factorisations ``m³/3``
    (``m`` = support variables of one output; for the logistic loss the Hessian is
    formed at every step), is compared with ``_NEWTON_ITERATIONS`` R-FISTA iterations
    on the working set, ``2·n·d̃·|W|`` flops plus a fixed overhead each.
    """
    n, d = problem.n, problem.d
    m = float(np.bincount(support // problem.p, minlength=problem.c).max() * d)
    if not newton_size_ok(n, m):
        return False
    steps = 5.0
    form = n * m * m * (steps if problem.loss == "logistic" else 1.0)
    cost = problem.c * (form + steps * m ** 3 / 3.0)
    return cost <= _NEWTON_ITERATIONS * (2.0 * n * d * ws_columns + _ITERATION_OVERHEAD)


def _newton_mode(problem, support, ws_columns, beyond):
    """``"explicit"`` when :func:`_newton_fits`; else, if ``beyond`` (Newton-CG allowed
    and attempts left), ``"explicit_large"`` when the explicit matrices fit in memory
    (:func:`newton_size_ok`) or ``"factored"`` (Newton-CG through the factors); else None.

    Past the cost model Newton is still worth it at small λ: it replaces the linearly
    converging tail (hundreds of iterations), not 100 of them.
    """
    if _newton_fits(problem, support, ws_columns):
        return "explicit"
    if not beyond:
        return None
    m = float(np.bincount(support // problem.p, minlength=problem.c).max() * problem.d)
    return "explicit_large" if newton_size_ok(problem.n, m) else "factored"


def _newton_step(prob, U64, support, explicit, tol, objective, max_iter=30):
    """Newton on ``support``: explicit (Cholesky, tight defaults) or Newton-CG through the factors.

    Newton-CG stops at a decrement ``0.01·tol·|P|`` and stationarity ``0.1·tol·λ``, which
    leave the certificate well below ``tol`` (each of its products costs an R-FISTA
    iteration), with at most ``_NEWTON_CG_PRODUCTS`` products.
    """
    if explicit:
        return newton_on_support(prob, U64, support, max_iter=max_iter,
                                 decrement_tol=_NEWTON_DECREMENT * tol * abs(objective),
                                 grad_tol=_NEWTON_GRAD * tol)
    return newton_on_support(
        prob, U64, support, operator="factored", max_products=_NEWTON_CG_PRODUCTS, max_iter=max_iter,
        decrement_tol=0.01 * tol * abs(objective), grad_tol=0.1 * tol,
    )


class SupportWatch:
    """Tells :func:`fista_kernel` to stop when its support has settled (for Newton).

    ``arm`` gives a ``stop_check`` that returns ``True`` at a check where the
    signature of the support (non-zero groups, mapped to global indices; by default
    the support itself) is that of the previous ``_NEWTON_SETTLED`` checks, the
    restricted gap is below ``_NEWTON_START`` relative, Newton was not run on this
    signature yet, and ``fits(support)`` accepts it. The support is then in
    ``self.support``. The state carries over from one kernel run to the next.
    """

    def __init__(self, signature=None):
        self.signature = signature if signature is not None else (lambda support: support.tobytes())
        self.previous = None
        self.repeats = 0
        self.tried = set()
        self.support = None

    def arm(self, fits, groups=None):
        """The ``stop_check`` of a kernel run whose columns are ``groups`` (``None``: all)."""

        def check(norms, obj, gap):
            support = np.flatnonzero(norms > 0)
            if groups is not None:
                support = groups[support]
            key = self.signature(support)
            if key == self.previous:
                self.repeats += 1
            else:
                self.previous, self.repeats = key, 0
            if (
                self.repeats < _NEWTON_SETTLED
                or gap > _NEWTON_START * abs(obj)
                or support.size == 0
                or key in self.tried
                or not fits(support)
            ):
                return False
            self.tried.add(key)
            self.support = support
            return True

        return check


def _column_prox(pen, layout):
    return lambda Z, t: pen.prox_columns(Z, t, layout)


def _column_value(pen, layout):
    return lambda Z: pen.value_columns(Z, layout)


def _generic_dual_fn(problem, pen, layout):
    """The kernel's dual bound for any penalty (DESIGN §10), from ``∇ℓ`` and the column gradient.

    All columns (``layout``): the certificate's family ``z = γ∇ℓ`` per output. A working
    set (``layout is None``, neuron-separable penalties): the restricted problem's
    columns as one block, one ``γ`` for all outputs (valid; the full certificate, not
    this estimate, decides convergence).
    """
    lam = problem.lam
    if lam <= 0:
        return lambda lgrad, G: -np.inf

    def dual(lgrad, G):
        G = np.asarray(G, dtype=np.float64)
        if layout is None:
            Gb = G[None]
        else:
            Gb = G.reshape(G.shape[0], problem.c, problem.p).transpose(1, 0, 2)
        if pen.homogeneous:
            M = pen.dual_norm(Gb)
            kind, data = "norm", (float(np.max(M)) if layout is None else M)
        else:
            prof = pen.conjugate_profile(-Gb, lam)
            # one block of all working-set columns: a single γ (its first entry)
            data = prof if layout is not None else (lambda g: np.reshape(prof(np.asarray(g)[:1]), 1))
            kind = "conj"
        return _best_gamma(problem, np.asarray(lgrad, dtype=np.float64), kind, data)[0]

    return dual


class _FullCertifier:
    """Certified gap of the full C-GReLU problem at column weights (float64)."""

    def __init__(self, problem):
        self.problem = problem
        self.X = getattr(problem, "operator_matrix", problem.X_tilde)
        self.full = ColumnOperator(self.X, problem.masks, problem.c)
        pen = getattr(problem, "penalty", DEFAULT_PENALTY)
        self.penalty = None if pen is DEFAULT_PENALTY else pen

    def __call__(self, U64, active):
        prob = self.problem
        groups = np.flatnonzero(active)
        if groups.size:
            pred = ColumnOperator(self.X, prob.masks, prob.c, groups).forward(
                np.ascontiguousarray(U64[:, groups])
            )
        else:
            pred = np.zeros_like(prob.Y)
        lgrad = prob.loss_grad(pred)
        G = self.full.adjoint(lgrad)
        if self.penalty is not None:
            # any penalty: the certificate's own dual (DESIGN §10); scores for the
            # working sets from the penalty (> λ: a zero column violates optimality)
            primal = prob.loss_value(pred) + prob.lam * self.penalty.value_columns(U64, (1, prob.c, prob.p))
            if prob.lam > 0:
                dual = _penalty_dual(prob, lgrad)[0]
            else:
                dual = -np.inf
            return primal, dual, self.penalty.column_scores(G)
        scores = group_norms_columns(G)
        primal = prob.loss_value(pred) + prob.lam * float(group_norms_columns(U64).sum())
        # the same dual points as certify(): the stopping decision and the returned
        # certificate agree (at small λ the scaled point is capped near 0 and the
        # null-space candidate is what certifies)
        M = scores.reshape(prob.c, prob.p).max(axis=1)
        dual = _scaled_dual_value(prob, lgrad, M)[0]
        if prob.lam > 0 and np.any(M > prob.lam):
            loss = prob.loss_value(pred)
            if dual < loss:
                found = null_space_dual(prob, lgrad, M)
                if found is not None and found[0] > dual:
                    dual = found[0]
        return primal, dual, scores


def solve_rfista(
    problem,
    *,
    tol=1e-6,
    max_iter=20_000,
    warm_start=None,
    dtype=None,
    check_every=10,
    working_set=True,
    ws_min=10,
    inner_ratio=0.3,
    newton=True,
    verbose=False,
    monitor=None,
):
    """Solve C-GReLU with R-FISTA to a certified relative duality gap ``tol``.

    Parameters
    ----------
    problem : GatedReLUProblem
    tol : float
        Stop when the certified gap ``P(U) − D(z)`` (DESIGN §4) is at most ``tol·|P(U)|``.
    max_iter : int
        Limit on the total number of proximal-gradient iterations (all working sets).
    warm_start : array of ``problem.weights_shape`` or Solution, optional
    dtype : None, float64, float32 or "mixed"
        Arithmetic of the iterations; ``None`` (default): ``problem.dtype``, float32 when
        the problem was built from a float32 ``X``, else float64, except ``"mixed"`` for
        float64 problems with ``n·d̃·c·p >= 1e7`` (there the GEMMs dominate). Certificates are always
        computed in float64 from the iterate, and they decide ``converged``. In float32 the attainable relative gap is limited by rounding
        (typically 1e-5 to 1e-7); the solver then stops with status
        ``"precision_limit"`` (``converged=False``, a :class:`SolverWarning`) instead
        of running to ``max_iter``. ``"mixed"`` iterates in float32 (GEMMs about twice
        as fast) until the certified gap reaches ``1e-4`` or stalls, then finishes in
        float64.
    check_every : int
        Iterations between two (free) gap estimates inside an R-FISTA run.
    working_set : bool
        Solve restricted problems on working sets of groups (default). ``False``: plain
        R-FISTA on all groups.
    ws_min : int
        Smallest working set.
    inner_ratio : float in (0, 1)
        A restricted problem is solved to a gap ``inner_ratio`` times the full gap.
    newton : bool
        Once the support is the same at three consecutive gap checks (and the gap is
        below 3e-2), minimise the objective restricted to that support by Newton's
        method (:mod:`convex_relu.newton`): explicitly when that costs less than about
        100 iterations; otherwise (at most three times per solve) explicitly up to 2000
        variables per output, beyond that by Newton-CG through the factors of ``A_S``
        (at most 300 Hessian products). If the support was right, the next
        certificate closes the gap; if not, R-FISTA continues from the better point.
    verbose : bool
        Print one line per certified check (outer iteration).
    monitor : callable, optional
        Passed to :func:`fista_kernel` (called after every accepted step).

    Returns
    -------
    Solution
        Built by :func:`convex_relu.solution.finalize`: ``converged`` / ``status ==
        "optimal"`` iff ``certify(problem, weights).relative_gap <= tol``; otherwise the
        status says why the run ended (``"max_iter"``, ``"precision_limit"`` — also when
        the absolute gap is at the rounding level of the dual, ``64·eps·ℓ(0)``, as for
        an optimum of ~0 at λ = 0 —, ``"stalled"`` — neither gap nor objective moved
        over 10 checks —, ``"step_underflow"``, ``"non_finite"`` — overflow, the last
        finite iterate is returned) and a warning gives the certified gap.
        ``history`` with ``iteration``, ``time``, ``objective``, ``gap`` (certified
        relative gap) and ``working_set_size`` at each certified check; ``info`` with
        the final step size, number of backtracks and restarts, and outer iterations.
    """
    if getattr(problem, "formulation", None) != "gated_relu":
        raise ValueError(
            "R-FISTA solves the gated program (GatedReLUProblem); for ReLUProblem use the "
            "augmented Lagrangian (method='al')."
        )
    tol = _check_tol(tol)
    max_iter = check_positive_int(max_iter, "max_iter")
    check_every = check_positive_int(check_every, "check_every")
    ws_min = check_positive_int(ws_min, "ws_min")
    if not (0.0 < float(inner_ratio) < 1.0):
        raise ValueError(f"inner_ratio must be in (0, 1); got {inner_ratio!r}.")
    if dtype is None and resolve_dtype(None, problem) == np.float64 and (
        problem.n * problem.d * problem.c * problem.p >= _AUTO_MIXED_SIZE
    ):
        # large float64 problems: the GEMMs dominate, and float32 halves them until the
        # support is found; the finish (and every certificate) is float64
        dtype = "mixed"
    mixed = isinstance(dtype, str) and dtype == "mixed"
    dt = np.dtype(np.float32) if mixed else resolve_dtype(dtype, problem)
    pen = getattr(problem, "penalty", DEFAULT_PENALTY)
    generic = pen is not DEFAULT_PENALTY
    if generic:
        # ask the penalty: working sets need groups that are whole columns, the support
        # Newton needs the neuron group's curvature
        working_set = working_set and pen.separable_over_neurons
        newton = newton and pen.newton_finish

    t_start = time.perf_counter()
    prob = problem
    c, p = prob.c, prob.p
    q = c * p
    lam = prob.lam
    # sparse input: the CSR matrix serves the products (operators module docstring)
    X_op = getattr(prob, "operator_matrix", prob.X_tilde)
    X_w = X_op.astype(dt, copy=False)
    M_w = prob.masks.astype(dt, copy=False)
    U = _warm_start_columns(prob, warm_start).astype(dt)
    certifier = _FullCertifier(prob)
    L_loss = loss_smoothness(prob)

    history = {"iteration": [], "time": [], "objective": [], "gap": [], "working_set_size": []}
    total_iter = 0
    step = None
    status = None
    n_bt = n_rs = 0
    n_outer = 0
    ws_size = 0
    cert = None
    prev_rel = np.inf
    no_progress = 0
    res = None  # the last kernel run, resumed while the working set is unchanged
    groups = old_groups = None
    watch = SupportWatch()
    n_newton = n_newton_cg = n_products = 0
    newton_cg = newton and not generic and _newton_cg_possible(prob)
    mode = [None]  # the Newton variant chosen when the support settled (_newton_mode)

    def settled(support, size):
        # the kernel stops for Newton when a variant is worth it on this support
        mode[0] = _newton_mode(prob, support, size, newton_cg and n_newton_cg < _NEWTON_CG_ATTEMPTS)
        return mode[0] is not None
    # the dual value has an absolute rounding error of about eps·ℓ(0) (ρᵀy − s‖ρ‖²/2
    # cancels): a gap below this floor cannot be resolved in float64
    gap_floor = _GAP_FLOOR_EPS * np.finfo(float).eps * abs(prob.loss_value(np.zeros_like(prob.Y)))
    while True:
        U64 = U.astype(np.float64)
        active = group_norms_columns(U64) > 0
        primal, dual, scores = certifier(U64, active)
        gap = primal - dual
        rel = gap / max(abs(primal), np.finfo(float).tiny)
        fresh = False
        if rel > tol and (lam == 0 or no_progress >= 2) and math.isfinite(primal):
            # a second opinion from the certificate itself: at λ = 0 (and possibly at
            # tiny λ) its dual point is better than the scaled gradient used above
            cert, fresh = certify(prob, from_columns(U64, c)), True
            dual = max(dual, cert.dual)
            gap = primal - dual
            rel = gap / max(abs(primal), np.finfo(float).tiny)
        history["iteration"].append(total_iter)
        history["time"].append(time.perf_counter() - t_start)
        history["objective"].append(primal)
        history["gap"].append(rel)
        history["working_set_size"].append(ws_size)
        if verbose:
            print(
                f"[rfista] iter {total_iter:6d}  objective {primal:.10e}  rel. gap {rel:.3e}  "
                f"step {step if step is not None else float('nan'):.3e}  working set {ws_size}/{q}"
            )
        if rel <= tol:
            if not fresh:
                cert = certify(prob, from_columns(U64, c))
            if cert.relative_gap <= tol:
                status = "optimal"
                break
            rel = cert.relative_gap
        if status is not None:  # decided at the previous inner solve
            break
        if not (math.isfinite(primal) and math.isfinite(dual)):
            status = "non_finite"
            break
        if total_iter >= max_iter:
            status = "max_iter"
            break
        if gap <= gap_floor:
            # optimum ~0 (interpolation, separable data at λ = 0): the absolute gap is at
            # the rounding level of the dual, so the relative gap cannot improve
            status = "precision_limit"
            break
        if rel < 0.9 * prev_rel:
            no_progress = 0
        else:
            no_progress += 1
            if no_progress >= 5 and rel <= 1e4 * np.finfo(dt).eps and not mixed:
                status = "precision_limit"
                break
            objs = history["objective"]
            if (
                no_progress >= _STALL_CHECKS
                and len(objs) > _STALL_CHECKS
                and objs[-1 - _STALL_CHECKS] - primal <= _STALL_DECREASE * tol * abs(primal)
            ):
                # neither the gap nor the objective moves: the dual bound, not the
                # iterate, limits the certificate; more iterations would be wasted
                status = "stalled"
                break
        prev_rel = min(prev_rel, rel)
        if mixed and dt == np.float32 and (
            rel <= _MIXED_SWITCH or no_progress >= 2 or (res is not None and res.status == "precision_limit")
        ):
            # float32 has done the cheap part; finish in float64 (new momentum)
            dt = np.dtype(np.float64)
            X_w, M_w = X_op, prob.masks
            U = U.astype(np.float64)
            res = None
            no_progress = 0

        # ---- choose the working set
        n_active = int(active.sum())
        if working_set:
            need = min(q, max(ws_min, int(_WS_GROWTH * n_active)))
            outside = np.ones(q, dtype=bool)
            if res is not None:
                outside[slice(None) if groups is None else groups] = False
            # keep the previous set (and the run's momentum) while it is large enough
            # and no group outside it violates its dual constraint
            keep = res is not None and need <= ws_size and not np.any(
                scores[outside] > lam * (1.0 + 1e-9)
            )
            if not keep:
                ws_size = max(need, ws_size)
                score = np.where(active, np.inf, scores)
                groups = None if ws_size >= q else np.sort(
                    np.argpartition(-score, ws_size - 1)[:ws_size]
                )
        else:
            keep = res is not None
            ws_size, groups = q, None
        resume = res if keep else None
        if not keep:
            op = ColumnOperator(X_w, M_w, c, groups)
            if generic:
                layout = (1, c, p) if groups is None else None
                smooth = GatedSmooth(prob, op, _generic_dual_fn(prob, pen, layout))
                kprox = _column_prox(pen, layout)
                kvalue = _column_value(pen, layout)
            else:
                smooth = GatedSmooth(prob, op)
                kprox = kvalue = None
            x0 = U if groups is None else np.ascontiguousarray(U[:, groups])
            if res is not None and _KEEP_MOMENTUM:
                # carry the momentum into the new working set: groups outside the old
                # set are zero in both the iterate and the extrapolated point
                V = np.zeros_like(U)
                V[:, slice(None) if old_groups is None else old_groups] = res.v
                v0 = V if groups is None else np.ascontiguousarray(V[:, groups])
                st_x0 = smooth.forward(x0)
                resume = KernelResult(
                    x=x0, state=st_x0, f=smooth.value(st_x0),
                    reg=lam * (float(group_norms_columns(x0).sum()) if kvalue is None
                               else float(kvalue(x0))), n_iter=0, status="",
                    step=res.step, v=v0, state_v=smooth.forward(v0), t=res.t,
                )
            if step is None:
                # later working sets start from the last accepted step: the line search
                # shrinks it if the larger set has more curvature, the growth rule
                # regrows it
                step = 1.0 / max(L_loss * op.norm_sq(), np.finfo(float).tiny)
        # once the working set holds the support and the dual point is feasible outside
        # it, the restricted gap is the full gap: aim a fixed fraction below the full gap
        target_rel = max(inner_ratio * rel, 0.1 * tol)
        res = fista_kernel(
            smooth,
            lam,
            None if resume is not None else x0,
            step=step,
            # at λ = 0 (and once progress stalls) the kernel's own dual bound is weaker
            # than the certificate's: run it in chunks so the certificate can stop it
            max_iter=max_iter - total_iter if lam > 0 and no_progress < 2 else min(
                max_iter - total_iter, _CHUNK_CHECKS * check_every),
            gap_target=target_rel * abs(primal),
            check_every=check_every,
            min_iter=check_every,
            resume=resume,
            monitor=monitor,
            prox=kprox,
            penalty_value=kvalue,
            # (in the float32 phase of "mixed" too: Newton then switches to float64)
            stop_check=None if not newton or (dt != np.float64 and not mixed) else watch.arm(
                functools.partial(settled, size=ws_size), groups),
        )
        old_groups = groups
        total_iter += res.n_iter
        n_bt += res.n_backtracks
        n_rs += res.n_restarts
        n_outer += 1
        step = res.step
        if groups is None:
            U = res.x
        else:
            U = np.zeros_like(U)
            U[:, groups] = res.x
        if res.status in ("step_underflow", "non_finite"):
            status = res.status
        elif res.status == "precision_limit" and ws_size == q and not (mixed and dt == np.float32):
            status = "precision_limit"
        if res.status == "stopped":
            # the support has settled: minimise on it by Newton
            if dt != np.float64:
                # "mixed": Newton ends the float32 phase; R-FISTA goes on in float64
                dt = np.dtype(np.float64)
                X_w, M_w = X_op, prob.masks
                no_progress = 0
            support = watch.support
            out = _newton_step(prob, U.astype(np.float64), support, mode[0] != "factored", tol,
                               history["objective"][-1])
            U = out.U.astype(dt)
            if mode[0] != "explicit":
                n_newton_cg += 1
                n_products += out.products
            n_newton += 1
            res = None  # a new point: the momentum of the last run no longer applies

    U64 = U.astype(np.float64)
    W = from_columns(U64, c)
    if cert is None or status != "optimal":
        cert = certify(prob, W)
    solve_time = time.perf_counter() - t_start
    hints = {
        "max_iter": "Increase max_iter or loosen tol.",
        "precision_limit": (
            f"The gap stopped decreasing at the rounding level of {dt.name}; use "
            "dtype=float64 or a looser tol." if dt != np.float64 else
            "The gap is at the rounding level of float64 (absolute gap "
            f"{cert.gap:.3e}); a looser tol is all that can be certified."
        ),
        "stalled": "Neither the gap nor the objective decreased over the last "
                   f"{_STALL_CHECKS} checks: the dual bound limits the certificate.",
        "non_finite": "The iterations overflowed: rescale X and y.",
        "step_underflow": "The line search could not find a descent step: rescale X and y.",
    }
    return finalize(
        prob,
        W,
        solver="rfista",
        status=status,
        tol=tol,
        certificate=cert,
        hint=hints.get(status, ""),
        n_iter=total_iter,
        solve_time=solve_time,
        history=history,
        info={
            "tol": tol,
            "dtype": "mixed" if mixed else dt.name,
            "step_size": step,
            "n_backtracks": n_bt,
            "n_restarts": n_rs,
            "outer_iterations": n_outer,
            "newton_solves": n_newton,
            "newton_cg_products": n_products,
            "working_set": bool(working_set),
            "n_active_groups": int((group_norms_columns(U64) > 0).sum()),
        },
    )
