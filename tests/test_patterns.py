"""Tests of activation-pattern enumeration and sampling (convex_relu.patterns).

The reference for exact enumeration is an independent brute force: a sign
vector ``s`` over the non-zero rows of ``X̃`` is a chamber iff the LP
``{g : s_j x̃_jᵀ g >= 1}`` is feasible (checked by depth-first search over the
rows, pruning infeasible prefixes).
"""

import math
import time

import numpy as np
import pytest
from scipy.optimize import linprog

from convex_relu.patterns import Patterns, enumerate_patterns, sample_patterns

# Exact data must never produce a "numerically empty chamber" warning.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


# --------------------------------------------------------------------------- helpers


def x_tilde(X, bias):
    X = np.asarray(X, dtype=float)
    return np.hstack([X, np.ones((X.shape[0], 1))]) if bias else X


def _feasible(A, s):
    """Is ``{g : s_j a_jᵀ g >= 1}`` non-empty?"""
    res = linprog(
        np.zeros(A.shape[1]),
        A_ub=-(s[:, None] * A),
        b_ub=-np.ones(len(s)),
        bounds=[(None, None)] * A.shape[1],
        method="highs",
    )
    assert res.status in (0, 2), res.message
    return res.status == 0


def brute_force_masks(X, bias):
    """Set of masks (tuples of 0/1) of all chambers, zero rows set to 1, all-zero dropped."""
    Xt = x_tilde(X, bias)
    n = Xt.shape[0]
    nz = np.flatnonzero(np.any(Xt != 0, axis=1))
    A = Xt[nz]
    found = []

    def dfs(prefix):
        k = len(prefix)
        if k and not _feasible(A[:k], np.array(prefix, dtype=float)):
            return
        if k == len(nz):
            found.append(prefix)
            return
        for s in (1.0, -1.0):
            dfs(prefix + [s])

    dfs([])
    out = set()
    for s in found:
        mask = np.ones(n, dtype=int)
        mask[nz] = np.array(s) > 0
        if mask.any():
            out.add(tuple(mask))
    return out


def mask_set(P):
    return {tuple(col) for col in P.masks.T.astype(int)}


def safe_norms(A, axis):
    """Euclidean norms along ``axis`` without overflow/underflow of the squares (1e±200 data)."""
    m = np.abs(A).max(axis=axis, keepdims=True)
    m = np.where(m > 0, m, 1.0)
    return (m * np.sqrt(((A / m) ** 2).sum(axis=axis, keepdims=True))).squeeze(axis)


def check_gates(P, X, bias):
    """Gates strictly interior on non-zero rows and masks == 1[X̃ G >= 0]."""
    Xt = x_tilde(X, bias)
    assert P.gates.shape == (Xt.shape[1], P.n_patterns)
    assert P.masks.shape == (Xt.shape[0], P.n_patterns)
    Z = Xt @ P.gates
    np.testing.assert_array_equal(P.masks, Z >= 0)
    nz = np.any(Xt != 0, axis=1)
    signed = (2.0 * P.masks - 1.0) * Z
    scale = safe_norms(Xt, 1)[:, None] * safe_norms(P.gates, 0)[None, :]
    assert np.all(signed[nz] > 1e-9 * scale[nz])
    assert np.all(P.masks[~nz])  # zero rows: x̃ᵀg = 0 >= 0
    # no duplicate and no all-zero column
    assert P.masks.any(axis=0).all()
    assert len(mask_set(P)) == P.n_patterns


def gaussian(seed, n, d):
    return np.random.default_rng(seed).standard_normal((n, d))


def _dup_rows():
    X = gaussian(1, 6, 2)
    return np.vstack([X, X[0], X[3], X[3]])


def _scaled_rows():
    X = gaussian(2, 6, 2)
    return np.vstack([X, 2.5 * X[0], -0.7 * X[1], -3.0 * X[1]])


def _scaled_rows_3d():
    X = gaussian(3, 6, 3)
    return np.vstack([X, 4.0 * X[2], -0.5 * X[2], X[4]])


def _zero_row():
    X = gaussian(4, 7, 3)
    X[2] = 0.0
    return X


def _rank2_in_3d():
    rng = np.random.default_rng(5)
    return rng.standard_normal((9, 2)) @ rng.standard_normal((2, 3))


def _grid_3x3():
    # with bias: many collinear triples -> lines of the arrangement on > r-1 hyperplanes
    g = np.array([-1.0, 0.0, 1.0])
    return np.array([[a, b] for a in g for b in g])


