"""Augmented Lagrangian method for C-ReLU (DESIGN §5), finished by a face solve.

C-ReLU is the group lasso of C-GReLU with each group split as ``v_i − w_i`` and the
cone constraints ``Ã_iv_i >= 0``, ``Ã_iw_i >= 0`` (``Ã_i = (2D_i − I)X̃``). With
multipliers ``γ, ξ >= 0`` (one per row, output and pattern: arrays ``(n, c, p)``)
and a penalty ``δ > 0`` the augmented Lagrangian is

    L_δ(v, w) = ℓ(Σ_i D_iX̃(v_i − w_i)) + λ Σ (‖v_i‖ + ‖w_i‖)
                + (δ/2) Σ_i [‖(γ_i/δ − Ã_iv_i)₊‖² + ‖(ξ_i/δ − Ã_iw_i)₊‖²].

Its smooth part needs the products ``X̃v_i``, ``X̃w_i`` for all groups (one GEMM
``X̃·[V W]``), and its gradient one GEMM ``X̃ᵀ·B`` — the shapes of an R-FISTA
iteration on ``2cp`` groups. The method alternates

1. a warm-started R-FISTA run on ``min L_δ`` (:func:`convex_relu.fista.fista_kernel`;
   momentum kept across multiplier updates), stopped on the duality gap of that
   subproblem (see :class:`ALSmooth`) or after ``max_inner`` iterations;
2. textbook multiplier steps ``γ ← (γ − δÃv)₊``, ``ξ ← (ξ − δÃw)₊``. (Not scnn's
   variant, which clips so that multipliers never decrease.)

Penalty window (DESIGN): before the first multiplier step ``δ`` (default ``1000/s``)
is doubled while the squared violation after a solve,
``V = Σ‖(−Ãv)₊‖² / mean(Y²)`` (the plain sum of squares for standardised targets),
exceeds ``window[1]`` and halved while it is below ``window[0]``; then it stays fixed.

Identify, then solve (the fast finish). A multiplier method converges only linearly
and its subproblems are ill-conditioned, so reaching ``1e-6`` that way takes tens of
thousands of iterations. But C-ReLU optima have few active groups, each on a low-
dimensional face of its cone (typically ``d̃ − 1`` tight rows: a ray), and the AL
identifies both early. After ``polish_after`` multiplier updates the method runs
R-FISTA on the AL's nonzero groups with the *exact* proximal map of
``λ‖·‖ + ι_{K_i}`` — the group shrinkage of the projection onto ``K_i``
(:class:`_ConeProx`: Lawson–Hanson NNLS in lock-step over the groups, warm-started
from the multipliers' tight rows and then from the previous iteration) — which is
as fast as C-GReLU and returns exactly feasible weights. Once the support and the
tight rows stop changing, Newton's method on those faces (each group restricted to
the null space of its tight rows, where the program is an unconstrained group lasso:
:func:`_face_newton`) replaces the slow tail of that run. :func:`certify` judges the
result on the full problem; if a group was missed the AL continues and the face
solve is retried once the violation has fallen by 3×.

Stopping rule. The constraint violation is measured relative to the scale of the
weights,

    violation = max_{j,k,i} (−(Ã_i v_{k,i})_j)₊ / (max_j ‖x̃_j‖ · max_g ‖W_g‖)

(over ``v`` and ``w``; ``max_j ‖x̃_j‖·‖W_g‖`` bounds ``|x̃_jᵀW_g|``, so this is the
violation as a fraction of the largest possible slack; 0 for ``W = 0``). The method
stops when ``violation <= constraint_tol`` and the certificate
:func:`convex_relu.certificates.certify` — which repairs slightly infeasible weights
without changing their predictions and bounds ``p*`` from below with the optimal
multipliers — reports a relative gap ``<= tol``. During the AL a cheap lower bound
from the current multipliers (one adjoint GEMM, :func:`_lagrangian_dual`) decides
when calling ``certify`` is worth it.

Penalties. The face solve above needs a closed-form prox of ``λR + ι_K``: radial,
neuron-separable penalties (neuron group, ``l2``, group elastic net) have one. Every
other penalty (``l1``, ``feature_group``, a user's class) gets the *plain* variant,
chosen from the penalty's flags (:func:`convex_relu.al_penalized.al_variant`): the same
AL subproblems with only the penalty's own prox, then a Davis–Yin splitting finish
(:func:`convex_relu.al_penalized.split_finish`) started from the AL's iterate and
multipliers, certified with the splitting's cone multipliers.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from . import losses
from ._validation import check_positive_int
from .al_penalized import al_variant, block_conjugate, ray_dual, split_finish
from .al_penalized import weights_from_columns as _weights_from_columns
from .certificates import certify
from .cones import project_columns
from .fista import (
    KernelResult,
    SupportWatch,
    _bregman,
    _check_tol,
    _quick_dual,
    fista_kernel,
    group_norms_columns,
    loss_smoothness,
    resolve_dtype,
)
from .newton import solve_blocks
from .operators import ColumnOperator, operator_norm_sq
from .solution import finalize, meets_request, relative_violation

__all__ = ["solve_al", "ALSmooth"]

#: "stalled": this many multiplier updates in a row without a 10 % smaller cheap gap or
#: relative violation end the method (an AL that converges improves one of them every
#: few updates).
_AL_STALL_UPDATES = 20
#: "stalled": this many face solves in a row that converged on their faces (gap and
#: objective no longer moving) without a better objective or a closed certified gap.
_FACE_STALLS = 2
#: Plain variant (no face solve, :mod:`convex_relu.al_penalized`): after a multiplier
#: update whose relative violation is above this fraction of the previous one, ``δ``
#: is doubled (the classical penalty increase of Conn, Gould and Toint), at most
#: ``_PLAIN_DELTA_GROWTH`` times the starting ``δ``. Without a face solve to finish,
#: a fixed ``δ`` with inexact subproblems stalls at violations ~1e-5.
_PLAIN_VIOL_DECREASE = 0.5
_PLAIN_DELTA_GROWTH = 16.0
#: Plain variant: R-FISTA iterations per subproblem at most (``max_inner`` default 70 is
#: the face variant's, whose face solve does the accurate work).
_PLAIN_MAX_INNER = 200


class ALSmooth:
    """Smooth part of the augmented Lagrangian on ``x = [V | W]`` (``d̃ × 2cp``).

    Column ``b·cp + k·p + i`` of ``x`` is block ``b`` (0: ``v``, 1: ``w``), output
    ``k``, pattern ``i``. The state of a point is ``(pred, P)``: the predictions
    ``(n, c)`` and the penalty residual ``P = (Λ/δ − S∘X̃x)₊`` (``n × 2cp``), both
    from one GEMM ``X̃x``; value and gradient (one GEMM ``X̃ᵀB``) reuse them. The
    extrapolated point is re-evaluated (the penalty is not linear; for small ``d̃``
    the GEMM is cheaper than combining ``n × 2cp`` arrays).

    Subproblem dual. Writing the smooth part as ``h(Bx)`` with ``Bx = (Ŷ, Ãx)`` and
    ``h = ℓ(Ŷ) + (δ/2)‖(Λ/δ − a)₊‖²`` (``Λ`` the multipliers), Fenchel duality gives
    for the gradient point ``θ = (∇ℓ, −δ P)``, ``P = (Λ/δ − Ãx)₊``, scaled by
    ``τ ∈ [0, λ / max_g ‖(Bᵀθ)_g‖]``,

        D(τ) = −ℓ*(τ∇ℓ) + τ⟨P, Λ⟩ − τ² δ ‖P‖² / 2   <=   min L_δ,

    and ``Bᵀθ`` is exactly the gradient, so the bound costs nothing extra.
    """

    linear = False

    def __init__(self, problem, X, masks, signs, multipliers, delta):
        self.problem = problem
        self.loss = problem.loss
        self.Y = problem.Y
        self.w = getattr(problem, "row_weights", None)
        self.lam = problem.lam
        self.X = X
        # sparse X̃ (CSR): predictions from the slacks X̃x already computed (nnz·2cp)
        self.sparse = sp.issparse(X)
        self.c = c = problem.c
        self.p = p = problem.p
        self.n = n = X.shape[0]
        self.delta = float(delta)
        self.M = masks  # (n, p)
        # signs and multipliers laid out like the columns [V | W] (n × 2cp)
        self.S2 = np.tile(signs, (1, 2 * c))
        self.Lam = multipliers.reshape(n, 2 * c * p)
        self.LamD = self.Lam / self.delta
        self._last = None

    def forward(self, x):
        n, c, p = self.n, self.c, self.p
        Z = np.asarray(self.X @ x)  # (n, 2cp)
        pred = np.empty((n, c), dtype=Z.dtype)
        if self.sparse:
            # rowsum(M ∘ (X̃V_k − X̃W_k)) from Z: the dense n × d̃ route is what sparse avoids
            for k in range(c):
                D = Z[:, k * p:(k + 1) * p] - Z[:, (c + k) * p:(c + k + 1) * p]
                pred[:, k] = np.einsum("np,np->n", D, self.M)
        else:
            # predictions as rowsum(X̃ ∘ (M (V_k − W_k)ᵀ)): a small GEMM instead of passes
            # over n × cp arrays
            for k in range(c):
                D = x[:, k * p:(k + 1) * p] - x[:, (c + k) * p:(c + k + 1) * p]
                pred[:, k] = np.einsum("nd,nd->n", self.X, self.M @ D.T)
        # penalty residual P = (Λ/δ − S∘Z)₊, kept with the state for value and gradient
        np.multiply(Z, self.S2, out=Z)
        np.subtract(self.LamD, Z, out=Z)
        np.maximum(Z, 0.0, out=Z)
        return (pred, Z)

    def value(self, state):
        pred, P = state
        return losses.loss_value(self.loss, pred, self.Y, self.w) + 0.5 * self.delta * float(np.vdot(P, P))

    def bregman(self, st_new, st_v, f_new, f_v, lin):
        return f_new - f_v - lin

    def gradient(self, state):
        pred, P = state
        c, p = self.c, self.p
        g = losses.loss_grad(self.loss, pred, self.Y, self.w).astype(self.X.dtype, copy=False)
        B = P * self.S2
        B *= -self.delta
        for k in range(c):
            Mg = self.M * g[:, k : k + 1]
            B[:, k * p:(k + 1) * p] += Mg
            B[:, (c + k) * p:(c + k + 1) * p] -= Mg
        G = np.asarray(self.X.T @ B)
        self._last = (g, P)
        return G

    def extrapolate(self, st_new, st_old, beta, x_v):
        # the penalty is not linear in x: recompute (a GEMM is cheaper than combining
        # the n × 2cp products for small d̃)
        return self.forward(x_v)

    def dual_bound(self, G):
        g, P = self._last
        g = np.asarray(g, dtype=np.float64)
        pen = _generic_pen(self.problem)
        if pen is not None and al_variant(pen) == "plain":
            cap, conj = block_conjugate(pen, self.lam, G, self.c, self.p)
            return ray_dual(self.problem, g, cap, conj, float(np.vdot(P, self.Lam)),
                            float(np.vdot(P, P)), self.delta)
        if pen is not None:
            return _radial_dual(self.problem, pen, g, group_norms_columns(np.asarray(G, float)),
                                float(np.vdot(P, self.Lam)), float(np.vdot(P, P)), self.delta)
        max_norm = float(group_norms_columns(G).max()) if G.size else 0.0
        cap = np.inf if max_norm == 0.0 else self.lam / max_norm
        pl = float(np.vdot(P, self.Lam))
        pp = float(np.vdot(P, P))
        if self.loss == "squared":
            s = self.Y.size
            a = pl - float(np.vdot(g, self.Y))
            b = s * losses.weighted_sumsq(g, self.w) + self.delta * pp
            tau = 0.0 if b <= 0 else min(max(a / b, 0.0), cap)
        else:
            tau = min(1.0, cap)
        conj = losses.loss_conjugate(self.loss, tau * g, self.Y, self.w)
        return -conj + tau * pl - 0.5 * tau * tau * self.delta * pp


def _generic_pen(problem):
    """The problem's penalty when it is not the default neuron group (else ``None``)."""
    from .penalties import DEFAULT_PENALTY

    pen = getattr(problem, "penalty", DEFAULT_PENALTY)
    return None if pen is DEFAULT_PENALTY else pen


