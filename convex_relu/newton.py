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

Up to :data:`EXPLICIT_MAX_ENTRIES` entries the explicit matrix ``A_S``
(``n × |S|·d̃``) is formed (Cholesky of the Newton system, or CG above
:data:`CG_MIN_VARS` variables). Larger supports run Newton-CG with ``A_S`` applied
through its factors (:class:`FactoredSupport`: ``A_S u = rowsum(X̃ ∘ (M_S V))``, two
GEMMs per Hessian product, ``n·|S|`` memory), truncated at :data:`CG_MAX_ITER`
products per direction, block-Jacobi preconditioned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.special import expit

__all__ = ["NewtonResult", "newton_on_support", "solve_blocks", "support_matrix", "FactoredSupport",
           "DenseSupport"]


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
    products: int = 0


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


class DenseSupport:
    """An explicit support matrix ``A_S`` (``n × G·d``, group-major) for :func:`solve_blocks`."""

    explicit = True

    def __init__(self, A, d):
        self.A = A
        self.d = d
        self.n = A.shape[0]
        self.n_groups = A.shape[1] // d

    def matvec(self, u):
        return self.A @ u

    def rmatvec(self, r):
        return self.A.T @ r

    def restrict(self, idx):
        cols = (np.asarray(idx)[:, None] * self.d + np.arange(self.d)).ravel()
        return DenseSupport(self.A[:, cols], self.d)

    def block(self, g):
        return self.A[:, g * self.d:(g + 1) * self.d]

    cg_matvec = matvec
    cg_rmatvec = rmatvec

    def diag_blocks(self, cw):
        """``A_gᵀ diag(cw) A_g`` for every group: ``(G, d, d)``."""
        At = self.A.reshape(self.n, self.n_groups, self.d).transpose(1, 2, 0)
        return np.matmul(At * cw[None, None, :], At.transpose(0, 2, 1))


