"""Activation patterns of a two-layer ReLU network.

A pattern is a 0/1 vector ``d_i = 1[X̃ g_i >= 0]`` over the training rows, where
``X̃ = [X, 1]`` when the model has a bias. The convex programs have one group of
weights per pattern; the gate ``g_i`` lets a gated model compute the pattern on
new data and gives every pattern a point strictly (for enumerated patterns) or
generically (for sampled ones) inside its chamber ``{g : (2D_i - I) X̃ g >= 0}``.

Convention: the mask of a gate is ``1[X̃ g >= 0]`` (ties, which only happen on
zero rows of ``X̃`` or with probability zero, count as active). A row of ``X̃``
that is zero contributes nothing to ``D_i X̃`` so its entry never matters.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import add_bias_column, check_matrix, check_positive_int

__all__ = ["Patterns", "sample_patterns", "enumerate_patterns", "gate_masks"]


def gate_masks(X_tilde, gates):
    """Masks ``1[X̃ G >= 0]`` of shape ``(n, p)`` for gates ``G`` of shape ``(d̃, p)``."""
    return (X_tilde @ gates) >= 0


@dataclass(frozen=True, eq=False)
class Patterns:
    """A set of ``p`` activation patterns for ``n`` training rows.

    Attributes
    ----------
    masks : ndarray of bool, shape (n, p)
        ``masks[j, i] = 1`` when row ``j`` is active in pattern ``i``.
    gates : ndarray of float, shape (d̃, p)
        A gate for each pattern; ``d̃ = d + 1`` when ``bias``.
    bias : bool
        Whether the gates act on ``[X, 1]``.
    method : str
        ``"sampled"`` or ``"enumerated"``.
    seed : int or None
        The seed of sampled gates.
    """

    masks: np.ndarray
    gates: np.ndarray
    bias: bool = False
    method: str = "sampled"
    seed: int | None = None

    def __post_init__(self):
        masks = np.asarray(self.masks, dtype=bool)
        gates = np.asarray(self.gates, dtype=np.float64)
        if masks.ndim != 2 or gates.ndim != 2:
            raise ValueError(
                f"masks must be (n, p) and gates (d, p); got {masks.shape} and {gates.shape}."
            )
        if masks.shape[1] != gates.shape[1]:
            raise ValueError(
                f"masks has {masks.shape[1]} patterns but gates has {gates.shape[1]}."
            )
        if masks.shape[1] == 0:
            raise ValueError("a pattern set must hold at least one pattern.")
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "gates", gates)

    @property
    def n_samples(self):
        return self.masks.shape[0]

    @property
    def n_patterns(self):
        return self.masks.shape[1]

    @property
    def n_features(self):
        """Number of features of ``X`` (without the bias coordinate)."""
        return self.gates.shape[0] - int(self.bias)

    def __len__(self):
        return self.n_patterns

    def masks_for(self, X):
        """Masks ``1[X̃ G >= 0]`` for new data ``X`` (what a gated model uses to predict)."""
        X = check_matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the patterns were built for {self.n_features}."
            )
        return gate_masks(add_bias_column(X, self.bias), self.gates)

    def check_compatible(self, X_tilde, *, rtol=1e-9):
        """Raise ``ValueError`` unless these patterns were computed for ``X̃``.

        Each mask must agree with its gate on every row where ``x̃_jᵀ g_i`` is
        not within round-off of zero.
        """
        if X_tilde.shape[0] != self.n_samples:
            raise ValueError(
                f"patterns were computed for {self.n_samples} rows but X has {X_tilde.shape[0]}."
            )
        if X_tilde.shape[1] != self.gates.shape[0]:
            raise ValueError(
                f"patterns' gates have dimension {self.gates.shape[0]} but X (with bias={self.bias}) "
                f"has {X_tilde.shape[1]} columns; were they built with the same bias flag?"
            )
        Z = X_tilde @ self.gates
        scale = np.linalg.norm(X_tilde, axis=1)[:, None] * np.linalg.norm(self.gates, axis=0)[None, :]
        decided = np.abs(Z) > rtol * np.maximum(scale, 1e-300)
        if np.any(decided & ((Z >= 0) != self.masks)):
            raise ValueError(
                "patterns do not match X: some mask disagrees with its gate; "
                "compute the patterns from this X (and the same bias flag)."
            )


def _dedupe(masks, gates):
    """Drop all-zero and duplicate mask columns, keeping the first gate of each."""
    keep_nonzero = masks.any(axis=0)
    masks, gates = masks[:, keep_nonzero], gates[:, keep_nonzero]
    if masks.shape[1] == 0:
        return masks, gates
    packed = np.packbits(masks, axis=0)
    _, first = np.unique(packed, axis=1, return_index=True)
    first = np.sort(first)
    return masks[:, first], gates[:, first]


def sample_patterns(X, n_gates, seed=0, *, bias=False):
    """Sample activation patterns from Gaussian gates.

    Draws ``G ~ N(0, I)`` of shape ``(d̃, n_gates)`` with ``numpy.random.default_rng(seed)``,
    forms ``M = 1[X̃ G >= 0]``, and drops all-zero and duplicate columns, keeping the
    gate of the first occurrence. The result has ``p <= n_gates`` patterns.

    Parameters
    ----------
    X : array of shape (n, d)
    n_gates : int
        Number of gates drawn.
    seed : int
        Seed of the gate draw (results are deterministic for a seed).
    bias : bool
        Gates act on ``[X, 1]``.
    """
    X = check_matrix(X, "X")
    n_gates = check_positive_int(n_gates, "n_gates")
    Xt = add_bias_column(X, bias)
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((Xt.shape[1], n_gates))
    masks, gates = _dedupe(gate_masks(Xt, G), G)
    if masks.shape[1] == 0:
        raise ValueError(
            "every sampled gate gave an all-zero pattern; X may be all zeros. "
            "Increase n_gates or use bias=True."
        )
    return Patterns(masks=masks, gates=gates, bias=bias, method="sampled", seed=seed)


# ---------------------------------------------------------------------------
# Exact enumeration of the chambers of the arrangement {x̃_jᵀ g = 0}
# ---------------------------------------------------------------------------

_EPS = np.finfo(np.float64).eps
# Two unit normals that agree (up to sign) to this many units in every
# coordinate are treated as the same hyperplane (duplicated or scaled rows).
_PARALLEL_TOL = 1e-9
# An (r-1)-subset of unit normals whose smallest singular value is below this
# is treated as rank deficient (its null space is not a line).
_SUBSET_TOL = 1e-9
# A gate must clear every hyperplane by more than this (unit normals, gates in
# the reduced coordinates with ``|g|_inf = 1``) for its pattern to count as a
# chamber; far above round-off, far below any chamber of non-degenerate data.
_MARGIN_TOL = 1e-12
# Bound on the number of matrix entries handled per block of the vectorised
# enumeration and per batched gate LP.
_BLOCK = 1 << 21
_LP_ROWS = 5_000


def _cover_bound(m, r):
    """Cover's bound ``2 Σ_{k<r} C(m-1, k)`` on the chambers of ``m`` hyperplanes of rank ``r``."""
    if m == 0 or r == 0:
        return 1
    return 2 * sum(math.comb(m - 1, k) for k in range(r))