def _integer_3d(seed):
    # small integers: zero rows, parallel rows, many coplanar triples
    return np.random.default_rng(seed).integers(-2, 3, size=(9, 3)).astype(float)


BRUTE_CASES = [
    ("gauss n8 d2", gaussian(10, 8, 2), False),
    ("gauss n8 d2 bias", gaussian(11, 8, 2), True),
    ("gauss n9 d3", gaussian(12, 9, 3), False),
    ("gauss n8 d3 bias", gaussian(13, 8, 3), True),
    ("duplicated rows", _dup_rows(), False),
    ("duplicated rows bias", _dup_rows(), True),
    ("scaled rows", _scaled_rows(), False),
    ("scaled rows bias", _scaled_rows(), True),
    ("scaled rows 3d", _scaled_rows_3d(), False),
    ("zero row", _zero_row(), False),
    ("rank 2 in 3d", _rank2_in_3d(), False),
    ("rank 2 in 3d bias", _rank2_in_3d(), True),
    ("grid 3x3 bias", _grid_3x3(), True),
    ("grid 3x3", _grid_3x3(), False),
    ("integer 3d", _integer_3d(0), False),
    ("integer 3d bias", _integer_3d(1), True),
    ("integer 3d b", _integer_3d(2), False),
    ("d1", gaussian(14, 8, 1), False),
    ("d1 bias", gaussian(15, 8, 1), True),
    ("d1 zero row", np.array([[1.0], [-2.0], [0.0], [3.0]]), False),
]


# --------------------------------------------------------------------------- 1. brute force


@pytest.mark.parametrize("name,X,bias", BRUTE_CASES, ids=[c[0] for c in BRUTE_CASES])
def test_enumeration_matches_brute_force(name, X, bias):
    P = enumerate_patterns(X, bias=bias)
    assert P.method == "enumerated" and P.seed is None and P.bias is bias
    assert mask_set(P) == brute_force_masks(X, bias)
    check_gates(P, X, bias)


def test_brute_force_reference_is_not_trivial():
    # guards the reference itself: a known arrangement (d = 2, three distinct lines,
    # one row repeated with opposite sign) has 6 chambers, all masks non-zero
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-2.0, -2.0]])
    ref = brute_force_masks(X, False)
    assert len(ref) == 6
    assert (1, 1, 1, 0) in ref and (0, 0, 0, 1) in ref and (1, 1, 0, 1) not in ref
    assert mask_set(enumerate_patterns(X)) == ref


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_enumeration_is_scale_invariant(scale):
    X = _integer_3d(0)
    P, Q = enumerate_patterns(X), enumerate_patterns(scale * X)
    np.testing.assert_array_equal(P.masks, Q.masks)
    check_gates(Q, scale * X, False)


# --------------------------------------------------------------------------- 2. counts


def _in_open_half_space(Xt):
    return _feasible(Xt, np.ones(Xt.shape[0]))


def cover(n, r):
    return 2 * sum(math.comb(n - 1, k) for k in range(r))


def test_cover_count_n12_d3_no_bias():
    # 12 Gaussian rows in R^3: Cover's count 2(1 + 11 + 55) = 134 chambers. The all-zero
    # mask is the all-negative chamber, which exists iff the rows lie in an open half-space
    # (then it is dropped, leaving 133). For this seed they do not, so all 134 are non-zero.
    X = gaussian(0, 12, 3)
    assert cover(12, 3) == 134
    assert not _in_open_half_space(X)
    P = enumerate_patterns(X)
    assert P.n_patterns == 134
    check_gates(P, X, False)


def test_cover_count_n12_d3_rows_in_half_space():
    # the same count of chambers, but the all-negative one is now a chamber whose mask is
    # all zero: it is dropped, 133 patterns
    X = gaussian(0, 12, 3)
    X[:, 0] = np.abs(X[:, 0]) + 0.1
    assert _in_open_half_space(X)
    P = enumerate_patterns(X)
    assert P.n_patterns == 133
    assert not np.any(np.all(P.masks == 0, axis=0))


@pytest.mark.parametrize("seed", range(6))
def test_count_without_bias_matches_half_space_rule(seed):
    X = gaussian(100 + seed, 10, 3)
    expected = cover(10, 3) - int(_in_open_half_space(X))
    assert enumerate_patterns(X).n_patterns == expected


