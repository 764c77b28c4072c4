"""Plots of solver convergence, regularisation paths and the decomposition bound.

Matplotlib is an optional dependency (``pip install "convex-relu[plots]"``); it is
imported inside each function, so importing this module never needs it. Every
function draws on the ``Axes`` it is given (or on a new figure) and returns the
``Axes`` it drew on, so that plots can be combined and inspected.

Scaling: all objectives are the package's (loss divided by ``s = n·c``, ``λ`` not
divided by ``n``); gaps are the certified duality gaps of
:mod:`convex_relu.certificates`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_convergence", "plot_path", "plot_bound", "convergence_series"]

_INSTALL_HINT = (
    "plotting needs matplotlib, an optional dependency: pip install matplotlib "
    '(in a clone of convex_relu: pip install -e ".[plots]").'
)


def _auto_log(values):
    """Log scale when the positive finite values span more than a decade (and none is <= 0)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return v.size > 0 and bool(np.all(v > 0)) and v.max() > 10 * v.min()


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return plt


def _new_axes(ax, nrows=1, **fig_kw):
    plt = _pyplot()
    if ax is not None:
        return ax
    _, axes = plt.subplots(nrows, 1, squeeze=True, **fig_kw)
    return axes


# --------------------------------------------------------------------------------------
# convergence
# --------------------------------------------------------------------------------------

_METRICS = ("gap", "relative_gap", "suboptimality", "objective")


def _history_relative_gap(history, objective):
    """Relative certified gaps of a history: ``relative_gap`` if recorded, else ``gap/|P|``.

    Solvers record ``gap`` either absolute or already relative; a ``gap_kind`` entry
    (``"relative"`` / ``"absolute"``) or an explicit ``relative_gap`` list removes the
    ambiguity; without one, ``gap`` is taken as relative (R-FISTA's convention).
    """
    if "relative_gap" in history:
        return np.asarray(history["relative_gap"], dtype=float)
    gap = np.asarray(history["gap"], dtype=float)
    if history.get("gap_kind") == "absolute":
        return gap / np.maximum(np.abs(objective), np.finfo(float).tiny)
    return gap


def _history_absolute_gap(history, objective):
    if "absolute_gap" in history:
        return np.asarray(history["absolute_gap"], dtype=float)
    gap = np.asarray(history["gap"], dtype=float)
    if history.get("gap_kind") == "absolute":
        return gap
    return gap * np.abs(objective)


def _best_lower_bound(solutions):
    """The largest certified dual bound among the solutions (a lower bound on ``p*``)."""
    duals = [s.certificate.dual for s in solutions.values() if s.certificate is not None]
    return max(duals) if duals else None


