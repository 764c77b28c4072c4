"""The stacked operator ``A = [D_1X̃ … D_pX̃]`` applied without ever forming it.

Weights of one program are stored as an array ``U`` of shape ``(c, d̃, p)``:
output ``k``, feature, pattern. Then, with the mask matrix ``M`` (n×p),

- forward:  ``(AU)_{:,k} = rowsum(M ∘ (X̃ U_k))``  — one GEMM ``X̃ · [U_1 … U_c]``;
- adjoint:  ``(Aᵀ R)_k = X̃ᵀ (M ∘ R_{:,k})``        — one GEMM ``X̃ᵀ · [M∘R_1 … M∘R_c]``.

A first-order iteration therefore costs two dense GEMMs of sizes n×d̃×(cp): the
physical limit the fast solvers aim at. The mask is kept in the floating dtype of
``X̃`` because a float elementwise product is the fastest way to apply it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["forward", "adjoint", "pattern_products", "operator_norm_sq"]


def pattern_products(X, U):
    """``X̃ U_k`` for every output, as an ``(n, c, p)`` array (one GEMM)."""
    c, d, p = U.shape
    Z = X @ U.transpose(1, 0, 2).reshape(d, c * p)
    return Z.reshape(X.shape[0], c, p)


def forward(X, M, U):
    """Predictions ``Σ_i D_i X̃ U_{k,:,i}`` of shape ``(n, c)``.

    Parameters
    ----------
    X : (n, d̃) array
    M : (n, p) array, masks in ``X``'s dtype
    U : (c, d̃, p) array
    """
    Z = pattern_products(X, U)
    return np.einsum("nkp,np->nk", Z, M, optimize=False)


def adjoint(X, M, R):
    """``Aᵀ R`` of shape ``(c, d̃, p)`` for a residual-like ``R`` of shape ``(n, c)``."""
    n, c = R.shape
    p = M.shape[1]
    B = (R[:, :, None] * M[:, None, :]).reshape(n, c * p)
    G = X.T @ B
    return G.reshape(X.shape[1], c, p).transpose(1, 0, 2)


def operator_norm_sq(X, M, *, n_iter=30, seed=0):
    """Estimate ``‖A‖²`` (largest eigenvalue of ``AᵀA``) by power iteration.

    Used only for a first step size, so a few iterations suffice; the estimate is
    from below, the solvers backtrack from there.
    """
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((1, X.shape[1], M.shape[1])).astype(X.dtype)
    U /= np.linalg.norm(U)
    val = 0.0
    for _ in range(n_iter):
        V = adjoint(X, M, forward(X, M, U))
        val = float(np.linalg.norm(V))
        if val == 0.0:
            return 0.0
        U = V / val
    return val
