"""Certified global optimum over the whole arrangement: pattern pricing (column generation).

A certificate of global optimality for two-layer ReLU training needs a dual point
``z`` that is feasible for **every** chamber ``i`` of the arrangement
``{g : x̃_jᵀg = 0}`` (DESIGN §9), not only for the patterns of one program. With
``q_{k,i} = X̃ᵀD_i z_k``:

- C-GReLU: ``‖q_{k,i}‖ <= λ``;
- C-ReLU: ``‖Π_{K_i}(−q_{k,i})‖ <= λ`` and ``‖Π_{K_i}(q_{k,i})‖ <= λ``; since
  ``‖Π_K(q)‖ <= ‖q‖`` a chamber with ``‖q‖ <= λ`` needs no projection (screening).

Then ``D(z) = −ℓ*(z)`` is a lower bound on the convex program over *all* chambers,
which equals the global minimum of weight-decay training of a two-layer ReLU
network of any width (one output per hidden neuron when ``c > 1``; for C-GReLU,
of gated networks whose gates are in general position, which with a bias is every
gate). Weights of any working set are feasible for that program, so their
objective is an upper bound: ``D(z) <= global optimum <= P(weights)``.

Column generation (:func:`solve_global`): solve the restricted program on a
working set of chambers, certify it (:func:`convex_relu.certificates.certify`), price
every chamber at its dual point (streamed by
:class:`convex_relu.patterns.Arrangement`, one small GEMM per block, cone
projections only for the screened survivors), add the most violated chambers with
their interior gates, repeat. Whatever the round, scaling ``z_k`` by
``t_k <= λ/M_k`` (``M_k`` the largest constraint value over all chambers) makes it
feasible for all of them, so every round yields a valid global lower bound; the
loop stops when the certified global relative gap meets ``tol``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import xlogy

from ._validation import add_bias_column, check_bool, check_lam, check_matrix
from .certificates import certify, network_objective
from .cones import project_columns
from .patterns import Arrangement, Patterns, sample_patterns
from .problems import make_problem

__all__ = [
    "GlobalCertificate",
    "PricingResult",
    "PricingRound",
    "ColumnGenerationResult",
    "NetworkGlobalCertificate",
    "price_arrangement",
    "global_dual_bound",
    "solve_global",
    "certify_network_global",
]


# ---------------------------------------------------------------------------
# pricing one dual point against every chamber
# ---------------------------------------------------------------------------


@dataclass
class PricingResult:
    """Constraint values of a dual point over every chamber of an arrangement.

    Attributes
    ----------
    max_constraint : ndarray (c,)
        ``M_k``: an upper bound on the largest constraint value of output ``k`` over
        all chambers (exact up to round-off where ``exact``).
    n_chambers : int
        Chambers priced (the all-negative one included).
    n_violating : int
        Chambers whose value exceeds ``λ(1 + viol_tol)`` for some output.
    n_projected : int
        C-ReLU: chambers that passed the screen ``‖q‖ > λ`` and were projected.
    exact : bool
        Every projection behind ``max_constraint`` finished exactly.
    top_signs : ndarray of bool (m, K)
        Sign vectors (distinct-hyperplane coordinates) of the most violated chambers,
        most violated first.
    top_values : ndarray (K,)
        Their ``max_k value/λ``.
    """

    max_constraint: np.ndarray
    n_chambers: int
    n_violating: int
    n_projected: int
    exact: bool
    top_signs: np.ndarray
    top_values: np.ndarray


def _relu_values(problem, arrangement, blk, idx, Q):
    """Upper bounds on ``max(‖Π_{K_i}(−q)‖, ‖Π_{K_i}(q)‖)`` per output, chambers ``idx`` of a block.

    Lock-step Lawson–Hanson NNLS (:mod:`convex_relu.cones`) with threshold ``λ``: a
    column stops as soon as its iterate ``‖q + Ãᵀα‖`` (always an upper bound) falls
    below the threshold, which only rises to exact norms found on the way, so the
    largest value is exact and every value is a valid upper bound. Returns
    ``(values (b, c), exact)``.
    """
    from .cones import _batched_nnls, _normalised_rows

    masks = arrangement.expand(blk.rep_signs(idx))  # (n, b)
    b, c, d = Q.shape
    Xn, keep = _normalised_rows(problem.X_tilde)
    signsT = np.ascontiguousarray(np.where(masks[keep], 1.0, -1.0).T)  # (b, n')
    cols = np.concatenate([-Q, Q], axis=1).reshape(b * 2 * c, d).T  # (d, b·2c)
    pat = np.repeat(np.arange(b), 2 * c)
    if Xn.shape[0] == 0:
        return np.linalg.norm(cols, axis=0).reshape(b, 2, c).max(axis=1), True
    U, status, _ = _batched_nnls(Xn, signsT, cols, pat, 6 * d + 20, threshold=problem.lam)
    norms = np.linalg.norm(U, axis=0)
    redo = np.flatnonzero((status == 0) & (norms > problem.lam))
    if redo.size:
        # the rare columns the lock-step NNLS leaves unfinished: the exact projection
        P, ex, _ = project_columns(problem.X_tilde, masks, cols[:, redo], pat[redo])
        norms[redo] = np.minimum(norms[redo], np.linalg.norm(P, axis=0))
        status = status.copy()
        status[redo[ex]] = 1
    exact = bool(np.all(status > 0))
    return norms.reshape(b, 2, c).max(axis=1), exact


def _local_cone_bound(N, q):
    """``min_A ‖q + N_Aᵀμ_A‖`` over the active sets ``A`` whose ``μ_A >= 0``, batched.

    ``N`` is ``(b, t, d̃)``: ``t`` signed normals of rows of the chamber's cone
    (``K ⊆ {u : Nu >= 0}``), ``q`` is ``(b, d̃)``. Any ``μ >= 0`` on some rows of
    ``Ã_i`` gives ``‖q + Ã_iᵀμ‖ >= ‖Π_{K_i}(q)‖`` (Moreau; DESIGN §4), so this is an
    upper bound on the projection norm, exact when the projection onto the ``t``
    half-spaces lands in ``K``. ``μ_A`` solves ``N_A(q + N_Aᵀμ_A) = 0``.
    """
    b, t, d = N.shape
    best = np.linalg.norm(q, axis=1)
    for mask in range(1, 1 << t):
        act = [j for j in range(t) if mask >> j & 1]
        NA = N[:, act, :]  # (b, a, d)
        G = NA @ NA.transpose(0, 2, 1)
        rhs = -np.einsum("bad,bd->ba", NA, q)
        with np.errstate(all="ignore"):
            try:
                mu = np.linalg.solve(G, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                continue
        ok = np.all(mu >= 0, axis=1) & np.all(np.isfinite(mu), axis=1)
        if not ok.any():
            continue
        u = q[ok] + np.einsum("bad,ba->bd", NA[ok], mu[ok])
        best[ok] = np.minimum(best[ok], np.linalg.norm(u, axis=1))
    return best


def price_arrangement(arrangement, problem, z, *, top_k=0, viol_tol=1e-9, block_entries=None):
    """Price every chamber of ``arrangement`` at the dual point ``z`` (shape ``(n, c)``).

    The value of chamber ``i`` for output ``k`` is ``‖q_{k,i}‖`` (C-GReLU) or
    ``max(‖Π_{K_i}(−q_{k,i})‖, ‖Π_{K_i}(q_{k,i})‖)`` (C-ReLU), ``q_{k,i} = X̃ᵀD_iz_k``.
    ``q`` is affine in the chamber's sign vector, so a block's ``q`` come from its
    GEMM with ``Ω = [z_k ∘ x̃_j]`` (:meth:`Arrangement.rep_weights`). C-ReLU projects
    only chambers with ``‖q_{k,i}‖ > λ`` for some ``k`` (``‖Π_K(q)‖ <= ‖q‖``).

    Returns a :class:`PricingResult`; ``top_k`` most violated chambers (value above
    ``λ(1 + viol_tol)``) are kept with their sign vectors.
    """
    z = np.asarray(z, dtype=np.float64)
    if z.shape != problem.Y.shape:
        raise ValueError(f"z must have shape {problem.Y.shape}; got {z.shape}.")
    if arrangement.n != problem.n:
        raise ValueError(f"arrangement has {arrangement.n} rows but the problem has {problem.n}.")
    lam = problem.lam
    Xt = problem.X_tilde
    n, d = Xt.shape
    c = z.shape[1]
    F = (z[:, :, None] * Xt[:, None, :]).reshape(n, c * d)
    const, Omega = arrangement.rep_weights(F)
    relu = problem.formulation == "relu"
    normals = arrangement.rep_normals() if relu else None
    M = np.zeros(c)
    n_ch = n_viol = n_proj = 0
    exact = True
    m = arrangement.n_hyperplanes
    top_s = np.zeros((m, 0), dtype=bool)
    top_v = np.zeros(0)
    limit = lam * (1.0 + viol_tol)
    for blk in arrangement.blocks(Omega, block_entries=block_entries):
        b = blk.n_chambers
        if b == 0:
            continue
        n_ch += b
        Q = (const[None, :] + blk.features).reshape(b, c, d)
        vals = np.linalg.norm(Q, axis=2)  # (b, c); an upper bound for C-ReLU
        if relu:
            cand = np.flatnonzero((vals > lam).any(axis=1))
            # tighter screen: the cone is inside the r−1 half-spaces through its ray
            ln = cand[cand < blk.n_line]
            if ln.size:
                rows, sg = blk.line_facets()
                Nl = normals[rows[ln]] * sg[ln][:, :, None]  # (b, r-1, d̃)
                for kk in range(c):
                    both = np.maximum(_local_cone_bound(Nl, Q[ln, kk]), _local_cone_bound(Nl, -Q[ln, kk]))
                    vals[ln, kk] = np.minimum(vals[ln, kk], both)
            surv = np.flatnonzero((vals > lam).any(axis=1))
            n_proj += surv.size
            step = max(1, (1 << 20) // max(n, 1))  # masks and NNLS rows of a bounded size
            for s0 in range(0, surv.size, step):
                sv = surv[s0:s0 + step]
                pv, ok = _relu_values(problem, arrangement, blk, sv, Q[sv])
                vals[sv] = pv
                exact &= ok
        M = np.maximum(M, vals.max(axis=0))
        worst = vals.max(axis=1)
        viol = np.flatnonzero(worst > limit)
        n_viol += viol.size
        if top_k and viol.size:
            if viol.size > top_k:
                viol = viol[np.argpartition(-worst[viol], top_k - 1)[:top_k]]
            top_s = np.concatenate([top_s, blk.rep_signs(viol)], axis=1)
            top_v = np.concatenate([top_v, worst[viol] / lam])
            if top_v.size > top_k:
                keep = np.argpartition(-top_v, top_k - 1)[:top_k]
                top_s, top_v = top_s[:, keep], top_v[keep]
    order = np.argsort(-top_v, kind="stable")
    return PricingResult(M, n_ch, n_viol, n_proj, exact, top_s[:, order], top_v[order])


def _best_scaling(problem, z, M):
    """``t_k ∈ [0, λ/M_k]`` maximising ``−ℓ*(t ∘ z)`` (per output); returns ``(D, t·z, t)``.

    Squared loss: ``−ℓ*(tz_k) = −t⟨z_k, Y_k⟩ − (s/2)t²‖z_k‖²``, closed form. Logistic:
    ``μ = −s t Y z`` must stay in ``[0, 1]``, a bounded 1-D search of a concave function.
    """
    lam, s = problem.lam, problem.s
    c = z.shape[1]
    with np.errstate(divide="ignore"):
        cap = np.where(M > 0, lam / np.where(M > 0, M, 1.0), np.inf)
    t = np.zeros(c)
    Y = problem.Y
    for k in range(c):
        zk = z[:, k]
        if problem.loss == "squared":
            zz = float(zk @ zk)
            if zz > 0:
                t[k] = min(max(-float(zk @ Y[:, k]) / (s * zz), 0.0), cap[k])
        else:
            m0 = -s * Y[:, k] * zk
            if np.any(m0 < 0) or m0.max() <= 0:
                continue  # z_k outside the conjugate's domain for every t > 0
            hi = min(cap[k], 1.0 / m0.max())

            def neg(tt):
                mu = tt * m0
                return float((xlogy(mu, mu) + xlogy(1 - mu, 1 - mu)).sum()) / s

            best, val = hi, neg(hi)
            res = minimize_scalar(neg, bounds=(0.0, hi), method="bounded", options={"xatol": 1e-12 * hi})
            if res.success and res.fun < val:
                best = float(res.x)
            t[k] = best
    zs = z * t[None, :]
    return -problem.loss_conjugate(zs), zs, t


@dataclass
class GlobalCertificate:
    """``dual <= global optimum <= primal``, the dual point feasible for every chamber.

    Attributes
    ----------
    primal : float
        Objective at the weights (a feasible point of the all-chamber program, so an
        achievable training objective).
    dual : float
        ``−ℓ*(z)`` at ``dual_point``, feasible for all ``n_chambers`` chambers: a lower
        bound on the global optimum of two-layer ReLU training of any width.
    gap, relative_gap : float
    max_violation : float
        ``max_k M_k/λ`` at the priced point (before the final scaling); ``<= 1`` means
        it was already feasible for every chamber.
    dual_scale : ndarray (c,)
        ``t_k`` applied to the priced point.
    dual_point : ndarray (n, c)
    n_chambers : int
    exact : bool
        Every cone projection behind ``max_violation`` finished exactly (the bound is
        valid either way; inexact projections only make it conservative).
    formulation : str
    """

    primal: float
    dual: float
    gap: float
    relative_gap: float
    max_violation: float
    dual_scale: np.ndarray
    dual_point: np.ndarray
    n_chambers: int
    exact: bool
    formulation: str

    def to_dict(self):
        return {
            "primal": self.primal,
            "dual": self.dual,
            "gap": self.gap,
            "relative_gap": self.relative_gap,
            "max_violation": self.max_violation,
            "n_chambers": self.n_chambers,
            "exact": self.exact,
            "formulation": self.formulation,
        }


def _relative(gap, primal):
    return gap / max(abs(primal), np.finfo(float).tiny)


def global_dual_bound(arrangement, problem, z, *, top_k=0, block_entries=None):
    """A dual point feasible for every chamber, from any ``z`` of shape ``(n, c)``.

    Prices ``z`` (:func:`price_arrangement`) and scales each output by the best
    ``t_k <= λ/M_k``. Returns ``(dual_value, dual_point, scale, pricing)``.
    """
    pr = price_arrangement(arrangement, problem, z, top_k=top_k, block_entries=block_entries)
    D, zs, t = _best_scaling(problem, np.asarray(z, dtype=np.float64), pr.max_constraint)
    return D, zs, t, pr


# ---------------------------------------------------------------------------
# column generation
# ---------------------------------------------------------------------------


@dataclass
class PricingRound:
    """One round of column generation (what the progress hook receives)."""

    round: int
    n_patterns: int
    method: str
    solve_time: float
    price_time: float
    restricted_relative_gap: float
    primal: float
    dual: float
    relative_gap: float
    n_chambers: int
    n_violating: int
    n_projected: int
    max_violation: float
    added: int

    def to_dict(self):
        return dict(self.__dict__)


@dataclass
class ColumnGenerationResult:
    """Result of :func:`solve_global`.

    ``converged`` is ``certificate.relative_gap <= tol``: the certified gap against the
    global lower bound, never a solver's flag.
    """

    problem: object
    solution: object
    certificate: GlobalCertificate
    restricted_certificate: object
    rounds: list
    converged: bool
    status: str
    n_chambers: int
    time: float
    tol: float
    n_gate_failures: int = 0
    info: dict = field(default_factory=dict)

    @property
    def max_violation(self):
        return self.certificate.max_violation

    @property
    def patterns_priced(self):
        return [r.n_chambers for r in self.rounds]

    def to_dict(self):
        return {
            "converged": self.converged,
            "status": self.status,
            "tol": self.tol,
            "n_chambers": self.n_chambers,
            "n_patterns": self.problem.p,
            "time": self.time,
            "certificate": self.certificate.to_dict(),
            "rounds": [r.to_dict() for r in self.rounds],
            "n_gate_failures": self.n_gate_failures,
        }


def _pad(W, p_new):
    """Weights of ``p`` patterns padded with zero groups to ``p_new`` (warm start)."""
    pad = [(0, 0)] * (W.ndim - 1) + [(0, p_new - W.shape[-1])]
    return np.pad(W, pad)


def _initial_patterns(X, bias, init_gates, seed):
    P = sample_patterns(X, init_gates, seed, bias=bias)
    return Patterns(masks=P.masks, gates=P.gates, bias=bias, method="priced")


def solve_global(
    X,
    y,
    *,
    lam,
    formulation="relu",
    loss="squared",
    bias=True,
    tol=1e-6,
    method="auto",
    init_gates=128,
    seed=0,
    max_rounds=50,
    max_add=None,
    time_limit=None,
    progress=None,
    arrangement=None,
    solver_options=None,
    prune_tol=1e-7,
):
    """Certified global optimum of C-ReLU / C-GReLU over every chamber, by column generation.

    Parameters
    ----------
    X : (n, d) array, y : (n,) or (n, c) array
    lam : float > 0
        Not divided by ``n`` (DESIGN §0).
    formulation : {"relu", "gated_relu"}
    loss : {"squared", "logistic"}
    bias : bool
    tol : float
        Target certified relative gap against the global lower bound.
    method : str
        Solver of the restricted programs (:func:`convex_relu.solve`; ``"auto"``:
        Clarabel while small, else the first-order method, warm-started).
    init_gates : int
        Gaussian gates of the first working set (:func:`sample_patterns`, ``seed``).
    max_rounds : int
    max_add : int, optional
        Chambers added per round (default 32), chosen greedily among the most violated
        with masks at Hamming distance at least ``n/50`` from each other.
    prune_tol : float
        Groups whose norm is below ``prune_tol·max`` are dropped from the working set
        before the next round (a dropped chamber that becomes violated is priced back in).
    time_limit : float, optional
        Seconds; the loop stops after the round that crosses it (status ``"time_limit"``).
    progress : callable, optional
        Called with each :class:`PricingRound`.
    arrangement : Arrangement, optional
        Reuse a built arrangement of ``(X, bias)``.

    Returns
    -------
    ColumnGenerationResult
    """
    from .solvers import solve

    t_start = time.perf_counter()
    X = check_matrix(X, "X")
    bias = check_bool(bias, "bias")
    lam = check_lam(lam)
    if lam <= 0:
        raise ValueError("lam must be > 0 for pricing (at λ = 0 the dual constraints are Aᵀz = 0).")
    if formulation not in ("relu", "gated_relu"):
        raise ValueError(f"formulation must be 'relu' or 'gated_relu'; got {formulation!r}.")
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and 0 < tol < 1):
        raise ValueError(f"tol must be a number in (0, 1); got {tol!r}.")
    for name, v in (("max_rounds", max_rounds), ("init_gates", init_gates)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int; got {v!r}.")
    if max_add is not None and (isinstance(max_add, bool) or not isinstance(max_add, (int, np.integer)) or max_add < 1):
        raise ValueError(f"max_add must be a positive int or None; got {max_add!r}.")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None; got {type(progress).__name__}.")
    if arrangement is None:
        arrangement = Arrangement(X, bias=bias)
    elif not isinstance(arrangement, Arrangement) or arrangement.n != X.shape[0] or arrangement.bias != bias:
        raise ValueError("arrangement must be an Arrangement of the same X and bias.")

    patterns = _initial_patterns(X, bias, init_gates, seed)
    problem = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias, patterns=patterns)
    seen = {col.tobytes() for col in np.packbits(patterns.masks, axis=0).T}
    ws_tol = min(tol / 10.0, 1e-7)
    warm = None
    rounds = []
    status = "max_rounds"
    gate_failures = 0
    sol = cert = gcert = None
    for it in range(1, max_rounds + 1):
        t0 = time.perf_counter()
        kw = {} if solver_options is None else dict(solver_options)
        sol = solve(problem, method, tol=ws_tol, warm_start=warm, **kw)
        used = sol.info.get("auto_choice", method)
        cert = certify(problem, sol.weights)  # our certificate, on the weights we return
        t1 = time.perf_counter()
        add = max_add if max_add is not None else 32
        D, zs, t, pr = global_dual_bound(arrangement, problem, cert.dual_point, top_k=16 * add)
        t2 = time.perf_counter()
        gap = cert.primal - D
        gcert = GlobalCertificate(
            primal=cert.primal, dual=D, gap=gap, relative_gap=_relative(gap, cert.primal),
            max_violation=float(pr.max_constraint.max() / lam), dual_scale=t, dual_point=zs,
            n_chambers=pr.n_chambers, exact=pr.exact, formulation=formulation,
        )
        # new chambers: the most violated not already in the working set, spread out
        # (the most violated chambers cluster around one pattern: a minimum Hamming
        # distance between the chosen masks), each with an interior gate
        new_masks, new_gates = np.zeros((problem.n, 0), bool), np.zeros((problem.d, 0))
        if pr.top_signs.shape[1]:
            masks = arrangement.expand(pr.top_signs)
            keys = [col.tobytes() for col in np.packbits(masks, axis=0).T]
            fresh = [i for i in range(masks.shape[1]) if keys[i] not in seen and masks[:, i].any()]
            chosen = []
            spread = max(1, problem.n // 50)
            for i in fresh:
                if len(chosen) >= add:
                    break
                if chosen and np.min(np.count_nonzero(masks[:, chosen] != masks[:, i:i + 1], axis=0)) < spread:
                    continue
                chosen.append(i)
            if chosen:
                G, ok = arrangement.gates(pr.top_signs[:, chosen])
                gate_failures += int((~ok).sum())
                sel = np.asarray(chosen)[ok]
                new_masks, new_gates = masks[:, sel], G[:, ok]
                for i in sel:
                    seen.add(keys[i])
        rec = PricingRound(
            round=it, n_patterns=problem.p, method=used, solve_time=t1 - t0, price_time=t2 - t1,
            restricted_relative_gap=cert.relative_gap, primal=cert.primal, dual=D,
            relative_gap=gcert.relative_gap, n_chambers=pr.n_chambers, n_violating=pr.n_violating,
            n_projected=pr.n_projected, max_violation=gcert.max_violation, added=new_masks.shape[1],
        )
        rounds.append(rec)
        if progress is not None:
            progress(rec)
        if gcert.relative_gap <= tol:
            status = "optimal"
            break
        if time_limit is not None and time.perf_counter() - t_start > time_limit:
            status = "time_limit"
            break
        if new_masks.shape[1] == 0:
            # nothing to add: the restricted solve limits the gap; tighten it
            if ws_tol <= 1e-12:
                status = "stalled"
                break
            ws_tol = max(ws_tol / 100.0, 1e-12)
            warm = sol.weights
            continue
        # drop the groups the restricted optimum does not use (they are re-added by
        # pricing if they become violated), so the restricted programs stay small
        norms = problem.group_norms(sol.weights)
        norms = norms.reshape(-1, problem.p).max(axis=0)
        used_p = norms > prune_tol * max(float(norms.max()), np.finfo(float).tiny)
        Wk = sol.weights[..., used_p]
        patterns = Patterns(
            masks=np.hstack([problem.patterns.masks[:, used_p], new_masks]),
            gates=np.hstack([problem.patterns.gates[:, used_p], new_gates]),
            bias=bias, method="priced",
        )
        seen = {col.tobytes() for col in np.packbits(patterns.masks, axis=0).T}
        warm = _pad(Wk, patterns.n_patterns)
        problem = make_problem(X, y, formulation=formulation, lam=lam, loss=loss, bias=bias,
                               patterns=patterns)
    return ColumnGenerationResult(
        problem=problem if sol is None or sol.problem is problem else sol.problem,
        solution=sol, certificate=gcert, restricted_certificate=cert, rounds=rounds,
        converged=status == "optimal", status=status, n_chambers=gcert.n_chambers,
        time=time.perf_counter() - t_start, tol=tol, n_gate_failures=gate_failures,
    )


# ---------------------------------------------------------------------------
# a trained network against the whole arrangement
# ---------------------------------------------------------------------------


@dataclass
class NetworkGlobalCertificate:
    """A trained ReLU network against the global optimum of its training problem.

    ``dual <= global optimum <= network_objective``; ``network_gap`` bounds how far
    the network is from the best two-layer ReLU network of any width.
    """

    network_objective: float
    dual: float
    network_gap: float
    network_relative_gap: float
    max_violation: float
    dual_scale: np.ndarray
    dual_point: np.ndarray
    n_chambers: int
    exact: bool

    def to_dict(self):
        return {
            "network_objective": self.network_objective,
            "dual": self.dual,
            "network_gap": self.network_gap,
            "network_relative_gap": self.network_relative_gap,
            "max_violation": self.max_violation,
            "n_chambers": self.n_chambers,
            "exact": self.exact,
        }


def certify_network_global(X, y, lam, W1, W2, *, bias=True, loss="squared", arrangement=None):
    """Lower bound on the global optimum of ReLU training, from a trained network.

    The network ``f(x) = relu(x̃ᵀW1)W2`` (``W1`` ``(d̃, m)`` with the bias row last,
    ``W2`` ``(m, c)`` or ``(m,)``, one output per neuron when ``c > 1``) gives the
    point ``∇ℓ(f(X))``; priced against every chamber and scaled
    (:func:`global_dual_bound`) it is dual feasible for the C-ReLU program over the
    whole arrangement, whose optimum is the global minimum of
    ``ℓ(f) + (λ/2)(‖W1‖² + ‖W2‖²)`` over all widths. So ``dual`` never exceeds that
    minimum, and ``network_objective − dual`` bounds the network's suboptimality.
    """
    X = check_matrix(X, "X")
    bias = check_bool(bias, "bias")
    lam = check_lam(lam)
    if lam <= 0:
        raise ValueError("lam must be > 0 for pricing.")
    Xt = add_bias_column(X, bias)
    W1 = np.asarray(W1, dtype=np.float64)
    if W1.ndim != 2 or W1.shape[0] != Xt.shape[1]:
        raise ValueError(f"W1 must have shape ({Xt.shape[1]}, m) (bias row last); got {W1.shape}.")
    if arrangement is None:
        arrangement = Arrangement(X, bias=bias)
    # a problem whose patterns are the network's own (gates = its first layer)
    masks = (Xt @ W1) >= 0
    keep = masks.any(axis=0)
    if keep.any():
        packed = np.packbits(masks[:, keep], axis=0)
        _, first = np.unique(packed, axis=1, return_index=True)
        idx = np.flatnonzero(keep)[np.sort(first)]
        pats = Patterns(masks=masks[:, idx], gates=W1[:, idx], bias=bias, method="priced")
    else:
        pats = _initial_patterns(X, bias, 4, 0)
    problem = make_problem(X, y, formulation="relu", lam=lam, loss=loss, bias=bias, patterns=pats)
    net = network_objective(problem, W1, W2)
    W2a = np.asarray(W2, dtype=np.float64)
    if W2a.ndim == 1:
        W2a = W2a[:, None]
    pred = np.maximum(Xt @ W1, 0.0) @ W2a
    grad = problem.loss_grad(pred)
    D, zs, t, pr = global_dual_bound(arrangement, problem, grad)
    gap = net - D
    return NetworkGlobalCertificate(
        network_objective=net, dual=D, network_gap=gap, network_relative_gap=_relative(gap, net),
        max_violation=float(pr.max_constraint.max() / lam), dual_scale=t, dual_point=zs,
        n_chambers=pr.n_chambers, exact=pr.exact,
    )