@pytest.mark.parametrize("n,d", [(12, 2), (20, 3), (15, 1), (25, 2)])
def test_cover_count_with_bias(n, d):
    # rows [x, 1] are in general position in R^(d+1): Cover's count with r = d + 1; the
    # all-negative chamber (g = -e_bias) always exists, so one mask (all zero) is dropped
    X = gaussian(n * 10 + d, n, d)
    P = enumerate_patterns(X, bias=True)
    assert P.n_patterns == cover(n, d + 1) - 1
    check_gates(P, X, True)


def test_duplicates_do_not_count():
    # 300 rows that are copies of 6 distinct points: the patterns are those of the 6
    # points, repeated, and the duplicates do not inflate Cover's bound
    base = gaussian(7, 6, 3)
    idx = np.random.default_rng(8).integers(0, 6, size=300)
    idx[:6] = np.arange(6)
    X = base[idx]
    P = enumerate_patterns(X, bias=True, max_patterns=100)
    Q = enumerate_patterns(base, bias=True)
    assert P.n_patterns == Q.n_patterns == cover(6, 4) - 1
    assert mask_set(P) == {tuple(np.array(m)[idx]) for m in mask_set(Q)}
    check_gates(P, X, True)


def test_patterns_are_sorted_and_deterministic():
    X = gaussian(9, 10, 2)
    P, Q = enumerate_patterns(X, bias=True), enumerate_patterns(X, bias=True)
    np.testing.assert_array_equal(P.masks, Q.masks)
    np.testing.assert_array_equal(P.gates, Q.gates)
    packed = [bytes(np.packbits(c)) for c in P.masks.T]
    assert packed == sorted(packed)


# --------------------------------------------------------------------------- 3. gates


@pytest.mark.parametrize("name,X,bias", BRUTE_CASES[::3], ids=[c[0] for c in BRUTE_CASES[::3]])
def test_gates_strictly_interior(name, X, bias):
    check_gates(enumerate_patterns(X, bias=bias), X, bias)


def test_all_zero_X():
    X = np.zeros((4, 2))
    P = enumerate_patterns(X)
    assert P.n_patterns == 1 and P.masks.all()
    np.testing.assert_array_equal(P.masks, (X @ P.gates) >= 0)
    # with bias the rows [0, 0, 1] are not zero: two chambers, the all-zero one dropped
    Pb = enumerate_patterns(X, bias=True)
    assert Pb.n_patterns == 1 and Pb.masks.all()
    check_gates(Pb, X, True)


# --------------------------------------------------------------------------- 4. sampling


@pytest.mark.parametrize("bias", [False, True])
def test_sample_patterns_subset_of_enumerated(bias):
    for X in (gaussian(20, 10, 2), _zero_row(), _dup_rows(), _integer_3d(0)):
        S1 = sample_patterns(X, 300, seed=3, bias=bias)
        S2 = sample_patterns(X, 300, seed=3, bias=bias)
        np.testing.assert_array_equal(S1.masks, S2.masks)
        np.testing.assert_array_equal(S1.gates, S2.gates)
        assert S1.method == "sampled" and S1.seed == 3
        Xt = x_tilde(X, bias)
        np.testing.assert_array_equal(S1.masks, (Xt @ S1.gates) >= 0)
        assert S1.masks.any(axis=0).all()
        assert len(mask_set(S1)) == S1.n_patterns
        assert mask_set(S1) <= mask_set(enumerate_patterns(X, bias=bias))


def test_sample_patterns_finds_all_on_easy_data():
    # 4 lines through the origin in R^2: 8 wide chambers, 2000 gates hit them all
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    assert mask_set(sample_patterns(X, 2000, seed=0)) == mask_set(enumerate_patterns(X))


# --------------------------------------------------------------------------- 5. refusal


def test_max_patterns_refusal_is_fast():
    X = gaussian(30, 200, 10)
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as exc:
        enumerate_patterns(X, max_patterns=1000)
    assert time.perf_counter() - t0 < 2.0
    msg = str(exc.value)
    assert str(cover(200, 10)) in msg and "1000" in msg and "sample_patterns" in msg


def test_max_patterns_limit_is_the_bound():
    X = gaussian(31, 12, 3)  # bound 134
    with pytest.raises(ValueError, match="134"):
        enumerate_patterns(X, max_patterns=133)
    assert enumerate_patterns(X, max_patterns=134).n_patterns <= 134


# --------------------------------------------------------------------------- 6. new data


