"""Projections onto the activation cones ``K_i = {u : Ã_i u >= 0}``, ``Ã_i = (2D_i − I)X̃``.

The polar cone is ``K_i° = {−Ã_iᵀα : α >= 0}``, so by Moreau's decomposition

    Π_{K_i}(q) = q + Ã_iᵀα̂,   α̂ = argmin_{α >= 0} ‖q + Ã_iᵀα‖,

and ``‖Π_{K_i}(q)‖ = sup_{u ∈ K_i, ‖u‖ <= 1} ⟨q, u⟩`` is the residual of that
non-negative least-squares (NNLS) problem. **Any** ``α >= 0`` gives a point
``q + Ã_iᵀα`` whose norm bounds ``‖Π_{K_i}(q)‖`` from above; this is what makes an
inexact or restricted NNLS safe inside the certificates: an over-estimate of the
dual constraint only shrinks the dual scaling, so the bound stays valid.

Speed. SciPy's NNLS on a ``d̃ × n`` matrix costs ~10 ms for ``n = 2000``, too slow
for thousands of patterns. Instead every column runs Lawson–Hanson *in lock-step*
(:func:`project_columns`): one outer step is a single GEMM giving the gradient
``−Ã_i u`` of every column, plus a batch of tiny ``L × L`` solves on the passive
sets (``L <= d̃``, since Lawson–Hanson keeps passive columns independent). When
only the **largest** norm is needed (certificates, ``λ_max``),
:func:`max_cone_projection_norm` stops each column as soon as its current
``‖q + Ãᵀα‖`` — already an upper bound — falls below a proven lower bound on the
maximum, which leaves only the few near-maximal columns to finish. Rare
degenerate columns fall back to constraint generation with SciPy's NNLS on a
small row set: the restricted NNLS is again a valid bound, and when its ``u``
violates no row it is the exact projection (KKT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import nnls


def _dense(X_tilde):
    """``X̃`` as a dense float64 array. The projections work on rows of ``Ã_i`` and
    small Gram matrices, where sparsity does not pay: a scipy.sparse ``X̃`` is
    densified here, deliberately (the problems pass their dense copy anyway)."""
    if sp.issparse(X_tilde):
        return np.ascontiguousarray(X_tilde.toarray(), dtype=np.float64)
    return np.asarray(X_tilde, dtype=np.float64)


__all__ = [
    "signed_data",
    "project_columns",
    "max_cone_projection_norm",
    "project_onto_cone",
    "cone_projections",
    "cone_projection_norms",
    "cone_norm_bound",
    "ConeProjections",
]

# Relative tolerance for "u satisfies a cone row": violations below
# _FEAS_TOL·‖q‖ (rows normalised to unit length) count as round-off.
_FEAS_TOL = 1e-12


def signed_data(X_tilde, mask):
    """``Ã_i = (2D_i − I)X̃`` for one 0/1 mask of length n."""
    mask = np.asarray(mask).astype(bool)
    return np.where(mask[:, None], X_tilde, -X_tilde)


@dataclass
class ConeProjections:
    """Result of :func:`cone_projections`.

    Attributes
    ----------
    projections : ndarray, shape like ``Q``
        ``u = q + Ã_iᵀα`` for the ``α >= 0`` found; equals ``Π_{K_i}(q)`` where ``exact``.
    norms : ndarray, shape ``Q.shape[:-2] + (p,)``
        ``‖u‖``, an upper bound on ``‖Π_{K_i}(q)‖`` that is tight where ``exact``.
    exact : ndarray of bool, same shape as ``norms``
        ``u`` violates no cone row beyond round-off (``u`` is the projection).
    n_fallback : int
        Columns the batched NNLS left to the per-column fallback.
    """

    projections: np.ndarray
    norms: np.ndarray
    exact: np.ndarray
    n_fallback: int


def _signs(masks):
    return np.where(np.asarray(masks).astype(bool), 1.0, -1.0)


def _normalised_rows(X_tilde):
    """Unit-length nonzero rows of ``X̃`` and their indices.

    Scaling a row by a positive number leaves the cone unchanged; unit rows make
    the violation test scale-free and the small NNLS better conditioned. Zero rows
    impose no constraint and are dropped.
    """
    norms = np.linalg.norm(X_tilde, axis=1)
    keep = norms > 0
    return X_tilde[keep] / norms[keep, None], keep


def _project_one(Xn, sign, q, r, n_add, max_rounds):
    """Constraint generation for one column; ``r = sign ∘ (Xn q)`` precomputed.

    Returns ``(u, exact, rounds)``.
    """
    qn = float(np.linalg.norm(q))
    tol = _FEAS_TOL * max(qn, np.finfo(float).tiny)
    viol = -r
    if viol.max() <= tol:
        return q.copy(), True, 0
    S = np.empty(0, dtype=np.intp)
    u = q
    prune = True
    for rounds in range(1, max_rounds + 1):
        cand = np.flatnonzero(viol > tol)
        if S.size:
            cand = np.setdiff1d(cand, S, assume_unique=True)
        if cand.size == 0:
            if not prune:
                # the violated rows are already in S: NNLS stopped short; u is still a
                # valid (conservative) point of the form q + Ãᵀα
                return u, False, rounds - 1
            # pruning dropped a row that matters: continue without pruning (this
            # guarantees termination, as S then only grows)
            prune = False
            continue
        if cand.size > n_add:
            cand = cand[np.argpartition(-viol[cand], n_add - 1)[:n_add]]
        S = np.concatenate([S, cand])
        B = (Xn[S] * sign[S, None]).T  # columns are the rows of Ã in S
        try:
            alpha, _ = nnls(B, -q, maxiter=50 * max(B.shape[1], 1))
        except (RuntimeError, ValueError, np.linalg.LinAlgError):
            # SciPy gave up (iteration limit): u is still a valid q + Ãᵀα
            return u, False, rounds
        if not np.all(np.isfinite(alpha)):
            return u, False, rounds
        u = q + B @ alpha
        viol = -(sign * (Xn @ u))
        if viol.max() <= tol:
            return u, True, rounds
        if prune and rounds < 4 * Xn.shape[1]:
            # at most d̃ multipliers are positive at a solution; dropping the rest keeps
            # the sub-problems small (each costs O(d̃·|S|²))
            S = S[alpha > 0]
        else:
            prune = False
    return u, False, max_rounds


def _passive_columns(Xn, signsT, slots, pat):
    """Columns ``ã_j`` of the passive sets as an ``(a, d̃, L)`` array (zeros in empty slots)."""
    used = slots >= 0
    rows = np.where(used, slots, 0)
    cols = Xn[rows] * (signsT[pat[:, None], rows] * used)[:, :, None]  # (a, L, d̃)
    return cols.transpose(0, 2, 1), used


def _passive_lstsq(B, used, q):
    """``argmin_s ‖B s + q‖`` over the used slots (``s = 0`` in empty slots), batched.

    Semi-normal equations with one step of refinement on the true residual: the
    Gram matrix is tiny (``L × L``), and the refinement recovers most of the
    accuracy lost by squaring the condition number.

    Nearly parallel passive columns (rows of ``X̃`` 1e-8 apart, or rows of scale
    1e-6 next to a bias column: after normalisation they all point almost the same
    way) make the Gram matrix singular in floating point, although Lawson–Hanson
    keeps them independent in exact arithmetic. Those systems are solved one by one
    by an SVD least squares on ``B`` itself (no squared condition number, never
    singular), so no ``LinAlgError`` escapes. Rows whose solution is still not
    finite come back as NaN; the caller sends those columns to the SciPy fallback.
    The certificates stay valid whatever ``s`` is: any ``α >= 0`` bounds the norm.
    """
    Bt = B.transpose(0, 2, 1)
    G = Bt @ B
    idx = np.arange(G.shape[1])
    G[:, idx, idx] += ~used  # identity on the empty slots pins them to zero
    try:
        with np.errstate(all="ignore"):
            s = np.linalg.solve(G, -(Bt @ q[:, :, None]))
            r = -(q[:, :, None] + B @ s)
            ds = np.linalg.solve(G, Bt @ r)
            s = (s + ds)[:, :, 0]
            # a Gram matrix singular to working precision that LU did not flag shows
            # up as a large refinement step (or non-finite entries): redo by SVD
            big = np.linalg.norm(ds[:, :, 0], axis=1) > _REFINE_RTOL * np.linalg.norm(s, axis=1)
        redo = ~np.isfinite(s).all(axis=1) | big
    except np.linalg.LinAlgError:
        s = np.zeros(used.shape)
        redo = np.ones(used.shape[0], dtype=bool)
    for a in np.flatnonzero(redo):
        cols = np.flatnonzero(used[a])
        s[a] = 0.0
        if cols.size == 0:
            continue
        with np.errstate(all="ignore"):
            try:
                sol = np.linalg.lstsq(B[a][:, cols], -q[a], rcond=None)[0]
            except np.linalg.LinAlgError:  # SVD did not converge (non-finite data)
                sol = np.full(cols.size, np.nan)
        s[a, cols] = sol
    return s * used


#: Semi-normal equations with one refinement step: a correction larger than this
#: (relative to the solution) means the Gram matrix is too ill-conditioned for them
#: (their error grows like ``cond(B)²·ε``), and the system is redone by SVD.
_REFINE_RTOL = 1e-6


def _compact(slots, x):
    """Move the used slots of every row to the front (keeps ``L`` small in the solves)."""
    order = np.argsort(slots < 0, axis=1, kind="stable")
    return np.take_along_axis(slots, order, 1), np.take_along_axis(x, order, 1)


def _batched_nnls(Xn, signsT, Q, pat, max_iter, threshold=None):
    """Lawson–Hanson NNLS ``min_{α>=0} ‖q + Ã_iᵀα‖`` for many columns in lock-step.

    Every outer step costs one GEMM (the gradient ``−Ã_i u`` of all active columns)
    and a batch of tiny solves; passive sets live in at most ``d̃`` slots
    (Lawson–Hanson keeps the passive columns independent).

    With ``threshold`` (a known lower bound on ``max_j ‖Π(q_j)‖``), a column stops
    as soon as its current ``‖u‖`` falls below the threshold: it cannot be the
    maximum. The threshold rises to every exact norm found on the way. This is
    what makes "the largest projection norm" cheap.

    Returns ``(U, status, threshold)`` with status 1 = exact, 2 = stopped below the
    threshold, 0 = unfinished (degenerate; ``u`` is still a valid ``q + Ãᵀα``).
    """
    d, m = Q.shape
    QT = np.ascontiguousarray(Q.T)  # (m, d̃)
    slots = np.full((m, d), -1, dtype=np.intp)
    x = np.zeros((m, d))
    UT = QT.copy()
    qn = np.linalg.norm(QT, axis=1)
    tol = _FEAS_TOL * np.maximum(qn, np.finfo(float).tiny)
    status = np.zeros(m, dtype=np.int8)
    thr = -np.inf if threshold is None else float(threshold)
    active = np.arange(m)
    if threshold is not None:
        stop = qn <= thr
        status[stop] = 2
        active = active[~stop]
    XnT = np.ascontiguousarray(Xn.T)
    for _ in range(max_iter):
        if active.size == 0:
            break
        # negative gradient −Ã_i u of every active column: one GEMM, rows contiguous
        Wg = UT[active] @ XnT
        Wg *= signsT[pat[active]]
        np.negative(Wg, out=Wg)
        used = slots[active] >= 0
        a_idx, s_idx = np.nonzero(used)
        Wg[a_idx, slots[active][a_idx, s_idx]] = -np.inf
        jmax = Wg.argmax(axis=1)
        wmax = Wg[np.arange(active.size), jmax]
        fin = wmax <= tol[active]
        if fin.any():
            status[active[fin]] = 1
            if threshold is not None:
                thr = max(thr, float(np.linalg.norm(UT[active[fin]], axis=1).max()))
        full = used.all(axis=1) & ~fin
        keep = ~fin & ~full
        active, jmax = active[keep], jmax[keep]
        if active.size == 0:
            break
        cnt = (slots[active] >= 0).sum(axis=1)
        slots[active, cnt] = jmax  # slots are compact: the first free one is at cnt
        # inner loop: move back along the segment until the passive solution is positive
        sub = active
        stuck = []
        for _inner in range(d + 1):
            if sub.size == 0:
                break
            L = int((slots[sub] >= 0).sum(axis=1).max())
            B, used = _passive_columns(Xn, signsT, slots[sub, :L], pat[sub])
            s = _passive_lstsq(B, used, QT[sub])
            lost = ~np.isfinite(s).all(axis=1)
            if lost.any():
                # no usable passive solution: stop these columns here, with their
                # last valid u (the new slot holds x = 0), and leave them to the
                # per-column fallback
                stuck.append(sub[lost])
                sub, s, B, used = sub[~lost], s[~lost], B[~lost], used[~lost]
                if sub.size == 0:
                    break
            bad = used & (s <= 0)
            ok = ~bad.any(axis=1)
            x[sub[ok], :L] = s[ok]
            sub, s, bad = sub[~ok], s[~ok], bad[~ok]
            if sub.size == 0:
                break
            xs = x[sub, :L]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(bad, xs / (xs - s), np.inf)
            step = ratio.min(axis=1)
            xs = xs + step[:, None] * (s - xs)
            drop = bad & (ratio <= step[:, None])  # the blocking variables
            drop |= (slots[sub, :L] >= 0) & (xs <= 0)
            xs[drop] = 0.0
            new_slots = slots[sub].copy()
            new_slots[:, :L] = np.where(drop, -1, new_slots[:, :L])
            full_x = x[sub].copy()
            full_x[:, :L] = xs
            slots[sub], x[sub] = _compact(new_slots, full_x)
        if stuck:
            sub = np.concatenate([sub] + stuck)
        if sub.size:
            # inner loop did not settle (degenerate); leave these to the fallback
            active = np.setdiff1d(active, sub, assume_unique=True)
        # u = q + Ã_Pᵀ x_P with x clipped to >= 0: every stored u is a valid bound
        L = int((slots[active] >= 0).sum(axis=1).max()) if active.size else 0
        B, used = _passive_columns(Xn, signsT, slots[active, :L], pat[active])
        xa = np.maximum(x[active, :L], 0.0) * used
        x[active, :L] = xa
        UT[active] = QT[active] + (B @ xa[:, :, None])[:, :, 0]
        if threshold is not None and active.size:
            below = np.linalg.norm(UT[active], axis=1) <= thr
            status[active[below]] = 2
            active = active[~below]
    return np.ascontiguousarray(UT.T), status, thr


def project_columns(X_tilde, masks, C, pattern_index, *, max_rounds=None, n_add=None):
    """Project column ``j`` of ``C`` onto the cone of pattern ``pattern_index[j]``.

    Parameters
    ----------
    X_tilde : (n, d̃) array
    masks : (n, p) array of bool or 0/1
    C : (d̃, m) array
    pattern_index : (m,) int array with entries in ``[0, p)``
    max_rounds : int, optional
        Cap on constraint-generation rounds per column in the fallback (default:
        until exact; it always terminates because every round adds a new row).
    n_add : int, optional
        Rows added to the working set per fallback round (default ``d̃``).

    Returns
    -------
    projections : (d̃, m) array
        Each column is ``q + Ã_iᵀα`` for some ``α >= 0`` (so its norm is never below
        ``‖Π_{K_i}(q)‖``), and equals ``Π_{K_i}(q)`` where ``exact``.
    exact : (m,) bool array
    n_fallback : int
        Columns that needed the per-column fallback.

    Notes
    -----
    All columns first run a lock-step (batched) Lawson–Hanson NNLS; the rare columns
    it leaves unfinished (degenerate rows) go to per-column constraint generation
    with SciPy's NNLS.
    """
    X_tilde = _dense(X_tilde)
    C = np.asarray(C, dtype=np.float64)
    signs_all = _signs(masks)
    n, d = X_tilde.shape
    pat = np.asarray(pattern_index, dtype=np.intp)
    if C.ndim != 2 or C.shape[0] != d or pat.shape != (C.shape[1],):
        raise ValueError(
            f"C must have shape (d̃={d}, m) and pattern_index shape (m,); got {C.shape} and {pat.shape}."
        )
    if signs_all.shape[0] != n:
        raise ValueError(f"masks has {signs_all.shape[0]} rows but X_tilde has {n}.")
    if pat.size and (pat.min() < 0 or pat.max() >= signs_all.shape[1]):
        raise ValueError(f"pattern_index must lie in [0, {signs_all.shape[1]}).")
    Xn, keep = _normalised_rows(X_tilde)
    signs = signs_all[keep]
    if n_add is None:
        n_add = d
    if max_rounds is None:
        max_rounds = Xn.shape[0] + 1
    m = C.shape[1]
    P = C.copy()
    exact = np.ones(m, dtype=bool)
    if Xn.shape[0] == 0 or m == 0:
        # X̃ = 0: every cone is the whole space
        return P, exact, 0
    # keep the (block × n) gradient under ~64 MB
    block = max(1, min(m, (1 << 23) // Xn.shape[0]))
    signsT = np.ascontiguousarray(signs.T)
    for start in range(0, m, block):
        sl = slice(start, min(m, start + block))
        P[:, sl], st, _ = _batched_nnls(Xn, signsT, C[:, sl], pat[sl], 6 * d + 20)
        exact[sl] = st == 1
    fallback = np.flatnonzero(~exact)
    for j in fallback:
        i = pat[j]
        r = signs[:, i] * (Xn @ C[:, j])
        u, ok, _ = _project_one(Xn, signs[:, i], C[:, j], r, n_add, max_rounds)
        if ok or np.linalg.norm(u) <= np.linalg.norm(P[:, j]):
            P[:, j] = u
        exact[j] = ok
    return P, exact, int(fallback.size)


def cone_projections(X_tilde, masks, Q, **kwargs):
    """Project every column of ``Q`` onto its pattern's cone (exactly, up to round-off).

    Parameters
    ----------
    X_tilde : (n, d̃) array
    masks : (n, p) array of bool or 0/1
    Q : (d̃, p) or (m, d̃, p) array
        Column ``i`` of each slice is projected onto ``K_i``.
    **kwargs
        ``max_rounds``, ``n_add``: see :func:`project_columns`.

    Returns
    -------
    ConeProjections
    """
    X_tilde = _dense(X_tilde)
    Q = np.asarray(Q, dtype=np.float64)
    n, d = X_tilde.shape
    p = np.shape(masks)[1] if np.ndim(masks) == 2 else -1
    if Q.ndim not in (2, 3) or Q.shape[-2] != d or Q.shape[-1] != p:
        raise ValueError(
            f"Q must have shape (d̃, p) or (m, d̃, p) with d̃={d}, p={p}; got {Q.shape}."
        )
    lead = Q.shape[:-2]
    Qf = Q.reshape(-1, d, p)
    nb = Qf.shape[0]
    cols = Qf.transpose(1, 0, 2).reshape(d, nb * p)
    pat = np.tile(np.arange(p), nb)
    P, exact, n_fb = project_columns(X_tilde, masks, cols, pat, **kwargs)
    P = P.reshape(d, nb, p).transpose(1, 0, 2)
    norms = np.linalg.norm(P, axis=1)
    return ConeProjections(
        projections=P.reshape(Q.shape),
        norms=norms.reshape(lead + (p,)),
        exact=exact.reshape(lead + (p,)),
        n_fallback=n_fb,
    )


def project_onto_cone(X_tilde, mask, q):
    """``Π_{K_i}(q)`` for the cone of one pattern (exact)."""
    X_tilde = _dense(X_tilde)
    q = np.asarray(q, dtype=np.float64)
    mask = np.asarray(mask).reshape(-1, 1)
    return cone_projections(X_tilde, mask, q.reshape(-1, 1)).projections[:, 0]


def cone_projection_norms(X_tilde, masks, Q):
    """``‖Π_{K_i}(Q[..., :, i])‖`` for every pattern ``i``; ``Q`` is ``(d̃, p)`` or ``(m, d̃, p)``.

    Each value is computed from an explicit ``α >= 0`` (never below the true norm)
    and is exact up to round-off (see the module docstring).
    """
    return cone_projections(X_tilde, masks, Q).norms


def cone_norm_bound(X_tilde, masks, Q, alpha):
    """Upper bounds ``‖q_i + Ã_iᵀα_i‖ >= ‖Π_{K_i}(q_i)‖`` from any multipliers, in one GEMM.

    Parameters
    ----------
    X_tilde : (n, d̃) array
    masks : (n, p) array of bool or 0/1
    Q : (d̃, p) or (m, d̃, p) array
    alpha : (n, p) or (m, n, p) array
        Multipliers; negative entries are replaced by 0 (which keeps the bound valid).

    Returns
    -------
    ndarray of shape ``Q.shape[:-2] + (p,)``
    """
    X_tilde = _dense(X_tilde)
    signs = _signs(masks)
    Q = np.asarray(Q, dtype=np.float64)
    alpha = np.maximum(np.asarray(alpha, dtype=np.float64), 0.0)
    if alpha.shape[:-2] != Q.shape[:-2] or alpha.shape[-2:] != signs.shape:
        raise ValueError(
            f"alpha must have shape {Q.shape[:-2] + signs.shape} to match Q {Q.shape}; got {alpha.shape}."
        )
    # Ã_iᵀα_i = X̃ᵀ(signs_i ∘ α_i) for all patterns at once
    U = Q + np.einsum("nd,...np->...dp", X_tilde, alpha * signs, optimize=True)
    return np.linalg.norm(U, axis=-2)


def max_cone_projection_norm(X_tilde, masks, Q, *, gates=None):
    """``max_{b,i} ‖Π_{K_i}(Q[b, :, i])‖`` without solving every projection exactly.

    A column whose NNLS iterate already has ``‖q + Ãᵀα‖`` below a proven lower bound
    on the maximum cannot attain it, so its NNLS stops there. The lower bound starts
    at ``max ⟨q_i, g_i⟩⁺/‖g_i‖`` over the interior ``gates`` (any ``g_i ∈ K_i`` gives
    ``‖Π_{K_i}(q)‖ >= ⟨q, g_i⟩/‖g_i‖``) and rises with each exact norm found.

    Parameters
    ----------
    X_tilde : (n, d̃) array
    masks : (n, p) array of bool or 0/1
    Q : (d̃, p) or (m, d̃, p) array
    gates : (d̃, p) array, optional
        Points of the cones (checked: a gate with ``Ã_i g_i`` not >= 0 is ignored).

    Returns
    -------
    value : float
        An upper bound on the maximum, equal to it up to round-off when every
        column finished (``exact``).
    exact : bool
    """
    X_tilde = _dense(X_tilde)
    Q = np.asarray(Q, dtype=np.float64)
    signs_all = _signs(masks)
    n, d = X_tilde.shape
    if Q.ndim not in (2, 3) or Q.shape[-2] != d or Q.shape[-1] != signs_all.shape[1]:
        raise ValueError(
            f"Q must have shape (d̃, p) or (m, d̃, p) with d̃={d}, p={signs_all.shape[1]}; "
            f"got {Q.shape}."
        )
    p = Q.shape[-1]
    Qf = Q.reshape(-1, d, p)
    nb = Qf.shape[0]
    cols = Qf.transpose(1, 0, 2).reshape(d, nb * p)
    pat = np.tile(np.arange(p), nb)
    Xn, keep = _normalised_rows(X_tilde)
    if Xn.shape[0] == 0:
        return float(np.linalg.norm(cols, axis=0).max()), True
    signs = signs_all[keep]
    lower = 0.0
    if gates is not None:
        gates = np.asarray(gates, dtype=np.float64)
        gn = np.linalg.norm(gates, axis=0)
        inside = (((Xn @ gates) * signs) >= 0).all(axis=0) & (gn > 0)
        if inside.any():
            val = (cols * gates[:, pat]).sum(axis=0) / np.where(gn > 0, gn, 1.0)[pat]
            val = np.where(inside[pat], val, 0.0)
            lower = max(lower, float(val.max()))
    signsT = np.ascontiguousarray(signs.T)
    # most promising columns first, so the threshold rises early
    order = np.argsort(-np.linalg.norm(cols, axis=0), kind="stable")
    block = max(1, min(cols.shape[1], (1 << 23) // Xn.shape[0]))
    best_upper = 0.0
    all_exact = True
    thr = lower
    for start in range(0, cols.shape[1], block):
        sel = order[start:start + block]
        U, st, thr = _batched_nnls(Xn, signsT, cols[:, sel], pat[sel], 6 * d + 20, threshold=thr)
        norms = np.linalg.norm(U, axis=0)
        for j in np.flatnonzero(st == 0):
            if norms[j] <= thr:
                continue
            c = sel[j]
            i = pat[c]
            r = signs[:, i] * (Xn @ cols[:, c])
            u, ok, _ = _project_one(Xn, signs[:, i], cols[:, c], r, d, Xn.shape[0] + 1)
            norms[j] = min(norms[j], float(np.linalg.norm(u)))
            all_exact &= ok
            if ok:
                thr = max(thr, norms[j])
        best_upper = max(best_upper, float(norms.max()))
    return max(best_upper, 0.0), all_exact