def _radial_dual(problem, pen, g, norms, pl=0.0, pp=0.0, delta=0.0):
    """``max_τ −ℓ*(τg) + τ⟨P, Λ⟩ − τ²δ‖P‖²/2 − Σ_g (λφ)*(τ r_g)`` over one ``τ >= 0``.

    The AL bounds of :class:`ALSmooth` and :func:`_lagrangian_dual` for a radial
    penalty ``R = Σ_g φ(‖u_g‖)`` (``r`` the group norms of the Lagrangian gradient);
    valid for any ``τ`` (weak duality), the search only tightens it
    (:func:`convex_relu.al_penalized.ray_dual` with the radial conjugate as its term).
    """
    lam = problem.lam
    if lam <= 0:
        return -np.inf
    r = np.asarray(norms, dtype=np.float64)
    return ray_dual(problem, g, np.inf, conj=lambda t: float(np.sum(pen.radial_conjugate(t * r, lam))),
                    pl=pl, pp=pp, delta=delta)


def _lagrangian_dual(problem, pred, Lam, X, masks, signs):
    """Lower bound on the C-ReLU optimum from predictions and multipliers ``Λ >= 0``.

    For ``z = τ∇ℓ(Ŷ)`` and multipliers ``τΛ`` the Lagrangian dual is ``−ℓ*(z)``
    provided ``‖X̃ᵀ(D_i z_k − S_i∘γ_{k,i})‖ <= λ`` and ``‖X̃ᵀ(D_i z_k + S_i∘ξ_{k,i})‖ <= λ``
    for every group (weak duality with the cone constraints). One adjoint GEMM.
    """
    n, c, p = problem.n, problem.c, problem.p
    g = problem.loss_grad(pred)
    Mg = g[:, :, None] * masks[:, None, :]
    B = np.empty((n, 2, c, p))
    B[:, 0] = Mg - signs[:, None, :] * Lam[:, 0]
    B[:, 1] = Mg + signs[:, None, :] * Lam[:, 1]
    G = np.asarray(X.T @ B.reshape(n, -1))
    pen = _generic_pen(problem)
    if pen is not None and al_variant(pen) == "plain":
        cap, conj = block_conjugate(pen, problem.lam, G, c, p)
        return ray_dual(problem, g, cap, conj)
    if pen is not None:
        return _radial_dual(problem, pen, g, group_norms_columns(G))
    max_norm = float(group_norms_columns(G).max())
    cap = np.inf if max_norm == 0.0 else problem.lam / max_norm
    if problem.loss == "squared":
        rr = problem.conjugate_curvature(g)
        ry = -float(np.vdot(g, problem.Y))
        tau = 0.0 if rr == 0 else min(max(ry / (problem.s * rr), 0.0), cap)
    else:
        tau = min(1.0, cap)
    return -problem.loss_conjugate(tau * g)