@pytest.mark.parametrize("bias", [False, True])
def test_masks_for_and_check_compatible(bias):
    X = gaussian(40, 10, 3)
    P = enumerate_patterns(X, bias=bias)
    Xnew = gaussian(41, 25, 3)
    np.testing.assert_array_equal(P.masks_for(Xnew), (x_tilde(Xnew, bias) @ P.gates) >= 0)
    np.testing.assert_array_equal(P.masks_for(X), P.masks)
    P.check_compatible(x_tilde(X, bias))
    with pytest.raises(ValueError):
        P.check_compatible(x_tilde(gaussian(42, 10, 3), bias))
    with pytest.raises(ValueError):
        P.check_compatible(x_tilde(X, not bias))
    with pytest.raises(ValueError):
        P.masks_for(gaussian(43, 5, 2))


# --------------------------------------------------------------------------- 7. bad input


@pytest.mark.parametrize(
    "X",
    [
        np.array([[1.0, np.nan], [0.0, 1.0]]),
        np.array([[1.0, np.inf], [0.0, 1.0]]),
        np.array([1.0, 2.0, 3.0]),
        np.zeros((0, 3)),
        np.zeros((3, 0)),
        None,
        [["a", "b"]],
    ],
    ids=["nan", "inf", "1d", "no rows", "no columns", "none", "strings"],
)
def test_bad_X(X):
    with pytest.raises(ValueError):
        enumerate_patterns(X)


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "10"])
def test_bad_max_patterns(bad):
    with pytest.raises(ValueError, match="max_patterns"):
        enumerate_patterns(gaussian(0, 5, 2), max_patterns=bad)


def test_patterns_container_checks():
    with pytest.raises(ValueError):
        Patterns(masks=np.zeros((3, 0), bool), gates=np.zeros((2, 0)))
    with pytest.raises(ValueError):
        Patterns(masks=np.zeros((3, 2), bool), gates=np.zeros((2, 3)))


def test_sectors_in_the_plane():
    # one more independent check: d = 2 without bias, the chambers of m distinct lines are
    # the 2m sectors between consecutive lines; take a gate at the middle angle of each
    X = np.array([[np.cos(a), np.sin(a)] for a in (0.1, 0.7, 1.9, 2.5, 2.9)])
    normals = np.array([0.1, 0.7, 1.9, 2.5, 2.9])
    angles = np.sort(np.concatenate([normals + np.pi / 2, normals - np.pi / 2]))
    mids = (angles + np.roll(angles, -1) + 2 * np.pi * (np.arange(10) == 9)) / 2
    G = np.vstack([np.cos(mids), np.sin(mids)])
    expected = {tuple(c) for c in ((X @ G) >= 0).T.astype(int)}
    assert len(expected) == 10
    # the normals span less than pi, so the all-negative sector exists; its mask is dropped
    expected.discard((0, 0, 0, 0, 0))
    assert len(expected) == 9
    assert mask_set(enumerate_patterns(X)) == expected


def test_thin_chambers_near_duplicate_rows():
    # three rows perturbed by 1e-5: the arrangement is in general position, so Cover's count
    # is attained, but some chambers are very thin (margin ~3e-8, below HiGHS's default
    # feasibility tolerance); each still needs a gate that is strictly inside it
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    X = np.vstack([X, X[:3] + 1e-5 * rng.standard_normal((3, 3))])
    P = enumerate_patterns(X, bias=True)
    assert P.n_patterns == cover(11, 4) - 1
    Xt = x_tilde(X, True)
    np.testing.assert_array_equal(P.masks, (Xt @ P.gates) >= 0)
    margins = ((2.0 * P.masks - 1.0) * (Xt @ P.gates)).min(axis=0)
    assert np.all(margins > 0)
    assert margins.min() < 1e-7  # the case really has thin chambers


@pytest.mark.parametrize("bias", [False, True])
def test_gates_are_near_max_margin(bias):
    # The gate of a pattern maximises the margin over a box in the row-space coordinates.
    # Independent check: with unit rows u_j, let t_o = max {min_j s_j u_jᵀ g : |g|_inf <= 1}
    # in the original coordinates. The l2-optimal margin is >= t_o / sqrt(d̃), and a
    # box-optimal gate in any orthonormal r-dimensional basis has l2-normalised margin
    # >= (l2-optimal margin) / sqrt(r). So every gate must reach t_o / sqrt(d̃ r).
    X = gaussian(50, 9, 2)
    Xt = x_tilde(X, bias)
    U = Xt / np.linalg.norm(Xt, axis=1, keepdims=True)
    n, dt = U.shape
    P = enumerate_patterns(X, bias=bias)
    for i in range(P.n_patterns):
        s = 2.0 * P.masks[:, i] - 1.0
        res = linprog(
            np.r_[np.zeros(dt), -1.0],
            A_ub=np.c_[-(s[:, None] * U), np.ones(n)],
            b_ub=np.zeros(n),
            bounds=[(-1, 1)] * dt + [(None, None)],
            method="highs",
        )
        t_o = -res.fun
        g = P.gates[:, i]
        ours = (s * (U @ g)).min() / np.linalg.norm(g)
        assert t_o > 0 and ours >= t_o / np.sqrt(dt * dt) * (1 - 1e-6)