def _generic_direction(k):
    """A fixed, generic unit vector of ``R^k`` (deterministic)."""
    w = np.random.default_rng(20240611).standard_normal(k)
    return w / np.linalg.norm(w)


def _merge_parallel(U):
    """Group unit rows that are equal up to sign (the same hyperplane).

    Returns ``(reps, cls, orient)`` with ``U[j] ≈ orient[j] * reps[cls[j]]``;
    ``reps`` are pairwise non-parallel unit vectors and ``orient`` is ``±1``.
    """
    m, k = U.shape
    w = _generic_direction(k)
    proj = U @ w
    orient = np.where(proj >= 0, 1.0, -1.0)
    V = U * orient[:, None]
    key = np.abs(proj)
    order = np.argsort(key, kind="stable")
    # Rows with nearly equal keys may be the same hyperplane; everything else
    # is certainly distinct (|key_j - key_k| <= |u_j ∓ u_k|_2 for a unit w).
    gaps = np.diff(key[order]) > _PARALLEL_TOL * np.sqrt(k)
    runs = np.split(order, np.flatnonzero(gaps) + 1)
    cls = np.empty(m, dtype=np.intp)
    rep_rows = []
    for run in runs:
        if run.size == 1:
            cls[run[0]] = len(rep_rows)
            rep_rows.append(run[0])
            continue
        leaders = []
        for j in run:
            for c in leaders:
                rep = V[rep_rows[c]]
                if np.max(np.abs(V[j] - rep)) <= _PARALLEL_TOL:
                    cls[j] = c
                    break
                if np.max(np.abs(V[j] + rep)) <= _PARALLEL_TOL:
                    # orientation was ambiguous (key ≈ 0): flip to match
                    orient[j] = -orient[j]
                    cls[j] = c
                    break
            else:
                cls[j] = len(rep_rows)
                leaders.append(len(rep_rows))
                rep_rows.append(j)
    reps = V[np.asarray(rep_rows, dtype=np.intp)]
    return reps, cls, orient