def _columns_from_weights(W):
    two, c, d, p = W.shape
    return np.ascontiguousarray(W.transpose(2, 0, 1, 3).reshape(d, 2 * c * p))


def _select_rows(A, priority, max_rank, tol=1e-10):
    """Rows of ``A`` by decreasing ``priority``, skipping dependent ones, up to ``max_rank``.

    Gram–Schmidt in priority order, done by one QR factorisation of the ordered rows:
    row ``k`` adds a new direction iff ``|R_kk|`` is not negligible. A guess with too
    many rows thus still leaves a face of dimension >= 1 (``max_rank = d̃ − 1``).
    """
    order = np.argsort(-priority, kind="stable")
    B = A[order]
    R = np.linalg.qr(B.T, mode="r")
    diag = np.abs(np.diagonal(R))
    norms = np.maximum(np.linalg.norm(B, axis=1)[: diag.size], 1e-300)
    new = np.flatnonzero(diag > tol * norms)
    return order[new[:max_rank]]


class _ConeProx:
    """``prox`` of ``t‖u‖ + ι_{K_j}(u)`` for every column: ``shrink_t(Π_{K_j}(z))``.

    For a closed convex cone ``K`` the proximal map of ``t‖·‖₂ + ι_K`` is the group
    shrinkage of the projection (the shrinkage keeps points of a cone inside it).
    ``Π_{K_j}(z) = z + Ã_Pᵀα`` solves the NNLS ``min_{α>=0} ‖z + Ã_jᵀα‖``; it is run
    by Lawson–Hanson for all columns in lock-step, warm-started from the passive
    set ``P`` of the previous call (R-FISTA moves little between iterations, so one
    round usually settles it). Each column keeps its passive rows padded to ``d̃``
    with the inverse of their Gram matrix, refreshed only when ``P`` changes, so a
    round costs two batched ``d̃ × d̃`` products and one GEMM for the row test.
    Columns not settled within ``max_rounds`` are projected exactly by
    :func:`convex_relu.cones.project_columns`.

    After a call, ``self.shift`` holds ``Π(z) − z = Ã_Pᵀα`` for the dual bound.
    """

    def __init__(self, Xt, masks_bool, signs_cols, pat, tight, *, max_rounds=60, penalty=None):
        # penalty: a radial penalty other than the neuron group (its shrink factor and
        # value replace the group soft-threshold); None for the neuron group
        self.penalty = penalty
        self.Xt = Xt
        self.masks_bool = masks_bool
        self.S = signs_cols  # (n, m)
        self.pat = pat
        n, d = Xt.shape
        m = signs_cols.shape[1]
        self.d = d
        self.row_norm = np.maximum(np.linalg.norm(Xt, axis=1), 1e-300)
        self.max_rounds = max_rounds
        self.P = [np.zeros(0, dtype=np.intp) for _ in range(m)]
        self.A = np.zeros((m, d, d))  # passive rows of Ã_j, zero-padded
        self.alpha = np.zeros((m, d))  # their last multipliers (>= 0), zero-padded
        self.dirty = np.zeros(m, dtype=bool)
        self.Ginv = np.zeros((m, d, d))  # inverse Gram, identity on the padding
        for j in range(m):
            self._set(j, np.flatnonzero(tight[:, j]))
        self._refresh(np.arange(m))
        self.shift = None
        self.t = 0.0
        self.n_fallback = 0

    def _set(self, j, rows):
        """New passive rows for column ``j`` (its Gram inverse is refreshed lazily)."""
        rows = np.asarray(rows, dtype=np.intp)[: self.d]
        k = rows.size
        self.P[j] = rows
        self.A[j, :k] = self.S[rows, j][:, None] * self.Xt[rows]
        self.A[j, k:] = 0.0
        self.dirty[j] = True

    def _refresh(self, cols):
        """Batch-invert the Gram matrices of the changed columns among ``cols``."""
        jj = cols[self.dirty[cols]]
        if jj.size == 0:
            return
        A = self.A[jj]
        G = A @ A.transpose(0, 2, 1)
        sizes = np.fromiter((self.P[j].size for j in jj), np.intp, jj.size)
        idx = np.arange(self.d)
        pad = idx[None, :] >= sizes[:, None]
        tr = np.einsum("mkk->m", G)
        G[:, idx, idx] += np.where(pad, 1.0, 1e-13 * tr[:, None])
        self.Ginv[jj] = np.linalg.inv(G)
        self.dirty[jj] = False

    def project(self, Z, cols=None, t=0.0):
        """Project ``Z[:, k]`` onto the cone of column ``cols[k]`` (default: all columns).

        With ``t > 0`` only projections longer than ``t`` are needed exactly: a column
        stops as soon as its current candidate ``z + Ã_Pᵀα`` (``α >= 0``), whose norm
        bounds ``‖Π(z)‖`` from above, is no longer than ``t`` (the shrinkage then
        zeroes it whatever the exact projection is).
        """
        m = Z.shape[1]
        cols = np.arange(m) if cols is None else np.asarray(cols)
        U = np.empty_like(Z)
        znorm = np.maximum(np.sqrt(np.einsum("ij,ij->j", Z, Z)), 1e-300)
        a = [None] * m  # current positive multipliers (None: warm-up pruning)
        todo = np.arange(m)
        for _ in range(self.max_rounds):
            if todo.size == 0:
                break
            jj = cols[todo]
            self._refresh(jj)
            A = self.A[jj]
            rhs = -(A @ Z[:, todo].T[:, :, None])
            sol = (self.Ginv[jj] @ rhs)[:, :, 0]
            nxt = []
            ok = []
            for i, k in enumerate(todo):
                j = jj[i]
                s = sol[i, : self.P[j].size]
                if a[k] is None:  # warm-up: prune the guessed rows until positive
                    if s.size and s.min() <= 0:
                        self._set(j, self.P[j][s > 0])
                        nxt.append(k)
                    else:
                        a[k] = s
                        ok.append(i)
                    continue
                if s.size and s.min() <= 0:
                    # step back along a → s to stay feasible; drop rows that hit zero
                    neg = s <= 0
                    theta = np.min(a[k][neg] / (a[k][neg] - s[neg]))
                    new = a[k] + theta * (s - a[k])
                    keep = new > 1e-14 * max(float(new.max(initial=0.0)), 1e-300)
                    a[k] = new[keep]
                    self._set(j, self.P[j][keep])
                    nxt.append(k)
                else:
                    a[k] = s
                    ok.append(i)
            if ok:
                oi = np.asarray(ok)
                ok_k = todo[oi]
                ok_j = jj[oi]
                alpha = np.zeros((oi.size, self.d))
                for r, k in enumerate(ok_k):
                    alpha[r, : a[k].size] = a[k]
                Uc = Z[:, ok_k] + np.einsum("mkd,mk->dm", self.A[ok_j], alpha)
                # d̃ independent passive rows with positive multipliers: z lies in the
                # polar cone and the projection is exactly 0 (no round-off left over)
                full = np.fromiter((self.P[j].size >= self.d for j in ok_j), bool, ok_j.size)
                Uc[:, full] = 0.0
                U[:, ok_k] = Uc
                rel = self.S[:, ok_j] * (self.Xt @ Uc) / (self.row_norm[:, None] * znorm[ok_k])
                for r in range(ok_k.size):
                    rel[self.P[ok_j[r]], r] = np.inf  # passive rows hold with equality
                if t > 0:
                    rel[:, np.sqrt(np.einsum("ij,ij->j", Uc, Uc)) <= t] = np.inf
                worst = np.argmin(rel, axis=0)
                for r, k in enumerate(ok_k):
                    j, w = ok_j[r], worst[r]
                    if rel[w, r] < -1e-12 and self.P[j].size < self.d:
                        self._set(j, np.append(self.P[j], w))
                        a[k] = np.append(a[k], 0.0)
                        nxt.append(k)
                    elif rel[w, r] < -1e-12:
                        nxt.append(-1 - k)  # cannot add: leave it to the fallback
            fail = [-1 - k for k in nxt if k < 0]
            todo = np.asarray(sorted(k for k in nxt if k >= 0), dtype=np.intp)
            if fail:
                todo = np.union1d(todo, np.asarray(fail, dtype=np.intp)) if todo.size else np.asarray(fail)
                break
        for k in range(m):
            j = cols[k]
            self.alpha[j] = 0.0
            if a[k] is not None and a[k].size == self.P[j].size:
                self.alpha[j, : a[k].size] = a[k]
        if todo.size:
            # rare: not settled within max_rounds; project exactly and reset the passive sets
            self.n_fallback += todo.size
            jj = cols[todo]
            Pr, _, _ = project_columns(self.Xt, self.masks_bool, Z[:, todo], self.pat[jj])
            U[:, todo] = Pr
            rel = self.S[:, jj] * (self.Xt @ Pr) / (self.row_norm[:, None] * znorm[todo])
            for i, j in enumerate(jj):
                rows = np.flatnonzero(np.abs(rel[:, i]) <= 1e-10)
                A = self.S[rows, j][:, None] * self.Xt[rows]
                self._set(j, rows[_select_rows(A, -np.abs(rel[rows, i]), self.d)] if rows.size else rows)
        self.shift = U - Z
        return U

    def __call__(self, Z, t):
        # ‖Π(z)‖ <= ‖z + Ã_Pᵀα‖ for any α >= 0 (and for α = 0): a column whose bound
        # with the previous multipliers is <= t shrinks to zero without projecting
        shift = np.einsum("mkd,mk->dm", self.A, self.alpha)
        W = Z + shift
        bound = np.minimum(np.sqrt(np.einsum("ij,ij->j", W, W)), np.sqrt(np.einsum("ij,ij->j", Z, Z)))
        live = np.flatnonzero(bound > t if self.penalty is None
                              else self.penalty.radial_shrink(bound, t) > 0)
        U = np.zeros_like(Z)
        # early stop of a projection shorter than t: only where the shrink zeroes it
        t_stop = t if self.penalty is None else 0.0
        if live.size == Z.shape[1]:
            U = self.project(Z, t=t_stop)
        else:
            if live.size:
                U[:, live] = self.project(Z[:, live], live, t_stop)
                shift[:, live] = self.shift
            self.shift = shift
        norms = np.sqrt(np.einsum("ij,ij->j", U, U))
        if self.penalty is not None:
            scale = self.penalty.radial_shrink(norms, t)
            U *= scale
            self.t = t
            return U, self.penalty.radial_value(norms * scale)
        scale = np.zeros_like(norms)
        big = norms > t
        scale[big] = 1.0 - t / norms[big]
        U *= scale
        self.t = t
        return U, norms * scale


