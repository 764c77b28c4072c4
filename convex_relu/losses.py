"""Data-fit terms on predictions ``Ŷ`` of shape ``(n, c)``, scaled by ``s = n·c``.

- squared:  ``ℓ(Ŷ) = ‖Ŷ − Y‖²_F / (2s)``
- logistic: ``ℓ(Ŷ) = (1/s) Σ_jk log(1 + exp(−Y_jk Ŷ_jk))``,  ``Y ∈ {−1, +1}``

This is the scaling of the reference library ``scnn``: the regulariser ``λ Σ‖u_i‖``
is *not* divided by ``n``. The paper's ``½‖·‖²`` with ``λ'`` equals ours with
``λ = λ'/s``.

Each loss also gives its Fenchel conjugate, used by the duality-gap certificates:
``ℓ*(z) = sup_Ŷ ⟨z, Ŷ⟩ − ℓ(Ŷ)``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, xlogy


def squared_value(pred, Y):
    s = Y.size
    r = pred - Y
    top = float(np.abs(r).max()) if r.size else 0.0
    if 1e-100 < top < 1e100 or top == 0.0 or not np.isfinite(top):
        return float(np.vdot(r, r)) / (2.0 * s)
    # residuals far from 1: scale by a power of two first, so that the sum of
    # squares neither overflows (|r| ~ 1e153) nor underflows (|r| ~ 1e-153)
    k = int(np.round(np.log2(top)))
    r = np.ldexp(r, -k)
    return float(np.ldexp(float(np.vdot(r, r)) / (2.0 * s), 2 * k))


def squared_grad(pred, Y):
    return (pred - Y) / Y.size


def squared_conjugate(z, Y):
    """``ℓ*(z) = ⟨z, Y⟩ + (s/2)‖z‖²``."""
    s = Y.size
    return float(np.vdot(z, Y)) + 0.5 * s * float(np.vdot(z, z))


def logistic_value(pred, Y):
    return float(np.logaddexp(0.0, -Y * pred).sum()) / Y.size


def logistic_grad(pred, Y):
    return -Y * expit(-Y * pred) / Y.size


def logistic_conjugate(z, Y):
    """``ℓ*(z) = (1/s) Σ [μ log μ + (1 − μ) log(1 − μ)]`` with ``μ = −s Y z ∈ [0, 1]``.

    Returns ``inf`` when some ``μ`` leaves ``[0, 1]`` (outside the conjugate's domain).
    """
    s = Y.size
    mu = -s * Y * z
    if np.any(mu < -1e-12) or np.any(mu > 1 + 1e-12):
        return np.inf
    mu = np.clip(mu, 0.0, 1.0)
    return float((xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)).sum()) / s


_VALUE = {"squared": squared_value, "logistic": logistic_value}
_GRAD = {"squared": squared_grad, "logistic": logistic_grad}
_CONJ = {"squared": squared_conjugate, "logistic": logistic_conjugate}


def loss_value(loss, pred, Y):
    """``ℓ(Ŷ)`` for ``loss`` in ``{"squared", "logistic"}``."""
    return _VALUE[loss](pred, Y)


def loss_grad(loss, pred, Y):
    """``∇ℓ(Ŷ)``, an array shaped like ``Y``."""
    return _GRAD[loss](pred, Y)


def loss_conjugate(loss, z, Y):
    """Fenchel conjugate ``ℓ*(z)``."""
    return _CONJ[loss](z, Y)
