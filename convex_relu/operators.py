"""The stacked operator ``A = [D_1X̃ … D_pX̃]`` applied without ever forming it.

Weights of one program are stored as an array ``U`` of shape ``(c, d̃, p)``:
output ``k``, feature, pattern. Then, with the mask matrix ``M`` (n×p),

- forward:  ``(AU)_{:,k} = rowsum(M ∘ (X̃ U_k))``  — one GEMM ``X̃ · [U_1 … U_c]``;
- adjoint:  ``(Aᵀ R)_k = X̃ᵀ (M ∘ R_{:,k})``        — one GEMM ``X̃ᵀ · [M∘R_1 … M∘R_c]``.

A first-order iteration therefore costs two dense GEMMs of sizes n×d̃×(cp): the
physical limit the fast solvers aim at. The n×(p·d̃) matrix ``A`` is never formed.

Both products are evaluated with the mask matrix itself as a GEMM operand, which
avoids any elementwise pass over an ``n × p`` array:

- ``rowsum(M ∘ (X̃U_k)) = rowsum(X̃ ∘ (M U_kᵀ))``: GEMM ``M·U_kᵀ`` (n×p times p×d̃),
  then an ``n × d̃`` row-wise dot product;
- ``X̃ᵀ(M ∘ r) = (r ∘ X̃)ᵀ M``: an ``n × d̃`` scaling, then GEMM (d̃×n times n×p).

The masks are therefore kept in the floating dtype of ``X̃`` (BLAS needs floats).

The solvers work in a *column layout*: the weights are one ``(d̃, q)`` matrix whose
columns are groups, each group being a pair (output ``k``, pattern ``i``).
:class:`ColumnOperator` applies ``A`` to such a matrix, either for all ``q = c·p``
groups (column ``k·p + i``) or for a subset of groups (a working set), reusing
work buffers so that an iteration allocates nothing of size ``n × q``.

Sparse ``X̃`` (a scipy.sparse CSR matrix, :class:`ColumnOperator` only): the
products are taken the other way round so that their cost is ``nnz(X̃)·q``
instead of ``n·d̃·q``: forward ``rowsum(M ∘ (X̃U))`` (sparse × dense, then an
``n × q`` row-wise dot product), adjoint ``(r ∘ X̃)ᵀ M`` with the row scaling
applied to the stored values only. The result equals the dense one up to
rounding (a different summation order).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "forward",
    "adjoint",
    "pattern_products",
    "operator_norm_sq",
    "ColumnOperator",
    "to_columns",
    "from_columns",
]


def pattern_products(X, U):
    """``X̃ U_k`` for every output, as an ``(n, c, p)`` array (one GEMM)."""
    c, d, p = U.shape
    if c == 1:
        return (X @ U[0])[:, None, :]
    Z = X @ U.transpose(1, 0, 2).reshape(d, c * p)
    return Z.reshape(X.shape[0], c, p)


def forward(X, M, U):
    """Predictions ``Σ_i D_i X̃ U_{k,:,i}`` of shape ``(n, c)``.

    Parameters
    ----------
    X : (n, d̃) array
    M : (n, p) array, masks in ``X``'s dtype
    U : (c, d̃, p) array

    Notes
    -----
    Computed as ``rowsum(X̃ ∘ (M U_kᵀ))`` (module docstring): one GEMM per output and
    no ``n × p`` temporary.
    """
    c = U.shape[0]
    pred = np.empty((X.shape[0], c), dtype=np.result_type(X, M, U))
    for k in range(c):
        pred[:, k] = np.einsum("nd,nd->n", X, M @ U[k].T)
    return pred


def adjoint(X, M, R):
    """``Aᵀ R`` of shape ``(c, d̃, p)`` for a residual-like ``R`` of shape ``(n, c)``.

    Computed as ``(R_{:,k} ∘ X̃)ᵀ M`` (module docstring).
    """
    n, c = R.shape
    out = np.empty((c, X.shape[1], M.shape[1]), dtype=np.result_type(X, M, R))
    for k in range(c):
        np.matmul((X * R[:, k : k + 1]).T, M, out=out[k])
    return out


def operator_norm_sq(X, M, *, n_iter=30, seed=0, rtol=1e-4):
    """Estimate ``‖A‖²`` (largest eigenvalue of ``AᵀA``) by power iteration.

    Returns ``‖AᵀA u‖`` for the last unit iterate ``u``, which is always a lower
    bound on ``‖A‖²``. Stops after ``n_iter`` iterations or when the estimate
    changes by less than ``rtol`` (relative). Used for a first step size only;
    the solvers backtrack from there. Several outputs share the same ``A`` (the
    operator is block diagonal over outputs), so one output suffices.
    """
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((1, X.shape[1], M.shape[1])).astype(X.dtype)
    return _power_iteration(lambda V: adjoint(X, M, forward(X, M, V)), U, n_iter, rtol)


def _power_iteration(gram, U, n_iter, rtol):
    """``‖gram(u)‖`` at the last unit iterate of power iteration on ``gram = AᵀA``.

    A lower bound on ``‖A‖²`` whatever the number of iterations.
    """
    U = U / np.linalg.norm(U)
    val = 0.0
    for _ in range(n_iter):
        V = gram(U)
        new = float(np.linalg.norm(V))
        if new == 0.0:
            return 0.0
        U = V / new
        done = abs(new - val) <= rtol * new
        val = new
        if done:
            break
    return val


def to_columns(U):
    """``(c, d̃, p)`` weights -> the ``(d̃, c·p)`` column layout (column ``k·p + i``)."""
    c, d, p = U.shape
    return np.ascontiguousarray(U.transpose(1, 0, 2).reshape(d, c * p))


def from_columns(U_cols, c):
    """Inverse of :func:`to_columns`."""
    d, q = U_cols.shape
    return np.ascontiguousarray(U_cols.reshape(d, c, q // c).transpose(1, 0, 2))


class ColumnOperator:
    """``A`` restricted to a set of groups, acting on a ``(d̃, q)`` column matrix.

    Parameters
    ----------
    X : (n, d̃) array
        Features (the dtype of every product).
    M : (n, p) array
        Masks in ``X``'s dtype.
    c : int
        Number of outputs.
    groups : None or 1-D int array
        Flat group indices ``k·p + i``, sorted. ``None`` means all ``c·p`` groups in
        order, in which case the masks are broadcast, not copied.

    Notes
    -----
    Column ``j`` of the weight matrix belongs to output ``out[j]`` and pattern
    ``pattern[j]``; columns of one output are contiguous (groups are sorted), so
    the output blocks are plain slices.
    """

    def __init__(self, X, M, c, groups=None):
        self.X = X
        self.n, self.d = X.shape
        self._init_sparse()
        p = M.shape[1]
        self.c = c
        self.dtype = X.dtype
        if groups is None:
            self.groups = np.arange(c * p)
            self.blocks = [(k, slice(k * p, (k + 1) * p), M) for k in range(c)]
        else:
            groups = np.asarray(groups, dtype=np.intp)
            self.groups = groups
            out = groups // p
            pat = groups % p
            self.blocks = []
            for k in range(c):
                lo, hi = np.searchsorted(out, [k, k + 1])
                if hi > lo:
                    # a contiguous copy of the needed mask columns for the GEMMs
                    self.blocks.append((k, slice(lo, hi), np.ascontiguousarray(M[:, pat[lo:hi]])))
        self.q = len(self.groups)

    @classmethod
    def from_mask_columns(cls, X, mask_columns, outputs, c):
        """An operator with explicit (possibly signed) mask columns.

        Column ``j`` of the weights contributes ``mask_columns[:, j] ∘ (X̃ U[:, j])`` to
        output ``outputs[j]`` (sorted). Used for C-ReLU, where ``w`` groups enter the
        predictions with the sign ``−1``.
        """
        op = cls.__new__(cls)
        op.X = X
        op.n, op.d = X.shape
        op._init_sparse()
        op.c = c
        op.dtype = X.dtype
        outputs = np.asarray(outputs, dtype=np.intp)
        op.groups = np.arange(outputs.size)
        op.blocks = []
        for k in range(c):
            lo, hi = np.searchsorted(outputs, [k, k + 1])
            if hi > lo:
                op.blocks.append(
                    (k, slice(lo, hi), np.ascontiguousarray(mask_columns[:, lo:hi], dtype=X.dtype))
                )
        op.q = outputs.size
        return op

    def _init_sparse(self):
        self.sparse = sp.issparse(self.X)
        if self.sparse:
            X = self.X
            if not (isinstance(X, (sp.csr_matrix,)) or getattr(X, "format", "") == "csr"):
                X = sp.csr_matrix(X)
            self.X = X
            # the row of every stored value: the adjoint's row scaling touches nnz values
            self._rows = np.repeat(np.arange(self.n), np.diff(X.indptr))

    def _scaled_rows(self, r):
        """``diag(r) X̃`` for sparse ``X̃`` (a CSR matrix with the same structure)."""
        X = self.X
        return sp.csr_matrix((X.data * r[self._rows], X.indices, X.indptr), shape=X.shape)

    def forward(self, U):
        """Predictions ``(n, c)`` of the column weights ``U`` (``d̃ × q``)."""
        pred = np.zeros((self.n, self.c), dtype=self.dtype)
        if self.sparse:
            for k, sl, Mk in self.blocks:
                pred[:, k] = np.einsum("nq,nq->n", np.asarray(self.X @ U[:, sl]), Mk)
            return pred
        for k, sl, Mk in self.blocks:
            pred[:, k] = np.einsum("nd,nd->n", self.X, Mk @ U[:, sl].T)
        return pred

    def adjoint(self, R):
        """``Aᵀ R`` in the column layout (``d̃ × q``) for ``R`` of shape ``(n, c)``."""
        G = np.zeros((self.d, self.q), dtype=self.dtype)
        R = np.asarray(R, dtype=self.dtype)
        if self.sparse:
            for k, sl, Mk in self.blocks:
                G[:, sl] = self._scaled_rows(R[:, k]).T @ Mk
            return G
        for k, sl, Mk in self.blocks:
            np.matmul((self.X * R[:, k : k + 1]).T, Mk, out=G[:, sl])
        return G

    def output_max(self, values):
        """Per-output maximum of one value per column (``-inf``-free: 0 for no columns)."""
        out = np.zeros(self.c)
        for k, sl, _ in self.blocks:
            out[k] = values[sl].max()
        return out

    def norm_sq(self, *, n_iter=20, seed=0, rtol=1e-3):
        """Power-iteration lower bound on ``‖A_groups‖²`` (see :func:`operator_norm_sq`)."""
        if self.q == 0:
            return 0.0
        rng = np.random.default_rng(seed)
        U = rng.standard_normal((self.d, self.q)).astype(self.dtype)
        return _power_iteration(lambda V: self.adjoint(self.forward(V)), U, n_iter, rtol)