class _ConeSmooth:
    """``ℓ(predictions)`` on a set of C-ReLU groups (``w`` groups carry mask sign ``−1``).

    ``dual_bound`` uses the projection shift of the last prox call: for any ``β >= 0``,
    ``‖Π_K(−∇_g f)‖ <= ‖−∇_g f + Ã_gᵀβ‖``; ``β = α/η`` from the prox at
    ``v − η∇f(v)`` makes the bound tight at the optimum. A lower bound on the
    *restricted* problem (groups outside the set fixed at zero).
    """

    linear = True

    def __init__(self, problem, op, prox):
        self.problem = problem
        self.op = op
        self.prox = prox
        self.Y = problem.Y
        self.w = getattr(problem, "row_weights", None)
        self.loss = problem.loss
        self._lgrad = None

    def forward(self, x):
        return self.op.forward(x)

    def value(self, pred):
        return losses.loss_value(self.loss, pred, self.Y, self.w)

    def bregman(self, pred_new, pred_v, f_new, f_v, lin):
        return _bregman(self.loss, self.w, pred_new, pred_v, f_new, f_v, lin)

    def gradient(self, pred):
        self._lgrad = losses.loss_grad(self.loss, pred, self.Y, self.w)
        return self.op.adjoint(self._lgrad)

    def extrapolate(self, pred_new, pred_old, beta, x_v):
        return pred_new + beta * (pred_new - pred_old)

    def dual_bound(self, G):
        Q = -G
        if self.prox.shift is not None and self.prox.t > 0:
            Q = -G + self.prox.shift / (self.prox.t / self.problem.lam)
        pen = _generic_pen(self.problem)
        if pen is not None:
            return _radial_dual(self.problem, pen, self._lgrad, group_norms_columns(Q))
        M = self.op.output_max(group_norms_columns(Q))
        return _quick_dual(self.problem, self._lgrad, M)


