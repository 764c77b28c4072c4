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

from ._validation import add_bias_column, check_bool, check_matrix, check_positive_int, check_seed

__all__ = ["Patterns", "sample_patterns", "enumerate_patterns", "gate_masks", "Arrangement",
           "ChamberBlock", "iter_chambers"]


def _norms(A, axis):
    """Euclidean norms along ``axis``, computed as ``m·‖A/m‖`` with ``m`` the largest entry.

    Gates of data in units of 1e-200 have entries ~1e200, whose squares overflow in a
    plain norm.
    """
    m = np.abs(A).max(axis=axis, keepdims=True)
    m = np.where(m > 0, m, 1.0)
    return (m * np.sqrt(((A / m) ** 2).sum(axis=axis, keepdims=True))).squeeze(axis)


#: The values of :attr:`Patterns.method`.
PATTERN_METHODS = ("sampled", "enumerated", "priced")


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
        ``"sampled"``, ``"enumerated"`` or ``"priced"`` (a working set of chambers
        chosen by column generation, :mod:`convex_relu.pricing`; never complete by
        itself: the global claim comes from pricing every chamber).
    seed : int or None
        The seed of sampled gates.
    n_dropped : int
        Candidate chambers that enumeration found but could not give a gate with a
        positive margin in floating point (nearly degenerate data), so they are
        missing from the set. Always 0 for sampled patterns.
    """

    masks: np.ndarray
    gates: np.ndarray
    bias: bool = False
    method: str = "sampled"
    seed: int | None = None
    n_dropped: int = 0

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
        if not isinstance(self.bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False; got {self.bias!r}.")
        if self.method not in PATTERN_METHODS:
            raise ValueError(f"method must be one of {PATTERN_METHODS}; got {self.method!r}.")
        object.__setattr__(self, "bias", bool(self.bias))
        object.__setattr__(self, "n_dropped", int(self.n_dropped))
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

    @property
    def complete(self):
        """Whether these are *all* the chambers of the arrangement: enumerated, none dropped.

        Only a complete set lets a C-ReLU optimum be read as the global optimum of
        two-layer ReLU training (any width); sampled sets give an optimum over the
        sampled patterns only.
        """
        return self.method == "enumerated" and self.n_dropped == 0

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
        scale = _norms(X_tilde, 1)[:, None] * _norms(self.gates, 0)[None, :]
        decided = np.abs(Z) > rtol * np.maximum(scale, 1e-300)
        if np.any(decided & ((Z >= 0) != self.masks)):
            raise ValueError(
                "patterns do not match X: some mask disagrees with its gate; "
                "compute the patterns from this X (and the same bias flag)."
            )


def _dedupe(masks, gates, rows=None):
    """Drop all-zero and duplicate mask columns, keeping the first gate of each.

    ``rows`` (a boolean row selection, e.g. the rows of positive weight): columns are
    compared on those rows only, so two gates that differ only on rows the loss never
    sees count as one (as they would with those rows removed).
    """
    key = masks if rows is None else masks[rows]
    keep_nonzero = key.any(axis=0)
    masks, gates, key = masks[:, keep_nonzero], gates[:, keep_nonzero], key[:, keep_nonzero]
    if masks.shape[1] == 0:
        return masks, gates
    packed = np.packbits(key, axis=0)
    _, first = np.unique(packed, axis=1, return_index=True)
    first = np.sort(first)
    return masks[:, first], gates[:, first]


#: ``sample_patterns`` refuses draws whose masks and gates would need more memory than this.
SAMPLE_MAX_BYTES = 1 << 31


def _pow2(x):
    """The power of two nearest to ``x > 0`` (1 for 0 or non-finite): scaling by it is exact."""
    if not (np.isfinite(x) and x > 0):
        return 1.0
    return float(np.ldexp(1.0, int(np.round(np.log2(x)))))


def _column_scales(X):
    """Per-column powers of two that bring every non-zero column of ``X`` to max-abs ~1."""
    return np.array([_pow2(v) for v in np.abs(X).max(axis=0)])


def _weighted_quantiles(T, levels, w):
    """Column-wise inverted-CDF quantiles: ``out_j = min{t ∈ T[:, j] : F_j(t) ≥ levels_j}``.

    ``F_j`` is the empirical distribution of column ``j`` of ``T`` with row weights
    ``w`` (uniform when ``None``). With integer weights it is the distribution of the
    rows repeated, so the quantile is the same as for the repeated data.
    """
    n, m = T.shape
    order = np.argsort(T, axis=0, kind="stable")
    T_sorted = np.take_along_axis(T, order, axis=0)
    weights = np.ones(n) if w is None else w
    cum = np.cumsum(weights[order], axis=0)
    target = levels * cum[-1]
    # first sorted position whose cumulative weight reaches the level (rows of
    # weight zero never reach it first unless tied, and ties share the value)
    pos = np.minimum((cum < target[None, :]).sum(axis=0), n - 1)
    return T_sorted[pos, np.arange(m)]


def _cuts_between_rows(T, levels, w):
    """Offsets that cut column ``j`` of ``T`` just below its ``levels_j``-quantile ``v_j``.

    The cut is the midpoint between ``v_j`` and the largest value of a row of positive
    weight strictly below it (``v_j − 1`` when there is none), so that no row lies on
    the hyperplane: a gate through a training point would make its pattern, and the
    predictions on that point, depend on the round-off of ``X̃g``.
    """
    v = _weighted_quantiles(T, levels, w)
    below = T < v[None, :]
    if w is not None:
        below &= (w > 0)[:, None]
    lower = np.where(below, T, -np.inf).max(axis=0)
    return np.where(np.isfinite(lower), 0.5 * (lower + v), v - 1.0)


def sample_patterns(X, n_gates, seed=0, *, bias=False, sample_weight=None, offsets="gaussian"):
    """Sample activation patterns from Gaussian gates in standardised coordinates.

    The gates are drawn for the standardised data ``Z = (X − μ)/σ`` (``μ`` the column
    means when ``bias``, else 0 since without a bias only rescaling keeps the
    hyperplanes through the origin; ``σ`` the column standard deviations, 1 for a
    constant column): ``h_j ~ N(0, I_d̃)``, ``j = 1..n_gates``, and mapped back to
    gates of ``X̃``,

        g_x = h_x / σ,   g_b = h_b − μᵀ(h_x / σ),   so that   X̃ g = Z̃ h.

    Hence the patterns do not change when a feature is rescaled (or shifted, with a
    bias): the gates follow the data instead of being swamped by its largest column.
    The draw is **nested**: ``h_j`` is the ``j``-th row of one ``(n_gates, d̃)``
    standard normal draw, so the first ``m`` gates of a draw of ``M`` with the same
    seed are exactly the draw of ``m``; all-zero and duplicate masks are then
    dropped keeping the first occurrence, so the patterns of the smaller draw are the
    leading patterns of the larger one. The result has ``p <= n_gates`` patterns.

    Parameters
    ----------
    X : array of shape (n, d)
    n_gates : int
        Number of gates drawn (refused before allocating when the masks would need
        more than :data:`SAMPLE_MAX_BYTES`).
    seed : int >= 0 or None
        Seed of the gate draw (results are deterministic for a seed).
    bias : bool
        Gates act on ``[X, 1]``.
    offsets : {"gaussian", "data"}
        How the bias coordinate ``h_b`` of a gate is drawn (only with ``bias``).
        ``"gaussian"``: ``h_b ~ N(0, 1)`` like the others, so in ``d`` standardised
        features every hyperplane passes within about ``1/√d`` of the mean.
        ``"data"``: the hyperplane ``{z : h_xᵀz + h_b = 0}`` cuts the data at a random
        quantile along its normal: ``h_b = −c_u(Z h_x)`` with ``u_j ~ U(0, 1)`` drawn
        from a second seeded stream and ``c_u`` the midpoint between the (weighted,
        inverted-CDF) ``u``-quantile of the projected rows and the next lower value
        (no training row lies on a hyperplane) — about the law of a hyperplane through
        a randomly drawn training point, so the gates spread over where the data are. Still nested,
        scale- and shift-invariant, and integer weights equal repeated rows.
    sample_weight : array of shape (n,) or None
        Non-negative row weights; ``μ`` and ``σ`` are then the weighted mean and
        standard deviation, ``μ = Σ_j w_j x_j / Σ_j w_j``. Integer weights thus
        give the same gates as the data with rows repeated (and zero weights as
        the data without those rows), so the standardisation, like the loss,
        treats a weight as a repetition count.
    """
    X = check_matrix(X, "X")
    n_gates = check_positive_int(n_gates, "n_gates")
    seed = check_seed(seed, "seed")
    bias = check_bool(bias, "bias")
    n, d = X.shape
    if offsets not in ("gaussian", "data"):
        raise ValueError(f"offsets must be 'gaussian' or 'data'; got {offsets!r}.")
    if offsets == "data" and not bias:
        raise ValueError("offsets='data' places hyperplanes away from the origin and needs bias=True.")
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(
                f"sample_weight must be None or {n} finite non-negative numbers with a positive "
                f"sum (one per row of X); got shape {w.shape}."
            )
    dt = d + int(bias)
    need = n_gates * (n + 8 * dt + 8 * n)  # masks (bool), gates and X̃G (float64)
    if need > SAMPLE_MAX_BYTES:
        raise ValueError(
            f"n_gates={n_gates} would need about {need / 2**30:.1f} GiB for the masks and gates of "
            f"{n} rows (limit {SAMPLE_MAX_BYTES / 2**30:.0f} GiB, SAMPLE_MAX_BYTES); use fewer gates."
        )
    # a power of two first, so that the standard deviation of tiny or huge columns
    # neither underflows nor overflows
    col = _column_scales(X)
    Xs = X / col
    mu_s = np.average(Xs, axis=0, weights=w) if bias else np.zeros(d)
    sigma_s = np.sqrt(np.average((Xs - mu_s) ** 2, axis=0, weights=w))
    sigma_s = np.where(sigma_s > 0, sigma_s, 1.0)
    Z = (Xs - mu_s) / sigma_s
    rng = np.random.default_rng(seed)
    H = rng.standard_normal((n_gates, dt)).T  # column j = row j of the draw: nested
    if offsets == "data":
        # a second stream, so that the normals are those of the Gaussian draw and the
        # levels are nested too
        levels = np.random.default_rng([seed, 1]).random(n_gates)
        H[d] = -_cuts_between_rows(Z @ H[:d], levels, w)
    # masks from the standardised coordinates (scale-free); gates mapped back to X̃
    masks = gate_masks(add_bias_column(Z, bias), H)
    G = np.empty_like(H)
    G[:d] = H[:d] / (sigma_s * col)[:, None]
    if bias:
        G[d] = H[d] - (mu_s / sigma_s) @ H[:d]
    masks, gates = _dedupe(masks, G, None if w is None else w > 0)
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
    bias = check_bool(bias, "bias")
    # The arrangement {x̃_jᵀg = 0} does not change when a column of X is rescaled (the
    # gate's coordinate absorbs it), so enumerate in columns scaled by powers of two to
    # max-abs ~1: exact in floating point, and the rank and degeneracy tolerances below
    # then see every feature instead of only the largest (1e-200·X would otherwise
    # look like rank 1 next to the bias column, 1e160·X overflow in the SVD).
    col = _column_scales(X)
    Xt = add_bias_column(X / col, bias)
    n, dt = Xt.shape
    unscale = np.concatenate([1.0 / col, np.ones(int(bias))])[:, None]

    U, V, nonzero = _reduce(Xt)
    n_nonzero, r = U.shape
    if n_nonzero == 0:
        # X is all zeros: a single chamber (all of R^d̃) whose mask is all ones.
        gates = np.zeros((dt, 1))
        gates[0, 0] = 1.0
        return Patterns(masks=gate_masks(Xt, gates), gates=gates * unscale, bias=bias,
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
    n_dropped = int(np.sum(~ok))
    keep = masks.any(axis=0)
    masks, gates = masks[:, keep], gates[:, keep]
    if masks.shape[1] == 0:
        raise RuntimeError("internal error in enumerate_patterns: no pattern found.")
    order = np.lexsort(np.packbits(masks, axis=0)[::-1])
    # masks were computed in the scaled coordinates; the gates of X̃ are g / col
    # (exact: powers of two), with the same signs of X̃g row by row
    return Patterns(masks=masks[:, order], gates=gates[:, order] * unscale, bias=bias,
                    method="enumerated", seed=None, n_dropped=n_dropped)


# ---------------------------------------------------------------------------
# Streaming the arrangement: every chamber once, in blocks of bounded memory
# ---------------------------------------------------------------------------

# A fixed, generic objective ``b`` of the "lowest vertex" rule (see Arrangement).
_LOWEST_SEED = 20240917
# KKT multipliers of the lowest-vertex test (unit normals, unit ``b``) down to
# ``-_KKT_TOL`` count as non-negative: a multiplier within round-off of zero makes a
# chamber be emitted from two of its rays (a harmless duplicate) instead of none.
_KKT_TOL = 1e-9
# Emissions whose smallest multiplier is below this are near-ties; they are checked
# against an exact set of their packed masks so that a near-tie emits once.
_AMBIGUOUS = 1e-6
#: Matrix entries per block of the stream (``m × lines``); bounds its memory.
STREAM_BLOCK_ENTRIES = 1 << 21


def _combination_blocks(m, t, max_rows):
    """All ``t``-subsets of ``range(m)`` in lexicographic order, as int arrays of ≤ ``max_rows`` rows."""
    if t == 0:
        yield np.zeros((1, 0), dtype=np.intp)
        return
    if t > m:
        return
    pending, size = [], 0

    def tails(start, u):
        # lexicographic u-subsets of range(start, m), the last one or two levels vectorised
        if u == 1:
            return np.arange(start, m, dtype=np.intp)[:, None]
        if u == 2:
            i, j = np.triu_indices(m - start, k=1)
            return np.column_stack([i + start, j + start]).astype(np.intp)
        return None

    if t <= 2:
        full = tails(0, t)
        for s in range(0, full.shape[0], max_rows):
            yield full[s:s + max_rows]
        return
    for prefix in itertools.combinations(range(m), t - 2):
        start = prefix[-1] + 1
        if m - start < 2:
            continue
        tail = tails(start, 2)
        blk = np.column_stack([np.broadcast_to(np.array(prefix, dtype=np.intp), (tail.shape[0], t - 2)), tail])
        pending.append(blk)
        size += blk.shape[0]
        if size >= max_rows:
            allb = np.concatenate(pending)
            for s in range(0, allb.shape[0] - max_rows + 1, max_rows):
                yield allb[s:s + max_rows]
            rest = allb.shape[0] % max_rows
            pending = [allb[allb.shape[0] - rest:]] if rest else []
            size = rest
    if size:
        yield np.concatenate(pending)


def _null_lines(A, S):
    """Unit null vectors ``h`` of ``A[S]``, the smallest singular value, and ``pinv``.

    Returns ``(H, smin, Pinv)``: ``H`` is ``(c, k)``, ``Pinv`` is ``(c, k-1, k)``
    with ``Pinv_l = (A_S A_Sᵀ)^{-1} A_S`` (so ``Pinv_l A_Sᵀ = I``). Closed forms for
    ``k <= 3`` (cross products), a batched SVD otherwise.
    """
    m, k = A.shape
    AS = A[S]  # (c, k-1, k)
    c = AS.shape[0]
    if k == 2:
        a = AS[:, 0, :]
        H = np.column_stack([-a[:, 1], a[:, 0]])
        return H, np.ones(c), AS.copy()
    if k == 3:
        a, b = AS[:, 0, :], AS[:, 1, :]
        H = np.cross(a, b)
        nh = np.linalg.norm(H, axis=1)
        cos = np.einsum("ij,ij->i", a, b)
        smin = np.sqrt(np.maximum(1.0 - np.abs(cos), 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            H = H / nh[:, None]
            det = 1.0 - cos * cos
            Pinv = np.stack([(a - cos[:, None] * b), (b - cos[:, None] * a)], axis=1) / det[:, None, None]
        return H, smin, Pinv
    u, sv, vt = np.linalg.svd(AS, full_matrices=True)
    H = vt[:, -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        Pinv = np.einsum("cij,cj,cjl->cil", u, 1.0 / sv, vt[:, : k - 1, :])
    return H, sv[:, -1], Pinv


class ChamberBlock:
    """A block of chambers of an :class:`Arrangement`, in its distinct-hyperplane coordinates.

    A chamber is described by its sign vector ``s ∈ {0,1}^m`` over the ``m``
    distinct hyperplanes (``s_c = 1[a_cᵀg > 0]``). Most chambers of a block come
    from *lines* ``h = null(A_S)`` through exactly ``r−1`` hyperplanes: chamber
    ``(l, σ, τ)`` has ``s_c = 1[σ a_cᵀh_l > 0]`` off ``S_l`` and ``τ`` on ``S_l``; its
    sign vector is formed only on request (:meth:`rep_signs`). The others (lines
    through more hyperplanes) are held explicitly.

    Attributes
    ----------
    n_chambers : int
    features : ndarray (n_chambers, e) or None
        ``Σ_c s_c Ω_c`` for the ``extra`` matrix ``Ω`` the stream was asked for.
    """

    def __init__(self, A, S, H, line, sigma, tau, explicit, features):
        self._A = A
        self._S, self._H = S, H
        self._line, self._sigma, self._tau = line, sigma, tau
        self._explicit = explicit
        self.n_line = line.size
        self.n_chambers = line.size + explicit.shape[1]
        self.features = features

    def __len__(self):
        return self.n_chambers

    def line_facets(self):
        """For the first ``n_line`` chambers: the ``r−1`` hyperplanes through their ray and signs.

        Returns ``(rows, signs)``, both ``(n_line, r−1)``: chamber ``i`` lies in
        ``{g : signs[i, j]·a_{rows[i, j]}ᵀg >= 0}`` (a cone containing it).
        """
        return self._S[self._line], np.where(self._tau, 1.0, -1.0)

    def rep_signs_rows(self, idx, rows):
        """Rows ``rows`` of the sign vectors of chambers ``idx``: ``(len(rows), len(idx))`` bool.

        The same values as ``rep_signs(idx)[rows]`` at ``O(len(rows)·len(idx))`` cost,
        for tests that look at a few hyperplanes at a time (C-ReLU face pricing).
        """
        idx = np.asarray(idx, dtype=np.intp)
        rows = np.asarray(rows, dtype=np.intp)
        out = np.empty((rows.size, idx.size), dtype=bool)
        gen = idx < self.n_line
        gi = idx[gen]
        if gi.size:
            li = self._line[gi]
            block = (self._A[rows] @ self._H[li].T) * self._sigma[gi] > 0
            Sl = self._S[li]  # (b, r-1): the hyperplanes through the ray carry τ
            for t in range(Sl.shape[1]):
                hit = rows[:, None] == Sl[None, :, t]
                block = np.where(hit, self._tau[gi, t][None, :], block)
            out[:, gen] = block
        if (~gen).any():
            out[:, ~gen] = self._explicit[rows][:, idx[~gen] - self.n_line]
        return out

    def rep_signs(self, idx=None):
        """Sign vectors ``(m, len(idx))`` (bool) of the chambers ``idx`` (default: all)."""
        if idx is None:
            idx = np.arange(self.n_chambers)
        idx = np.asarray(idx, dtype=np.intp)
        m = self._A.shape[0]
        out = np.empty((m, idx.size), dtype=bool)
        gen = idx < self.n_line
        gi = idx[gen]
        if gi.size:
            li = self._line[gi]
            zl = self._A @ self._H[li].T  # rows off S_l are far from 0 (checked when streamed)
            block = (zl * self._sigma[gi]) > 0
            cols = np.arange(gi.size)[:, None]
            block[self._S[li], cols] = self._tau[gi]
            out[:, gen] = block
        if (~gen).any():
            out[:, ~gen] = self._explicit[:, idx[~gen] - self.n_line]
        return out


class Arrangement:
    """The hyperplane arrangement ``{g : x̃_jᵀg = 0}`` of ``X̃``, streamed chamber by chamber.

    The same reduction as :func:`enumerate_patterns` (columns scaled by powers of two,
    zero rows dropped, thin SVD to the rank ``r``, parallel rows merged into ``m``
    distinct unit normals ``a_c``), the same lines ``h = null(A_S)`` over the
    ``(r−1)``-subsets ``S`` and the same recursion for lines on more than ``r−1``
    hyperplanes; but instead of collecting every candidate and deduplicating, each
    chamber is emitted from exactly **one** of its extreme rays, decided locally:

    *Lowest-vertex rule.* For a chamber ``C`` with signed normals ``t_c a_c``
    (``t_c = 2s_c − 1``), ``c_C = Σ_c t_c a_c`` lies in the interior of the dual cone
    ``C*``, so ``P_C = C ∩ {c_Cᵀg = 1}`` is a bounded polytope whose vertices are the
    extreme rays of ``C``. For a fixed generic ``b`` the LP ``min bᵀg`` over ``P_C``
    has a unique optimal vertex, and the ray ``σh`` of the line of ``S`` is that vertex
    iff the KKT conditions hold there:

        b = Σ_{c∈Z} μ_c t_c a_c + ν c_C,   μ >= 0,

    ``Z`` the hyperplanes through the line. With ``a_cᵀh = 0`` on ``Z``,
    ``ν = bᵀh / c_Cᵀh`` and ``c_Cᵀ(σh) = Σ_c |a_cᵀh| > 0``; for ``Z = S`` (general
    position) the multipliers are ``μ_c = t_c e_c − σγ`` with ``e = P(b) − γ P(Aᵀ sgn)``,
    ``γ = bᵀh / Σ|a_cᵀh|``, ``P = (A_SA_Sᵀ)^{-1}A_S``: O(r) per line once the block's
    one GEMM ``sgn(Ah)ᵀ[A | Ω]`` is done. Lines with ``|Z| > r−1`` use a small NNLS
    for the cone test. Multipliers within ``1e-9`` of zero are accepted (a near-tie can
    emit a chamber twice, never zero times); near-ties are deduplicated exactly
    against a set of their packed masks.

    Memory per block is ``O(m · lines)`` floats (:data:`STREAM_BLOCK_ENTRIES`); the
    only state kept across blocks is the set of degenerate lines already expanded and
    the near-tie masks.

    Parameters
    ----------
    X : array (n, d)
    bias : bool
        The arrangement of ``[X, 1]``.
    """

    def __init__(self, X, *, bias=False):
        X = check_matrix(X, "X")
        bias = check_bool(bias, "bias")
        self.bias = bias
        col = _column_scales(X)
        self._Xt = add_bias_column(X / col, bias)
        self.n, self.dt = self._Xt.shape
        self._unscale = np.concatenate([1.0 / col, np.ones(int(bias))])[:, None]
        U, V, nonzero = _reduce(self._Xt)
        self._V, self._nonzero = V, nonzero
        self.rank = U.shape[1] if U.shape[0] else 0
        if U.shape[0] == 0:
            self._reps = np.zeros((0, 0))
            self._cls = np.zeros(0, dtype=np.intp)
            self._flip = np.zeros(0, dtype=bool)
        else:
            reps, cls, orient = _merge_parallel(U)
            self._reps, self._cls, self._flip = reps, cls, orient < 0
        self.n_hyperplanes = self._reps.shape[0]
        self._nz_idx = np.flatnonzero(nonzero)

    # sizes ----------------------------------------------------------------
    @property
    def bound(self):
        """Cover's bound ``2 Σ_{k<r} C(m−1, k)`` on the number of chambers (attained in general position)."""
        if self.n_hyperplanes == 0:
            return 1
        return _cover_bound(self.n_hyperplanes, self.rank)

    def __repr__(self):
        return (f"Arrangement(n={self.n}, d̃={self.dt}, rank={self.rank}, "
                f"hyperplanes={self.n_hyperplanes}, chambers<={self.bound})")

    # coordinates ------------------------------------------------------------
    def rep_weights(self, F):
        """``(const, Ω)`` with ``Σ_j mask_j F_j = const + Σ_c s_c Ω_c`` for every chamber.

        ``F`` is ``(n, e)`` (one row of features per training row); ``s`` the chamber's
        sign vector over the distinct hyperplanes. Row ``j`` of class ``c`` has
        ``mask_j = s_c`` when it points like ``a_c`` and ``1 − s_c`` when opposite;
        zero rows have mask 1.
        """
        F = np.asarray(F, dtype=np.float64)
        e = F.shape[1]
        const = F[~self._nonzero].sum(axis=0)
        Fn = F[self._nz_idx]
        Omega = np.zeros((self.n_hyperplanes, e))
        sign = np.where(self._flip, -1.0, 1.0)
        np.add.at(Omega, self._cls, sign[:, None] * Fn)
        const = const + Fn[self._flip].sum(axis=0)
        return const, Omega

    def class_sums(self, w):
        """``β_c = Σ_{j in class c} w_j`` (unsigned) over the rows of each distinct hyperplane; ``(m, e)``."""
        w = np.asarray(w, dtype=np.float64)
        out = np.zeros((self.n_hyperplanes,) + w.shape[1:])
        np.add.at(out, self._cls, w[self._nz_idx])
        return out

    def rep_normals(self):
        """Unit normals ``(m, d̃)`` of the distinct hyperplanes in the user's ``X̃`` coordinates.

        Row ``j`` of class ``c`` satisfies ``x̃_jᵀg = ρ_j·ν_cᵀg`` with ``ρ_j`` of the sign
        of its orientation, so chamber ``s`` is ``{g : (2s_c − 1)ν_cᵀg > 0}``.
        """
        if self.n_hyperplanes == 0:
            return np.zeros((0, self.dt))
        N = (self._V @ self._reps.T / self._unscale).T
        return N / np.linalg.norm(N, axis=1, keepdims=True)

    def expand(self, rep_signs):
        """Masks ``(n, b)`` of the training rows from sign vectors ``(m, b)`` (zero rows: 1)."""
        rep_signs = np.asarray(rep_signs, dtype=bool)
        out = np.ones((self.n, rep_signs.shape[1]), dtype=bool)
        if self.n_hyperplanes:
            out[self._nz_idx] = rep_signs[self._cls] ^ self._flip[:, None]
        return out

    def rep_signs_of(self, masks):
        """Sign vectors ``(m, b)`` of full masks ``(n, b)`` (inverse of :meth:`expand`)."""
        masks = np.asarray(masks, dtype=bool)
        out = np.zeros((self.n_hyperplanes, masks.shape[1]), dtype=bool)
        rows = masks[self._nz_idx] ^ self._flip[:, None]
        out[self._cls] = rows
        return out

    def gates(self, rep_signs):
        """Interior gates of chambers given by sign vectors ``(m, b)``.

        The max-margin LP of :func:`enumerate_patterns` in the reduced coordinates,
        mapped back to gates of ``X̃`` (the user's units). Returns ``(gates, ok)``:
        ``gates`` ``(d̃, b)`` and ``ok`` (b,) bool, false where the LP found no gate with
        margin ``> 1e-12`` reproducing the chamber (numerically empty chamber).
        """
        rep_signs = np.asarray(rep_signs, dtype=bool)
        b = rep_signs.shape[1]
        if self.n_hyperplanes == 0:
            G = np.zeros((self.dt, b))
            G[0] = 1.0
            return G * self._unscale, np.ones(b, dtype=bool)
        G_r, margins = _max_margin_gates(self._reps, rep_signs)
        gates = self._V @ G_r
        masks = gate_masks(self._Xt, gates)
        ok = (margins > _MARGIN_TOL) & np.all(masks == self.expand(rep_signs), axis=0)
        return gates * self._unscale, ok

    # the stream -----------------------------------------------------------
    def blocks(self, extra=None, *, block_entries=None):
        """Yield :class:`ChamberBlock` s covering every chamber exactly once.

        ``extra`` (``(m, e)``, e.g. :meth:`rep_weights`' ``Ω``) makes each block carry
        ``features = Σ_c s_c extra_c`` for its chambers. The all-negative chamber is
        included (its mask may be all zero).

        Lines ``S = P ∪ {j}`` are grouped by their first ``r−2`` hyperplanes ``P``
        (lexicographic, ``j > max P``). Projected onto the plane ``span(A_P)^⊥`` the
        normals become 2-vectors ``p_c`` and ``a_cᵀh = cross(p_j, p_c)/‖p_j‖``, so the
        signs along every line of ``P`` follow from one angular sort: ``Aᵀsgn`` and
        ``Ωᵀsgn`` are half-circle window sums of a cumulative sum, ``O(m log m)`` per
        ``P`` instead of ``O(m²)``. A line with another normal within the tolerance of
        it (degenerate, or nearly so) is recomputed explicitly as in
        :func:`enumerate_patterns`.
        """
        m = self.n_hyperplanes
        k = self.rank
        e = 0 if extra is None else np.asarray(extra).shape[1]
        extra = np.zeros((m, 0)) if extra is None else np.asarray(extra, dtype=np.float64)
        empty_i = np.zeros(0, dtype=np.intp)
        A = self._reps

        def explicit_block(signs):
            feats = signs.T.astype(np.float64) @ extra if e else None
            kk = max(k - 1, 0)
            return ChamberBlock(A, np.zeros((0, kk), np.intp), np.zeros((0, max(k, 1))), empty_i,
                                np.zeros(0), np.zeros((0, kk), bool), signs, feats)

        if m == 0:
            yield explicit_block(np.zeros((0, 1), dtype=bool))
            return
        if k == 1:
            yield explicit_block(np.array([[A[0, 0] > 0, A[0, 0] < 0]]))
            return
        AE = np.hstack([A, extra])
        f = k + e
        E_tot = extra.sum(axis=0)
        bvec = _generic_direction_seeded(k)
        n_tau = 1 << (k - 1)
        taus = ((np.arange(n_tau)[:, None] >> np.arange(k - 1)[None, :]) & 1).astype(bool)
        tsign = np.where(taus, 1.0, -1.0)
        entries = STREAM_BLOCK_ENTRIES if block_entries is None else int(block_entries)
        n_pref = max(1, entries // (4 * m * max(f, 1)))
        state = {"seen": set(), "ambiguous": set()}
        for P in _combination_blocks(m, k - 2, n_pref):
            S, H, smin, SG, flagged = self._sweep(A, AE, P)
            if S.shape[0] == 0:
                continue
            explicit = []
            if flagged.any():
                fi = np.flatnonzero(flagged)
                zl = A @ H[fi].T
                ztol = 1e-10 + 64.0 * _EPS / smin[fi]
                inZ = np.abs(zl) <= ztol[None, :]
                inZ[S[fi], np.arange(fi.size)[:, None]] = True
                zl[inZ] = 0.0
                nZ = inZ.sum(axis=0)
                SG[fi] = np.sign(zl).T @ AE  # exact signs for the lines that looked close
                for q in np.flatnonzero(nZ > k - 1):
                    col = fi[q]
                    key = np.packbits(inZ[:, q]).tobytes()
                    if key in state["seen"]:
                        continue
                    state["seen"].add(key)
                    L1q = float(SG[col, :k] @ H[col])
                    explicit.append(self._degenerate_line(A, H[col], zl[:, q], inZ[:, q], bvec,
                                                          SG[col, :k], L1q, state["ambiguous"]))
                keep = np.ones(S.shape[0], dtype=bool)
                keep[fi[nZ > k - 1]] = False
                S, H, SG = S[keep], H[keep], SG[keep]
            line, sigma, tau = self._lowest_vertex(A, S, H, SG[:, :k], bvec, taus, tsign, state)
            feats = None
            if e:
                ES = extra[S[line]]  # (b, k-1, e)
                feats = 0.5 * (E_tot[None, :] - ES.sum(axis=1) + sigma[:, None] * SG[line, k:])
                feats += np.einsum("bj,bje->be", tau.astype(np.float64), ES)
            X_sig = np.concatenate(explicit, axis=1) if explicit else np.zeros((m, 0), dtype=bool)
            if e and X_sig.shape[1]:
                feats = np.vstack([feats, X_sig.T.astype(np.float64) @ extra])
            yield ChamberBlock(A, S, H, line, sigma, tau, X_sig, feats)

    @staticmethod
    def _sweep(A, AE, P):
        """Lines ``P_b ∪ {j}`` (``j > max P_b``) of a batch of prefixes, with ``sgn(Ah)ᵀ[A | Ω]``.

        Returns ``(S, H, smin, SG, flagged)``: the subsets ``(L, k−1)``, unit null
        vectors ``(L, k)``, an estimate of ``σ_min(A_S)``, the window sums
        ``(L, k + e)`` and the lines whose sums must be recomputed exactly.
        """
        m, k = A.shape
        B = P.shape[0]
        f = AE.shape[1]
        if k == 2:
            Q = np.broadcast_to(np.eye(2), (B, 2, 2))
            smin_P = np.ones(B)
        else:
            _, svp, vtp = np.linalg.svd(A[P], full_matrices=True)  # (B, k-2, k)
            Q = vtp[:, k - 2:, :].transpose(0, 2, 1)  # (B, k, 2): basis of span(A_P)^⊥
            smin_P = svp[:, -1]
        okP = smin_P > _SUBSET_TOL
        p = np.einsum("mk,bkt->bmt", A, Q)  # (B, m, 2)
        pn = np.hypot(p[..., 0], p[..., 1])  # (B, m)
        zero = pn <= _SUBSET_TOL
        if k > 2:
            zero[np.arange(B)[:, None], P] = True
        # a normal in span(A_P) other than P's own lies on every line of P: all degenerate
        inP = np.zeros((B, m), dtype=bool)
        if k > 2:
            inP[np.arange(B)[:, None], P] = True
        bad_prefix = (zero & ~inP).any(axis=1)
        phi = np.mod(np.arctan2(p[..., 1], p[..., 0]), 2 * np.pi)
        phi = np.where(zero, 10.0, phi)  # parked beyond 2π, weight 0
        order = np.argsort(phi, axis=1, kind="stable")
        phs = np.take_along_axis(phi, order, axis=1)
        W = np.where(zero[..., None], 0.0, AE[None, :, :])  # (B, m, f)
        Ws = np.take_along_axis(W, order[..., None], axis=1)
        valid_n = (~zero).sum(axis=1)
        # tripled circle (φ − 2π, φ, φ + 2π) for windows that wrap; parked entries removed
        # by giving them +inf keys beyond every query
        ph3 = np.concatenate([phs - 2 * np.pi, phs, phs + 2 * np.pi], axis=1)
        ph3 = np.where(np.tile(np.take_along_axis(zero, order, 1), 3), np.inf, ph3)
        ph3 = np.sort(ph3, axis=1)
        Ws3 = np.concatenate([Ws, Ws, Ws], axis=1)
        # weights must follow the same re-sort: parked rows have zero weight and sort last
        zs = np.tile(np.take_along_axis(zero, order, 1), 3)
        ordr = np.argsort(zs, axis=1, kind="stable")
        Ws3 = np.take_along_axis(Ws3, ordr[..., None], axis=1)
        cs = np.concatenate([np.zeros((B, 1, f)), np.cumsum(Ws3, axis=1)], axis=1)  # (B, 3m+1, f)
        tot = W.sum(axis=1)  # (B, f)
        # the lines: j > max(P), p_j non-zero
        start = (P.max(axis=1) + 1) if k > 2 else np.zeros(B, dtype=np.intp)
        jj = np.arange(m)[None, :]
        own = (jj >= start[:, None]) & ~zero & okP[:, None]
        bi, ji = np.nonzero(own)
        L = bi.size
        if L == 0:
            return (np.zeros((0, k - 1), np.intp), np.zeros((0, k)), np.zeros(0),
                    np.zeros((0, f)), np.zeros(0, bool))
        pj = p[bi, ji]  # (L, 2)
        pnj = pn[bi, ji]
        hW = np.column_stack([-pj[:, 1], pj[:, 0]]) / pnj[:, None]
        H = np.einsum("lkt,lt->lk", Q[bi], hW)
        smin = np.minimum(smin_P[bi], pnj)
        S = np.column_stack([P[bi], ji]) if k > 2 else ji[:, None]
        # one global sorted key: prefix b's finite keys lie in [16πb − 2π, 16πb + 4π), its
        # parked ones at 16πb + 6π, below the next prefix's first key 16π(b+1) − 2π
        off = 16 * np.pi * np.arange(B)
        keys = np.where(np.isfinite(ph3), ph3 + off[:, None], off[:, None] + 6 * np.pi)
        flat = keys.ravel()
        base = (3 * m) * bi
        phj = phi[bi, ji] + off[bi]

        def count_le(x, side):
            return np.searchsorted(flat, x, side=side) - base

        lo = count_le(phj, "right")
        hi = count_le(phj + np.pi, "left")
        pos = cs[bi, hi] - cs[bi, lo]
        rest = tot[bi] - AE[ji]
        SG = 2.0 * pos - rest
        # closeness: another normal within angle δ of ±p_j (|a_cᵀh| <= ztol possible)
        ztol = 1e-10 + 64.0 * _EPS / smin
        pmin = np.where(zero, np.inf, pn).min(axis=1)
        delta = np.minimum(2.0 * ztol / pmin[bi] + 1e-13, np.pi / 2)
        near0 = count_le(phj + delta, "right") - count_le(phj - delta, "left") - 1
        near1 = count_le(phj + np.pi + delta, "right") - count_le(phj + np.pi - delta, "left")
        flagged = (near0 > 0) | (near1 > 0) | bad_prefix[bi]
        return S.astype(np.intp), H, smin, SG, flagged

    @staticmethod
    def _lowest_vertex(A, S, H, Asg, bvec, taus, tsign, state):
        """The ``(line, σ, τ)`` whose ray is the lowest vertex of its chamber (class docstring)."""
        m, k = A.shape
        L = S.shape[0]
        if L == 0:
            return np.zeros(0, np.intp), np.zeros(0), np.zeros((0, k - 1), bool)
        L1 = np.einsum("lk,lk->l", Asg, H)  # Σ_c |a_cᵀh| > 0
        gamma = (H @ bvec) / L1
        r = bvec[None, :] - gamma[:, None] * Asg  # ⊥ h, so r = A_Sᵀe
        AS = A[S]  # (L, k-1, k)
        G = AS @ AS.transpose(0, 2, 1)
        ev = np.linalg.solve(G, np.einsum("ljk,lk->lj", AS, r)[..., None])[..., 0]  # (L, k-1)
        te = tsign[None, :, :] * ev[:, None, :]  # (L, n_tau, k-1)
        out_l, out_s, out_t, out_m = [], [], [], []
        for sigma in (1.0, -1.0):
            mu_min = (te - sigma * gamma[:, None, None]).min(axis=2)
            li, ti = np.nonzero(mu_min >= -_KKT_TOL)
            out_l.append(li)
            out_s.append(np.full(li.size, sigma))
            out_t.append(ti)
            out_m.append(mu_min[li, ti])
        line = np.concatenate(out_l)
        sigma = np.concatenate(out_s)
        tau = taus[np.concatenate(out_t)]
        mu_min = np.concatenate(out_m)
        amb = np.flatnonzero(mu_min < _AMBIGUOUS)
        if amb.size:
            # near-ties: the first emission of each such mask wins
            tmp = ChamberBlock(A, S, H, line, sigma, tau, np.zeros((m, 0), bool), None)
            packed = np.packbits(tmp.rep_signs(amb), axis=0)
            keep = np.ones(line.size, dtype=bool)
            for a_i, col in zip(amb, packed.T):
                key = col.tobytes()
                if key in state["ambiguous"]:
                    keep[a_i] = False
                else:
                    state["ambiguous"].add(key)
            line, sigma, tau = line[keep], sigma[keep], tau[keep]
        return line, sigma, tau

    def _degenerate_line(self, A, h, z, inZ, bvec, Asg, L1, ambiguous):
        """Sign vectors of the chambers whose lowest vertex is on a line through > r−1 hyperplanes."""
        from scipy.optimize import nnls

        m, k = A.shape
        Zidx = np.flatnonzero(inZ)
        _, _, vt = np.linalg.svd(A[Zidx], full_matrices=True)
        B = A[Zidx] @ vt[: k - 1, :].T  # coordinates in h^⊥
        B /= np.linalg.norm(B, axis=1, keepdims=True)
        T = _chambers(B)  # (|Z|, q)
        out = []
        for sigma in (1.0, -1.0):
            M = np.repeat((sigma * z > 0)[:, None], T.shape[1], axis=1)
            M[Zidx] = T
            # ν = bᵀh / c_Cᵀh with c_Cᵀh = σ Σ|a_cᵀh| (rows of Z are orthogonal to h)
            nu = float(bvec @ h) / (sigma * L1)
            tZ = np.where(T, 1.0, -1.0)  # (|Z|, q)
            cC = sigma * Asg[None, :] + (tZ.T @ A[Zidx])  # (q, k)
            for i in range(T.shape[1]):
                r = bvec - nu * cC[i]
                Bm = (A[Zidx] * tZ[:, i : i + 1]).T  # columns t_c a_c
                _, res = nnls(Bm, r, maxiter=50 * (Zidx.size + 1))
                if res <= 1e-9:
                    if res > 1e-12:
                        key = np.packbits(M[:, i]).tobytes()
                        if key in ambiguous:
                            continue
                        ambiguous.add(key)
                    out.append(M[:, i])
        if not out:
            return np.zeros((m, 0), dtype=bool)
        return np.column_stack(out)

    def iter_masks(self, chunk_size=65536):
        """Yield the masks ``(n, ≤ chunk_size)`` (bool) of all chambers, all-zero mask dropped."""
        chunk_size = check_positive_int(chunk_size, "chunk_size")
        buf, size = [], 0
        for blk in self.blocks():
            if blk.n_chambers == 0:
                continue
            masks = self.expand(blk.rep_signs())
            masks = masks[:, masks.any(axis=0)]
            buf.append(masks)
            size += masks.shape[1]
            while size >= chunk_size:
                allm = np.concatenate(buf, axis=1)
                yield allm[:, :chunk_size]
                rest = allm[:, chunk_size:]
                buf, size = ([rest], rest.shape[1]) if rest.shape[1] else ([], 0)
        if size:
            yield np.concatenate(buf, axis=1)


def _generic_direction_seeded(k):
    w = np.random.default_rng(_LOWEST_SEED).standard_normal(k)
    return w / np.linalg.norm(w)


def iter_chambers(X, *, bias=False, chunk_size=65536):
    """Stream the masks of all chambers of ``{x̃_jᵀg = 0}`` in blocks of at most ``chunk_size``.

    Each chamber appears once (see :class:`Arrangement`; a numerical near-tie can
    repeat one, never drop one); the all-zero mask is dropped, as in
    :func:`enumerate_patterns`, whose set of masks this equals. Memory is bounded by
    the chunk and the stream's block (:data:`STREAM_BLOCK_ENTRIES`), never by the
    number of chambers. Gates are not computed; :meth:`Arrangement.gates` gives them
    for the chambers that need one.

    Yields
    ------
    ndarray of bool, shape (n, ≤ chunk_size)
    """
    return Arrangement(X, bias=bias).iter_masks(chunk_size)
