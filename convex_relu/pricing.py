"""Certified global optimum over the whole arrangement: pattern pricing (column generation).

A certificate of global optimality for two-layer ReLU training needs a dual point
``z`` that is feasible for **every** chamber ``i`` of the arrangement
``{g : x̃_jᵀg = 0}`` (DESIGN §9), not only for the patterns of one program. With
``q_{k,i} = X̃ᵀD_i z_k``:

- C-GReLU: ``‖q_{k,i}‖ <= λ``;
- C-ReLU: ``‖Π_{K_i}(−q_{k,i})‖ <= λ`` and ``‖Π_{K_i}(q_{k,i})‖ <= λ``; since
  ``‖Π_K(q)‖ <= ‖q‖`` a chamber with ``‖q‖ <= λ`` needs no projection (screening).

Then ``D(z) = −ℓ*(z)`` is a lower bound on the convex program over *all* chambers,
which equals the global minimum of weight-decay training of a two-layer ReLU
network of any width (one output per hidden neuron when ``c > 1``; for C-GReLU,
of gated networks whose gates are in general position, which with a bias is every
gate). Weights of any working set are feasible for that program, so their
objective is an upper bound: ``D(z) <= global optimum <= P(weights)``.

Column generation (:func:`solve_global`): solve the restricted program on a
working set of chambers, certify it (:func:`convex_relu.certificates.certify`), price
every chamber at its dual point (streamed by
:class:`convex_relu.patterns.Arrangement`, one small GEMM per block, cone
projections only for the screened survivors), add the most violated chambers with
their interior gates, repeat. Whatever the round, scaling ``z_k`` by
``t_k <= λ/M_k`` (``M_k`` the largest constraint value over all chambers) makes it
feasible for all of them, so every round yields a valid global lower bound; the
loop stops when the certified global relative gap meets ``tol``.

C-ReLU pricing is exact without projections in rank 3 (:class:`_CircleSweep`) and rank 4
(:class:`_HyperplaneSweeps`: streamed chamber interiors plus one rank-3 sweep of the
faces inside each hyperplane); in rank 4 the first rounds price the faces only
(``partial_pricing``: columns, no bound), and the best bound of any full round is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import xlogy

from ._validation import add_bias_column, check_bool, check_lam, check_matrix
from .certificates import certify, network_objective
from .cones import project_columns
from .patterns import Arrangement, Patterns, sample_patterns
from .problems import make_problem
from .restricted import solve_restricted_relu, supports_restricted

__all__ = [
    "GlobalCertificate",
    "PricingResult",
    "PricingRound",
    "ColumnGenerationResult",
    "NetworkGlobalCertificate",
    "price_arrangement",
    "global_dual_bound",
    "solve_global",
    "certify_network_global",
]


# ---------------------------------------------------------------------------
# pricing one dual point against every chamber
# ---------------------------------------------------------------------------


@dataclass
class PricingResult:
    """Constraint values of a dual point over every chamber of an arrangement.

    Attributes
    ----------
    max_constraint : ndarray (c,)
        ``M_k``: an upper bound on the largest constraint value of output ``k`` over
        all chambers (exact up to round-off where ``exact``).
    n_chambers : int
        Chambers priced (the all-negative one included).
    n_violating : int
        Chambers whose value exceeds ``λ(1 + viol_tol)`` for some output.
    n_projected : int
        C-ReLU: chambers that passed the screen ``‖q‖ > λ`` and were projected.
    exact : bool
        Every projection behind ``max_constraint`` finished exactly.
    top_signs : ndarray of bool (m, K)
        Sign vectors (distinct-hyperplane coordinates) of the most violated chambers,
        most violated first.
    top_values : ndarray (K,)
        Their ``max_k value/λ``.
    n_faces : int
        C-ReLU face pricing: arcs and rays evaluated (0 otherwise).
    """

    max_constraint: np.ndarray
    n_chambers: int
    n_violating: int
    n_projected: int
    exact: bool
    top_signs: np.ndarray
    top_values: np.ndarray
    n_faces: int = 0


def _relu_values(problem, arrangement, blk, idx, Q):
    """Upper bounds on ``max(‖Π_{K_i}(−q)‖, ‖Π_{K_i}(q)‖)`` per output, chambers ``idx`` of a block.

    Lock-step Lawson–Hanson NNLS (:mod:`convex_relu.cones`) with threshold ``λ``: a
    column stops as soon as its iterate ``‖q + Ãᵀα‖`` (always an upper bound) falls
    below the threshold, which only rises to exact norms found on the way, so the
    largest value is exact and every value is a valid upper bound. Returns
    ``(values (b, c), exact)``.
    """
    from .cones import _batched_nnls, _normalised_rows

    masks = arrangement.expand(blk.rep_signs(idx))  # (n, b)
    b, c, d = Q.shape
    Xn, keep = _normalised_rows(problem.X_tilde)
    signsT = np.ascontiguousarray(np.where(masks[keep], 1.0, -1.0).T)  # (b, n')
    cols = np.concatenate([-Q, Q], axis=1).reshape(b * 2 * c, d).T  # (d, b·2c)
    pat = np.repeat(np.arange(b), 2 * c)
    if Xn.shape[0] == 0:
        return np.linalg.norm(cols, axis=0).reshape(b, 2, c).max(axis=1), True
    U, status, _ = _batched_nnls(Xn, signsT, cols, pat, 6 * d + 20, threshold=problem.lam)
    norms = np.linalg.norm(U, axis=0)
    redo = np.flatnonzero((status == 0) & (norms > problem.lam))
    if redo.size:
        # the rare columns the lock-step NNLS leaves unfinished: the exact projection
        P, ex, _ = project_columns(problem.X_tilde, masks, cols[:, redo], pat[redo])
        norms[redo] = np.minimum(norms[redo], np.linalg.norm(P, axis=0))
        status = status.copy()
        status[redo[ex]] = 1
    exact = bool(np.all(status > 0))
    return norms.reshape(b, 2, c).max(axis=1), exact


def _local_cone_bound(N, q):
    """``min_A ‖q + N_Aᵀμ_A‖`` over the active sets ``A`` whose ``μ_A >= 0``, batched.

    ``N`` is ``(b, t, d̃)``: ``t`` signed normals of rows of the chamber's cone
    (``K ⊆ {u : Nu >= 0}``), ``q`` is ``(b, d̃)``. Any ``μ >= 0`` on some rows of
    ``Ã_i`` gives ``‖q + Ã_iᵀμ‖ >= ‖Π_{K_i}(q)‖`` (Moreau; DESIGN §4), so this is an
    upper bound on the projection norm, exact when the projection onto the ``t``
    half-spaces lands in ``K``. ``μ_A`` solves ``N_A(q + N_Aᵀμ_A) = 0``.
    """
    b, t, d = N.shape
    best = np.linalg.norm(q, axis=1)
    for mask in range(1, 1 << t):
        act = [j for j in range(t) if mask >> j & 1]
        NA = N[:, act, :]  # (b, a, d)
        G = NA @ NA.transpose(0, 2, 1)
        rhs = -np.einsum("bad,bd->ba", NA, q)
        with np.errstate(all="ignore"):
            try:
                mu = np.linalg.solve(G, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                continue
        ok = np.all(mu >= 0, axis=1) & np.all(np.isfinite(mu), axis=1)
        if not ok.any():
            continue
        u = q[ok] + np.einsum("bad,ba->bd", NA[ok], mu[ok])
        best[ok] = np.minimum(best[ok], np.linalg.norm(u, axis=1))
    return best


# ---------------------------------------------------------------------------
# exact C-ReLU pricing in rank 3: the maximum of a piecewise-linear function on the sphere
# ---------------------------------------------------------------------------

#: Angular slack (radians) with which a candidate maximiser is accepted on its face.
#: Accepting a point slightly outside its face can only raise the reported maximum
#: (a conservative certificate), never lower it.
_FACE_ATOL = 1e-9
#: A point this close (``|ν_cᵀu|``) to a hyperplane is on it: its signs there name no chamber.
_TIE_ATOL = 1e-9
#: Rank 4: keep every hyperplane's sweep geometry across rounds when ``m·m·2m`` is at most this.
_HYPERPLANE_CACHE_ENTRIES = 1 << 20
#: Matrix entries per block of circles in the sweep (bounds its memory).
_SWEEP_ENTRIES = 1 << 20
#: Cache the sorted breakpoints of every circle when ``m·2m`` is at most this.
_SWEEP_CACHE_ENTRIES = 1 << 23


class _CircleSweep:
    r"""Exact C-ReLU pricing over every chamber of a rank-3 arrangement, without projections.

    **Derivation.** Let ``K_i = {v : (2D_i − I)X̃v >= 0}`` and ``q_i = X̃ᵀD_i z``. For a
    closed convex cone, Moreau's decomposition gives
    ``‖Π_K(q)‖ = max(0, sup_{v∈K, ‖v‖<=1} ⟨q, v⟩)``. On ``K_i`` the rows with mask 1
    have ``x̃_jᵀv >= 0`` and the others ``<= 0``, so ``D_iX̃v = (X̃v)_+`` and
    ``⟨q_i, v⟩ = zᵀ(X̃v)_+ =: f(v)``, the same function for every chamber. The
    closures of the chambers cover the space, hence

        max_i ‖Π_{K_i}(q_i)‖ = max(0, max_{‖v‖=1} f(v)),
        max_i ‖Π_{K_i}(−q_i)‖ = max(0, max_{‖v‖=1} −f(v)).

    ``f`` only sees the row space ``R`` of ``X̃`` (dimension ``r``; on its orthogonal
    complement ``f`` is constant), so the sphere is that of ``R``. Writing row ``j`` of
    distinct hyperplane ``c`` as ``x̃_j = ρ_j ν_c`` (``ν_c`` a unit normal, ``|ρ_j| = ‖x̃_j‖``)
    and ``(ρt)_+ = (ρt + |ρ||t|)/2``:

        f(v) = ⟨g₀, v⟩ + Σ_c β_c |ν_cᵀv|,   g₀ = ½X̃ᵀz,   β_c = ½ Σ_{j∈c} z_j‖x̃_j‖.

    ``f`` is linear on each closed face ``F`` of the arrangement (chambers, and the
    lower-dimensional cones where some ``ν_cᵀv = 0``), equal there to ``⟨q_F, v⟩`` with
    ``q_F = Π_{span F}(q_i)`` for any chamber ``i`` whose closure contains ``F`` (those
    chambers differ only on hyperplanes containing ``F``, whose normals are
    orthogonal to ``span F``). The maximum of ``f`` on the sphere is attained at some
    ``v*`` in the relative interior of one face ``F``, where it is a maximum of the
    linear ``⟨q_F, ·⟩`` over ``span F`` near ``v*``: ``v* = q_F/‖q_F‖`` and
    ``f(v*) = ‖q_F‖``. Conversely, whenever ``q_F/‖q_F‖ ∈ F`` the value ``‖q_F‖`` is a
    value of ``f`` on the sphere. So

        max_{‖v‖=1} f = max over faces F with q_F/‖q_F‖ ∈ F of ‖q_F‖,

    and the same value bounds each chamber containing ``F`` from below
    (``‖Π_{K_i}(q_i)‖ >= ⟨q_i, v*⟩ = ‖q_F‖``). In rank 3 the faces are

    - **chambers** (``q_F = q_i``, test ``q_i ∈ K_i``; streamed, see
      :func:`_interior_candidates`);
    - **arcs** on the great circle ``ν_jᵀv = 0``: with an orthonormal basis
      ``(e₁, e₂)`` of ``ν_j^⊥``, ``v(θ) = e₁cosθ + e₂sinθ`` and ``p_c = (ν_cᵀe₁, ν_cᵀe₂)``,
      ``f(v(θ)) = ⟨G(θ), (cosθ, sinθ)⟩`` with ``G(θ) = (g₀ᵀe₁, g₀ᵀe₂) + Σ_{c≠j} t_c(θ) β_c p_c``
      and ``t_c(θ) = sign(p_cᵀ(cosθ, sinθ))``. ``t_c`` flips at ``θ = φ_c ± π/2``, so
      after one sort of the ``2(m−1)`` breakpoints ``G`` on every arc is a cumulative sum
      (``ΔG = ∓2β_c p_c``). The arc's candidate is ``‖G‖``, valid when the angle of
      ``G`` lies in the arc (of ``−G`` for ``−f``);
    - **rays** (the breakpoints): ``f(v(θ_k)) = ⟨G_k, (cosθ_k, sinθ_k)⟩``, always valid.

    Every value is ``f`` (or ``−f``) at a unit vector up to the acceptance slack, so
    the maximum is exact: no NNLS, ``O(m² log m)`` for the circles plus the chamber
    tests. The geometry (bases, sorted breakpoints) does not depend on ``z`` and is
    cached across pricing rounds when small enough.
    """

    def __init__(self, arrangement):
        N = arrangement.rep_normals()  # (m, d̃), user coordinates, unit
        _, _, vt = np.linalg.svd(N, full_matrices=False)
        self.B = vt[:3].T  # (d̃, 3): orthonormal basis of the row space
        n = N @ self.B
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        self._setup(n)
        self.arrangement = arrangement

    @classmethod
    def from_normals(cls, n, cache=True):
        """A sweep of the circles ``{u ∈ R³ : n_cᵀu = 0}`` of unit, pairwise non-parallel rows ``n`` (m, 3).

        No arrangement behind it (:meth:`coefficients` is unavailable): the rank-4
        pricing builds one per hyperplane (:class:`_HyperplaneSweeps`).
        """
        self = cls.__new__(cls)
        self.B = np.eye(3)
        self.arrangement = None
        self._setup(np.asarray(n, dtype=np.float64), cache)
        return self

    def _setup(self, n, cache=True):
        self.m = m = n.shape[0]
        self.n = n
        axis = np.eye(3)[np.argmin(np.abs(n), axis=1)]
        e1 = np.cross(n, axis)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(n, e1)
        self.E = np.stack([e1, e2], axis=1)  # (m, 2, 3)
        self.block = max(1, _SWEEP_ENTRIES // max(2 * m, 1))
        self._cache = {} if cache and m * 2 * m <= _SWEEP_CACHE_ENTRIES else None

    def _geometry(self, j0, j1):
        if self._cache is not None and j0 in self._cache:
            return self._cache[j0]
        m = self.m
        J = np.arange(j0, j1)
        P = (self.E[J] @ self.n.T).transpose(0, 2, 1)  # (J, m, 2)
        P[np.arange(J.size), J, :] = 0.0
        phi = np.arctan2(P[..., 1], P[..., 0])
        # sign of p_cᵀ(cos θ, sin θ) just after θ = 0
        t0 = np.where(P[..., 0] > 0, 1.0, np.where(P[..., 0] < 0, -1.0, np.sign(P[..., 1])))
        two_pi = 2 * np.pi
        th_out = np.mod(phi + np.pi / 2, two_pi)  # t_c: +1 -> −1
        th_in = np.mod(phi - np.pi / 2, two_pi)  # t_c: −1 -> +1
        theta = np.concatenate([th_out, th_in], axis=1)
        theta = np.where(theta <= 0.0, two_pi, theta)  # breakpoints in (0, 2π]
        own = np.zeros((J.size, 2 * m), dtype=bool)
        own[np.arange(J.size), J] = True
        own[np.arange(J.size), J + m] = True
        theta = np.where(own, 4 * np.pi, theta)  # the circle's own normal: parked last, dropped
        order = np.argsort(theta, axis=1, kind="stable")[:, : 2 * m - 2]
        th = np.take_along_axis(theta, order, axis=1)
        cls = order % m
        dsg = np.where(order < m, -2.0, 2.0)
        Pc = np.take_along_axis(P, cls[..., None], axis=1) * dsg[..., None]  # (J, K, 2): ΔG / β
        # for the chambers beside each arc (``_price_chambers``): the normal component
        # ν_jᵀq, whose increments are ∓2β_c ν_cᵀν_j, and the position of each row's two
        # breakpoints in the sorted order, so that the sign t_c on arc k is combinatorial
        # (t0_c flipped once per own breakpoint at a position <= k), exactly the signs
        # behind the cumulative sums
        NN = self.n[J] @ self.n.T  # (J, m)
        NN[np.arange(J.size), J] = 0.0
        Hc = np.take_along_axis(NN, cls, axis=1) * dsg  # (J, K): Δ(ν_jᵀq) / β
        K = order.shape[1]
        inv = np.full((J.size, 2 * m), K, dtype=np.int32)
        np.put_along_axis(inv, order, np.arange(K, dtype=np.int32)[None, :].repeat(J.size, 0), axis=1)
        out = (J, t0, P, th, cls, Pc, NN, Hc, inv)
        if self._cache is not None:
            self._cache[j0] = out
        return out

    def count_chambers(self):
        """Chambers of the arrangement by Euler's formula on the sphere, ``F = 2 + Σ_P (k_P − 1)``.

        ``k_P`` is the number of great circles through vertex ``P``; each circle ``j`` sees
        ``P`` as a run of ``k_P − 1`` coincident breakpoints, so ``Σ_P (k_P − 1) =
        Σ_j Σ_runs b/(b + 1)`` (``b`` the run length). Breakpoints closer than
        ``_FACE_ATOL`` are one vertex.
        """
        total = 0.0
        for j0 in range(0, self.m, self.block):
            th = self._geometry(j0, min(self.m, j0 + self.block))[3]
            if th.shape[1] == 0:
                continue
            gap = np.diff(np.concatenate([th, th[:, :1] + 2 * np.pi], axis=1), axis=1)
            new_run = gap > _FACE_ATOL  # breakpoint k ends a run
            for row, nr in zip(th, new_run):
                ends = np.flatnonzero(nr)
                if ends.size == 0:
                    total += row.size / (row.size + 1.0)
                    continue
                # runs between consecutive ends, cyclically
                lens = np.diff(np.concatenate([[ends[-1] - row.size], ends]))
                total += float(np.sum(lens / (lens + 1.0)))
        return int(round(2 + total))

    def price(self, g0, beta, limit, top_k):
        """Largest ``±f`` over arcs and rays per output; and the top candidates above ``limit``.

        ``g0`` ``(3, c)``, ``beta`` ``(m, c)`` (row-space coordinates). Returns
        ``(M (c,), n_faces, n_violating, cands)`` where ``cands`` is a list of
        ``(value, circle j, angle_a, angle_b)``: chambers adjacent to the arc with
        midpoint ``angle_a`` (and, for a ray, the arc with midpoint ``angle_b``) on
        circle ``j`` have value at least ``value``.
        """
        m = self.m
        c = g0.shape[1]
        M = np.full(c, -np.inf)
        two_pi = 2 * np.pi
        vals_all, j_all, a_all, b_all = [], [], [], []
        n_faces = n_viol = 0
        for j0 in range(0, m, self.block):
            j1 = min(m, j0 + self.block)
            J, t0, P, th, cls, Pc = self._geometry(j0, j1)[:6]
            nb, K = th.shape
            if K == 0:
                continue
            n_faces += 2 * nb * K  # arcs and rays (each ray seen from its two circles)
            g2 = np.einsum("jtk,kc->jtc", self.E[J], g0)  # (J, 2, c)
            G0 = g2 + (t0[:, :, None] * P).transpose(0, 2, 1) @ beta
            dG = Pc[..., None] * beta[cls][:, :, None, :]  # (J, K, 2, c)
            G = G0[:, None] + np.cumsum(dG, axis=1)  # on the arc (θ_k, θ_{k+1})
            cos, sin = np.cos(th)[..., None], np.sin(th)[..., None]
            ray = G[:, :, 0] * cos + G[:, :, 1] * sin  # f at the breakpoints (J, K, c)
            start = th
            end = np.concatenate([th[:, 1:], th[:, :1] + two_pi], axis=1)
            length = (end - start)[..., None]
            psi = np.arctan2(G[:, :, 1], G[:, :, 0])
            nrm = np.hypot(G[:, :, 0], G[:, :, 1])
            off_p = np.mod(psi - start[..., None], two_pi)
            off_m = np.mod(psi + np.pi - start[..., None], two_pi)
            ok_p = (off_p <= length + _FACE_ATOL) | (off_p >= two_pi - _FACE_ATOL)
            ok_m = (off_m <= length + _FACE_ATOL) | (off_m >= two_pi - _FACE_ATOL)
            arc = np.where(ok_p | ok_m, nrm, -np.inf)  # valid for f or for −f (same ‖G‖)
            rays = np.abs(ray)  # f or −f at the ray
            M = np.maximum(M, np.maximum(arc.max(axis=(0, 1)), rays.max(axis=(0, 1))))
            if top_k:
                mid = 0.5 * (start + end)
                prev_mid = np.concatenate([mid[:, -1:] - two_pi, mid[:, :-1]], axis=1)
                best_arc = arc.max(axis=2)
                best_ray = rays.max(axis=2)
                for best, bmid in ((best_arc, None), (best_ray, prev_mid)):
                    n_viol += int((best > limit).sum())
                    # one candidate per circle, its best face: the most violated faces
                    # cluster around one point, which every circle passing near it
                    # sees; the best face of each circle spreads the pool over the sphere
                    ki = best.argmax(axis=1)
                    ji = np.arange(nb)
                    v = best[ji, ki]
                    keep = v > limit
                    ji, ki, v = ji[keep], ki[keep], v[keep]
                    if ji.size == 0:
                        continue
                    vals_all.append(v)
                    j_all.append(J[ji])
                    a_all.append(mid[ji, ki])
                    b_all.append(np.full(v.size, np.nan) if bmid is None else bmid[ji, ki])
        cands = []
        if vals_all:
            v = np.concatenate(vals_all)
            jj, aa, bb = np.concatenate(j_all), np.concatenate(a_all), np.concatenate(b_all)
            cands = list(zip(v, jj, aa, bb))
        return np.maximum(M, 0.0), n_faces, n_viol, cands

    def price_chambers(self, g0, beta, thr, limit, top_k, max_tests=1 << 21):
        """Chamber interiors, from the arcs beside them: no stream of the arrangement.

        Every chamber of a rank-3 arrangement is a spherical polygon bounded by arcs,
        and on a circle ``j`` the chamber on side ``σ`` of arc ``k`` has signs
        ``t_c(k)`` (``c ≠ j``) and ``σ``, hence (row-space coordinates)
        ``q = g₀ + Σ_c β_c t_c ν_c = e₁G₁ + e₂G₂ + ν_j(H + σβ_j)`` with ``G`` the arc's
        in-plane sum and ``H`` the same sum's normal component. Its interior value
        ``‖q‖`` counts (for ``f``, resp. ``−f``) when ``±q`` lies in the closure of its
        cone: ``t_c ν_cᵀq >= 0`` for every ``c ≠ j`` and ``σν_jᵀq >= 0`` (with slack
        ``_FACE_ATOL``, which can only accept more). Only ``(chamber, output)`` pairs with
        ``‖q‖ > thr`` are tested, rows in a fixed random order in growing stages, so most
        are rejected after a few dot products. Each chamber is seen once per bounding
        arc. Returns ``(M (c,), n_tested, n_violating, cands)``, ``cands`` a list of
        ``(value, j, k, σ, j0)`` of accepted chambers above ``limit``.
        """
        m = self.m
        c = g0.shape[1]
        M = np.zeros(c)
        order_rows = np.random.default_rng(0).permutation(m)
        n_test = n_viol = 0
        cands = []
        for j0 in range(0, m, self.block):
            j1 = min(m, j0 + self.block)
            J, t0, P, th, cls, Pc, NN, Hc, inv = self._geometry(j0, j1)
            nb, K = th.shape
            if K == 0:
                continue
            g2 = np.einsum("jtk,kc->jtc", self.E[J], g0)  # (J, 2, c)
            G = g2 + (t0[:, :, None] * P).transpose(0, 2, 1) @ beta
            G = G[:, None] + np.cumsum(Pc[..., None] * beta[cls][:, :, None, :], axis=1)  # (J, K, 2, c)
            H = (self.n[J] @ g0) + (t0 * NN) @ beta  # (J, c)
            H = H[:, None, :] + np.cumsum(Hc[..., None] * beta[cls], axis=1)  # (J, K, c)
            bj = beta[J][:, None, :]  # (J, 1, c)
            gg = G[:, :, 0] ** 2 + G[:, :, 1] ** 2  # (J, K, c)
            # the circles at the arc's two ends bound the chamber too: with their exact
            # signs (just flipped at the start, about to flip at the end) they give two
            # cheap necessary conditions on the whole grid before the staged test
            Pn, Hn = np.roll(Pc, -1, axis=1), np.roll(Hc, -1, axis=1)
            for sig in (1.0, -1.0):
                h = H + sig * bj
                nq = np.sqrt(gg + h * h)
                tol_q = _FACE_ATOL * nq
                a = 0.5 * (Pc[..., 0, None] * G[:, :, 0] + Pc[..., 1, None] * G[:, :, 1] + Hc[..., None] * h)
                b = -0.5 * (Pn[..., 0, None] * G[:, :, 0] + Pn[..., 1, None] * G[:, :, 1] + Hn[..., None] * h)
                sh = sig * h
                plus = (a >= -tol_q) & (b >= -tol_q) & (sh >= -tol_q)
                minus = (a <= tol_q) & (b <= tol_q) & (sh <= tol_q)
                jj, kk, oo = np.nonzero((nq > thr[None, None, :]) & (plus | minus))
                if jj.size == 0:
                    continue
                n_test += jj.size
                for s0 in range(0, jj.size, max_tests):
                    sj, sk, so = jj[s0:s0 + max_tests], kk[s0:s0 + max_tests], oo[s0:s0 + max_tests]
                    v = nq[sj, sk, so]
                    gi = J[sj]
                    q = (self.E[gi, 0] * G[sj, sk, 0, so][:, None] + self.E[gi, 1] * G[sj, sk, 1, so][:, None]
                         + self.n[gi] * h[sj, sk, so][:, None]) / v[:, None]  # unit (L, 3)
                    hn = h[sj, sk, so] / v  # ν_jᵀq̂
                    # +q needs σ ν_jᵀq̂ >= 0, −q needs <= 0
                    alive = np.stack([sig * hn >= -_FACE_ATOL, sig * hn <= _FACE_ATOL], axis=1)  # (L, 2)
                    live = np.flatnonzero(alive.any(axis=1))
                    pos, stage = 0, 16
                    while live.size and pos < m:
                        rows = order_rows[pos:pos + stage]
                        pos += rows.size
                        stage *= 4
                        lj, lk = sj[live], sk[live]
                        flips = ((inv[lj[:, None], rows[None, :]] <= lk[:, None]).astype(np.int8)
                                 + (inv[lj[:, None], rows[None, :] + m] <= lk[:, None]))
                        t = t0[lj[:, None], rows[None, :]] * np.where(flips % 2 == 1, -1.0, 1.0)  # (L, R)
                        proj = (q[live] @ self.n[rows].T) * t  # (L, R); t = 0 on the own row
                        alive[live, 0] &= (proj >= -_FACE_ATOL).all(axis=1)
                        alive[live, 1] &= (proj <= _FACE_ATOL).all(axis=1)
                        live = live[alive[live].any(axis=1)]
                    acc = np.flatnonzero(alive.any(axis=1))
                    if acc.size == 0:
                        continue
                    np.maximum.at(M, so[acc], v[acc])
                    big = acc[v[acc] > limit]
                    n_viol += big.size
                    if top_k and big.size:
                        if big.size > top_k:
                            big = big[np.argpartition(-v[big], top_k - 1)[:top_k]]
                        cands.extend(zip(v[big], gi[big], sk[big], np.full(big.size, sig), np.full(big.size, j0)))
            if top_k and len(cands) > 4 * top_k:
                cands.sort(key=lambda x: -x[0])
                del cands[top_k:]
        return M, n_test, n_viol, cands

    def chamber_signs(self, cands):
        """Sign vectors ``(m, len(cands))`` of chambers ``(value, j, k, σ, j0)`` from :meth:`price_chambers`."""
        m = self.m
        out = np.zeros((m, len(cands)), dtype=bool)
        by_block = {}
        for i, cd in enumerate(cands):
            by_block.setdefault(int(cd[4]), []).append(i)
        for j0, idx in by_block.items():
            J, t0, P, th, cls, Pc, NN, Hc, inv = self._geometry(j0, min(m, j0 + self.block))
            for i in idx:
                _, j, k, sig, _ = cands[i]
                r = int(j) - j0
                flips = (inv[r, :m] <= k).astype(np.int8) + (inv[r, m:] <= k)
                t = t0[r] * np.where(flips % 2 == 1, -1.0, 1.0)
                col = t > 0
                col[int(j)] = sig > 0
                out[:, i] = col
        return out

    def signs_of(self, j, angles):
        """Sign vectors ``(m, 2·len(angles))`` of the chambers on both sides of circle ``j`` at ``angles``."""
        u = np.outer(np.cos(angles), self.E[j, 0]) + np.outer(np.sin(angles), self.E[j, 1])  # (a, 3)
        s = (self.n @ u.T) > 0  # (m, a)
        s0, s1 = s.copy(), s.copy()
        s0[j] = False
        s1[j] = True
        return np.concatenate([s0, s1], axis=1)

    def coefficients(self, problem, z):
        """``(g₀ (3, c), β (m, c))`` of ``f`` in row-space coordinates."""
        Xt = problem.X_tilde
        g0 = 0.5 * (self.B.T @ (Xt.T @ z))
        w = 0.5 * z * np.linalg.norm(Xt, axis=1)[:, None]
        beta = self.arrangement.class_sums(w)
        return g0, beta


def _interior_candidates(blk, idx, Q, normals, thr, rng_rows):
    """Chambers ``idx`` of a block whose ``±q`` lies in their own cone, tested a few hyperplanes at a time.

    ``Q`` ``(b, c, d̃)``, ``thr`` ``(c,)``: only ``(chamber, output)`` pairs with
    ``‖q‖ > thr`` are tested. ``q`` (or ``−q``) is in ``K_i`` when
    ``(2s_c − 1)ν_cᵀq >= 0`` for every distinct hyperplane ``c``; a point slightly
    outside (within ``_FACE_ATOL`` of relative slack) is accepted, which can only raise
    the maximum. The hyperplanes are visited in a fixed random order in growing
    stages, so most chambers are rejected after a few dot products. Returns
    ``(values (b, c), accepted (b,))``: ``values`` is ``‖q‖`` where accepted, else 0.
    """
    b, c, d = Q.shape
    nq = np.linalg.norm(Q, axis=2)  # (b, c)
    vals = np.zeros((b, c))
    alive = np.zeros((b, c, 2), dtype=bool)
    test = nq > thr[None, :]
    alive[:, :, 0] = test
    alive[:, :, 1] = test
    live = np.flatnonzero(alive.any(axis=(1, 2)))
    m = rng_rows.size
    pos, stage = 0, 16
    with np.errstate(invalid="ignore", divide="ignore"):
        Qn = Q / np.where(nq > 0, nq, 1.0)[:, :, None]
    while live.size and pos < m:
        rows = rng_rows[pos:pos + stage]
        pos += rows.size
        stage *= 4
        S = blk.rep_signs_rows(idx[live], rows)  # (R, L)
        t = np.where(S, 1.0, -1.0)
        Ql = Qn[live]
        proj = (normals[rows] @ Ql.reshape(-1, d).T).reshape(rows.size, live.size, c) * t[:, :, None]  # (R, L, c)
        alive[live, :, 0] &= (proj >= -_FACE_ATOL).all(axis=0)
        alive[live, :, 1] &= (proj <= _FACE_ATOL).all(axis=0)
        live = live[alive[live].any(axis=(1, 2))]
    acc = alive.any(axis=2)  # (b, c)
    vals[acc] = nq[acc]
    return vals, acc.any(axis=1)


# ---------------------------------------------------------------------------
# exact C-ReLU pricing in rank 4: chamber interiors + one rank-3 sweep per hyperplane
# ---------------------------------------------------------------------------


class _HyperplaneSweeps:
    r"""Exact maximum of ``±f(v) = ±zᵀ(X̃v)_+`` on the unit sphere of a rank-4 row space.

    **Derivation.** As in :class:`_CircleSweep`, ``max_i ‖Π_{K_i}(±q_i)‖ = max(0, max_{‖v‖=1} ±f(v))``
    and the maximiser ``v*`` lies in the relative interior of one face ``F`` of the
    arrangement. Either ``F`` is a chamber (``v* = q_i/‖q_i‖ ∈ K_i``: the streamed
    interior test of :func:`_interior_candidates`), or ``F`` is contained in some
    hyperplane ``H_j = {v : ν_jᵀv = 0}``, and ``v*`` maximises ``f`` on the unit sphere
    of ``H_j`` too. With an orthonormal basis ``B_j`` ``(4, 3)`` of ``ν_j^⊥`` and
    ``v = B_ju``, the row ``j`` term vanishes and

        f(B_ju) = ⟨B_jᵀg₀, u⟩ + Σ_{c≠j} β_c‖B_jᵀν_c‖·|ν'_cᵀu|,   ν'_c = B_jᵀν_c/‖B_jᵀν_c‖,

    a rank-3 problem of exactly the :class:`_CircleSweep` form (projected normals that
    became parallel are merged, their weights added: ``|−t| = |t|``). Its maximum over
    the faces of ``H_j`` (its own chambers, arcs and rays) is exact and every value is
    ``±f`` at a unit vector of ``H_j`` (up to the acceptance slack), so

        max_{‖v‖=1} ±f = max(valid interiors, max_j max_{u} ±f(B_ju)).

    Because ``‖Π_K(q)‖ <= ‖q‖``, only chambers with ``‖q_i‖`` above the running maximum
    (or above ``λ``, for new columns) need the interior test. A maximiser on ``H_j``
    lies in the closure of the chambers on both sides of ``H_j`` around it, each of
    value at least ``f(v*)``: those are the new columns. Geometry per hyperplane (the
    basis, the merged projected normals) is ``O(m)`` and kept; the sweeps' sorted
    breakpoints (``O(m²)`` each, about ``160·m²`` bytes) are rebuilt per pricing round
    unless all of them are small (:data:`_HYPERPLANE_CACHE_ENTRIES`), so memory stays
    ``O(m²)``. Parallel projected normals are merged with the tolerance of
    :class:`convex_relu.patterns.Arrangement` (``1e-9``), the same approximation as there.
    """

    def __init__(self, arrangement):
        from .patterns import _merge_parallel

        N = arrangement.rep_normals()
        self.m = m = N.shape[0]
        _, _, vt = np.linalg.svd(N, full_matrices=False)
        self.B = vt[:4].T  # (d̃, 4): orthonormal basis of the row space
        n = N @ self.B
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        self.n = n
        self.arrangement = arrangement
        self.local = []
        for j in range(m):
            Bj = np.linalg.svd(n[j:j + 1], full_matrices=True)[2][1:].T  # (4, 3): basis of ν_j^⊥
            others = np.delete(np.arange(m), j)
            P = n[others] @ Bj
            w = np.linalg.norm(P, axis=1)
            reps, cls, orient = _merge_parallel(P / w[:, None])
            self.local.append((Bj, others, w, reps, cls, orient < 0))
        self._cache_all = m * m * 2 * m <= _HYPERPLANE_CACHE_ENTRIES
        self._sweeps = {}

    def sweep(self, j):
        sw = self._sweeps.get(j)
        if sw is None:
            sw = _CircleSweep.from_normals(self.local[j][3])
            if self._cache_all:
                self._sweeps[j] = sw
        return sw

    def coefficients(self, problem, z):
        """``(g₀ (4, c), β (m, c))`` of ``f`` in row-space coordinates."""
        Xt = problem.X_tilde
        g0 = 0.5 * (self.B.T @ (Xt.T @ z))
        w = 0.5 * z * np.linalg.norm(Xt, axis=1)[:, None]
        return g0, self.arrangement.class_sums(w)

    def _lift(self, j, local_signs):
        """Sign vectors ``(m, 2L)`` of the chambers on both sides of ``H_j`` from local ones ``(m', L)``."""
        _, others, _, _, cls, flip = self.local[j]
        L = local_signs.shape[1]
        out = np.zeros((self.m, 2 * L), dtype=bool)
        out[others] = np.tile(local_signs[cls] ^ flip[:, None], (1, 2))
        out[j, L:] = True
        return out

    def price(self, g0, beta, limit, top_k):
        """Largest ``±f`` over every face inside some hyperplane, per output; candidate chambers above ``limit``.

        Returns ``(M (c,), n_faces, n_violating, signs (m, K), values (K,))``: the
        chambers around the most violated faces (at most ``max(8, top_k // 8)`` faces
        per hyperplane, at most ``8·top_k`` chambers kept in all), each of value at
        least its face's.
        """
        c = g0.shape[1]
        M = np.zeros(c)
        n_faces = n_viol = 0
        per_j = max(8, top_k // 8) if top_k else 0
        pool_v, pool_s = [], []
        floor = limit  # the pool's smallest kept value once it is full
        for j in range(self.m):
            Bj, others, w, reps, cls, _ = self.local[j]
            g0j = Bj.T @ g0
            bj = np.zeros((reps.shape[0], c))
            np.add.at(bj, cls, beta[others] * w[:, None])
            sw = self.sweep(j)
            Mj, nf, nv, fc = sw.price(g0j, bj, limit, per_j)
            M = np.maximum(M, Mj)
            n_faces += nf
            n_viol += nv
            thr = np.minimum(M, limit)
            Mi, nt, nvi, ic = sw.price_chambers(g0j, bj, thr, limit, per_j)
            M = np.maximum(M, Mi)
            n_faces += nt
            n_viol += nvi
            if not top_k:
                continue
            cands = [(float(cd[0]), 0, cd) for cd in ic] + [(float(cd[0]), 1, cd) for cd in fc]
            cands = [cd for cd in cands if cd[0] > floor]
            if not cands:
                continue
            cands.sort(key=lambda t: -t[0])
            cands = cands[:per_j]
            inner = [cd[2] for cd in cands if cd[1] == 0]
            isg = sw.chamber_signs(inner) if inner else None
            ii = 0
            for v, kind, cd in cands:
                if kind == 0:
                    loc = isg[:, ii:ii + 1]
                    ii += 1
                else:
                    _, jj, a, bmid = cd
                    angles = np.array([a]) if np.isnan(bmid) else np.array([a, bmid])
                    # an arc of zero length (circles through one point: four hyperplanes
                    # on a line) has its midpoint on other circles, where the signs name
                    # no chamber: keep the angles clear of every other circle
                    u = np.outer(np.cos(angles), sw.E[int(jj), 0]) + np.outer(np.sin(angles), sw.E[int(jj), 1])
                    dist = np.abs(sw.n @ u.T)
                    dist[int(jj)] = np.inf
                    angles = angles[dist.min(axis=0) > _TIE_ATOL]
                    if angles.size == 0:
                        continue
                    loc = sw.signs_of(int(jj), angles)
                S = self._lift(j, loc)
                pool_s.append(S)
                pool_v.append(np.full(S.shape[1], v))
            # keep the pool at the best ``top_k`` faces' chambers
            allv = np.concatenate(pool_v)
            if allv.size > 8 * top_k:
                keep = np.argsort(-allv, kind="stable")[:8 * top_k]
                S = np.concatenate(pool_s, axis=1)[:, keep]
                pool_s, pool_v = [S], [allv[keep]]
                floor = max(limit, float(allv[keep].min()))
        if pool_v:
            return M, n_faces, n_viol, np.concatenate(pool_s, axis=1), np.concatenate(pool_v)
        return M, n_faces, n_viol, np.zeros((self.m, 0), dtype=bool), np.zeros(0)


def _hyperplane_sweeps(arrangement):
    """The cached :class:`_HyperplaneSweeps` of a rank-4 arrangement (its geometry is z-free)."""
    sw = getattr(arrangement, "_hyperplane_sweeps_cache", None)
    if sw is None:
        sw = _HyperplaneSweeps(arrangement)
        arrangement._hyperplane_sweeps_cache = sw
    return sw


def _price_relu_rank4(arrangement, problem, z, top_k, viol_tol, block_entries, block_progress=None,
                      interiors=True, faces=None):
    """C-ReLU pricing in rank 4 (:class:`_HyperplaneSweeps`): faces in hyperplanes, then streamed interiors.

    ``interiors=False`` (partial pricing of :func:`solve_global`) skips the stream: the
    result then has ``exact=False`` and ``n_chambers=0``, and its maximum is only a
    lower bound on the true one (never usable for the dual scaling). ``faces``: the
    partial result of the same ``z`` and ``top_k`` (its face maximum and candidates
    are reused, not recomputed).
    """
    lam = problem.lam
    limit = lam * (1.0 + viol_tol)
    hs = _hyperplane_sweeps(arrangement)
    g0, beta = hs.coefficients(problem, z)
    if faces is None:
        M, n_faces, n_viol, fsig, fval = hs.price(g0, beta, limit, top_k)
    else:
        M, n_faces, n_viol = faces.max_constraint.copy(), faces.n_faces, faces.n_violating
        fsig, fval = faces.top_signs, faces.top_values * lam
    if not interiors:
        order = np.argsort(-fval, kind="stable")
        top_s, top_v = _first_copies(fsig[:, order], fval[order] / lam, top_k)
        return PricingResult(np.maximum(M, 0.0), 0, n_viol, 0, False, top_s, top_v, n_faces=n_faces)
    M, n_ch, n_test, n_viol_i, icands_v, icands_s = _stream_interiors(
        arrangement, problem, z, M, limit, top_k, block_entries, block_progress)
    n_viol += n_viol_i
    m = arrangement.n_hyperplanes
    top_s = np.zeros((m, 0), dtype=bool)
    top_v = np.zeros(0)
    if top_k:
        allv = np.concatenate(icands_v + [fval])
        alls = np.concatenate(icands_s + [fsig], axis=1)
        if allv.size:
            order = np.argsort(-allv, kind="stable")
            top_s, top_v = _first_copies(alls[:, order], allv[order] / lam, top_k)
    return PricingResult(np.maximum(M, 0.0), n_ch, n_viol, n_test, True, top_s, top_v, n_faces=n_faces)


def _first_copies(top_s, top_v, top_k=None):
    """Keep the first (largest) copy of each chamber of value-sorted candidates.

    A chamber is reached from each face that bounds it, so sorted candidates repeat;
    ``top_k`` (optional) then keeps the largest ``top_k`` distinct chambers.
    """
    _, first = np.unique(np.packbits(top_s, axis=0), axis=1, return_index=True)
    first = np.sort(first)[:top_k]
    return top_s[:, first], top_v[first]


def _stream_interiors(arrangement, problem, z, M, limit, top_k, block_entries, block_progress):
    """Stream every chamber and test its interior exactly (C-ReLU pricing, ranks 3 and 4).

    A chamber's interior holds a maximiser of ``±zᵀ(X̃v)_+`` only if ``q_i/‖q_i‖ ∈ K_i``
    (:func:`_interior_candidates`); ``M`` (per output) is the maximum found so far and is
    raised by the accepted interiors. Returns ``(M, n_chambers, n_tested, n_violating,
    values, signs)`` with, per block, at most ``top_k`` violating interiors.
    """
    Xt = problem.X_tilde
    n, d = Xt.shape
    c = z.shape[1]
    normals = arrangement.rep_normals()
    rows_order = np.random.default_rng(0).permutation(arrangement.n_hyperplanes)
    F = (z[:, :, None] * Xt[:, None, :]).reshape(n, c * d)
    const, Omega = arrangement.rep_weights(F)
    n_ch = n_test = n_viol = 0
    icands_v, icands_s = [], []
    step = max(1, (1 << 21) // max(arrangement.n_hyperplanes, 1))
    for blk in arrangement.blocks(Omega, block_entries=block_entries):
        b = blk.n_chambers
        if b == 0:
            continue
        n_ch += b
        if block_progress is not None:
            block_progress(b)
        Q = (const[None, :] + blk.features).reshape(b, c, d)
        # an interior can raise the maximum only if ‖q‖ > M, and matters for new
        # columns only if ‖q‖ > λ (‖Π_K(q)‖ <= ‖q‖)
        thr = np.minimum(M, limit)
        nq = np.linalg.norm(Q, axis=2)
        idx = np.flatnonzero((nq > thr[None, :]).any(axis=1))
        if idx.size == 0:
            continue
        n_test += idx.size
        for s0 in range(0, idx.size, step):
            sv = idx[s0:s0 + step]
            vals, acc = _interior_candidates(blk, sv, Q[sv], normals, thr, rows_order)
            if not acc.any():
                continue
            M = np.maximum(M, vals.max(axis=0))
            worst = vals.max(axis=1)
            viol = np.flatnonzero(worst > limit)
            n_viol += viol.size
            if top_k and viol.size:
                if viol.size > top_k:
                    viol = viol[np.argpartition(-worst[viol], top_k - 1)[:top_k]]
                icands_v.append(worst[viol])
                icands_s.append(blk.rep_signs(sv[viol]))
    return M, n_ch, n_test, n_viol, icands_v, icands_s


def _face_sweep(arrangement):
    """The cached :class:`_CircleSweep` of a rank-3 arrangement (its geometry is z-free)."""
    sw = getattr(arrangement, "_face_sweep_cache", None)
    if sw is None:
        sw = _CircleSweep(arrangement)
        arrangement._face_sweep_cache = sw
    return sw


def _price_relu_faces(arrangement, problem, z, top_k, viol_tol, block_entries, block_progress=None):
    """C-ReLU pricing in rank 3 by the face maximum of :class:`_CircleSweep` (exact, no NNLS)."""
    lam = problem.lam
    limit = lam * (1.0 + viol_tol)
    sweep = _face_sweep(arrangement)
    g0, beta = sweep.coefficients(problem, z)
    M, n_faces, n_viol, fcands = sweep.price(g0, beta, limit, top_k)
    M, n_ch, n_test, n_viol_i, icands_v, icands_s = _stream_interiors(
        arrangement, problem, z, M, limit, top_k, block_entries, block_progress)
    n_viol += n_viol_i
    # the most violated candidates: chamber interiors, then arcs and rays expanded to
    # the chambers around them (each of value at least the candidate's)
    m = arrangement.n_hyperplanes
    top_s = np.zeros((m, 0), dtype=bool)
    top_v = np.zeros(0)
    if top_k:
        iv = np.concatenate(icands_v) if icands_v else np.zeros(0)
        isg = np.concatenate(icands_s, axis=1) if icands_s else np.zeros((m, 0), bool)
        allv = np.concatenate([iv, np.array([fc[0] for fc in fcands])])
        if allv.size:
            order = np.argsort(-allv, kind="stable")[:top_k]
            order = order[np.argsort(-allv[order], kind="stable")]
            sigs, vs = [], []
            for o in order:
                if o < iv.size:
                    sigs.append(isg[:, o:o + 1])
                    vs.append([allv[o]])
                else:
                    v, j, a, bmid = fcands[o - iv.size]
                    angles = np.array([a]) if np.isnan(bmid) else np.array([a, bmid])
                    sg = sweep.signs_of(int(j), angles)
                    sigs.append(sg)
                    vs.append([v] * sg.shape[1])
            top_s = np.concatenate(sigs, axis=1)
            top_v = np.concatenate([np.asarray(v, dtype=float) for v in vs]) / lam
            top_s, top_v = _first_copies(top_s, top_v)
    return PricingResult(M, n_ch, n_viol, n_test, True, top_s, top_v, n_faces=n_faces)


def _price_relu_sweep(arrangement, problem, z, top_k, viol_tol, block_progress=None):
    """C-ReLU pricing in rank 3 without streaming the chambers: arcs, rays and chamber interiors all from
    :class:`_CircleSweep` (:meth:`_CircleSweep.price`, :meth:`_CircleSweep.price_chambers`)."""
    lam = problem.lam
    limit = lam * (1.0 + viol_tol)
    sweep = _face_sweep(arrangement)
    g0, beta = sweep.coefficients(problem, z)
    M, n_faces, n_viol, fcands = sweep.price(g0, beta, limit, top_k)
    thr = np.minimum(M, limit)
    Mi, n_test, n_viol_i, icands = sweep.price_chambers(g0, beta, thr, limit, top_k)
    M = np.maximum(M, Mi)
    n_viol += n_viol_i
    n_ch = getattr(sweep, "_n_chambers", None)
    if n_ch is None:
        n_ch = sweep._n_chambers = sweep.count_chambers()
    if block_progress is not None:
        block_progress(n_ch)
    m = arrangement.n_hyperplanes
    top_s = np.zeros((m, 0), dtype=bool)
    top_v = np.zeros(0)
    if top_k:
        allv = np.array([cd[0] for cd in icands] + [fc[0] for fc in fcands], dtype=float)
        if allv.size:
            order = np.argsort(-allv, kind="stable")[:top_k]
            ni = len(icands)
            chosen_i = [icands[o] for o in order if o < ni]
            isg = sweep.chamber_signs(chosen_i) if chosen_i else np.zeros((m, 0), bool)
            sigs, vs, ii = [], [], 0
            for o in order:
                if o < ni:
                    sigs.append(isg[:, ii:ii + 1])
                    vs.append([allv[o]])
                    ii += 1
                else:
                    v, j, a, bmid = fcands[o - ni]
                    angles = np.array([a]) if np.isnan(bmid) else np.array([a, bmid])
                    sg = sweep.signs_of(int(j), angles)
                    sigs.append(sg)
                    vs.append([v] * sg.shape[1])
            top_s = np.concatenate(sigs, axis=1)
            top_v = np.concatenate([np.asarray(v, dtype=float) for v in vs]) / lam
            top_s, top_v = _first_copies(top_s, top_v)
    return PricingResult(M, n_ch, n_viol, n_test, True, top_s, top_v, n_faces=n_faces)


def price_arrangement(arrangement, problem, z, *, top_k=0, viol_tol=1e-9, block_entries=None,
                      relu_method="auto", block_progress=None):
    """Price every chamber of ``arrangement`` at the dual point ``z`` (shape ``(n, c)``).

    The value of chamber ``i`` for output ``k`` is ``‖q_{k,i}‖`` (C-GReLU) or
    ``max(‖Π_{K_i}(−q_{k,i})‖, ‖Π_{K_i}(q_{k,i})‖)`` (C-ReLU), ``q_{k,i} = X̃ᵀD_iz_k``.
    ``q`` is affine in the chamber's sign vector, so a block's ``q`` come from its
    GEMM with ``Ω = [z_k ∘ x̃_j]`` (:meth:`Arrangement.rep_weights`).

    C-ReLU, ``relu_method``:

    - ``"faces"`` (the default ``"auto"`` in rank 3): the exact maximum of
      ``±zᵀ(X̃v)_+`` on the unit sphere over chamber interiors, arcs and rays
      (:class:`_CircleSweep`, derivation there) — closed-form face values and
      membership tests, no projections, and no stream of the chambers: each chamber is
      reached from the arcs that bound it (:meth:`_CircleSweep.price_chambers`), and
      their number comes from Euler's formula. In rank 4 (:class:`_HyperplaneSweeps`),
      ``"faces"`` (and ``"auto"``) is the same exact maximum: one rank-3 sweep of the
      faces inside each hyperplane, and the chamber interiors streamed with the exact
      membership test. ``"faces-stream"``: the rank-3 maximum with
      the chamber interiors streamed by :class:`Arrangement` (the previous route, kept as
      an independent cross-check). ``n_projected`` counts the chambers whose
      interior was tested, ``n_violating`` the violating faces found.
    - ``"nnls"`` (``"auto"`` in ranks other than 3 and 4): project the chambers with
      ``‖q_{k,i}‖ > λ`` for some ``k`` (``‖Π_K(q)‖ <= ‖q‖``) by NNLS.

    ``block_progress`` (optional) is called with the number of chambers of each
    streamed block (a progress bar). Returns a :class:`PricingResult`; ``top_k`` most
    violated chambers (value above ``λ(1 + viol_tol)``) are kept with their sign
    vectors (with ``"faces"``: the
    chambers around the most violated faces, each of value at least the face's).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.shape != problem.Y.shape:
        raise ValueError(f"z must have shape {problem.Y.shape}; got {z.shape}.")
    if arrangement.n != problem.n:
        raise ValueError(f"arrangement has {arrangement.n} rows but the problem has {problem.n}.")
    if relu_method not in ("auto", "faces", "faces-stream", "nnls"):
        raise ValueError(f"relu_method must be 'auto', 'faces', 'faces-stream' or 'nnls'; got {relu_method!r}.")
    if problem.formulation == "relu":
        if relu_method == "faces-stream" and arrangement.rank != 3:
            raise ValueError(f"relu_method='faces-stream' needs an arrangement of rank 3; this one has rank "
                             f"{arrangement.rank}.")
        if relu_method == "faces" and arrangement.rank not in (3, 4):
            raise ValueError(f"relu_method='faces' needs an arrangement of rank 3 or 4; this one has rank "
                             f"{arrangement.rank}.")
        if relu_method == "faces-stream":
            return _price_relu_faces(arrangement, problem, z, top_k, viol_tol, block_entries, block_progress)
        if relu_method != "nnls" and arrangement.rank == 3:
            return _price_relu_sweep(arrangement, problem, z, top_k, viol_tol, block_progress)
        if relu_method != "nnls" and arrangement.rank == 4:
            return _price_relu_rank4(arrangement, problem, z, top_k, viol_tol, block_entries, block_progress)
    lam = problem.lam
    Xt = problem.X_tilde
    n, d = Xt.shape
    c = z.shape[1]
    F = (z[:, :, None] * Xt[:, None, :]).reshape(n, c * d)
    const, Omega = arrangement.rep_weights(F)
    relu = problem.formulation == "relu"
    normals = arrangement.rep_normals() if relu else None
    M = np.zeros(c)
    n_ch = n_viol = n_proj = 0
    exact = True
    m = arrangement.n_hyperplanes
    top_s = np.zeros((m, 0), dtype=bool)
    top_v = np.zeros(0)
    limit = lam * (1.0 + viol_tol)
    for blk in arrangement.blocks(Omega, block_entries=block_entries):
        b = blk.n_chambers
        if b == 0:
            continue
        n_ch += b
        if block_progress is not None:
            block_progress(b)
        Q = (const[None, :] + blk.features).reshape(b, c, d)
        vals = np.linalg.norm(Q, axis=2)  # (b, c); an upper bound for C-ReLU
        if relu:
            cand = np.flatnonzero((vals > lam).any(axis=1))
            # tighter screen: the cone is inside the r−1 half-spaces through its ray
            ln = cand[cand < blk.n_line]
            if ln.size:
                rows, sg = blk.line_facets()
                Nl = normals[rows[ln]] * sg[ln][:, :, None]  # (b, r-1, d̃)
                for kk in range(c):
                    both = np.maximum(_local_cone_bound(Nl, Q[ln, kk]), _local_cone_bound(Nl, -Q[ln, kk]))
                    vals[ln, kk] = np.minimum(vals[ln, kk], both)
            surv = np.flatnonzero((vals > lam).any(axis=1))
            n_proj += surv.size
            step = max(1, (1 << 20) // max(n, 1))  # masks and NNLS rows of a bounded size
            for s0 in range(0, surv.size, step):
                sv = surv[s0:s0 + step]
                pv, ok = _relu_values(problem, arrangement, blk, sv, Q[sv])
                vals[sv] = pv
                exact &= ok
        M = np.maximum(M, vals.max(axis=0))
        worst = vals.max(axis=1)
        viol = np.flatnonzero(worst > limit)
        n_viol += viol.size
        if top_k and viol.size:
            if viol.size > top_k:
                viol = viol[np.argpartition(-worst[viol], top_k - 1)[:top_k]]
            top_s = np.concatenate([top_s, blk.rep_signs(viol)], axis=1)
            top_v = np.concatenate([top_v, worst[viol] / lam])
            if top_v.size > top_k:
                keep = np.argpartition(-top_v, top_k - 1)[:top_k]
                top_s, top_v = top_s[:, keep], top_v[keep]
    order = np.argsort(-top_v, kind="stable")
    return PricingResult(M, n_ch, n_viol, n_proj, exact, top_s[:, order], top_v[order])


def _best_scaling(problem, z, M):
    """``t_k ∈ [0, λ/M_k]`` maximising ``−ℓ*(t ∘ z)`` (per output); returns ``(D, t·z, t)``.

    Squared loss: ``−ℓ*(tz_k) = −t⟨z_k, Y_k⟩ − (s/2)t²‖z_k‖²``, closed form. Logistic:
    ``μ = −s t Y z`` must stay in ``[0, 1]``, a bounded 1-D search of a concave function.
    """
    lam, s = problem.lam, problem.s
    c = z.shape[1]
    with np.errstate(divide="ignore"):
        cap = np.where(M > 0, lam / np.where(M > 0, M, 1.0), np.inf)
    t = np.zeros(c)
    Y = problem.Y
    for k in range(c):
        zk = z[:, k]
        if problem.loss == "squared":
            zz = float(zk @ zk)
            if zz > 0:
                t[k] = min(max(-float(zk @ Y[:, k]) / (s * zz), 0.0), cap[k])
        else:
            m0 = -s * Y[:, k] * zk
            if np.any(m0 < 0) or m0.max() <= 0:
                continue  # z_k outside the conjugate's domain for every t > 0
            hi = min(cap[k], 1.0 / m0.max())

            def neg(tt):
                mu = tt * m0
                return float((xlogy(mu, mu) + xlogy(1 - mu, 1 - mu)).sum()) / s

            best, val = hi, neg(hi)
            res = minimize_scalar(neg, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-12 * hi})
            if res.success and res.fun < val:
                best = float(res.x)
            t[k] = best
    zs = z * t[None, :]
    return -problem.loss_conjugate(zs), zs, t


@dataclass
class GlobalCertificate:
    """``dual <= global optimum <= primal``, the dual point feasible for every chamber.

    Attributes
    ----------
    primal : float
        Objective at the weights (a feasible point of the all-chamber program, so an
        achievable training objective).
    dual : float
        ``−ℓ*(z)`` at ``dual_point``, feasible for all ``n_chambers`` chambers: a lower
        bound on the global optimum of two-layer ReLU training of any width.
    gap, relative_gap : float
    max_violation : float
        ``max_k M_k/λ`` at the priced point (before the final scaling); ``<= 1`` means
        it was already feasible for every chamber.
    dual_scale : ndarray (c,)
        ``t_k`` applied to the priced point.
    dual_point : ndarray (n, c)
    n_chambers : int
    exact : bool
        Every cone projection behind ``max_violation`` finished exactly (the bound is
        valid either way; inexact projections only make it conservative).
    formulation : str
    """

    primal: float
    dual: float
    gap: float
    relative_gap: float
    max_violation: float
    dual_scale: np.ndarray
    dual_point: np.ndarray
    n_chambers: int
    exact: bool
    formulation: str

    def to_dict(self):
        return {
            "primal": self.primal,
            "dual": self.dual,
            "gap": self.gap,
            "relative_gap": self.relative_gap,
            "max_violation": self.max_violation,
            "n_chambers": self.n_chambers,
            "exact": self.exact,
            "formulation": self.formulation,
        }


def _relative(gap, primal):
    return gap / max(abs(primal), np.finfo(float).tiny)


def global_dual_bound(arrangement, problem, z, *, top_k=0, block_entries=None, block_progress=None):
    """A dual point feasible for every chamber, from any ``z`` of shape ``(n, c)``.

    Prices ``z`` (:func:`price_arrangement`) and scales each output by the best
    ``t_k <= λ/M_k``. Returns ``(dual_value, dual_point, scale, pricing)``.
    """
    pr = price_arrangement(arrangement, problem, z, top_k=top_k, block_entries=block_entries,
                           block_progress=block_progress)
    D, zs, t = _best_scaling(problem, np.asarray(z, dtype=np.float64), pr.max_constraint)
    return D, zs, t, pr


# ---------------------------------------------------------------------------
# column generation
# ---------------------------------------------------------------------------


@dataclass
class PricingRound:
    """One round of column generation (what the progress hook receives)."""

    round: int
    n_patterns: int
    method: str
    solve_time: float
    price_time: float
    restricted_relative_gap: float
    primal: float
    dual: float
    relative_gap: float
    n_chambers: int
    n_violating: int
    n_projected: int
    max_violation: float
    added: int
    partial: bool = False

    def to_dict(self):
        return dict(self.__dict__)


@dataclass
class ColumnGenerationResult:
    """Result of :func:`solve_global`.

    ``converged`` is ``certificate.relative_gap <= tol``: the certified gap against the
    global lower bound, never a solver's flag.
    """

    problem: object
    solution: object
    certificate: GlobalCertificate
    restricted_certificate: object
    rounds: list
    converged: bool
    status: str
    n_chambers: int
    time: float
    tol: float
    n_gate_failures: int = 0
    info: dict = field(default_factory=dict)

    @property
    def max_violation(self):
        return self.certificate.max_violation

    @property
    def patterns_priced(self):
        return [r.n_chambers for r in self.rounds]

    def to_dict(self):
        return {
            "converged": self.converged,
            "status": self.status,
            "tol": self.tol,
            "n_chambers": self.n_chambers,
            "n_patterns": self.problem.p,
            "time": self.time,
            "certificate": self.certificate.to_dict(),
            "rounds": [r.to_dict() for r in self.rounds],
            "n_gate_failures": self.n_gate_failures,
        }


#: ``"auto"`` restricted C-ReLU solves use Clarabel while ``n·p`` is at most this, else
#: the augmented Lagrangian warm-started from the previous round. Measured on the
#: digits benchmark (2 features + bias, one core, cold starts): n = 300, p = 28:
#: Clarabel 0.2 s, AL 3.9 s; n = 1000, p = 36: Clarabel 2.2 s, AL 4.2 s; p = 115:
#: Clarabel 105 s, AL 5.3 s (the interior-point KKT system of ``2pn`` dense cone rows
#: fills in); warm-started AL rounds at p ≈ 10–30 took 0.8–8 s.
RESTRICTED_CLARABEL_NP = 60_000

#: Partial pricing (rank 4) stops once the faces' largest violation is at most ``1 + PARTIAL_SWITCH``.
PARTIAL_SWITCH = 0.05


def _restricted_method(problem, method):
    if method == "facets" and not supports_restricted(problem):
        raise ValueError("method='facets' needs C-ReLU with the squared loss and the group-ℓ2 penalty.")
    if method != "auto":
        return method
    if supports_restricted(problem):
        # facet rows + compressed loss (convex_relu.restricted): small and exact
        return "facets"
    if problem.formulation == "relu":
        return "clarabel" if problem.n * problem.p * problem.c <= RESTRICTED_CLARABEL_NP else "al"
    return "auto"


def _pad(W, p_new):
    """Weights of ``p`` patterns padded with zero groups to ``p_new`` (warm start)."""
    pad = [(0, 0)] * (W.ndim - 1) + [(0, p_new - W.shape[-1])]
    return np.pad(W, pad)


def _initial_patterns(X, bias, init_gates, seed):
    P = sample_patterns(X, init_gates, seed, bias=bias)
    return Patterns(masks=P.masks, gates=P.gates, bias=bias, method="priced")


def solve_global(
    X,
    y,
    *,
    lam,
    formulation="relu",
    loss="squared",
    bias=True,
    tol=1e-6,
    method="auto",
    init_gates=None,
    seed=0,
    max_rounds=50,
    max_add=None,
    time_limit=None,
    progress=None,
    arrangement=None,
    solver_options=None,
    prune_tol=1e-7,
    pricing_progress=None,
    prune_after=None,
    partial_pricing=None,
):
    """Certified global optimum of C-ReLU / C-GReLU over every chamber, by column generation.

    Parameters
    ----------
    X : (n, d) array, y : (n,) or (n, c) array
    lam : float > 0
        Not divided by ``n`` (DESIGN §0).
    formulation : {"relu", "gated_relu"}
    loss : {"squared", "logistic"}
    bias : bool
    tol : float
        Target certified relative gap against the global lower bound.
    method : str
        Solver of the restricted programs. ``"auto"``: for C-ReLU with the squared
        loss and the group-ℓ2 penalty ``"facets"`` (:func:`convex_relu.restricted.solve_restricted_relu`:
        each cone by its facet rows with row generation, the loss compressed by a QR, Clarabel's
        native API); otherwise Clarabel while small, else the first-order method,
        warm-started. Any :func:`convex_relu.solve` method is accepted too.
    init_gates : int, optional
        Gaussian gates of the first working set (:func:`sample_patterns`, ``seed``);
        default 128 for C-GReLU, ``min(128, max(16, 30000 // n))`` for C-ReLU (a small
        first program keeps Clarabel in its fast range; pricing adds what is missing).
    max_rounds : int
    max_add : int, optional
        Chambers added per round (default 32 in rank <= 3, 128 in rank 4, where a
        pricing round costs far more than a restricted solve), chosen greedily among the
        most violated with masks at Hamming distance at least ``n/50`` from each other.
    prune_tol : float
        Groups whose norm is below ``prune_tol·max`` are unused; a pattern unused in
        ``prune_after`` consecutive rounds is dropped from the working set before the
        next round (a dropped chamber that becomes violated is priced back in).
    partial_pricing : bool, optional
        Rank 4, C-ReLU (the default there): while the faces inside hyperplanes alone
        (:class:`_HyperplaneSweeps`, about half a pricing round) show a violation above
        ``1 + PARTIAL_SWITCH``, price only those and skip the chamber stream; such rounds
        give columns but no lower bound (``partial`` in their record, ``dual`` the best
        bound so far). Every certificate comes from full rounds.
    prune_after : int, optional
        Default 1 in rank <= 3 (drop at once), 3 in rank 4 (keeping recent columns a
        few rounds steadies the dual points, and so the number of rounds).
    time_limit : float, optional
        Seconds; the loop stops after the round that crosses it (status ``"time_limit"``).
    progress : callable, optional
        Called with each :class:`PricingRound`.
    pricing_progress : callable, optional
        Called as ``pricing_progress(round, chambers)`` after each streamed block of
        chambers priced in that round (drives a progress bar per round).
    arrangement : Arrangement, optional
        Reuse a built arrangement of ``(X, bias)``.

    Returns
    -------
    ColumnGenerationResult
    """
    from .solvers import solve

    t_start = time.perf_counter()
    X = check_matrix(X, "X")
    bias = check_bool(bias, "bias")
    lam = check_lam(lam)
    if lam <= 0:
        raise ValueError("lam must be > 0 for pricing (at λ = 0 the dual constraints are Aᵀz = 0).")
    if formulation not in ("relu", "gated_relu"):
        raise ValueError(f"formulation must be 'relu' or 'gated_relu'; got {formulation!r}.")
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1); got {tol!r}.")
    if init_gates is None:
        init_gates = 128 if formulation == "gated_relu" else min(128, max(16, 30000 // max(X.shape[0], 1)))
    for name, v in (("max_rounds", max_rounds), ("init_gates", init_gates)) + (
            (("prune_after", prune_after),) if prune_after is not None else ()):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if max_add is not None and (isinstance(max_add, bool) or not isinstance(max_add, (int, np.integer)) or max_add < 1):
        raise ValueError(f"max_add must be a positive int or None; got {max_add!r}.")
    for name, f in (("progress", progress), ("pricing_progress", pricing_progress)):
        if f is not None and not callable(f):
            raise TypeError(f"{name} must be callable or None; got {type(f).__name__}.")
    if arrangement is None:
        arrangement = Arrangement(X, bias=bias)
    elif not isinstance(arrangement, Arrangement) or arrangement.n != X.shape[0] or arrangement.bias != bias:
        raise ValueError("arrangement must be an Arrangement of the same X and bias.")

    high_rank = arrangement.rank >= 4
    if prune_after is None:
        prune_after = 3 if high_rank else 1
    if max_add is None:
        max_add = 128 if high_rank else 32
    if partial_pricing is None:
        partial_pricing = high_rank
    partial = bool(partial_pricing) and formulation == "relu" and arrangement.rank == 4
    patterns = _initial_patterns(X, bias, init_gates, seed)
    idle = np.zeros(patterns.n_patterns, dtype=int)  # consecutive rounds each pattern went unused
    problem = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias, patterns=patterns)
    seen = {col.tobytes() for col in np.packbits(patterns.masks, axis=0).T}
    ws_tol = min(tol / 10.0, 1e-7)
    warm = None
    rounds = []
    status = "max_rounds"
    gate_failures = 0
    sol = cert = gcert = None
    best = None  # (D, zs, t, pr) of the best global lower bound so far: every round's is valid
    for it in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        kw = {"cleanup": False} if solver_options is None else {"cleanup": False, **solver_options}
        run = _restricted_method(problem, method)
        if run == "facets":
            sol = solve_restricted_relu(problem, tol=ws_tol)
            used = "clarabel-facets"
        else:
            sol = solve(problem, run, tol=ws_tol,
                        warm_start=warm if run not in ("clarabel", "scs", "mosek") else None, **kw)
            used = sol.info.get("auto_choice", run)
        cert = certify(problem, sol.weights)  # our certificate, on the weights we return
        t1 = time.perf_counter()
        add = max_add
        hook = None if pricing_progress is None else (lambda b, _it=it: pricing_progress(_it, b))
        is_partial = False
        faces = None
        if partial and it < max_rounds:  # the last round always prices everything
            if hook is not None:
                hook(0)  # a partial round streams no chambers: its progress bar stays at 0
            faces = _price_relu_rank4(arrangement, problem, cert.dual_point, 16 * add, 1e-9, None,
                                      interiors=False)
            is_partial = faces.max_constraint.max() / lam > 1.0 + PARTIAL_SWITCH
            partial = is_partial  # once the faces are nearly feasible, price everything
            pr = faces
        if not is_partial and faces is not None:
            # the same point: reuse its faces, stream the interiors only
            pr = _price_relu_rank4(arrangement, problem, cert.dual_point, 16 * add, 1e-9, None, hook,
                                   faces=faces)
            D, zs, t = _best_scaling(problem, cert.dual_point, pr.max_constraint)
        elif not is_partial:
            D, zs, t, pr = global_dual_bound(arrangement, problem, cert.dual_point, top_k=16 * add,
                                             block_progress=hook)
        t2 = time.perf_counter()
        if not is_partial and (best is None or D > best[0]):
            best = (D, zs, t, pr)
        # the certificate pairs the current weights with the best lower bound found
        if best is None:  # partial rounds only so far: no lower bound yet
            D_b, zs_b, t_b = -np.inf, np.zeros_like(cert.dual_point), np.zeros(problem.c)
            viol_b, nch_b, exact_b = np.nan, 0, False
        else:
            D_b, zs_b, t_b, pr_b = best
            viol_b, nch_b, exact_b = float(pr_b.max_constraint.max() / lam), pr_b.n_chambers, pr_b.exact
        gap = cert.primal - D_b
        gcert = GlobalCertificate(
            primal=cert.primal, dual=D_b, gap=gap, relative_gap=_relative(gap, cert.primal),
            max_violation=viol_b, dual_scale=t_b, dual_point=zs_b,
            n_chambers=nch_b, exact=exact_b, formulation=formulation,
        )
        # new chambers: the most violated not already in the working set, spread out
        # (the most violated chambers cluster around one pattern: a minimum Hamming
        # distance between the chosen masks), each with an interior gate
        new_masks, new_gates = np.zeros((problem.n, 0), bool), np.zeros((problem.d, 0))
        if pr.top_signs.shape[1]:
            masks = arrangement.expand(pr.top_signs)
            keys = [col.tobytes() for col in np.packbits(masks, axis=0).T]
            fresh = [i for i in range(masks.shape[1]) if keys[i] not in seen and masks[:, i].any()]
            chosen = []
            spread = max(1, problem.n // 50)
            for i in fresh:
                if len(chosen) >= add:
                    break
                if chosen and np.min(np.count_nonzero(masks[:, chosen] != masks[:, i:i + 1], axis=0)) < spread:
                    continue
                chosen.append(i)
            if chosen:
                G, ok = arrangement.gates(pr.top_signs[:, chosen])
                gate_failures += int((~ok).sum())
                sel = np.asarray(chosen)[ok]
                new_masks, new_gates = masks[:, sel], G[:, ok]
                for i in sel:
                    seen.add(keys[i])
        rec = PricingRound(
            round=it, n_patterns=problem.p, method=used, solve_time=t1 - t0, price_time=t2 - t1,
            restricted_relative_gap=cert.relative_gap, primal=cert.primal, dual=D_b,
            relative_gap=gcert.relative_gap, n_chambers=pr.n_chambers, n_violating=pr.n_violating,
            n_projected=pr.n_projected, max_violation=float(pr.max_constraint.max() / lam),
            added=new_masks.shape[1],
        )
        rec.partial = is_partial
        rounds.append(rec)
        if progress is not None:
            progress(rec)
        if is_partial:
            # no bound to stop on: the next round prices everything when this one found
            # nothing new or the time is up (and may then stop)
            if time_limit is not None and time.perf_counter() - t_start > time_limit:
                partial = False
            if new_masks.shape[1] == 0:
                partial = False
                continue
        elif gcert.relative_gap <= tol:
            status = "optimal"
            break
        elif time_limit is not None and time.perf_counter() - t_start > time_limit:
            status = "time_limit"
            break
        elif new_masks.shape[1] == 0:
            # nothing to add: the restricted solve limits the gap; tighten it
            if ws_tol <= 1e-12:
                status = "stalled"
                break
            ws_tol = max(ws_tol / 100.0, 1e-12)
            warm = sol.weights
            continue
        # drop the groups the restricted optimum does not use (they are re-added by
        # pricing if they become violated), so the restricted programs stay small
        norms = problem.group_norms(sol.weights)
        norms = norms.reshape(-1, problem.p).max(axis=0)
        used_now = norms > prune_tol * max(float(norms.max()), np.finfo(float).tiny)
        idle = np.where(used_now, 0, idle + 1)
        used_p = idle < prune_after
        Wk = sol.weights[..., used_p]
        idle = np.concatenate([idle[used_p], np.zeros(new_masks.shape[1], dtype=int)])
        patterns = Patterns(
            masks=np.hstack([problem.patterns.masks[:, used_p], new_masks]),
            gates=np.hstack([problem.patterns.gates[:, used_p], new_gates]),
            bias=bias, method="priced",
        )
        seen = {col.tobytes() for col in np.packbits(patterns.masks, axis=0).T}
        warm = _pad(Wk, patterns.n_patterns)
        problem = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias,
                               patterns=patterns)
    return ColumnGenerationResult(
        problem=problem if sol is None or sol.problem is problem else sol.problem,
        solution=sol, certificate=gcert, restricted_certificate=cert, rounds=rounds,
        converged=status == "optimal", status=status, n_chambers=gcert.n_chambers,
        time=time.perf_counter() - t_start, tol=tol, n_gate_failures=gate_failures,
    )


# ---------------------------------------------------------------------------
# a trained network against the whole arrangement
# ---------------------------------------------------------------------------


@dataclass
class NetworkGlobalCertificate:
    """A trained ReLU network against the global optimum of its training problem.

    ``dual <= global optimum <= network_objective``; ``network_gap`` bounds how far
    the network is from the best two-layer ReLU network of any width.
    """

    network_objective: float
    dual: float
    network_gap: float
    network_relative_gap: float
    max_violation: float
    dual_scale: np.ndarray
    dual_point: np.ndarray
    n_chambers: int
    exact: bool

    def to_dict(self):
        return {
            "network_objective": self.network_objective,
            "dual": self.dual,
            "network_gap": self.network_gap,
            "network_relative_gap": self.network_relative_gap,
            "max_violation": self.max_violation,
            "n_chambers": self.n_chambers,
            "exact": self.exact,
        }


def certify_network_global(X, y, lam, W1, W2, *, bias=True, loss="squared", arrangement=None):
    """Lower bound on the global optimum of ReLU training, from a trained network.

    The network ``f(x) = relu(x̃ᵀW1)W2`` (``W1`` ``(d̃, m)`` with the bias row last,
    ``W2`` ``(m, c)`` or ``(m,)``, one output per neuron when ``c > 1``) gives the
    point ``∇ℓ(f(X))``; priced against every chamber and scaled
    (:func:`global_dual_bound`) it is dual feasible for the C-ReLU program over the
    whole arrangement, whose optimum is the global minimum of
    ``ℓ(f) + (λ/2)(‖W1‖² + ‖W2‖²)`` over all widths. So ``dual`` never exceeds that
    minimum, and ``network_objective − dual`` bounds the network's suboptimality.
    """
    X = check_matrix(X, "X")
    bias = check_bool(bias, "bias")
    lam = check_lam(lam)
    if lam <= 0:
        raise ValueError("lam must be > 0 for pricing.")
    Xt = add_bias_column(X, bias)
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or W1.shape[0] != Xt.shape[1]:
        raise ValueError(f"W1 must have shape ({Xt.shape[1]}, m) (bias row last); got {W1.shape}.")
    if arrangement is None:
        arrangement = Arrangement(X, bias=bias)
    # a problem whose patterns are the network's own (gates = its first layer)
    masks = (Xt @ W1) >= 0
    keep = masks.any(axis=0)
    if keep.any():
        packed = np.packbits(masks[:, keep], axis=0)
        _, first = np.unique(packed, axis=1, return_index=True)
        idx = np.flatnonzero(keep)[np.sort(first)]
        pats = Patterns(masks=masks[:, idx], gates=W1[:, idx], bias=bias, method="priced")
    else:
        pats = _initial_patterns(X, bias, 4, 0)
    problem = make_problem(X, y, formulation="relu", lam=lam, loss=loss, bias=bias, patterns=pats)
    net = network_objective(problem, W1, W2)
    W2a = np.asarray(W2, dtype=np.float64)
    if W2a.ndim == 1:
        W2a = W2a[:, None]
    pred = np.maximum(Xt @ W1, 0.0) @ W2a
    grad = problem.loss_grad(pred)
    D, zs, t, pr = global_dual_bound(arrangement, problem, grad)
    gap = net - D
    return NetworkGlobalCertificate(
        network_objective=net, dual=D, network_gap=gap, network_relative_gap=_relative(gap, net),
        max_violation=float(pr.max_constraint.max() / lam), dual_scale=t, dual_point=zs,
        n_chambers=pr.n_chambers, exact=pr.exact,
    )