def _polish(problem, x, priority, *, tol, max_iter, check_every=10, groups=None, on_check=None,
            newton=True):
    """Identify-then-solve: R-FISTA with exact cone projections on the AL's active groups.

    The AL iterate gives the groups (nonzero columns) and a guess of each group's
    tight rows (positive multipliers, at most ``d̃ − 1`` independent ones); the
    projected R-FISTA (:class:`_ConeProx`) corrects the guess as it goes. The result
    is exactly feasible and optimal for the problem restricted to those groups, and
    :func:`certify` judges it on the full problem.

    Once the support and the tight rows have settled, Newton's method on those faces
    (:func:`_face_newton`) replaces the slow tail of the first-order run.

    Returns ``(weights, certificate, n_iter, n_newton, status)`` (``(None, None, 0, 0,
    "empty")`` without groups); ``status`` is that of the last R-FISTA run
    (``"stalled"`` when neither its gap nor its objective moved any more).
    """
    prob = problem
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    cp = c * p
    Xt, S, M = prob.X_tilde, prob.signs, prob.masks
    act = np.flatnonzero(group_norms_columns(x) > 0) if groups is None else np.asarray(groups)
    if act.size == 0:
        return None, None, 0, 0, "empty"
    blk, rest = act // cp, act % cp
    out, pat = rest // p, rest % p
    order = np.argsort(out, kind="stable")  # the operator wants columns grouped by output
    act, blk, out, pat = act[order], blk[order], out[order], pat[order]
    sign_b = np.where(blk == 0, 1.0, -1.0)
    op = ColumnOperator.from_mask_columns(Xt, M[:, pat] * sign_b, out, c)
    S_cols = S[:, pat]
    tight = np.zeros((n, act.size), dtype=bool)
    for j in range(act.size):
        cand = np.flatnonzero(priority[:, act[j]] > 0)
        if cand.size:
            A = S_cols[cand, j][:, None] * Xt[cand]
            tight[cand[_select_rows(A, priority[cand, act[j]], d - 1)], j] = True
    pen = _generic_pen(prob)
    prox = _ConeProx(Xt, prob.patterns.masks, S_cols, pat, tight, penalty=pen)
    if pen is not None:
        newton = False  # the face Newton is the neuron group's
    smooth = _ConeSmooth(prob, op, prox)
    x0, _ = prox(x[:, act].copy(), 0.0)
    pred0 = smooth.forward(x0)
    f0 = smooth.value(pred0) + prob.lam * (float(group_norms_columns(x0).sum()) if pen is None
                                           else pen.value_columns(x0))
    step = 1.0 / max(loss_smoothness(prob) * op.norm_sq(), np.finfo(float).tiny)
    # the face of a group is its passive set: Newton waits until both have settled
    watch = SupportWatch(signature=lambda support: support.tobytes() + b"".join(
        b"|" + np.sort(prox.P[j]).tobytes() for j in support
    ))
    stop_check = watch.arm(
        lambda support: n * np.bincount(out[support], minlength=c).max() * d
        <= FACE_NEWTON_MAX_ENTRIES
    ) if newton else None
    n_iter, state, n_newton = 0, pred0, 0
    while True:
        res = fista_kernel(
            smooth, prob.lam, x0, step=step, max_iter=max(max_iter - n_iter, 1),
            gap_target=0.3 * tol * abs(f0), check_every=check_every, state0=state, prox=prox,
            penalty_value=None if pen is None else pen.value_columns,
            on_check=on_check, stop_check=stop_check, stall_stop=True,
        )
        n_iter += res.n_iter
        step = res.step
        if res.status != "stopped" or n_iter >= max_iter:
            break
        # the support and its faces have settled: Newton on the face, then R-FISTA again
        # (fresh momentum) to confirm or correct
        x0 = _face_newton(prob, res.x, watch.support, prox, pat, sign_b, out)
        n_newton += 1
        state = smooth.forward(x0)
    full = np.zeros_like(x)
    full[:, act] = res.x
    W = _weights_from_columns(full, c, d, p)
    return W, certify(prob, W), n_iter, n_newton, res.status


#: The face Newton forms each output's face matrix ``A`` (``n × |S|·d̃``) explicitly and,
#: above :data:`convex_relu.newton.CG_MIN_VARS` variables, solves its Newton systems by
#: CG with products of ``A`` (no ``m × m`` Gram matrix or Cholesky factor): it is run
#: while that matrix has at most this many entries (240 MB in float64).
FACE_NEWTON_MAX_ENTRIES = 3e7


def _face_newton(problem, x, support, prox, pat, sign_b, out):
    """Newton on the faces of the support groups' cones (see :func:`_polish`).

    Each group ``j`` of the support is restricted to the null space of its tight rows
    ``Ã_{T_j}`` (orthonormal basis ``N_j``): ``x_j = N_j z_j`` with ``‖x_j‖ = ‖z_j‖``,
    so the restricted program is a group lasso in the ``z_j`` without constraints,
    solved by :func:`convex_relu.newton.solve_blocks` (groups zero-padded to ``d̃``).
    The other rows of each cone are then checked: if the Newton point leaves a cone,
    the step from ``x`` (feasible) is cut back to the cone boundary, which by
    convexity still does not increase the objective.
    """
    prob = problem
    Xt, M, S = prob.X_tilde, prob.masks, prob.signs
    n, d = Xt.shape
    x_new = x.copy()
    bases = {}
    for k in range(prob.c):
        js = support[out[support] == k]
        if js.size == 0:
            continue
        A = np.zeros((n, js.size * d))
        z0 = np.zeros(js.size * d)
        for g, j in enumerate(js):
            rows = prox.P[j]
            if rows.size:
                _, sv, Vt = np.linalg.svd(S[rows, pat[j]][:, None] * Xt[rows])
                rank = int(np.sum(sv > 1e-10 * sv[0]))
                N = Vt[rank:].T
            else:
                N = np.eye(d)
            if N.shape[1] == 0:
                return x  # a face {0} for a nonzero group: the face guess is wrong
            bases[j] = N
            A[:, g * d:g * d + N.shape[1]] = (sign_b[j] * M[:, pat[j]])[:, None] * (Xt @ N)
            z0[g * d:g * d + N.shape[1]] = N.T @ x[:, j]
        if np.any(np.linalg.norm(z0.reshape(-1, d), axis=1) == 0):
            return x
        z, _, _, _ = solve_blocks(A, prob.Y[:, k], z0, prob.lam, prob.loss, prob.s, d,
                                  w=None if prob.row_weights is None else prob.row_weights[:, 0])
        for g, j in enumerate(js):
            N = bases[j]
            x_new[:, j] = N @ z[g * d:g * d + N.shape[1]]
    # cut the step back to the cones: slack(x + θ(x_new − x)) >= 0 for all rows
    signs = S[:, pat[support]]
    sl_old = signs * (Xt @ x[:, support])
    sl_new = signs * (Xt @ x_new[:, support])
    scale = prox.row_norm[:, None] * np.maximum(
        np.linalg.norm(x_new[:, support], axis=0), np.linalg.norm(x[:, support], axis=0)
    )
    bad = sl_new < -1e-13 * scale
    if not bad.any():
        return x_new
    old = np.maximum(sl_old[bad], 0.0)
    theta = min(1.0, float(np.min(old / (old - sl_new[bad]))))
    return x + theta * (x_new - x)


def _all_columns_cone(problem, Lam):
    """:class:`_ConeProx` on all ``2cp`` columns ``[V | W]``, tight rows guessed from ``Λ``.

    For the plain variant's splitting finish (:func:`convex_relu.al_penalized.split_finish`):
    the AL's positive multipliers ``Λ`` ``(n, 2, c, p)`` give each column's first passive
    rows (at most ``d̃ − 1`` independent ones, as in :func:`_polish`).
    """
    n, c, d, p = problem.n, problem.c, problem.d, problem.p
    m = 2 * c * p
    Xt = problem.X_tilde
    pat = np.arange(m) % p
    S_cols = problem.signs[:, pat]
    Lc = np.maximum(np.asarray(Lam, dtype=float).reshape(n, m), 0.0)
    tight = np.zeros((n, m), dtype=bool)
    for col in np.flatnonzero(Lc.max(axis=0) > 0):
        cand = np.flatnonzero(Lc[:, col] > 0)
        A = S_cols[cand, col][:, None] * Xt[cand]
        tight[cand[_select_rows(A, Lc[cand, col], d - 1)], col] = True
    return _ConeProx(Xt, problem.patterns.masks, S_cols, pat, tight)


