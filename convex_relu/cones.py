"""Projections onto the activation cones ``K_i = {u : Ã_i u >= 0}``, ``Ã_i = (2D_i − I)X̃``.

The polar cone is ``K_i° = {−Ã_iᵀα : α >= 0}``, so by Moreau's decomposition

    Π_{K_i}(q) = q + Ã_iᵀα̂,   α̂ = argmin_{α >= 0} ‖Ã_iᵀα + q‖,

and ``‖Π_{K_i}(q)‖`` is the residual of that non-negative least-squares problem.
Any ``α >= 0`` gives a point ``q + Ã_iᵀα`` whose norm bounds ``‖Π_{K_i}(q)‖`` from
above, which is what makes inexact NNLS safe inside the certificates.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

__all__ = ["signed_data", "project_onto_cone", "cone_projection_norms"]


def signed_data(X_tilde, mask):
    """``Ã_i = (2D_i − I)X̃`` for one 0/1 mask of length n."""
    return np.where(mask[:, None], X_tilde, -X_tilde)


def project_onto_cone(X_tilde, mask, q):
    """``Π_{K_i}(q)`` for the cone of one pattern (exact NNLS)."""
    A = signed_data(X_tilde, mask)
    alpha, _ = nnls(A.T, -q)
    return q + A.T @ alpha


def cone_projection_norms(X_tilde, masks, Q):
    """``‖Π_{K_i}(Q[:, i])‖`` for every pattern ``i``; ``Q`` has shape ``(d̃, p)``."""
    out = np.empty(Q.shape[1])
    for i in range(Q.shape[1]):
        out[i] = np.linalg.norm(project_onto_cone(X_tilde, masks[:, i], Q[:, i]))
    return out
