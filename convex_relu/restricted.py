"""The restricted C-ReLU program of column generation, solved small and exactly.

Column generation (:mod:`convex_relu.pricing`) solves C-ReLU over a working set of
``p`` chambers many times. Built naively (:func:`convex_relu.cvx.build_program`) the
program has ``2pn`` dense cone rows and an ``n``-row loss cone, and an interior-point
solver's KKT system fills in: on 1000 rows it dominated the whole certificate. Two
exact reductions make it small:

**Facet rows.** The cone ``K_i = {v : Ã_i v >= 0}`` of a chamber (``Ã_i = (2D_i − I)X̃``)
is the same set when ``Ã_i`` keeps only its facet rows. With an interior gate ``g``
(``Ã_i g > 0``) the rows ``ã_j`` generate the dual cone ``K_i* = cone{ã_j}``, and ``K_i``
is cut out by the extreme rays of ``K_i*``; those are the vertices of the convex hull
of the points ``ã_j/(ã_jᵀg)`` in the affine plane ``{u : gᵀu = 1}`` (a polygon in rank
3, a polytope in rank 4), in coordinates of the row space of ``X̃``. Points within a
relative tolerance of the hull's boundary are kept too (near-ties, qhull's own
rounding), so the facet set can only be larger than needed. In rank 3 a chamber has
about four facets on average instead of ``n`` rows.

**Row generation, as the safety net.** After each solve every one of the ``n`` rows
of every cone is checked on the solution; rows violated by more than ``row_tol``
(relative, as :func:`convex_relu.solution.relative_violation`) are added and the
program is solved again. The weights are then certified by
:func:`convex_relu.certificates.certify` (which repairs any remaining round-off onto
the full cones), so nothing here is trusted.

**Loss compression** (squared loss). With ``A = [D_1X̃ … D_pX̃]`` (``n × d̃p``, rows
scaled by ``√ŵ`` under sample weights) and its thin QR ``A = QR``,
``‖Au − y‖² = ‖Ru − Qᵀy‖² + ‖y‖² − ‖Qᵀy‖²`` for every ``u``: the loss lives in
``min(n, d̃p)`` coordinates, independent of ``n`` once ``d̃p < n``.

The program handed to Clarabel (its native API, no modelling layer), per output ``k``
(the outputs decouple; they share ``s = nc``)::

    min  (1/(2s))‖e‖² − (1/s)(Qᵀy_k)ᵀe + λ Σ_i (t_i + τ_i)
    s.t. e = R(v − w),  F_i v_i >= 0,  F_i w_i >= 0,  ‖v_i‖ <= t_i,  ‖w_i‖ <= τ_i

with ``F_i`` the facet rows of ``Ã_i``. Its objective plus ``(‖y‖² − ‖Qᵀy‖²)/(2s)`` is the
C-ReLU objective of ``(v, w)``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

__all__ = ["cone_facets", "solve_restricted_relu", "supports_restricted"]

#: Relative distance to the hull boundary within which a row is kept as a facet.
FACET_RTOL = 1e-9


def _row_space_basis(Xt):
    """Orthonormal basis ``(d̃, r)`` of the row space of ``X̃`` (numerical rank ``r``)."""
    _, sv, vt = np.linalg.svd(Xt, full_matrices=False)
    if sv.size == 0 or sv[0] == 0:
        return np.zeros((Xt.shape[1], 0))
    r = int(np.sum(sv > sv[0] * max(Xt.shape) * np.finfo(float).eps))
    return vt[:r].T


def cone_facets(Xt, mask, gate, basis=None, rtol=FACET_RTOL):
    """Indices of rows of ``Ã = (2D − I)X̃`` that cut out ``K = {v : Ãv >= 0}`` (module docstring).

    ``gate`` must be interior (``Ã gate > 0`` on every nonzero row); otherwise every
    nonzero row is returned (always correct). The result is a superset of the facet
    rows: ``{v : Ã_F v >= 0} = K``.
    """
    from scipy.spatial import ConvexHull, QhullError

    if basis is None:
        basis = _row_space_basis(Xt)
    r = basis.shape[1]
    signs = np.where(mask, 1.0, -1.0)
    A = (signs[:, None] * Xt) @ basis  # (n, r): rows in row-space coordinates
    nrm = np.linalg.norm(A, axis=1)
    nz = np.flatnonzero(nrm > 0)
    if nz.size == 0 or r == 0:
        return nz
    g = basis.T @ np.asarray(gate, dtype=float)
    a = A[nz] @ g
    if not np.all(a > 1e-12 * nrm[nz] * max(np.linalg.norm(g), 1e-300)):
        return nz  # not a strictly interior gate: keep every row
    P = A[nz] / a[:, None]  # points in the plane {u : gᵀu = 1}
    if r == 1:
        return nz[:1]
    # coordinates in the plane: an orthonormal basis of g⊥
    gh = g / np.linalg.norm(g)
    _, _, vt = np.linalg.svd(np.eye(r) - np.outer(gh, gh))
    E = vt[: r - 1].T  # (r, r−1)
    C = P @ E
    scale = float(np.abs(C).max()) or 1.0
    if r == 2:
        lo, hi = C[:, 0].min(), C[:, 0].max()
        keep = (C[:, 0] <= lo + rtol * scale) | (C[:, 0] >= hi - rtol * scale)
        return nz[keep]
    try:
        hull = ConvexHull(C)
    except (QhullError, ValueError):
        return nz
    # keep every point on (or within rtol of) a supporting facet of the hull
    Eq = hull.equations  # (f, r): normal·x + offset <= 0 inside
    dist = C @ Eq[:, :-1].T + Eq[:, -1]  # (n', f), <= 0
    keep = (dist >= -rtol * scale).any(axis=1)
    keep[hull.vertices] = True
    return nz[keep]


def supports_restricted(problem):
    """Whether :func:`solve_restricted_relu` handles ``problem`` (C-ReLU, squared loss, group-ℓ2 penalty)."""
    from .penalties import DEFAULT_PENALTY

    return (
        getattr(problem, "formulation", None) == "relu"
        and problem.loss == "squared"
        and getattr(problem, "penalty", DEFAULT_PENALTY) is DEFAULT_PENALTY
        and problem.lam > 0
    )


def _cone_rows_matrix(Xt, signs, basis_rows):
    """Block-diagonal ``−F_i`` rows (nonneg cone ``F_i v_i >= 0`` as ``−F_i v_i + s = 0``)."""
    n, d = Xt.shape
    rows, cols, vals = [], [], []
    r0 = 0
    for i, F in enumerate(basis_rows):
        k = F.size
        blk = -(signs[F, i][:, None] * Xt[F])  # (k, d)
        rr = np.repeat(np.arange(r0, r0 + k), d)
        cc = np.tile(np.arange(i * d, (i + 1) * d), k)
        rows.append(rr)
        cols.append(cc)
        vals.append(blk.ravel())
        r0 += k
    if not rows:
        return (np.zeros(0, int), np.zeros(0, int), np.zeros(0)), 0
    return (np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)), r0


def _solve_one_output(Xt, masks, R, qy, s, lam, facets, tol, max_iter, time_limit):
    """Clarabel on the compressed program of one output; returns ``(V, W, status, iters)``."""
    import clarabel

    n, d = Xt.shape
    p = masks.shape[1]
    k = R.shape[0]
    nv = d * p
    # variable layout: [v (d·p, pattern-major), w (d·p), e (k), t (p), τ (p)]
    ov, ow, oe, ot, otau = 0, nv, 2 * nv, 2 * nv + k, 2 * nv + k + p
    N = otau + p
    signs = 2.0 * masks - 1.0
    blocks = []
    b_parts = []
    cones = []
    # zero cone: e − R v + R w = 0  (R acts on u in pattern-major order: column i·d + j)
    Rs = sp.csc_matrix(R)
    Z = sp.hstack([-Rs, Rs, sp.eye(k), sp.csc_matrix((k, 2 * p))], format="csc")
    blocks.append(Z)
    b_parts.append(np.zeros(k))
    cones.append(clarabel.ZeroConeT(k))
    # nonnegative cone: facet rows of v and of w
    (rr, cc, vv), m_rows = _cone_rows_matrix(Xt, signs, facets)
    Fv = sp.csc_matrix((vv, (rr, cc)), shape=(m_rows, nv))
    Zr = sp.csc_matrix((m_rows, nv))
    rest = sp.csc_matrix((m_rows, k + 2 * p))
    blocks.append(sp.hstack([Fv, Zr, rest], format="csc"))
    blocks.append(sp.hstack([Zr, Fv, rest], format="csc"))
    b_parts += [np.zeros(m_rows), np.zeros(m_rows)]
    cones.append(clarabel.NonnegativeConeT(2 * m_rows))
    # second-order cones (t_i, v_i) and (τ_i, w_i): s = −A x = (t_i, v_i)
    soc_r, soc_c = [], []
    r0 = 0
    for off_norm, off_vec in ((ot, ov), (otau, ow)):
        for i in range(p):
            soc_r.append(r0)
            soc_c.append(off_norm + i)
            soc_r.extend(range(r0 + 1, r0 + 1 + d))
            soc_c.extend(range(off_vec + i * d, off_vec + (i + 1) * d))
            r0 += d + 1
            cones.append(clarabel.SecondOrderConeT(d + 1))
    S = sp.csc_matrix((-np.ones(len(soc_r)), (soc_r, soc_c)), shape=(r0, N))
    blocks.append(S)
    b_parts.append(np.zeros(r0))
    A = sp.vstack(blocks, format="csc")
    b = np.concatenate(b_parts)
    Pdiag = np.zeros(N)
    Pdiag[oe:oe + k] = 1.0 / s
    P = sp.diags(Pdiag, format="csc")
    q = np.zeros(N)
    q[oe:oe + k] = -qy / s
    q[ot:] = lam
    st = clarabel.DefaultSettings()
    st.verbose = False
    st.tol_gap_abs = st.tol_gap_rel = st.tol_feas = tol
    st.tol_ktratio = min(st.tol_ktratio, tol)
    st.max_iter = max_iter
    st.max_threads = 1
    if time_limit is not None:
        st.time_limit = float(time_limit)
    solver = clarabel.DefaultSolver(P, q, A, b, cones, st)
    out = solver.solve()
    x = np.asarray(out.x, dtype=float)
    V = x[ov:ov + nv].reshape(p, d).T
    W = x[ow:ow + nv].reshape(p, d).T
    return V, W, str(out.status), int(out.iterations)


def solve_restricted_relu(problem, *, tol=1e-7, solver_tol=None, row_tol=None, max_row_rounds=6,
                          max_iter=200, time_limit=None, warn=False):
    """Solve C-ReLU on ``problem``'s patterns with facet rows, row generation and a compressed loss.

    Parameters
    ----------
    problem : ReLUProblem
        Squared loss, group-ℓ2 penalty, ``λ > 0`` (:func:`supports_restricted`);
        ``problem.patterns.gates`` should be interior gates (chambers from pricing are;
        a non-interior gate only makes its cone keep every row).
    tol : float
        Certified relative gap the :class:`~convex_relu.solution.Solution` is judged by.
    solver_tol : float, optional
        Clarabel's gap and feasibility tolerances; default ``min(1e-10, max(tol/100, 1e-13))``.
    row_tol : float
        Relative cone violation (as :func:`~convex_relu.solution.relative_violation`)
        above which a dropped row is added back and the program re-solved; default
        ``min(1e-7, tol)`` (rows implied by a thin cone's facets amplify the solver's
        round-off to ~1e-9; the certificate's repair absorbs that, at a cost in the
        objective of the same relative order, so a tight ``tol`` asks for them).
    max_row_rounds : int
        Solves at most (row generation rounds).

    Returns
    -------
    Solution
        Flags from our certificate (:func:`convex_relu.solution.finalize`);
        ``info`` has ``facet_rows`` (rows kept, per cone, summed over patterns),
        ``row_rounds``, ``rows_added``, ``clarabel_iterations`` and ``qr_rank``.
    """
    from .solution import finalize

    if not supports_restricted(problem):
        raise ValueError("solve_restricted_relu needs a C-ReLU problem with the squared loss, the "
                         "group-ℓ2 penalty and lam > 0.")
    t0 = time.perf_counter()
    if solver_tol is None:
        solver_tol = min(1e-10, max(tol / 100.0, 1e-13))
    if row_tol is None:
        row_tol = min(1e-7, tol)
    inner, scaling = problem.normalized()
    Xt, masks = inner.X_tilde, inner.patterns.masks
    n, d = Xt.shape
    p, c, s, lam = inner.p, inner.c, inner.s, inner.lam
    basis = _row_space_basis(Xt)
    gates = inner.patterns.gates
    facets = [cone_facets(Xt, masks[:, i], gates[:, i], basis) for i in range(p)]
    n_facet = int(sum(F.size for F in facets))
    # A = [D_1X̃ … D_pX̃] in pattern-major column order, rows weighted by √ŵ
    A = (masks[:, :, None] * Xt[:, None, :]).reshape(n, p * d)
    Y = inner.Y
    if inner.row_weights is not None:
        sw = np.sqrt(inner.row_weights)
        A = A * sw
        Y = Y * sw
    from scipy.linalg import qr_multiply

    # Householder QR without forming Q: Yᵀ Q gives Qᵀy for every output at once
    YQ, R = qr_multiply(A, np.ascontiguousarray(Y.T), mode="right")
    QY = np.asarray(YQ).T  # (k, c)
    signs = 2.0 * masks - 1.0
    weights = np.zeros((2, c, d, p))
    statuses, iters, rounds, added = [], 0, 0, 0
    row_scale = float(np.linalg.norm(Xt, axis=1).max()) if n else 0.0
    for kk in range(c):
        F = [f.copy() for f in facets]
        for rr in range(max_row_rounds):
            rounds += 1
            V, W, st, it = _solve_one_output(Xt, masks, R, QY[:, kk], s, lam, F, solver_tol, max_iter,
                                             None if time_limit is None else
                                             max(1.0, time_limit - (time.perf_counter() - t0)))
            iters += it
            statuses.append(st)
            # row generation: every row of every cone, on the solution
            scale = row_scale * max(float(np.linalg.norm(np.concatenate([V, W], 1), axis=0).max()), 1e-300)
            slack_v = signs * (Xt @ V)
            slack_w = signs * (Xt @ W)
            viol = np.minimum(slack_v, slack_w) < -row_tol * scale  # (n, p)
            new = 0
            for i in np.flatnonzero(viol.any(axis=0)):
                extra = np.setdiff1d(np.flatnonzero(viol[:, i]), F[i])
                if extra.size:
                    F[i] = np.union1d(F[i], extra)
                    new += extra.size
            if new == 0:
                break
            added += new
        weights[0, kk], weights[1, kk] = V, W
    raw = scaling.weights_to_user(weights) if not scaling.is_identity else weights
    ok_status = all(st == "Solved" for st in statuses)
    own = "optimal" if ok_status else (statuses[-1] if statuses else "unknown")
    info = {
        "facet_rows": n_facet,
        "row_rounds": rounds,
        "rows_added": added,
        "clarabel_iterations": iters,
        "qr_rank": int(R.shape[0]),
        "clarabel_status": statuses,
    }
    return finalize(problem, raw, solver="clarabel-facets", status=own, tol=tol, warn=warn, info=info,
                    n_iter=iters, solve_time=time.perf_counter() - t0)