def al_supports(penalty):
    """Whether :func:`solve_al` handles ``penalty`` on the C-ReLU program: every penalty.

    Radial, neuron-separable penalties (neuron group, ``l2``, group elastic net) get the
    face variant (identify, then the exact prox of ``λR + ι_K``; the face Newton only
    for the neuron group); the others (``l1``, ``feature_group``, any penalty with a
    prox and a dual norm or conjugate) the plain AL of
    :mod:`convex_relu.al_penalized`, certified with the AL's cone multipliers.
    ``al_variant(penalty)`` says which. A penalty must provide ``dual_norm`` (a norm)
    or ``conjugate`` for the bounds; every :class:`~convex_relu.penalties.Penalty` does.
    """
    from .penalties import Penalty

    return penalty is None or isinstance(penalty, Penalty)


def check_al_penalty(problem, method="al"):
    """Raise ``ValueError`` naming the method and penalty when the AL cannot solve ``problem``."""
    pen = getattr(problem, "penalty", None)
    if not al_supports(pen):
        raise ValueError(
            f"method={method!r} (augmented Lagrangian) does not support penalty "
            f"{getattr(pen, 'name', pen)!r} on the ReLU program; use an exact solver "
            "(method='clarabel', 'scs' or 'mosek'), or the gated program with method='rfista'."
        )


