"""Newton's method for the group lasso restricted to a fixed support.

Once a first-order method has found which groups are non-zero, the C-GReLU
objective restricted to those groups,

    φ(u) = ℓ(A_S u) + λ Σ_{g ∈ S} ‖u_g‖₂,      A_S = [D_i X̃]_{i ∈ S},  s = n·c,

is smooth around its minimiser (no group norm is zero there), with

    ∇φ(u)  = A_Sᵀ ∇ℓ(A_S u) + λ (u_g / ‖u_g‖)_g,
    ∇²φ(u) = A_Sᵀ diag(ℓ''(A_S u)) A_S + λ blockdiag((I − û_g û_gᵀ) / ‖u_g‖),

where ``û_g = u_g/‖u_g‖``, ``ℓ'' = 1/s`` (squared loss) or ``σ(1 − σ)/s`` with
``σ = expit(−y ŷ)`` (logistic loss). Damped Newton steps with an Armijo line search on
``φ`` converge quadratically there, where proximal gradient methods only converge
linearly with a rate set by the conditioning. Both losses are sums over outputs, so
each output is solved on its own.

``φ`` equals the full objective at any point whose groups outside ``S`` are zero,
so a Newton point never has a larger objective than its start. Whether the support
was the right one is for the caller to decide with the full certificate: if a group
outside ``S`` violates its dual constraint, or a group of ``S`` shrinks towards zero,
the point is not optimal and first-order iterations must continue.

The explicit matrix ``A_S`` (``n × |S|·d̃``) is formed, so the method is meant for
supports of at most a few thousand variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import expit

__all__ = ["NewtonResult", "newton_on_support", "solve_blocks", "support_matrix"]


@dataclass
class NewtonResult:
    """Outcome of :func:`newton_on_support`.

    ``U``: the column weights (``d̃ × q``), groups outside the support untouched (zero).
    ``status``: ``"converged"`` (Newton decrement below the target on every output),
    ``"max_iter"``, ``"line_search"`` (no decrease along the Newton direction: rounding
    level reached) or ``"support_shrunk"`` (every group of the support went to zero).
    Groups that leave the support on the way are zero in ``U``.
    """

    U: np.ndarray
    status: str
    n_iter: int
    objective_decrease: float


def support_matrix(X, masks, patterns):
    """``A_S = [D_i X̃]_{i ∈ S}``: ``n × (|S|·d̃)``, group-major (column ``g·d̃ + j``)."""
    n, d = X.shape
    return (masks[:, patterns, None] * X[:, None, :]).reshape(n, len(patterns) * d)


def _loss_parts(loss, pred, y, s, w=None):
    """``(ℓ, ∇ℓ, ℓ'')`` of one output's predictions (sums over the rows, scale ``1/s``).

    ``w``: the row weights ``ŵ`` (``(n,)``, mean 1) or None; each row's term is
    multiplied by ``ŵ_j`` (:mod:`convex_relu.losses`).
    """
    if loss == "squared":
        r = pred - y
        if w is None:
            return float(r @ r) / (2.0 * s), r / s, None
        wr = w * r
        return float(wr @ r) / (2.0 * s), wr / s, None
    z = -y * pred
    sig = expit(z)
    if w is None:
        return float(np.logaddexp(0.0, z).sum()) / s, -y * sig / s, sig * (1.0 - sig) / s
    return (float(w @ np.logaddexp(0.0, z)) / s, -w * y * sig / s,
            w * sig * (1.0 - sig) / s)


def _group_terms(u, d, lam):
    """Norms, ``λ û_g`` and the curvature blocks ``λ(I − û ûᵀ)/‖u‖`` of the groups of ``u``."""
    V = u.reshape(-1, d)
    norms = np.sqrt(np.einsum("gj,gj->g", V, V))
    unit = V / norms[:, None]
    blocks = (lam / norms)[:, None, None] * (np.eye(d)[None] - unit[:, :, None] * unit[:, None, :])
    return norms, lam * unit.ravel(), blocks


def _gram(A, weights=None):
    """``Aᵀ diag(weights) A`` (upper triangle only: a symmetric rank-k update)."""
    B = A if weights is None else A * np.sqrt(weights)[:, None]
    # syrk on the transposed (Fortran-ordered) view: no copy of A
    return scipy.linalg.blas.dsyrk(1.0, np.asarray(B.T, order="F"), trans=0, lower=0)


#: Above this many variables (one output) :func:`solve_blocks` solves its Newton systems
#: by preconditioned conjugate gradients instead of a Cholesky factorisation (the
#: ``m³/3`` factorisation and the ``n·m²`` Gram matrix dominate there).
CG_MIN_VARS = 1500


def _cg_direction(A, h, s, blocks, grad, d, w, ridge, rtol, max_cg):
    """Newton direction ``−H⁻¹∇φ`` by block-Jacobi-preconditioned CG (no ``m × m`` matrix).

    ``H v = Aᵀ(c ∘ (A v)) + blockdiag(B_g) v + ridge·v`` with ``c = ℓ''`` (``h``; the
    squared loss has ``ŵ/s`` or ``1/s``); the preconditioner is the exact inverse of
    each group's ``d × d`` diagonal block ``A_gᵀ diag(c) A_g + B_g`` (``n·m·d`` flops).
    Stops when ``‖H v + ∇φ‖ <= rtol·‖∇φ‖`` or after ``max_cg`` products (truncated
    CG from 0 always returns a descent direction).
    """
    n = A.shape[0]
    if h is None:
        cw = (np.ones(n) if w is None else np.asarray(w, dtype=float)) / s
    else:
        cw = h
    G = blocks.shape[0]
    Ab = A.reshape(n, G, d)
    At = Ab.transpose(1, 2, 0)  # (G, d, n): one batched GEMM for the diagonal blocks
    diag = np.matmul(At * cw[None, None, :], At.transpose(0, 2, 1)) + blocks
    diag += (ridge + 1e-14 * np.trace(diag, axis1=1, axis2=2)[:, None, None] / d) * np.eye(d)[None]
    try:
        P = np.linalg.inv(diag)
    except np.linalg.LinAlgError:
        P = np.broadcast_to(np.eye(d), diag.shape).copy()

    def hess(v):
        out = A.T @ (cw * (A @ v))
        out += np.matmul(blocks, v.reshape(G, d, 1)).ravel()
        return out + ridge * v

    def prec(r):
        return np.matmul(P, r.reshape(G, d, 1)).ravel()

    b = -grad
    x = np.zeros_like(b)
    r = b.copy()
    z = prec(r)
    q = z.copy()
    rz = float(r @ z)
    target = rtol * float(np.linalg.norm(b))
    for _ in range(max_cg):
        Hq = hess(q)
        qHq = float(q @ Hq)
        if not qHq > 0:
            break
        a = rz / qHq
        x += a * q
        r -= a * Hq
        if float(np.linalg.norm(r)) <= target:
            break
        z = prec(r)
        rz_new = float(r @ z)
        q = z + (rz_new / rz) * q
        rz = rz_new
    if not np.any(x):
        x = -prec(grad)  # the preconditioned gradient: still a descent direction
    return x


def solve_blocks(A, y, u, lam, loss, s, d, max_iter=30, decrement_tol=None, grad_tol=1e-9, w=None,
                 linear_solver="auto"):
    """Newton on one output; returns ``(u, status, iterations, decrease)``.

    ``A``: ``n × G·d`` (group-major blocks of ``d`` columns, zero columns allowed),
    ``y`` the output's targets, ``u`` the ``G·d`` start (no zero group). Stops when the
    Newton decrement ``−∇φᵀΔ`` is at most ``decrement_tol`` (default
    ``1e-14·(1 + |φ(u)|)``) and every ``‖∇_g φ‖ <= grad_tol·λ``. Never returns a point
    worse than ``u`` (``decrease >= 0``).

    The objective has a kink where a group is zero, which Newton's model does not see.
    A group that has shrunk a hundredfold is therefore examined: if zero is optimal
    for it given the others (``‖A_gᵀ∇ℓ‖ <= λ``) it is set to zero and leaves the support; if not, it is
    stuck in a wrong direction (the curvature ``λ/‖u_g‖`` across ``u_g`` forbids
    turning it), and it is re-seeded by a block proximal-gradient step from zero,
    ``u_g = −(‖v‖ − λ)/L_g · v/‖v‖`` with ``v = A_gᵀ∇ℓ`` and ``L_g = ℓ''_max ‖A_g‖²``.

    ``w``: row weights ``ŵ`` of the loss (``(n,)``) or None (unweighted).

    ``linear_solver``: ``"cholesky"`` (the Newton system factorised), ``"cg"``
    (Newton-CG, :func:`_cg_direction`: only products with ``A`` and ``Aᵀ``, forcing
    ``‖residual‖ <= min(0.1, √‖∇φ‖)·‖∇φ‖``) or ``"auto"`` (CG above
    :data:`CG_MIN_VARS` variables).
    """
    if linear_solver not in ("auto", "cholesky", "cg"):
        raise ValueError(f"linear_solver must be 'auto', 'cholesky' or 'cg'; got {linear_solver!r}.")
    use_cg = linear_solver == "cg" or (linear_solver == "auto" and u.size > CG_MIN_VARS)
    n_groups = u.size // d
    u_start = u
    U = u.reshape(n_groups, d).copy()
    alive = np.ones(n_groups, dtype=bool)
    reseeds = np.zeros(n_groups, dtype=int)
    gram = _gram(A, w) / s if loss == "squared" and not use_cg else None
    curvature = (1.0 if loss == "squared" else 0.25) / s * (1.0 if w is None else float(np.max(w)))
    offsets = np.arange(d)

    def columns(groups):
        return (groups[:, None] * d + offsets).ravel()

    def evaluate(u):
        f, r, h = _loss_parts(loss, A_alive @ u, y, s, w)
        V = u.reshape(-1, d)
        return f + lam * float(np.sqrt(np.einsum("gj,gj->g", V, V)).sum()), r, h

    def restrict():
        idx = np.flatnonzero(alive)
        return idx, A[:, columns(idx)], U[idx].ravel()

    idx, A_alive, u = restrict()
    F, r, h = evaluate(u)
    F0 = F
    if decrement_tol is None:
        decrement_tol = 1e-14 * (1.0 + abs(F0))
    grad_tol = grad_tol * lam
    reference = np.sqrt(np.einsum("gj,gj->g", U, U))
    status, it = "max_iter", 0
    for it in range(1, max_iter + 1):
        loss_grad = A_alive.T @ r
        norms, reg_grad, blocks = _group_terms(u, d, lam)
        grad = loss_grad + reg_grad
        m = u.size
        if use_cg:
            gnorm = float(np.linalg.norm(grad))
            step = _cg_direction(A_alive, h, s, blocks, grad, d, w, 0.0,
                                 min(0.1, np.sqrt(gnorm)), max_cg=max(50, min(500, m)))
        else:
            cols = columns(idx)
            H = gram[np.ix_(cols, cols)] if gram is not None else _gram(A_alive, h)
            for g in range(norms.size):
                H[g * d:(g + 1) * d, g * d:(g + 1) * d] += blocks[g]
            # A_S may be rank deficient (more variables than rows, duplicated columns): a
            # relative ridge keeps the factorisation defined without changing the descent
            ridge = 1e-12 * max(float(np.trace(H)) / m, np.finfo(float).tiny)
            while True:
                try:
                    factor = scipy.linalg.cho_factor(H + ridge * np.eye(m), lower=False,
                                                     check_finite=False)
                    break
                except np.linalg.LinAlgError:
                    ridge *= 100.0
            step = -scipy.linalg.cho_solve(factor, grad, check_finite=False)

        shrunk = norms <= 1e-2 * reference[idx]
        if shrunk.any():
            V, Lg = u.reshape(-1, d), loss_grad.reshape(-1, d)
            lg_norms = np.sqrt(np.einsum("gj,gj->g", Lg, Lg))
            drop = shrunk & ((lg_norms <= lam) | (reseeds[idx] >= 2))
            reseed = shrunk & ~drop
            U[idx] = V
            for j in np.flatnonzero(reseed):
                g = idx[j]
                block = A[:, g * d:(g + 1) * d]
                L_g = curvature * float(np.linalg.norm(block.T @ block, 2))
                U[g] = -(lg_norms[j] - lam) / (L_g * lg_norms[j]) * Lg[j]
                reference[g] = np.linalg.norm(U[g])
                reseeds[g] += 1
            U[idx[drop]] = 0.0
            alive[idx[drop]] = False
            if not alive.any():
                F = _loss_parts(loss, np.zeros(A.shape[0]), y, s, w)[0]
                status = "support_shrunk"
                break
            idx, A_alive, u = restrict()
            F, r, h = evaluate(u)
            continue

        slope = float(grad @ step)
        # the dual certificate is first-order in the gradient (‖(Aᵀz)_g‖ must be λ on
        # the support), the decrement only second-order: require both to be small
        stationary = np.sqrt(np.einsum("gj,gj->g", grad.reshape(-1, d), grad.reshape(-1, d)))
        if -slope <= decrement_tol and stationary.max() <= grad_tol:
            status = "converged"
            break
        if -slope <= 1e-6 * decrement_tol:
            status = "line_search"  # at the rounding level: no further decrease possible
            break
        t = 1.0
        while True:
            u_new = u + t * step
            F_new, r_new, h_new = evaluate(u_new)
            if F_new <= F + 0.25 * t * slope:
                break
            t *= 0.5
            if t < 1e-10:
                status = "line_search"
                break
        if status == "line_search":
            break
        u, r, h, F = u_new, r_new, h_new, F_new
    if not F <= F0:
        # dropping or re-seeding groups can cost more than the steps gained
        return u_start, status, it, 0.0
    if status != "support_shrunk":
        U[idx] = u.reshape(-1, d)
    return U.ravel(), status, it, F0 - F


def newton_on_support(problem, U, groups, *, max_iter=30, decrement_tol=None, grad_tol=1e-9):
    """Damped Newton on the C-GReLU objective restricted to ``groups``.

    Parameters
    ----------
    problem : GatedReLUProblem
    U : (d̃, c·p) array
        Column weights (column ``k·p + i``) whose non-zero groups are ``groups``.
    groups : 1-D int array
        The support: flat group indices ``k·p + i``; every such column of ``U`` must be
        non-zero.
    max_iter : int
        Newton steps per output.
    decrement_tol : float, optional
        Stop an output when the Newton decrement ``−∇φᵀΔ`` (twice the predicted
        decrease) is below this; default ``1e-14·(1 + |φ_k|)`` with ``φ_k`` the
        output's restricted objective at the start.
    grad_tol : float
        ... and every group's gradient ``‖∇_g φ‖`` is at most ``grad_tol·λ`` (the
        certificate's dual point is feasible to ``1 + grad_tol`` on the support).

    Returns
    -------
    NewtonResult
        The worst status over the outputs (``support_shrunk`` > ``line_search`` >
        ``max_iter`` > ``converged``).
    """
    prob = problem
    d, p, s, lam = prob.d, prob.p, prob.s, prob.lam
    groups = np.sort(np.asarray(groups, dtype=np.intp))
    U = np.array(U, dtype=np.float64, copy=True)
    rw = getattr(prob, "row_weights", None)
    w = None if rw is None else rw[:, 0]
    rank = {"converged": 0, "max_iter": 1, "line_search": 2, "support_shrunk": 3}
    worst, total_it, decrease = "converged", 0, 0.0
    for k in range(prob.c):
        cols = groups[(groups >= k * p) & (groups < (k + 1) * p)]
        if cols.size == 0:
            continue
        A = support_matrix(prob.X_tilde, prob.masks, cols - k * p)
        u0 = np.ascontiguousarray(U[:, cols].T).ravel()
        u, status, it, dec = solve_blocks(
            A, prob.Y[:, k], u0, lam, prob.loss, s, d, max_iter, decrement_tol, grad_tol, w=w
        )
        U[:, cols] = u.reshape(cols.size, d).T
        total_it = max(total_it, it)
        decrease += dec
        if rank[status] > rank[worst]:
            worst = status
    return NewtonResult(U=U, status=worst, n_iter=total_it, objective_decrease=decrease)

