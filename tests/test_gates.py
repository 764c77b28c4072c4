"""Sampled gates (patterns.sample_patterns): data-placed offsets and sample weights."""

import numpy as np
import pytest

from convex_relu.patterns import sample_patterns


def _data(n=120, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * np.array([1.0, 10.0, 0.1, 3.0]) + np.array([0.0, 5.0, -2.0, 1.0])


def _signed_distances(X, gates):
    Xt = np.hstack([X, np.ones((len(X), 1))])
    return Xt @ gates


def test_data_offsets_are_nested_and_scale_invariant():
    X = _data()
    big = sample_patterns(X, 80, 7, bias=True, offsets="data")
    small = sample_patterns(X, 30, 7, bias=True, offsets="data")
    # the 30 gates' patterns lead the 80 gates' patterns
    np.testing.assert_array_equal(big.masks[:, : small.masks.shape[1]], small.masks)
    scaled = X.copy()
    scaled[:, 2] *= 1e3
    scaled[:, 0] += 40.0
    np.testing.assert_array_equal(sample_patterns(scaled, 80, 7, bias=True, offsets="data").masks, big.masks)


def test_data_offsets_cut_the_data_at_uniform_levels_and_touch_no_row():
    X = _data(n=400)
    P = sample_patterns(X, 400, 1, bias=True, offsets="data")
    T = _signed_distances(X, P.gates)
    # no training row on a hyperplane (round-off could flip its pattern)
    assert np.min(np.abs(T)) > 1e-9 * np.abs(T).max()
    np.testing.assert_array_equal(T >= 0, P.masks)
    # the active fraction 1 − u of a U(0, 1) level is itself uniform: compare with
    # the uniform CDF (Kolmogorov–Smirnov distance; 400 draws → ~0.07 at 1 %)
    frac = np.sort(P.masks.mean(axis=0))
    ks = np.max(np.abs(frac - (np.arange(1, frac.size + 1) - 0.5) / frac.size))
    assert ks < 0.1
    # whereas Gaussian offsets in 4 standardised features rarely cut off small groups
    G = sample_patterns(X, 400, 1, bias=True, offsets="gaussian")
    assert np.mean(np.abs(G.masks.mean(axis=0) - 0.5) > 0.4) < np.mean(np.abs(frac - 0.5) > 0.4)


@pytest.mark.parametrize("offsets", ["gaussian", "data"])
def test_integer_weights_give_the_gates_of_repeated_rows(offsets):
    X = _data(n=60)
    w = np.random.default_rng(2).integers(0, 4, 60)
    w[0] = 2
    weighted = sample_patterns(X, 50, 3, bias=True, offsets=offsets, sample_weight=w)
    repeated = sample_patterns(np.repeat(X, w, axis=0), 50, 3, bias=True, offsets=offsets)
    np.testing.assert_allclose(weighted.gates, repeated.gates, rtol=1e-12, atol=1e-12)
    # the masks agree on the rows that are kept (zero-weight rows only carry patterns)
    np.testing.assert_array_equal(weighted.masks[w > 0].repeat(w[w > 0], axis=0), repeated.masks)


def test_bad_gate_arguments_are_refused_by_name():
    X = _data(n=20)
    with pytest.raises(ValueError, match="offsets"):
        sample_patterns(X, 5, 0, bias=True, offsets="uniform")
    with pytest.raises(ValueError, match="bias=True"):
        sample_patterns(X, 5, 0, bias=False, offsets="data")
    with pytest.raises(ValueError, match="sample_weight"):
        sample_patterns(X, 5, 0, bias=True, sample_weight=-np.ones(20))
    with pytest.raises(ValueError, match="sample_weight"):
        sample_patterns(X, 5, 0, bias=True, sample_weight=np.ones(19))