def _unique_columns(packed):
    """Sorted unique columns of a 2-D uint8 array (lexicographic on the bytes)."""
    if packed.shape[1] == 0:
        return packed
    cols = np.ascontiguousarray(packed.T)
    view = cols.view(np.dtype((np.void, cols.shape[1]))).ravel()
    _, idx = np.unique(view, return_index=True)
    return cols[idx].T


def _chambers(U):
    """Sign vectors (True: ``u_jᵀ g > 0``) of all chambers of unit rows ``U`` of full column rank."""
    reps, cls, orient = _merge_parallel(U)
    signs = _chambers_distinct(reps)
    return signs[cls] ^ (orient < 0)[:, None]


def _chambers_distinct(A):
    """All chambers of the central arrangement of the rows of ``A``.

    ``A`` is ``(m, k)`` with unit, pairwise non-parallel rows and rank ``k``.
    Returns a bool array ``(m, p)``: column ``i`` is the sign vector
    ``1[A g > 0]`` of chamber ``i``, sorted by packed bits.

    Every chamber is a pointed cone (rank ``k``), so it has an extreme ray,
    which lies on ``k-1`` independent hyperplanes: enumerating the lines
    ``null(A_S)`` over ``(k-1)``-subsets ``S`` and all the ways of leaving a
    ray ``±h`` into an adjacent chamber finds every chamber. When more than
    ``k-1`` hyperplanes ``Z`` contain the line, the feasible sign choices on
    ``Z`` are exactly the chambers of the arrangement ``{A_Z}`` inside
    ``h^⊥`` (rank ``k-1``), found recursively.
    """
    m, k = A.shape
    if k == 1:
        # rank one: a single hyperplane (all rows are parallel), two chambers.
        return np.array([[A[0, 0] > 0, A[0, 0] < 0]])
    nb = (m + 7) // 8
    n_tau = 1 << (k - 1)
    taus = ((np.arange(n_tau)[:, None] >> np.arange(k - 1)[None, :]) & 1).astype(bool)
    chunk = max(1, _BLOCK // (m * 2 * n_tau))
    emitted = [np.zeros((nb, 0), dtype=np.uint8)]
    seen_lines = set()
    subsets = itertools.combinations(range(m), k - 1)
    while True:
        S = np.array(list(itertools.islice(subsets, chunk)), dtype=np.intp).reshape(-1, k - 1)
        if S.shape[0] == 0:
            break
        _, sv, vt = np.linalg.svd(A[S], full_matrices=True)  # (c, k-1, k)
        smin = sv[:, -1]
        valid = smin > _SUBSET_TOL
        if not np.any(valid):
            continue
        S, smin, vt = S[valid], smin[valid], vt[valid]
        c = S.shape[0]
        cols = np.arange(c)
        H = vt[:, -1, :]  # unit null vectors, (c, k)
        z = A @ H.T  # (m, c)
        ztol = 1e-10 + 64.0 * _EPS / smin
        inZ = np.abs(z) <= ztol[None, :]
        inZ[S, cols[:, None]] = True
        z = np.where(inZ, 0.0, z)
        nZ = inZ.sum(axis=0)

        gen = nZ == k - 1
        if np.any(gen):
            pos, Sg = z[:, gen] > 0, S[gen]
            cg = np.arange(Sg.shape[0])[:, None]
            for base in (pos, z[:, gen] < 0):
                M = np.repeat(base[None], n_tau, axis=0)  # (n_tau, m, cg)
                M[:, Sg, cg] = taus[:, None, :]
                emitted.append(np.packbits(M, axis=1).transpose(1, 0, 2).reshape(nb, -1))

        for col in np.flatnonzero(~gen):
            Zidx = np.flatnonzero(inZ[:, col])
            key = np.packbits(inZ[:, col]).tobytes()
            if key in seen_lines:
                continue
            seen_lines.add(key)
            B = A[Zidx] @ vt[col, : k - 1, :].T  # coordinates in h^⊥
            B /= np.linalg.norm(B, axis=1, keepdims=True)
            T = _chambers(B)  # (|Z|, q)
            for base in (z[:, col] > 0, z[:, col] < 0):
                M = np.repeat(base[:, None], T.shape[1], axis=1)
                M[Zidx] = T
                emitted.append(np.packbits(M, axis=0))
        if len(emitted) > 64:
            emitted = [_unique_columns(np.concatenate(emitted, axis=1))]
    packed = _unique_columns(np.concatenate(emitted, axis=1))
    return np.unpackbits(packed, axis=0, count=m).astype(bool)


def _gate_lp(A, s):
    """Solve ``min u s.t. s_ji a_jᵀ g_i >= 1, |g_i|_inf <= u_i`` for the columns of ``s`` at once.

    One block-diagonal LP (HiGHS) with objective ``Σ u_i``; the blocks are
    independent, so each block of an optimum is optimal. Returns the gates
    ``g_i / u_i`` (``(k, b)``, ``|g|_inf = 1``), or ``None`` when HiGHS does
    not report an optimum (an empty chamber makes the whole LP infeasible).
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    m, k = A.shape
    b = s.shape[1]
    nv, nr = k + 1, m + 2 * k  # variables (g, u) and rows per block
    # rows 0..m-1: -s_j a_jᵀ g <= -1; then g_l - u <= 0 and -g_l - u <= 0
    blk_rows = np.concatenate([np.repeat(np.arange(m), k), np.arange(m, m + 2 * k),
                               np.arange(m, m + 2 * k)])
    blk_cols = np.concatenate([np.tile(np.arange(k), m), np.tile(np.arange(k), 2),
                               np.full(2 * k, k)])
    cons = -(s.T[:, :, None] * A[None, :, :]).reshape(b, m * k)  # (b, m*k)
    box = np.broadcast_to(np.concatenate([np.ones(k), -np.ones(k), -np.ones(2 * k)]), (b, 4 * k))
    data = np.concatenate([cons, box], axis=1).ravel()
    offs = np.arange(b)[:, None]
    rows = (offs * nr + blk_rows[None, :]).ravel()
    cols = (offs * nv + blk_cols[None, :]).ravel()
    A_ub = coo_matrix((data, (rows, cols)), shape=(b * nr, b * nv)).tocsr()
    b_ub = np.tile(np.concatenate([-np.ones(m), np.zeros(2 * k)]), b)
    cost = np.zeros(b * nv)
    cost[k::nv] = 1.0
    bounds = np.tile(np.array([[-np.inf, np.inf]] * k + [[0.0, np.inf]]), (b, 1))
    res = linprog(cost, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    sol = res.x.reshape(b, nv)
    G = sol[:, :k].T
    scale = np.abs(G).max(axis=0)
    if not np.all(scale > 0):
        return None
    return G / scale


def _max_margin_gates(A, signs):
    """Interior gates of the chambers ``signs`` of the unit rows ``A``.

    The gate of a chamber maximises the margin, ``max t s.t. s_j a_jᵀ g >= t,
    |g|_inf <= 1``, solved in the equivalent scale-free form
    ``min |g|_inf s.t. s_j a_jᵀ g >= 1`` (so that HiGHS's absolute tolerances
    do not swamp thin chambers), many chambers per LP. A batch that fails is
    re-solved one chamber at a time; a chamber whose LP still fails gets
    margin ``-inf``. Returns ``(G, margins)``: gates ``(k, p)`` with
    ``|g|_inf = 1`` and the margins ``min_j s_j a_jᵀ g`` they attain.
    """
    m, k = A.shape
    p = signs.shape[1]
    G = np.zeros((k, p))
    failed = np.zeros(p, dtype=bool)
    batch = max(1, _LP_ROWS // (m + 2 * k))
    for start in range(0, p, batch):
        idx = np.arange(start, min(start + batch, p))
        s = np.where(signs[:, idx], 1.0, -1.0)
        Gb = _gate_lp(A, s)
        if Gb is not None:
            G[:, idx] = Gb
            continue
        for i, col in enumerate(idx):
            Gi = _gate_lp(A, s[:, i : i + 1])
            if Gi is None:
                failed[col] = True
            else:
                G[:, col] = Gi[:, 0]
    margins = (np.where(signs, 1.0, -1.0) * (A @ G)).min(axis=0)
    margins[failed] = -np.inf
    return G, margins


def _reduce(X_tilde):
    """Thin SVD reduction: unit rows of ``X̃ V_r`` for the non-zero rows of ``X̃``.

    Returns ``(U, V_r, nonzero)``: ``U`` is ``(n', r)`` with unit rows (the
    hyperplane normals in the r-dimensional coordinates), ``V_r`` is
    ``(d̃, r)`` with orthonormal columns, ``nonzero`` a bool mask of the rows.
    Numerical rank and zero rows use numpy's ``matrix_rank`` tolerance
    ``σ_max · max(n, d̃) · eps``.
    """
    n, dt = X_tilde.shape
    _, sv, vt = np.linalg.svd(X_tilde, full_matrices=False)
    tol = sv[0] * max(n, dt) * _EPS if sv.size else 0.0
    r = int(np.sum(sv > tol))
    V = vt[:r].T
    A = X_tilde @ V
    norms = np.linalg.norm(A, axis=1)
    nonzero = norms > tol
    if r == 0:
        nonzero[:] = False
    U = A[nonzero] / norms[nonzero, None]
    return U, V, nonzero


def enumerate_patterns(X, *, bias=False, max_patterns=100_000):
    """All activation patterns of ``X̃``, each with a strictly interior gate.

    The patterns are the chambers of the central hyperplane arrangement
    ``{g : x̃_jᵀ g = 0}`` over the rows of ``X̃ = [X, 1]`` (``bias=True``) or
    ``X``; each chamber ``C`` gives the pattern ``1[X̃ g >= 0]``, ``g ∈ C``.

    Algorithm (DESIGN §2)
        1. Drop the zero rows of ``X̃``; thin SVD to the numerical rank ``r``
           (tolerance ``σ_max · max(n, d̃) · eps``) and work with the unit
           normals of ``X_r = X̃ V_r``. Rows that are positive or negative
           multiples of each other (duplicates, scaled rows) are the same
           hyperplane and are merged first.
        2. ``r = 1``: the two chambers ``±``. ``r >= 2``: for every
           ``(r-1)``-subset ``S`` of rank ``r-1`` let ``h`` span
           ``null(X_S)``; for ``σ = ±1`` the pattern is ``1[σ X_r h > 0]`` off
           the rows ``Z`` with ``x_jᵀ h ≈ 0`` and any sign choice ``τ`` on
           ``Z`` that is feasible. When ``|Z| = r-1`` every ``τ`` is
           feasible; when ``|Z| > r-1`` (several hyperplanes through one
           line) the feasible ``τ`` are exactly the chambers of the
           arrangement ``{x_j, j ∈ Z}`` inside ``h^⊥``, enumerated
           recursively (no ``2^{|Z|}`` scan). Every chamber is a pointed cone
           and is found from one of its extreme rays.
        3. Dedupe, then give each chamber the gate of the LP
           ``max t s.t. (2d_j - 1) u_jᵀ g_r >= t, |g_r|_inf <= 1`` over the
           unit normals ``u_j`` (HiGHS, solved in the scale-free form
           ``min |g_r|_inf s.t. (2d_j - 1) u_jᵀ g_r >= 1`` and batched as
           block-diagonal LPs) and map it back, ``g = V_r g_r`` (components
           outside the row space do not change ``X̃ g``). Every gate is
           checked: margin ``> 1e-12`` and ``1[X̃ g >= 0]`` equal to the
           pattern. On exact data this always holds; on nearly degenerate
           data a candidate that fails is dropped with a ``RuntimeWarning``.

    Tolerances
        Exact degeneracies (duplicated rows, rows ``c·x`` with ``c`` of either
        sign, zero rows, many hyperplanes through one line as for points on a
        grid with ``bias=True``, rank-deficient ``X``) are handled exactly, up
        to round-off. Unit normals equal to ``1e-9`` are one hyperplane and a
        hyperplane within about ``1e-10 + 64 eps / σ_min(X_S)`` of a line is on
        it, so for nearly degenerate ``X`` chambers thinner than about
        ``1e-9`` (relative) can be merged or missed.

    Count and cost
        The number of chambers is at most Cover's bound
        ``2 Σ_{k<r} C(m-1, k)`` for ``m`` distinct hyperplanes (``m <= n'``,
        the number of non-zero rows), with equality in general position:
        e.g. 134 chambers for ``n = 12`` Gaussian rows in ``d = 3`` without
        bias. Without bias the all-negative chamber has the all-zero mask and
        is dropped, so that case returns 133 patterns. The bound is checked
        against ``max_patterns`` before any enumeration. Enumeration costs
        ``O(C(m, r-1) · 2^{r-1} · m · r)`` plus one small LP
        (``m + 2r`` constraints, ``r + 1`` variables) per pattern; the LPs
        dominate (about 0.2-0.3 ms per pattern, e.g. 2 s for the 8179
        patterns of 30 Gaussian points in ``d = 3`` with bias).

    Mask convention
        ``masks[:, i] == 1[X̃ gates[:, i] >= 0]`` exactly. Rows of ``X̃`` that
        are zero (possible only without bias) get mask 1 (``0 >= 0``); they
        do not affect ``D_i X̃``. Hence with a zero row the all-negative
        chamber has a non-zero mask and is kept, as ``sample_patterns`` would.
        On the non-zero rows every gate is strictly inside its chamber.

    Parameters
    ----------
    X : array of shape (n, d)
    bias : bool
        Patterns of ``[X, 1]`` (gates of dimension ``d + 1``, bias last).
    max_patterns : int
        Refuse (``ValueError``) when Cover's bound exceeds this.

    Returns
    -------
    Patterns
        ``method="enumerated"``, ``seed=None``; the patterns sorted by their
        packed mask bits. ``gates`` has shape ``(d̃, p)``.

    Raises
    ------
    ValueError
        Invalid ``X`` or ``max_patterns``, or the bound exceeds ``max_patterns``.
    """
    X = check_matrix(X, "X")
    max_patterns = check_positive_int(max_patterns, "max_patterns")
    Xt = add_bias_column(X, bias)
    n, dt = Xt.shape

    U, V, nonzero = _reduce(Xt)
    n_nonzero, r = U.shape
    if n_nonzero == 0:
        # X is all zeros: a single chamber (all of R^d̃) whose mask is all ones.
        gates = np.zeros((dt, 1))
        gates[0, 0] = 1.0
        return Patterns(masks=gate_masks(Xt, gates), gates=gates, bias=bias,
                        method="enumerated", seed=None)

    reps, cls, orient = _merge_parallel(U)
    m = reps.shape[0]
    bound = _cover_bound(m, r)
    if bound > max_patterns:
        raise ValueError(
            f"exact enumeration could produce up to {bound} patterns (Cover's bound "
            f"2·Σ_(k<{r}) C({m}-1, k) for {m} distinct hyperplanes of rank {r}), more than "
            f"max_patterns={max_patterns}. Use sample_patterns instead, or reduce the data "
            f"(fewer rows or features), or raise max_patterns."
        )

    signs = _chambers_distinct(reps)  # (m, p) over distinct hyperplanes
    G_r, margins = _max_margin_gates(reps, signs)
    gates = V @ G_r
    masks = gate_masks(Xt, gates)
    expected = signs[cls] ^ (orient < 0)[:, None]
    ok = (margins > _MARGIN_TOL) & np.all(masks[nonzero] == expected, axis=0)
    if not np.all(ok):
        # Only reachable when X is nearly degenerate (rows parallel or lines of the
        # arrangement coincident to within the tolerances): the candidate's chamber is
        # empty or too thin to hold a gate in floating point.
        warnings.warn(
            f"enumerate_patterns dropped {int(np.sum(~ok))} candidate pattern(s) whose "
            f"chamber is numerically empty (no gate with margin > {_MARGIN_TOL:g}); X has "
            "nearly parallel rows or nearly coincident intersections.",
            RuntimeWarning,
            stacklevel=2,
        )
        masks, gates = masks[:, ok], gates[:, ok]
    keep = masks.any(axis=0)
    masks, gates = masks[:, keep], gates[:, keep]
    if masks.shape[1] == 0:
        raise RuntimeError("internal error in enumerate_patterns: no pattern found.")
    order = np.lexsort(np.packbits(masks, axis=0)[::-1])
    return Patterns(masks=masks[:, order], gates=gates[:, order], bias=bias,
                    method="enumerated", seed=None)
