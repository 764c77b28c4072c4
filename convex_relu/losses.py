"""Data-fit terms on predictions ``Ŷ`` of shape ``(n, c)``, scaled by ``s = n·c``.

- squared:  ``ℓ(Ŷ) = ‖Ŷ − Y‖²_F / (2s)``
- logistic: ``ℓ(Ŷ) = (1/s) Σ_jk log(1 + exp(−Y_jk Ŷ_jk))``,  ``Y ∈ {−1, +1}``

This is the scaling of the reference library ``scnn``: the regulariser ``λ Σ‖u_i‖``
is *not* divided by ``n``. The paper's ``½‖·‖²`` with ``λ'`` equals ours with
``λ = λ'/s``.

Sample weights. With ``sample_weight`` ``w ∈ R^n`` (non-negative, not all zero)
the loss is the weighted *mean*

    ℓ_w(Ŷ) = Σ_j w_j Σ_k ℓ(Ŷ_jk, Y_jk) / S,   S = c·Σ_j w_j,

so that integer weights equal duplicated rows exactly: repeating row ``j`` ``w_j``
times gives ``n' = Σ_j w_j`` rows and ``s' = n'·c = S``. Every function here takes
the *row weights* ``ŵ = n·w/Σw`` (mean 1, shape ``(n, 1)``; ``None`` for the
unweighted loss, which is ``ŵ = 1``): then ``w_j/S = ŵ_j/s`` and ``s = n·c`` stays
the scale everywhere,

    ℓ_ŵ(Ŷ) = (1/s) Σ_jk ŵ_j ℓ(Ŷ_jk, Y_jk).

``λ`` keeps its meaning (it is not rescaled by the weights). A row with ``w_j = 0``
does not count: its loss term is identically 0, its gradient entries are exactly 0,
and the conjugate of the zero function is the indicator of ``{0}``, so ``ℓ*`` is
finite only for ``z`` that vanish on those rows (whatever ``μ`` would be there).

Each loss also gives its Fenchel conjugate, used by the duality-gap certificates:
``ℓ*(z) = sup_Ŷ ⟨z, Ŷ⟩ − ℓ(Ŷ)``; weighted, per entry, ``(ŵ_j/s)·f*(s z_jk/ŵ_j)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy


def inverse_weights(w):
    """``1/ŵ`` with 0 where ``ŵ = 0`` (those rows carry ``z = 0``; see the module docstring)."""
    w = np.asarray(w, dtype=np.float64)
    out = np.zeros_like(w)
    pos = w > 0
    out[pos] = 1.0 / w[pos]
    return out


def _off_support(z, w):
    """Whether ``z`` has a non-zero entry on a zero-weight row (``ℓ* = +inf`` there)."""
    zero = np.asarray(w).reshape(-1) == 0
    return bool(zero.any()) and bool(np.any(np.asarray(z)[zero] != 0))


def weighted_sumsq(z, w=None, axis=None):
    """``Σ z²/ŵ`` (``Σ z²`` when ``w`` is None), over all entries or along ``axis``.

    The curvature of the squared conjugate: ``ℓ*(z) = ⟨z, Y⟩ + (s/2)·weighted_sumsq(z)``.
    Rows with ``ŵ = 0`` count 0 (``z`` must vanish there anyway).
    """
    if w is None:
        return float(np.vdot(z, z)) if axis is None else np.einsum("nk,nk->k", z, z)
    zz = z * z * inverse_weights(w)
    return float(zz.sum()) if axis is None else zz.sum(axis=axis)


def squared_value(pred, Y, w=None):
    s = Y.size
    r = pred - Y
    if w is not None:
        r = r * np.sqrt(w)
    top = float(np.abs(r).max()) if r.size else 0.0
    if 1e-100 < top < 1e100 or top == 0.0 or not np.isfinite(top):
        return float(np.vdot(r, r)) / (2.0 * s)
    # residuals far from 1: scale by a power of two first, so that the sum of
    # squares neither overflows (|r| ~ 1e153) nor underflows (|r| ~ 1e-153)
    k = int(np.round(np.log2(top)))
    r = np.ldexp(r, -k)
    return float(np.ldexp(float(np.vdot(r, r)) / (2.0 * s), 2 * k))


def squared_grad(pred, Y, w=None):
    g = (pred - Y) / Y.size
    return g if w is None else g * w


def squared_conjugate(z, Y, w=None):
    """``ℓ*(z) = ⟨z, Y⟩ + (s/2) Σ z²/ŵ`` (``+inf`` if ``z ≠ 0`` on a zero-weight row)."""
    s = Y.size
    if w is None:
        return float(np.vdot(z, Y)) + 0.5 * s * float(np.vdot(z, z))
    if _off_support(z, w):
        return np.inf
    return float(np.vdot(z, Y)) + 0.5 * s * weighted_sumsq(z, w)


def logistic_value(pred, Y, w=None):
    terms = np.logaddexp(0.0, -Y * pred)
    if w is not None:
        terms = terms * w
    return float(terms.sum()) / Y.size


def logistic_grad(pred, Y, w=None):
    g = -Y * expit(-Y * pred) / Y.size
    return g if w is None else g * w


def logistic_mu(z, Y, w=None):
    """``μ = −sYz/ŵ`` (0 on zero-weight rows, where it is unconstrained)."""
    mu = -Y.size * Y * z
    return mu if w is None else mu * inverse_weights(w)


def logistic_conjugate(z, Y, w=None):
    """``ℓ*(z) = (1/s) Σ ŵ_j [μ log μ + (1 − μ) log(1 − μ)]`` with ``μ = −sYz/ŵ ∈ [0, 1]``.

    Returns ``inf`` when some ``μ`` leaves ``[0, 1]`` (outside the conjugate's domain)
    or ``z ≠ 0`` on a zero-weight row.
    """
    s = Y.size
    if w is not None and _off_support(z, w):
        return np.inf
    mu = logistic_mu(z, Y, w)
    if np.any(mu < -1e-12) or np.any(mu > 1 + 1e-12):
        return np.inf
    mu = np.clip(mu, 0.0, 1.0)
    h = xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)
    if w is not None:
        h = h * w
    return float(h.sum()) / s


_VALUE = {"squared": squared_value, "logistic": logistic_value}
_GRAD = {"squared": squared_grad, "logistic": logistic_grad}
_CONJ = {"squared": squared_conjugate, "logistic": logistic_conjugate}


def loss_value(loss, pred, Y, w=None):
    """``ℓ(Ŷ)`` for ``loss`` in ``{"squared", "logistic"}``; ``w`` the row weights ``ŵ`` or None."""
    return _VALUE[loss](pred, Y, w)


def loss_grad(loss, pred, Y, w=None):
    """``∇ℓ(Ŷ)``, an array shaped like ``Y``."""
    return _GRAD[loss](pred, Y, w)


def loss_conjugate(loss, z, Y, w=None):
    """Fenchel conjugate ``ℓ*(z)``."""
    return _CONJ[loss](z, Y, w)