def solve_al(
    problem,
    *,
    tol=1e-6,
    constraint_tol=1e-6,
    max_iter=50_000,
    max_outer=200,
    warm_start=None,
    dtype=None,
    delta=None,
    window=(1e-3, 1e-2),
    max_inner=None,
    polish=True,
    split=True,
    polish_after=2,
    newton=True,
    check_every=10,
    verbose=False,
    monitor=None,
):
    """Solve C-ReLU by the augmented Lagrangian method with R-FISTA inner solves.

    Parameters
    ----------
    problem : ReLUProblem
    tol : float
        Target certified relative duality gap (after repair), default ``1e-6``.
    constraint_tol : float
        Target relative cone violation (module docstring), default ``1e-6``.
    max_iter : int
        Limit on the total number of R-FISTA iterations (all phases).
    max_outer : int
        Limit on the number of subproblem solves.
    warm_start : array ``(2, c, d̃, p)`` or Solution, optional
        Starting weights; a Solution's ``duals`` (``(2, n, c, p)``) also seed the
        multipliers.
    dtype : None, float64 or float32
        Arithmetic of the AL iterations (the face solve and certificates are float64);
        ``None`` (default): ``problem.dtype`` (float32 for a float32 ``X``).
    delta : float, optional
        Initial penalty; default ``1000/s`` (``s = n·c``; DESIGN's ``1000/n`` for one
        output).
    window : (low, high) or None
        Penalty window on ``V`` (module docstring); ``None`` keeps ``delta`` fixed.
    max_inner : int, optional
        R-FISTA iterations per subproblem at most (an inexact AL: the multipliers
        move at least this often). Default 70 for the face variant, 200 for the
        plain one (no face solve; :mod:`convex_relu.al_penalized`).
    polish : bool
        Run the identify-then-solve phase (module docstring). ``False``: plain AL.
        (Ignored by the plain variant, which has no face solve.)
    split : bool
        Plain variant only (penalties that are not radial): after ``polish_after``
        multiplier updates, finish by the splitting of
        :func:`convex_relu.al_penalized.split_finish` (``info["phase"] == "split"``).
        ``False``: the AL alone (it converges slowly to high accuracy).
    polish_after : int
        Multiplier updates before the first face solve.
    newton : bool
        In the face solve, once the support and the tight rows have settled, run
        Newton's method on those faces (:func:`_face_newton`); ``False``: R-FISTA only.
    check_every : int
        Iterations between two subproblem-gap estimates.
    verbose : bool
        One line per subproblem solve.
    monitor : callable, optional
        Passed to the R-FISTA kernel of the AL subproblems.

    Returns
    -------
    Solution
        Built by :func:`convex_relu.solution.finalize`. ``raw_weights``: the answer
        (the face solve's, exactly feasible up to round-off, or the last AL iterate,
        whichever has the smaller certified primal); ``weights``: those repaired onto
        the cones, where ``objective = certificate.primal`` is measured.
        ``duals``: the AL multipliers ``(2, n, c, p)`` for the Lagrangian
        ``F − Σ⟨γ, Ãv⟩ − Σ⟨ξ, Ãw⟩``. ``converged`` / ``status == "optimal"`` iff
        the certified relative gap is ``<= tol`` and the relative violation of
        ``raw_weights`` is ``<= constraint_tol``; otherwise ``"max_iter"``,
        ``"precision_limit"``, ``"stalled"`` (neither the gap nor the violation
        improved for 20 multiplier updates, or two face solves converged on their
        faces without closing the certified gap), ``"non_finite"`` (overflow) and a
        warning that gives the certified gap. ``X̃ = 0``: the zero weights, certified,
        at once. ``history`` with ``iteration``, ``time``,
        ``objective``, ``gap`` (relative; the cheap multiplier bound during the AL,
        certified for face solves), ``violation`` (relative), ``V`` and ``delta``;
        ``info`` with ``violation``, ``absolute_violation``, ``phase`` (``"face"``,
        ``"split"`` or ``"al"``: which produced the answer) and counters. For the plain
        variant ``duals`` are the splitting's cone multipliers.
    """
    if getattr(problem, "formulation", None) != "relu":
        raise ValueError(
            "the augmented Lagrangian solves the ReLU program (ReLUProblem); for "
            "GatedReLUProblem use R-FISTA (method='rfista')."
        )
    check_al_penalty(problem)
    tol = _check_tol(tol)
    constraint_tol = _check_tol(constraint_tol, "constraint_tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    max_outer = check_positive_int(max_outer, "max_outer")
    max_inner_default = max_inner is None
    max_inner = check_positive_int(70 if max_inner is None else max_inner, "max_inner")
    polish_after = check_positive_int(polish_after, "polish_after", minimum=0)
    check_every = check_positive_int(check_every, "check_every")
    dt = resolve_dtype(dtype, problem)
    if window is not None:
        try:
            window = (float(window[0]), float(window[1]))
        except Exception as exc:
            raise ValueError(f"window must be None or a pair (low, high); got {window!r}.") from exc
        if not (0 <= window[0] < window[1]):
            raise ValueError(f"window must satisfy 0 <= low < high; got {window!r}.")

    t_start = time.perf_counter()
    prob = problem
    gpen = _generic_pen(prob)
    n, c, d, p = prob.n, prob.c, prob.d, prob.p
    # the variant from the penalty's flags (al_penalized): "plain" penalties (not radial
    # or not neuron-separable) have no closed-form prox of λR + ι_K, so no face solve;
    # their prox and value act on the whole [V | W] layout (groups may span columns)
    plain = al_variant(gpen) == "plain"
    if plain:
        polish = False
        layout = (2, c, p)
        al_prox = lambda Z, t: gpen.prox_columns(Z, t, layout)  # noqa: E731
        al_value = lambda Z: gpen.value_columns(Z, layout)  # noqa: E731
    elif gpen is not None:
        al_prox = lambda Z, t: gpen.prox_columns(Z, t, None)  # noqa: E731
        al_value = gpen.value_columns
    else:
        al_prox = al_value = None

    def or_own_multipliers(W, cert_):
        # a plain-variant certificate from the AL's (or the splitting's) multipliers,
        # which converge only linearly: where the gap is above tol, the certificate's own
        # multipliers (certify without any: a small conic program) are tried too. Both
        # certificates are valid for the same weights: the smaller gap is kept.
        if not cert_.relative_gap <= tol:
            other = certify(prob, W)
            if other.relative_gap < cert_.relative_gap:
                return other
        return cert_

    def certify_al(W, Lam_):
        # plain variant: the AL multipliers are the cone multipliers of the certificate
        # (the cone conjugate of a non-radial penalty has no closed form)
        if not plain:
            return certify(prob, W)
        return or_own_multipliers(
            W, certify(prob, W, multipliers=np.ascontiguousarray(Lam_.transpose(1, 0, 2, 3))))
    s = prob.s
    X64, M64 = prob.X_tilde, prob.masks
    S64 = prob.signs
    # sparse input: the CSR matrix serves the products X̃x and X̃ᵀB (operators module);
    # the one-off norms and the cone projections use the dense X̃
    X_op = getattr(prob, "operator_matrix", X64)
    X_w, M_w, S_w = X_op.astype(dt), M64.astype(dt), S64.astype(dt)
    if delta is None:
        delta = 1000.0 / s
    else:
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating, np.integer)):
            raise ValueError(f"delta must be a positive number; got {delta!r}.")
        delta = float(delta)
        if not (delta > 0 and np.isfinite(delta)):
            raise ValueError(f"delta must be positive and finite; got {delta!r}.")

    Lam = np.zeros((n, 2, c, p))
    if warm_start is None:
        x = np.zeros((d, 2 * c * p), dtype=dt)
    else:
        if hasattr(warm_start, "weights"):
            duals = getattr(warm_start, "duals", None)
            if duals is not None and np.shape(duals) == (2, n, c, p):
                Lam = np.maximum(np.asarray(duals, dtype=float).transpose(1, 0, 2, 3), 0.0)
            warm_start = warm_start.weights
        W0 = prob.check_weights(warm_start, "warm_start")
        x = _columns_from_weights(W0).astype(dt)
        # a warm start that already meets the request is the answer (one certificate,
        # with the given multipliers): re-running the phases from it costs hundreds of
        # iterations of a finished problem
        duals0 = np.ascontiguousarray(Lam.transpose(1, 0, 2, 3))
        cert0 = certify(prob, W0, multipliers=duals0) if np.any(duals0) else certify(prob, W0)
        if meets_request(cert0, relative_violation(prob, W0), tol, constraint_tol):
            return finalize(
                prob, W0, solver="al", status="optimal", tol=tol, constraint_tol=constraint_tol,
                certificate=cert0, n_iter=0, solve_time=time.perf_counter() - t_start,
                duals=duals0, info={"tol": tol, "phase": "warm_start", "dtype": dt.name},
            )

    row_scale = float(np.linalg.norm(X64, axis=1).max()) if n else 0.0
    if row_scale == 0.0:
        # X̃ = 0 (no bias): every weight predicts 0 and the regulariser is least at 0,
        # so the zero weights are optimal; the certificate proves it (M = 0)
        return finalize(
            prob, prob.zero_weights(), solver="al", status="optimal", tol=tol,
            constraint_tol=constraint_tol, n_iter=0, solve_time=time.perf_counter() - t_start,
            duals=np.zeros((2, n, c, p)),
            info={"tol": tol, "phase": "zero_data", "dtype": dt.name},
        )
    norm_A = operator_norm_sq(X64, M64, n_iter=15)
    norm_X = float(np.linalg.norm(X64, 2)) ** 2
    L_loss = loss_smoothness(prob)
    # V is measured in units of the mean squared target (DESIGN's window assumes
    # standardised targets)
    y_ms = max(float(np.vdot(prob.Y, prob.Y)) / s, np.finfo(float).tiny)

    def step_for(delta_):
        return 1.0 / (2.0 * L_loss * norm_A + delta_ * norm_X)

    history = {
        "iteration": [], "time": [], "objective": [], "gap": [], "violation": [], "V": [],
        "delta": [],
    }
    step = step_for(delta)
    delta0, prev_viol = delta, np.inf
    if plain and max_inner_default:
        max_inner = _PLAIN_MAX_INNER
    total_iter = 0
    n_outer = n_updates = 0
    phase = "window" if window is not None else "multipliers"
    window_steps = 0
    inner_tol = 1e-3
    status = "max_iter"
    cert = None
    W_final = None
    answer = "al"
    last_certified_gap = np.inf
    last_polish_viol = np.inf
    n_polish = polish_iter = n_face_newton = 0
    best_score = np.inf
    best_rel = best_viol = np.inf
    stall = stall_both = 0
    face_stalls = 0
    best_face = None  # (certificate, weights) of the face solve with the least primal
    n_bt = 0
    eps = float(np.finfo(dt).eps)
    res = None
    while n_outer < max_outer and total_iter < max_iter:
        smooth = ALSmooth(prob, X_w, M_w, S_w, Lam.astype(dt), delta)
        st0 = smooth.forward(x)
        f_x0 = smooth.value(st0)
        f0 = f_x0 + prob.lam * (float(group_norms_columns(x).sum()) if gpen is None
                                else al_value(x))
        resume = None
        if res is not None and phase == "multipliers":
            # the subproblem moved only through the multipliers: keep the momentum
            resume = KernelResult(
                x=x, state=st0, f=f_x0, reg=f0 - f_x0, n_iter=0, status="", step=step,
                v=res.v, state_v=smooth.forward(res.v), t=res.t,
            )
        res = fista_kernel(
            smooth,
            prob.lam,
            None if resume is not None else x,
            step=step,
            max_iter=min(max_iter - total_iter, max_inner),
            gap_target=inner_tol * abs(f0),
            check_every=check_every,
            state0=st0,
            min_iter=check_every,
            resume=resume,
            monitor=monitor,
            prox=al_prox,
            penalty_value=al_value,
        )
        n_outer += 1
        total_iter += res.n_iter
        n_bt += res.n_backtracks
        step = res.step
        x = res.x
        if res.status in ("non_finite", "step_underflow"):
            status = res.status
            break
        # cone slacks Ãx, in float64 for the multiplier step and the tests
        x64 = x.astype(np.float64)
        Z = np.asarray(X_op @ x64).reshape(n, 2, c, p) * S64[:, None, None, :]
        viol = np.maximum(-Z, 0.0)
        V = float(np.vdot(viol, viol)) / y_ms
        wmax = float(group_norms_columns(x64).max()) if x64.size else 0.0
        rel_viol = 0.0 if wmax == 0.0 else float(viol.max()) / (row_scale * wmax)

        if phase == "window":
            # DESIGN's penalty window, bounded to a few steps so that it cannot cycle
            if V > window[1] and window_steps < 10:
                window_steps += 1
                delta *= 2.0
                step = min(step, 4.0 * step_for(delta))
                _record(history, total_iter, t_start, np.nan, np.nan, rel_viol, delta, V)
                continue
            if V < window[0] and np.any(x64) and window_steps < 2:
                window_steps += 1
                delta *= 0.5
                _record(history, total_iter, t_start, np.nan, np.nan, rel_viol, delta, V)
                continue
            phase = "multipliers"

        Lam = np.maximum(Lam - delta * Z, 0.0)
        n_updates += 1
        if plain:
            # classical penalty increase when the violation did not fall enough
            if (rel_viol > constraint_tol and rel_viol > _PLAIN_VIOL_DECREASE * prev_viol
                    and delta < _PLAIN_DELTA_GROWTH * delta0):
                delta *= 2.0
                step = min(step, 4.0 * step_for(delta))
                res = None  # a new subproblem: fresh momentum
            prev_viol = rel_viol
        # cheap bound: primal at the (unrepaired) iterate, dual from the multipliers
        pred = np.einsum(
            "nkp,np->nk", np.asarray(X_op @ (x64[:, : c * p] - x64[:, c * p:])).reshape(n, c, p), M64
        )
        primal = prob.loss_value(pred) + prob.lam * (float(group_norms_columns(x64).sum())
                                                     if gpen is None else al_value(x64))
        dual = _lagrangian_dual(prob, pred, Lam, X_op, M64, S64)
        rel = (primal - dual) / max(abs(primal), np.finfo(float).tiny)
        _record(history, total_iter, t_start, primal, rel, rel_viol, delta, V)
        if not (np.isfinite(primal) and np.isfinite(V)):
            status = "non_finite"
            break
        if verbose:
            print(
                f"[al] iter {total_iter:6d}  objective {primal:.10e}  rel. gap {rel:.3e}  "
                f"violation {rel_viol:.3e}  delta {delta:.3e}"
            )
        # plain variant: the AL's iterate and multipliers start the splitting finish
        if plain and split and n_updates >= polish_after:
            Ws, cert_s, nu_s, it_s, split_status = split_finish(
                prob, x64, Lam, _all_columns_cone(prob, Lam), tol=tol,
                max_iter=max(max_iter - total_iter, 1))
            total_iter += it_s
            n_polish += 1
            polish_iter += it_s
            _record(history, total_iter, t_start, cert_s.primal, cert_s.relative_gap,
                    relative_violation(prob, Ws), delta)
            if verbose:
                print(f"[al] splitting finish: {it_s} iterations, certified rel. gap "
                      f"{cert_s.relative_gap:.3e} ({split_status})")
            cert_s = or_own_multipliers(Ws, cert_s)
            cert, W_final, answer = cert_s, Ws, "split"
            Lam = np.ascontiguousarray(nu_s.transpose(1, 0, 2, 3))
            status = "optimal" if split_status == "converged" else split_status
            break
        # identify-then-solve: R-FISTA with exact projections on the AL's groups
        if polish and n_updates >= polish_after and rel_viol <= 0.3 * last_polish_viol:
            last_polish_viol = rel_viol
            Wp, cert_p, it_p, newton_p, face_status = _polish(
                prob, x64, Lam.reshape(n, 2 * c * p), tol=tol,
                max_iter=max(max_iter - total_iter, 1), check_every=check_every, newton=newton,
            )
            n_face_newton += newton_p
            n_polish += 1
            polish_iter += it_p
            total_iter += it_p
            if cert_p is not None:
                v_p = relative_violation(prob, Wp)
                _record(history, total_iter, t_start, cert_p.primal, cert_p.relative_gap,
                        v_p, delta)
                if verbose:
                    print(
                        f"[al] face solve {n_polish}: {it_p} iterations, certified rel. gap "
                        f"{cert_p.relative_gap:.3e}, violation {v_p:.1e}"
                    )
                if meets_request(cert_p, v_p, tol, constraint_tol):
                    status, cert, W_final, answer = "optimal", cert_p, Wp, "face"
                    break
                improved = best_face is None or cert_p.primal < best_face[0].primal - tol * abs(
                    best_face[0].primal)
                if best_face is None or cert_p.primal < best_face[0].primal:
                    best_face = (cert_p, Wp)
                # a face solve that converged on its faces (its gap and objective stopped
                # moving) without closing the certified gap, twice and without a better
                # objective: the dual bound limits the certificate, more AL rounds won't help
                face_stalls = face_stalls + 1 if face_status == "stalled" and not improved else (
                    1 if face_status == "stalled" else 0)
                if face_stalls >= _FACE_STALLS or not np.isfinite(cert_p.primal):
                    status = "stalled" if np.isfinite(cert_p.primal) else "non_finite"
                    break
        if rel_viol <= constraint_tol and rel <= tol and rel < 0.5 * last_certified_gap:
            cert = certify_al(_weights_from_columns(x64, c, d, p), Lam)
            last_certified_gap = cert.relative_gap
            if cert.relative_gap <= tol:
                status = "optimal"
                break
        # rounding floor (float32) or a stalled run
        score = max(rel, rel_viol)
        if score < 0.9 * best_score:
            best_score, stall = score, 0
        else:
            stall += 1
            if stall >= 8 and score <= 1e4 * eps:
                status = "precision_limit"
                break
        if rel < 0.9 * best_rel or rel_viol < 0.9 * best_viol:
            best_rel, best_viol = min(best_rel, rel), min(best_viol, rel_viol)
            stall_both = 0
        else:
            stall_both += 1
            if stall_both >= _AL_STALL_UPDATES:
                # neither the gap nor the violation improved by 10 % for this many
                # multiplier updates: the method has stopped making progress
                status = "stalled"
                break
        # solve the subproblem about as accurately as the constraints hold
        inner_tol = max(min(inner_tol, 0.3 * max(rel, rel_viol)), 0.1 * tol, 10 * eps)

    if W_final is None:
        W = _weights_from_columns(x.astype(np.float64), c, d, p)
        if cert is None or status != "optimal":
            cert = certify_al(W, Lam)
        if best_face is not None:
            # report the better of the last AL iterate and the best face solve (every
            # certificate is valid, so the lesser certified primal is the better point)
            def key(cw):
                ok = meets_request(cw[0], relative_violation(prob, cw[1]), tol, constraint_tol)
                return (not ok, cw[0].primal)

            best = min([(cert, W), best_face], key=key)
            if best is best_face:
                cert, W = best_face
                answer = "face"
    else:
        W = W_final
    solve_time = time.perf_counter() - t_start
    rel_viol_final = relative_violation(prob, W)
    hints = {
        "max_iter": "Increase max_iter (or max_outer) or loosen tol.",
        "precision_limit": f"The gap stopped decreasing at the rounding level of {dt.name}.",
        "stalled": "The certified gap stopped improving (the dual bound limits it at this λ); "
                   "more iterations would not help.",
        "non_finite": "The iterations overflowed: rescale X and y.",
        "step_underflow": "The line search could not find a descent step: rescale X and y.",
    }
    return finalize(
        prob,
        W,
        solver="al",
        status=status,
        tol=tol,
        constraint_tol=constraint_tol,
        certificate=cert,
        hint=hints.get(status, ""),
        n_iter=total_iter,
        solve_time=solve_time,
        history=history,
        duals=np.ascontiguousarray(Lam.transpose(1, 0, 2, 3)),
        info={
            "tol": tol,
            "constraint_tol": constraint_tol,
            "violation": rel_viol_final,
            "absolute_violation": prob.cone_violation(W),
            "delta": delta,
            "phase": answer,
            "outer_iterations": n_outer,
            "multiplier_updates": n_updates,
            "face_solves": n_polish,
            "face_newton_solves": n_face_newton,
            "face_solve_iterations": polish_iter,
            "n_backtracks": n_bt,
            "dtype": dt.name,
        },
    )


def _record(history, it, t_start, obj, gap, viol, delta, V=np.nan):
    history["V"].append(V)
    history["iteration"].append(it)
    history["time"].append(time.perf_counter() - t_start)
    history["objective"].append(obj)
    history["gap"].append(gap)
    history["violation"].append(viol)
    history["delta"].append(delta)