# --------------------------------------------------------------------------- scale, nesting, flags


SCALES = [1e-200, 1e-150, 1e-100, 1e-10, 1.0, 1e10, 1e100, 1e150, 1e160]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("scale", SCALES)
def test_enumeration_same_chambers_at_any_scale(scale, bias):
    # the chambers of {x̃ᵀg = 0} do not depend on the units of X; the brute-force LP
    # over all sign vectors on the unscaled data is the independent reference
    X = gaussian(9, 5, 2)
    P = enumerate_patterns(scale * X, bias=bias)
    assert mask_set(P) == brute_force_masks(X, bias)
    assert P.complete and P.n_dropped == 0
    np.testing.assert_array_equal(P.masks, x_tilde(scale * X, bias) @ P.gates >= 0)
    # strictly interior, judged in the data's own units: g·diag(scale, 1) gates X̃
    G = P.gates * np.concatenate([np.full(X.shape[1], scale), np.ones(int(bias))])[:, None]
    check_gates(Patterns(masks=P.masks, gates=G, bias=bias, method="enumerated"), X, bias)


@pytest.mark.parametrize("bias", [False, True])
def test_enumeration_invariant_to_one_feature_rescaled(bias):
    X = gaussian(10, 6, 3)
    Xs = X.copy()
    Xs[:, 1] *= 1e6  # features that differ in scale by 1e6 (a CSV in mixed units)
    P = enumerate_patterns(Xs, bias=bias)
    assert mask_set(P) == brute_force_masks(X, bias)
    check_gates(P, Xs, bias)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("scale", SCALES)
def test_sampled_patterns_do_not_depend_on_units(scale, bias):
    X = gaussian(30, 7, 3)
    P, Q = sample_patterns(X, 60, 4, bias=bias), sample_patterns(scale * X, 60, 4, bias=bias)
    np.testing.assert_array_equal(P.masks, Q.masks)
    # and each gate reproduces its mask on the data it was drawn for
    np.testing.assert_array_equal(Q.masks_for(scale * X), Q.masks)


def test_sampled_patterns_invariant_to_feature_scale_and_shift():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((40, 3))
    Xs = X * np.array([1.0, 1e3, 1e-4]) + np.array([0.0, 5e3, -2.0])
    P, Q = sample_patterns(X, 100, 2, bias=True), sample_patterns(Xs, 100, 2, bias=True)
    np.testing.assert_array_equal(P.masks, Q.masks)
    np.testing.assert_array_equal(Q.masks_for(Xs), Q.masks)


def test_sampled_gates_do_not_collapse_on_unscaled_data():
    # raw wine-like data: one feature ~1e3, the others ~1; Gaussian gates in raw units
    # would all be decided by the large feature (few distinct patterns)
    rng = np.random.default_rng(0)
    X = np.column_stack([1e3 + 300 * rng.standard_normal(150), rng.standard_normal((150, 4))])
    P = sample_patterns(X, 50, 0, bias=True)
    Z = (X - X.mean(0)) / X.std(0)
    Q = sample_patterns(Z, 50, 0, bias=True)
    assert P.n_patterns == Q.n_patterns >= 45


@pytest.mark.parametrize("bias", [False, True])
def test_sampled_draws_are_nested(bias):
    X = gaussian(25, 9, 3)
    big = sample_patterns(X, 200, 11, bias=bias)
    for m in (1, 10, 25, 50, 100):
        small = sample_patterns(X, m, 11, bias=bias)
        np.testing.assert_array_equal(big.masks[:, : small.n_patterns], small.masks)
        np.testing.assert_array_equal(big.gates[:, : small.n_patterns], small.gates)


def test_sampling_refuses_huge_draws_before_allocating():
    X = gaussian(100, 1, 3)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="n_gates=1000000000.*GiB"):
        sample_patterns(X, 10**9, 0)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("bad", ["no", 1, None, "False"])
