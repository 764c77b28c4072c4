"""Datafits ``ℓ(Ŷ)`` as parts: one class per loss, built on :mod:`convex_relu.losses`.

A datafit knows its data (``Y`` of shape ``(n, c)`` and the row weights ``ŵ``, mean 1,
or ``None``) and gives, with the package's scaling ``s = n·c``:

- ``value(pred)``, ``gradient(pred)`` (``∇ℓ``, shaped like ``Y``);
- ``conjugate(z)`` (``ℓ*``, used by every certificate) and ``conjugate_along(g)``:
  the function ``γ ↦ −ℓ*(γ g)`` per output with an upper bound on its maximiser
  (the certificates' 1-D searches along a gradient direction);
- ``smoothness`` (Lipschitz constant of ``∇ℓ`` in the predictions);
- ``cvx_expression(pred)`` for the CVXPY programs.

The solvers' hot loops call the functions of :mod:`convex_relu.losses` directly (the
same arithmetic, without a method call per iteration); these classes are the
composition surface: ``problem.datafit`` is one of them.
"""

from __future__ import annotations

import numpy as np

from . import losses

__all__ = ["Datafit", "Squared", "Logistic", "DATAFITS", "make_datafit"]


class Datafit:
    """Base class: ``ℓ(Ŷ) = (1/s) Σ_jk ŵ_j f(Ŷ_jk, Y_jk)``."""

    name = ""
    curvature = 1.0

    def __init__(self, Y, row_weights=None):
        self.Y = np.asarray(Y, dtype=float)
        self.w = row_weights

    @property
    def s(self):
        return self.Y.size

    @property
    def smoothness(self):
        """``L`` with ``∇²ℓ <= L·I`` in the predictions: ``κ·max ŵ / s``."""
        top = 1.0 if self.w is None else float(np.max(self.w))
        return self.curvature * top / self.s

    def value(self, pred):
        return losses.loss_value(self.name, pred, self.Y, self.w)

    def gradient(self, pred):
        return losses.loss_grad(self.name, pred, self.Y, self.w)

    def conjugate(self, z):
        return losses.loss_conjugate(self.name, z, self.Y, self.w)

    def conjugate_along(self, g):
        """``(h, γ_hi)``: ``h(γ)`` = ``−ℓ*_k(γ_k g_k)`` per output ``(c,)``, and a bound ``γ_hi`` (c,) on its maximiser."""
        raise NotImplementedError

    def cvx_expression(self, pred):
        raise NotImplementedError


class Squared(Datafit):
    """``ℓ(Ŷ) = Σ ŵ_j (Ŷ_jk − Y_jk)² / (2s)``; ``ℓ*(z) = ⟨z, Y⟩ + (s/2) Σ z²/ŵ``."""

    name = "squared"
    curvature = 1.0

    def conjugate_along(self, g):
        s = self.s
        rr = losses.weighted_sumsq(g, self.w, axis=0)
        gy = np.einsum("nk,nk->k", g, self.Y)

        def h(gamma):
            gamma = np.asarray(gamma, dtype=float)
            return -(gamma * gy + 0.5 * s * gamma * gamma * rr)

        with np.errstate(divide="ignore", invalid="ignore"):
            hi = np.where(rr > 0, np.maximum(-gy / (s * np.where(rr > 0, rr, 1.0)), 0.0), 0.0)
        return h, hi

    def cvx_expression(self, pred):
        import cvxpy as cp

        if self.w is None:
            return cp.sum_squares(pred - self.Y) / (2.0 * self.s)
        return cp.sum_squares(cp.multiply(np.sqrt(self.w), pred - self.Y)) / (2.0 * self.s)


class Logistic(Datafit):
    """``ℓ(Ŷ) = (1/s) Σ ŵ_j log(1 + exp(−Y_jk Ŷ_jk))``; ``ℓ*`` the weighted binary entropy."""

    name = "logistic"
    curvature = 0.25

    def conjugate_along(self, g):
        from scipy.special import xlogy

        s = self.s
        m0 = np.clip(losses.logistic_mu(g, self.Y, self.w), 0.0, 1.0)
        w = None if self.w is None else self.w[:, 0]

        def h(gamma):
            gamma = np.asarray(gamma, dtype=float)
            mu = m0 * gamma[None, :]
            e = xlogy(mu, mu) + xlogy(1.0 - mu, 1.0 - mu)
            return -(e.sum(axis=0) if w is None else w @ e) / s

        return h, np.ones(self.Y.shape[1])

    def cvx_expression(self, pred):
        import cvxpy as cp

        terms = cp.logistic(cp.multiply(-self.Y, pred))
        if self.w is None:
            return cp.sum(terms) / self.s
        return cp.sum(cp.multiply(np.broadcast_to(self.w, self.Y.shape), terms)) / self.s


DATAFITS = {"squared": Squared, "logistic": Logistic}


def make_datafit(loss, Y, row_weights=None):
    """The :class:`Datafit` of ``loss`` (a name of :data:`DATAFITS`) on ``Y`` with row weights."""
    return DATAFITS[loss](Y, row_weights)