class FactoredSupport:
    """``A_S = [D_i X̃]_{i ∈ S}`` applied through its factors, never formed.

    ``A_S u = rowsum(X̃ ∘ (M_S V))`` and ``A_Sᵀ r = ((X̃ ∘ r)ᵀ M_S)ᵀ`` with ``V`` the
    ``G × d`` reshape of ``u`` and ``M_S`` the ``n × G`` masks: two GEMMs of
    ``2·n·d·G`` flops per product, the cost of one R-FISTA iteration on ``S``, and
    ``n·G`` memory instead of the ``n·G·d`` of the explicit matrix. The Hessian products
    of CG (:meth:`cg_matvec`, :meth:`cg_rmatvec`) run in ``cg_dtype`` (default float32,
    half the GEMM time): they only shape an inexact Newton direction, while gradients,
    objectives and the line search stay float64.
    """

    explicit = False

    #: Rows per chunk of the rowwise Kronecker products in :meth:`diag_blocks`.
    _CHUNK_ENTRIES = 4_000_000

    def __init__(self, X, masks, cg_dtype=np.float32):
        self.X = np.asarray(X, dtype=np.float64)
        self.masks = np.ascontiguousarray(masks, dtype=np.float64)
        self.n, self.d = self.X.shape
        self.n_groups = self.masks.shape[1]
        self.cg_dtype = np.dtype(cg_dtype)
        # the Hessian products of CG only shape a direction that the line search and
        # the float64 gradient check: single precision halves their GEMMs
        self._X_cg = self.X.astype(self.cg_dtype)
        self._M_cg = self.masks.astype(self.cg_dtype)

    def matvec(self, u):
        return np.einsum("nd,nd->n", self.X, self.masks @ u.reshape(self.n_groups, self.d))

    def rmatvec(self, r):
        return ((self.X * r[:, None]).T @ self.masks).T.ravel()

    def cg_matvec(self, u):
        """:meth:`matvec` in ``cg_dtype`` (for the Hessian products of CG), float64 out."""
        V = u.reshape(self.n_groups, self.d).astype(self.cg_dtype)
        return np.einsum("nd,nd->n", self._X_cg, self._M_cg @ V).astype(np.float64)

    def cg_rmatvec(self, r):
        """:meth:`rmatvec` in ``cg_dtype``, float64 out."""
        R = (self._X_cg * r.astype(self.cg_dtype)[:, None]).T @ self._M_cg
        return R.T.ravel().astype(np.float64)

    def restrict(self, idx):
        return FactoredSupport(self.X, self.masks[:, np.asarray(idx)], self.cg_dtype)

    def block(self, g):
        return self.X * self.masks[:, g:g + 1]

    def diag_blocks(self, cw):
        """``X̃ᵀ diag(cw ∘ m_g) X̃`` for every group by one GEMM ``(x_j ⊗ x_j)ᵀ (M ∘ cw)``.

        ``2·n·d²·G`` flops, in row chunks of bounded memory.
        """
        n, d, G = self.n, self.d, self.n_groups
        out = np.zeros((d * d, G))
        step = max(1, self._CHUNK_ENTRIES // (d * d))
        for lo in range(0, n, step):
            Xc = self.X[lo:lo + step]
            Z = (Xc[:, :, None] * Xc[:, None, :]).reshape(Xc.shape[0], d * d)
            out += Z.T @ (self.masks[lo:lo + step] * cw[lo:lo + step, None])
        return np.ascontiguousarray(out.reshape(d, d, G).transpose(2, 0, 1))


#: Above this many variables (one output) :func:`solve_blocks` solves its Newton systems
#: by preconditioned conjugate gradients instead of a Cholesky factorisation (the
#: ``m³/3`` factorisation and the ``n·m²`` Gram matrix dominate there).
CG_MIN_VARS = 1500
#: Products per Newton-CG direction (truncated Newton: with more variables than rows
#: the face Hessian is singular and CG stalls; the line search absorbs a rough step).
CG_MAX_ITER = 40


def _cg_direction(A, h, s, blocks, grad, d, w, ridge, rtol, max_cg, base=None):
    """Newton direction ``−H⁻¹∇φ`` by block-Jacobi-preconditioned CG (no ``m × m`` matrix).

    ``H v = Aᵀ(c ∘ (A v)) + blockdiag(B_g) v + ridge·v`` with ``c = ℓ''`` (``h``; the
    squared loss has ``ŵ/s`` or ``1/s``); the preconditioner is the exact inverse of
    each group's ``d × d`` diagonal block ``A_gᵀ diag(c) A_g + B_g`` (``n·m·d`` flops;
    ``base``: precomputed ``A_gᵀ diag(c) A_g``, reused across Newton steps).
    ``A``: a :class:`DenseSupport`, :class:`FactoredSupport` or an explicit matrix.
    Stops when ``‖H v + ∇φ‖ <= rtol·‖∇φ‖`` or after ``max_cg`` products (truncated
    CG from 0 always returns a descent direction). Returns ``(direction, products)``.
    """
    if isinstance(A, np.ndarray):
        A = DenseSupport(A, d)
    n = A.n
    if h is None:
        cw = (np.ones(n) if w is None else np.asarray(w, dtype=float)) / s
    else:
        cw = h
    G = blocks.shape[0]
    diag = (A.diag_blocks(cw) if base is None else base) + blocks
    diag += (ridge + 1e-14 * np.trace(diag, axis1=1, axis2=2)[:, None, None] / d) * np.eye(d)[None]
    try:
        P = np.linalg.inv(diag)
    except np.linalg.LinAlgError:
        P = np.broadcast_to(np.eye(d), diag.shape).copy()

    def hess(v):
        out = A.cg_rmatvec(cw * A.cg_matvec(v))
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
    products = 0
    for _ in range(max_cg):
        Hq = hess(q)
        products += 1
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
    return x, products


def solve_blocks(A, y, u, lam, loss, s, d, max_iter=30, decrement_tol=None, grad_tol=1e-9, w=None,
                 linear_solver="auto", max_products=None, stats=None):
    """Newton on one output; returns ``(u, status, iterations, decrease)``.

    ``A``: ``n × G·d`` (group-major blocks of ``d`` columns, zero columns allowed) as
    an explicit array, or a :class:`FactoredSupport` (products through the factors;
    always Newton-CG). ``y`` the output's targets, ``u`` the ``G·d`` start (no zero
    group). Stops when the
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
    ``‖residual‖ <= min(0.1, √‖∇φ‖)·‖∇φ‖``, at most :data:`CG_MAX_ITER` products per
    direction) or ``"auto"`` (CG above :data:`CG_MIN_VARS` variables).
    ``max_products``: stop (status ``"max_iter"``) once the CG directions have used
    this many Hessian products. ``stats``: a dict that receives ``products``.
    """
    if linear_solver not in ("auto", "cholesky", "cg"):
        raise ValueError(f"linear_solver must be 'auto', 'cholesky' or 'cg'; got {linear_solver!r}.")
    op = A if not isinstance(A, np.ndarray) else DenseSupport(A, d)
    use_cg = (linear_solver == "cg" or not op.explicit
              or (linear_solver == "auto" and u.size > CG_MIN_VARS))
    n_groups = u.size // d
    u_start = u
    U = u.reshape(n_groups, d).copy()
    alive = np.ones(n_groups, dtype=bool)
    reseeds = np.zeros(n_groups, dtype=int)
    gram = _gram(op.A, w) / s if loss == "squared" and not use_cg else None
    curvature = (1.0 if loss == "squared" else 0.25) / s * (1.0 if w is None else float(np.max(w)))
    # the factored operator's preconditioner blocks cost 2·n·d²·G: form them once (for
    # the logistic loss at the start's curvature; a stale preconditioner is still exact
    # CG, only slower)
    base_all = None
    products = 0

    def columns(groups):
        return (groups[:, None] * d + np.arange(d)).ravel()

    def evaluate(u):
        f, r, h = _loss_parts(loss, op_alive.matvec(u), y, s, w)
        V = u.reshape(-1, d)
        return f + lam * float(np.sqrt(np.einsum("gj,gj->g", V, V)).sum()), r, h

    def restrict():
        idx = np.flatnonzero(alive)
        sub = op if idx.size == n_groups else op.restrict(idx)
        return idx, sub, U[idx].ravel()

    idx, op_alive, u = restrict()
    F, r, h = evaluate(u)
    F0 = F
    if decrement_tol is None:
        decrement_tol = 1e-14 * (1.0 + abs(F0))
    grad_tol = grad_tol * lam
    reference = np.sqrt(np.einsum("gj,gj->g", U, U))
    status, it = "max_iter", 0
    for it in range(1, max_iter + 1):
        loss_grad = op_alive.rmatvec(r)
        norms, reg_grad, blocks = _group_terms(u, d, lam)
        grad = loss_grad + reg_grad
        m = u.size
        if use_cg:
            base = None
            if not op.explicit:
                if base_all is None:
                    cw0 = h if h is not None else (np.ones(op.n) if w is None else np.asarray(w, float)) / s
                    base_all = op.diag_blocks(cw0)
                base = base_all[idx]
            gnorm = float(np.linalg.norm(grad))
            step, used = _cg_direction(op_alive, h, s, blocks, grad, d, w, 0.0,
                                       min(0.1, np.sqrt(gnorm)), max_cg=CG_MAX_ITER, base=base)
            products += used
        else:
            cols = columns(idx)
            H = gram[np.ix_(cols, cols)] if gram is not None else _gram(op_alive.A, h)
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
                block = op.block(g)
                L_g = curvature * float(np.linalg.norm(block.T @ block, 2))
                U[g] = -(lg_norms[j] - lam) / (L_g * lg_norms[j]) * Lg[j]
                reference[g] = np.linalg.norm(U[g])
                reseeds[g] += 1
            U[idx[drop]] = 0.0
            alive[idx[drop]] = False
            if not alive.any():
                F = _loss_parts(loss, np.zeros(op.n), y, s, w)[0]
                status = "support_shrunk"
                break
            idx, op_alive, u = restrict()
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
        if max_products is not None and products >= max_products:
            status = "max_iter"
            break
    if stats is not None:
        stats["products"] = stats.get("products", 0) + products
    if not F <= F0:
        # dropping or re-seeding groups can cost more than the steps gained
        return u_start, status, it, 0.0
    if status != "support_shrunk":
        U[idx] = u.reshape(-1, d)
    return U.ravel(), status, it, F0 - F


#: :func:`newton_on_support` forms ``A_S`` explicitly up to this many entries per output
#: (``n·|S|·d̃``); above, it applies ``A_S`` through its factors (:class:`FactoredSupport`).
EXPLICIT_MAX_ENTRIES = 1e7


def newton_on_support(problem, U, groups, *, max_iter=30, decrement_tol=None, grad_tol=1e-9,
                      operator="auto", max_products=None):
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
    operator : {"auto", "explicit", "factored"}
        ``"explicit"`` forms ``A_S`` (Cholesky, or CG above :data:`CG_MIN_VARS`
        variables); ``"factored"`` runs Newton-CG with products through ``X̃`` and the
        masks (:class:`FactoredSupport`: ``n·|S|`` memory, each product costs one
        R-FISTA iteration on the support); ``"auto"``: explicit up to
        :data:`EXPLICIT_MAX_ENTRIES` entries (and always for sparse ``X̃``).
    max_products : int, optional
        Budget of Hessian products of the CG directions, per output.

    Returns
    -------
    NewtonResult
        The worst status over the outputs (``support_shrunk`` > ``line_search`` >
        ``max_iter`` > ``converged``); ``products`` the Hessian products used.
    """
    if operator not in ("auto", "explicit", "factored"):
        raise ValueError(f"operator must be 'auto', 'explicit' or 'factored'; got {operator!r}.")
    prob = problem
    d, p, s, lam = prob.d, prob.p, prob.s, prob.lam
    groups = np.sort(np.asarray(groups, dtype=np.intp))
    U = np.array(U, dtype=np.float64, copy=True)
    rw = getattr(prob, "row_weights", None)
    w = None if rw is None else rw[:, 0]
    Xt = prob.X_tilde
    dense = isinstance(Xt, np.ndarray)
    rank = {"converged": 0, "max_iter": 1, "line_search": 2, "support_shrunk": 3}
    worst, total_it, decrease = "converged", 0, 0.0
    stats = {"products": 0}
    for k in range(prob.c):
        cols = groups[(groups >= k * p) & (groups < (k + 1) * p)]
        if cols.size == 0:
            continue
        factored = dense and (operator == "factored" or (
            operator == "auto" and prob.n * cols.size * d > EXPLICIT_MAX_ENTRIES))
        if factored:
            A = FactoredSupport(Xt, prob.masks[:, cols - k * p])
        else:
            A = support_matrix(Xt, prob.masks, cols - k * p)
        u0 = np.ascontiguousarray(U[:, cols].T).ravel()
        u, status, it, dec = solve_blocks(
            A, prob.Y[:, k], u0, lam, prob.loss, s, d, max_iter, decrement_tol, grad_tol, w=w,
            max_products=max_products, stats=stats,
        )
        U[:, cols] = u.reshape(cols.size, d).T
        total_it = max(total_it, it)
        decrease += dec
        if rank[status] > rank[worst]:
            worst = status
    return NewtonResult(U=U, status=worst, n_iter=total_it, objective_decrease=decrease,
                        products=stats["products"])