def test_bias_must_be_a_bool(bad):
    X = gaussian(10, 1, 2)
    with pytest.raises(TypeError, match="bias must be True or False"):
        sample_patterns(X, 5, 0, bias=bad)
    with pytest.raises(TypeError, match="bias must be True or False"):
        enumerate_patterns(X, bias=bad)


@pytest.mark.parametrize("bad,exc", [("1", TypeError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_seed_is_validated(bad, exc):
    with pytest.raises(exc, match="seed must be None or a non-negative integer"):
        sample_patterns(gaussian(10, 1, 2), 5, bad)


def test_complete_flag():
    X = gaussian(8, 2, 2)
    assert enumerate_patterns(X, bias=True).complete
    assert not sample_patterns(X, 50, 0, bias=True).complete
    P = enumerate_patterns(X, bias=True)
    dropped = Patterns(masks=P.masks, gates=P.gates, bias=True, method="enumerated", n_dropped=2)
    assert not dropped.complete and dropped.n_dropped == 2


# --------------------------------------------------------------------------- streaming


from convex_relu.patterns import Arrangement, iter_chambers  # noqa: E402


def streamed(X, bias, chunk_size=5):
    chunks = list(iter_chambers(X, bias=bias, chunk_size=chunk_size))
    assert all(c.dtype == bool and c.shape[0] == X.shape[0] and 0 < c.shape[1] <= chunk_size for c in chunks)
    return np.concatenate(chunks, axis=1)


@pytest.mark.parametrize("name,X,bias", BRUTE_CASES, ids=[c[0] for c in BRUTE_CASES])
def test_streamed_chambers_equal_enumeration_and_brute_force(name, X, bias):
    M = streamed(X, bias)
    got = {tuple(c) for c in M.T.astype(int)}
    assert len(got) == M.shape[1]  # each chamber once
    assert got == mask_set(enumerate_patterns(X, bias=bias)) == brute_force_masks(X, bias)


@pytest.mark.parametrize("n,d,bias", [(30, 2, True), (20, 3, True), (16, 3, False), (12, 4, True)])
def test_streamed_count_is_covers_and_each_once(n, d, bias):
    X = gaussian(n * 7 + d, n, d)
    M = streamed(X, bias, chunk_size=97)
    P = enumerate_patterns(X, bias=bias)
    assert M.shape[1] == P.n_patterns
    assert {tuple(c) for c in M.T.astype(int)} == mask_set(P)
    if bias:
        assert M.shape[1] == cover(n, d + 1) - 1


def test_stream_blocks_are_bounded_and_features_match_masks():
    # small blocks (memory bound) give the same chambers; features = masksᵀF exactly
    X = gaussian(77, 25, 2)
    arr = Arrangement(X, bias=True)
    F = np.random.default_rng(0).standard_normal((25, 3))
    const, Om = arr.rep_weights(F)
    total = 0
    seen = set()
    for blk in arr.blocks(Om, block_entries=200):
        masks = arr.expand(blk.rep_signs())
        assert masks.shape[1] == blk.n_chambers
        np.testing.assert_allclose(const + blk.features, masks.T.astype(float) @ F, atol=1e-12)
        seen |= {tuple(c) for c in masks.T.astype(int)}
        total += blk.n_chambers
    assert total == len(seen) == arr.bound == cover(25, 3)


def test_arrangement_gates_and_normals():
    X = _integer_3d(1) * np.array([1.0, 1e3, 1e-3])
    arr = Arrangement(X, bias=True)
    blk = next(iter(arr.blocks()))
    signs = blk.rep_signs()
    G, ok = arr.gates(signs)
    assert ok.all()
    Xt = x_tilde(X, True)
    np.testing.assert_array_equal((Xt @ G) >= 0, arr.expand(signs))
    # chamber s = {g : (2s_c − 1) ν_cᵀg > 0} in the user's coordinates
    N = arr.rep_normals()
    assert np.all(((2.0 * signs - 1.0) * (N @ G)) > 0)
    np.testing.assert_array_equal(arr.rep_signs_of(arr.expand(signs)), signs)


def test_priced_patterns_are_not_complete():
    P = enumerate_patterns(gaussian(3, 6, 2), bias=True)
    Q = Patterns(masks=P.masks, gates=P.gates, bias=True, method="priced")
    assert not Q.complete
    with pytest.raises(ValueError, match="method"):
        Patterns(masks=P.masks, gates=P.gates, bias=True, method="other")