def convergence_series(solution, metric="gap", *, reference=None):
    """The ``(time, value)`` series :func:`plot_convergence` draws for one solution.

    Parameters
    ----------
    solution : Solution
    metric : {"gap", "relative_gap", "suboptimality", "objective"}
        ``"gap"``: certified duality gap ``P − D`` (absolute);
        ``"relative_gap"``: ``(P − D)/|P|``; ``"suboptimality"``: ``P − reference``;
        ``"objective"``: ``P``. The final point's ``P`` is the certificate's ``primal``
        (the objective at the feasible, possibly repaired, weights) when the solution
        has a certificate, else ``solution.objective``; history points are as recorded.
    reference : float, optional
        Needed for ``"suboptimality"``.

    Returns
    -------
    time, value : ndarray
        The recorded history (``history["time"]``; a solver's history starts when its
        iterations start) followed by the final point at
        ``compile_time + solve_time`` from the solution's certificate. A solution
        without history (an exact conic solve) is that single point.
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
    if metric == "suboptimality" and reference is None:
        raise ValueError("metric='suboptimality' needs reference (a lower bound or p*).")
    t_end = float(solution.compile_time) + float(solution.solve_time)
    hist = solution.history or {}
    has_hist = bool(hist) and len(hist.get("time", ())) > 0
    times, objs = [], []
    if has_hist:
        times = list(np.asarray(hist["time"], dtype=float))
        objs = np.asarray(hist["objective"], dtype=float)
    cert = solution.certificate
    # the certified primal is the objective at feasible (repaired) weights: an upper bound
    # on p*, unlike the objective of slightly infeasible C-ReLU iterates
    final_obj = float(solution.objective) if cert is None else float(cert.primal)
    if metric in ("gap", "relative_gap"):
        if cert is None and not has_hist:
            raise ValueError(
                f"solution from {solution.solver!r} has neither a history nor a certificate: "
                "no certified gap to plot."
            )
        values = []
        if has_hist:
            f = _history_relative_gap if metric == "relative_gap" else _history_absolute_gap
            values = list(f(hist, objs))
        if cert is not None:
            times.append(t_end)
            values.append(cert.relative_gap if metric == "relative_gap" else cert.gap)
    else:
        values = list(objs) if has_hist else []
        times.append(t_end)
        values.append(final_obj)
        if metric == "suboptimality":
            values = [v - float(reference) for v in values]
    return np.asarray(times, dtype=float), np.asarray(values, dtype=float)


def plot_convergence(solutions, metric="gap", *, reference=None, ax=None, markers=True):
    """Certified gap (or objective) against wall-clock time for several solvers.

    Parameters
    ----------
    solutions : dict of str -> Solution
        Solutions of the *same* problem (e.g. ``{"R-FISTA": ..., "Clarabel": ...}``).
        First-order solvers contribute their ``history`` (one point per certified
        check) and their final point; exact conic solves a single point at
        ``compile_time + solve_time``.
    metric : {"gap", "relative_gap", "suboptimality", "objective"}
        Default ``"gap"``: the certified duality gap ``P(u) − D(z) >= P(u) − p*``, a
        proven bound on the suboptimality (log scale). ``"suboptimality"``:
        ``P(u) − reference`` (log scale), with ``reference`` by default the largest
        certified dual bound among the solutions, so the curve is itself a certified
        upper bound on ``P(u) − p*``.
    reference : float, optional
    ax : matplotlib Axes, optional
    markers : bool
        Mark every recorded point.

    Returns
    -------
    matplotlib.axes.Axes
        One line per solution, in the order of ``solutions``, labelled by its key.
        Points whose value is not finite, or not positive (a gap of exactly zero) on
        the log scale, are left out.
    """
    if not isinstance(solutions, dict) or not solutions:
        raise ValueError("solutions must be a non-empty dict of name -> Solution.")
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}.")
    if metric == "suboptimality" and reference is None:
        reference = _best_lower_bound(solutions)
        if reference is None:
            raise ValueError(
                "metric='suboptimality' needs reference= when no solution carries a certificate."
            )
    ax = _new_axes(ax, figsize=(6, 4))
    for name, sol in solutions.items():
        t, v = convergence_series(sol, metric, reference=reference)
        keep = np.isfinite(v) & ((v > 0) if metric != "objective" else True)
        t, v = t[keep], v[keep]
        style = "o-" if len(t) == 1 or markers else "-"
        ax.plot(t, v, style, label=str(name), markersize=3 if len(t) > 1 else 6)
    ax.set_xlabel("wall-clock time [s]")
    ax.set_xscale("log")
    labels = {
        "gap": "certified duality gap  P(u) − D(z)",
        "relative_gap": "certified relative gap  (P − D)/|P|",
        "objective": "objective P(u)",
    }
    ax.set_ylabel(labels.get(metric) or f"P(u) − {float(reference):.6g}")
    if metric != "objective":
        ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


# --------------------------------------------------------------------------------------
# regularisation path
# --------------------------------------------------------------------------------------


def plot_path(path, axes=None, *, label=None):
    """Active neurons and objective against ``λ`` along a regularisation path.

    Parameters
    ----------
    path : PathResult
        From :func:`convex_relu.path.regularization_path` (anything with ``lams``,
        ``n_active``, ``objectives`` and ``lam_max``).
    axes : pair of matplotlib Axes, optional
        Top: number of active neurons; bottom: the objective. A new figure with two
        panels sharing the (logarithmic) ``λ`` axis is made when omitted.
    label : str, optional
        Legend label of this path (to overlay several paths on the same axes).

    Returns
    -------
    ndarray of two Axes
        Both with a line of ``(lams, n_active)`` resp. ``(lams, objectives)``; a
        dotted vertical line marks ``λ_max`` (above it the zero network is optimal).
    """
    lams = np.asarray(path.lams, dtype=float)
    n_active = np.asarray(path.n_active)
    objectives = np.asarray(path.objectives, dtype=float)
    if not (lams.shape == n_active.shape == objectives.shape) or lams.ndim != 1:
        raise ValueError("path must hold 1-D lams, n_active and objectives of the same length.")
    if np.any(lams <= 0):
        raise ValueError("plot_path draws λ on a log scale: every λ must be > 0.")
    if axes is None:
        plt = _pyplot()
        _, axes = plt.subplots(2, 1, sharex=True, figsize=(6, 5))
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 2:
        raise ValueError("axes must be a pair of Axes (active neurons, objective).")
    top, bottom = axes
    top.plot(lams, n_active, "o-", markersize=3, label=label)
    bottom.plot(lams, objectives, "o-", markersize=3, label=label)
    lam_max = getattr(path, "lam_max", None)
    for a in axes:
        a.set_xscale("log")
        a.grid(True, which="both", alpha=0.3)
        if lam_max is not None and math.isfinite(lam_max) and lam_max > 0:
            a.axvline(lam_max, color="0.5", linestyle=":", linewidth=1)
        if label is not None:
            a.legend()
    top.set_ylabel("active neurons")
    bottom.set_ylabel("objective")
    bottom.set_xlabel("λ (dotted: λ_max)")
    return axes


# --------------------------------------------------------------------------------------
# decomposition bound
# --------------------------------------------------------------------------------------

# what plot_bound draws: (label, key in BoundReport.to_dict(), style)
_BOUND_SERIES = (
    ("d*  (C-GReLU: F_G(u*))", "gated_objective", "o-"),
    ("p*_C  (exact C-ReLU)", "relu_objective", "s-"),
    ("p_CD  (decomposed u*)", "p_cd", "^-"),
    ("bound  d* + 2λκ̄S̃", "bound", "v--"),
)


def _report_dict(report):
    if isinstance(report, dict):
        return report
    if hasattr(report, "to_dict"):
        return report.to_dict()
    raise ValueError(f"reports must hold BoundReport objects or dicts; got {type(report).__name__}.")


def plot_bound(reports, lams, ax=None, *, relative=False, yscale=None):
    """The approximation bound ``d* <= p*_C <= p_CD <= d* + 2λκ̄S̃`` along ``λ``.

    Parameters
    ----------
    reports : sequence of BoundReport (or of their ``to_dict()``)
        From :func:`convex_relu.decomposition.decomposition_bound`, one per ``λ``.
        Drawn per report: ``gated_objective`` (``F_G(u*)``, the gated objective of the
        solution that was decomposed — ``d*`` up to its certified ``gated_gap``),
        ``relu_objective`` (``p*_C``, certified C-ReLU optimum, when it was computed),
        ``p_cd`` (``F_ReLU(v, w)`` of the decomposition) and ``bound``
        (``F_G(u*) + 2λκ̄S̃``).
    lams : sequence of float
        The ``λ`` of each report.
    ax : matplotlib Axes, optional
    relative : bool
        Draw ``value − d*`` on a log scale instead of the values: the excess the
        theorem bounds, visible even when it is tiny. Non-positive excesses
        (``p_CD = d*`` when no group needed a split) are left out.
    yscale : {None, "log", "linear"}
        Default ``None``: logarithmic when the values drawn are all positive and span
        more than a decade (objectives along a λ path typically span several, and a
        linear axis flattens all but the largest curve), else linear. ``relative=True``
        is always logarithmic.

    Returns
    -------
    matplotlib.axes.Axes
        One labelled line per quantity, in the order above; missing values
        (``None``/``nan``, e.g. ``p*_C`` when the exact solve was skipped) are left
        out of that line.
    """
    lams = np.asarray(lams, dtype=float)
    dicts = [_report_dict(r) for r in reports]
    if lams.ndim != 1 or lams.size != len(dicts) or lams.size == 0:
        raise ValueError(f"lams must be 1-D with one λ per report; got {lams.shape} for {len(dicts)} reports.")
    if np.any(lams <= 0):
        raise ValueError("plot_bound draws λ on a log scale: every λ must be > 0.")
    d_key = _BOUND_SERIES[0][1]
    d_star = np.array([_num(d.get(d_key)) for d in dicts])
    if np.all(np.isnan(d_star)):
        raise ValueError(f"the reports hold no {d_key!r}; got keys {sorted(dicts[0])}.")
    if yscale not in (None, "log", "linear"):
        raise ValueError(f"yscale must be None, 'log' or 'linear'; got {yscale!r}.")
    ax = _new_axes(ax, figsize=(6, 4))
    drawn = []
    for i, (label, key, style) in enumerate(_BOUND_SERIES):
        values = np.array([_num(d.get(key)) for d in dicts])
        if relative:
            if i == 0:
                continue  # d* − d* = 0 has no place on a log scale
            values = values - d_star
        ok = np.isfinite(values) & ((values > 0) if relative else True)
        if not np.any(ok):
            continue
        # fixed colours, so the absolute and relative plots of the same reports match
        ax.plot(lams[ok], values[ok], style, markersize=4, color=f"C{i}",
                label=f"{label} − d*" if relative else label)
        drawn.append(values[ok])
    ax.set_xscale("log")
    if relative:
        ax.set_yscale("log")
        ax.set_ylabel("excess over d*  (value − d*)")
    else:
        log = yscale == "log" or (yscale is None and _auto_log(np.concatenate(drawn) if drawn else []))
        ax.set_yscale("log" if log else "linear")
        ax.set_ylabel("objective (package scaling)")
    ax.set_xlabel("λ")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax


def _num(v):
    if v is None:
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan
