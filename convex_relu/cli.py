"""Command line: ``convex-relu certify | crosscheck | bench | bench-real | bench-headline | bench-global | bench-models``.

``certify`` enumerates every pattern and solves one exact program when the
arrangement has at most ``--max-patterns`` chambers (Cover's bound); above that it
certifies by column generation over the whole arrangement
(:func:`convex_relu.pricing.solve_global`): a progress bar per pricing round on
stderr, the rounds, chambers priced and final maximum violation in the report.

The boundary of the package: it validates, reports and turns every expected
failure (missing file, malformed CSV, too many patterns, solver unavailable)
into a one-line message and exit status 2 instead of a traceback.

Every verdict printed follows from our certificate
(:func:`convex_relu.certificates.certify`) on the weights reported: the ``status``
line is the certificate's verdict (certified relative gap against ``--gap-tol``),
the solver's own word is shown beside it as evidence, and the closing sentence is
the graded claim of :func:`convex_relu.claims.claim`.

Exit status: 0 certified (``certify``: the certified relative gap met ``--gap-tol``;
``crosscheck``: every check passed), 1 not certified / a check failed, 2 a usage or
input error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import sys
import time
import warnings

import numpy as np

from . import __version__

EXIT_OK = 0
EXIT_NOT_CERTIFIED = 1
EXIT_USAGE = 2


class CLIError(Exception):
    """An expected failure reported as a message (exit status 2)."""


#: ``--penalty`` choices: the names of :data:`convex_relu.penalties.PENALTIES` (kept here
#: so that building the parser imports no numerical module; a test checks they agree)
PENALTY_NAMES = ("neuron_group", "feature_group", "l1", "l2", "group_elastic_net")


def _penalty_args(args):
    """``(name, params)`` from ``--penalty``/``--alpha``, validated before any work."""
    name = getattr(args, "penalty", "neuron_group") or "neuron_group"
    alpha = getattr(args, "alpha", None)
    if name not in PENALTY_NAMES:
        raise CLIError(f"--penalty must be one of {', '.join(PENALTY_NAMES)}; got {name!r}")
    if alpha is None:
        return name, {}
    if name != "group_elastic_net":
        raise CLIError(f"--alpha applies only to --penalty group_elastic_net; got --penalty {name}")
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise CLIError(f"--alpha must be a number in [0, 1]; got {alpha!r}")
    return name, {"alpha": float(alpha)}


def _penalty_report(problem):
    """The penalty of ``problem`` for the JSON report: name, parameters, equivalence."""
    pen = problem.penalty
    params = {k: float(v) for k, v in vars(pen).items()
              if k == "alpha" and isinstance(v, (int, float, np.floating))}
    return {"penalty": pen.name, "penalty_params": params,
            "network_equivalent": bool(pen.network_equivalent)}


def _add_data_args(p):
    p.add_argument("data", nargs="?", default=None,
                   help="CSV file of numbers, last column the target (a header line is skipped). "
                        "Default: embedded diabetes subset.")
    p.add_argument("--lam", type=float, default=1e-2,
                   help="regularisation λ (not divided by n; the loss carries 1/(n·c)). Default 0.01.")
    p.add_argument("--formulation", choices=("relu", "gated_relu"), default="relu")
    p.add_argument("--loss", choices=("squared", "logistic"), default="squared",
                   help="logistic needs targets in {-1, +1}")
    p.add_argument("--no-bias", dest="bias", action="store_false", help="fit without a bias term")
    p.add_argument("--n-gates", type=int, default=None,
                   help="sample this many Gaussian gates instead of enumerating every pattern")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampled gates")
    p.add_argument("--max-patterns", type=int, default=20_000,
                   help="refuse to enumerate more patterns than this (default 20000)")
    p.add_argument("--penalty", default="neuron_group", choices=PENALTY_NAMES,
                   help="the penalty R of the convex program (default neuron_group, the only "
                        "one with an exact non-convex equivalent: weight decay). Scalings: "
                        "neuron_group λΣ_i‖u_i‖, feature_group λΣ_j‖U_j,·‖, l1 λ‖U‖₁, "
                        "l2 (λ/2)‖U‖², group_elastic_net λ(αΣ_i‖u_i‖ + (1−α)/2‖U‖²)")
    p.add_argument("--alpha", type=float, default=None,
                   help="group_elastic_net only: the weight α in [0, 1] of the group part "
                        "(default 0.5)")
    p.add_argument("--json", action="store_true", help="print a JSON report instead of text")


def _check_positive(value, option, *, allow_none=False):
    """A finite number > 0 given on the command line, else a CLIError naming the option."""
    if value is None and allow_none:
        return None
    if value is None or not math.isfinite(value) or value <= 0:
        raise CLIError(f"{option} must be a finite number > 0; got {value!r}")
    return float(value)


def _load(args):
    from .datasets import load_csv, load_default

    if args.data is None:
        X, y, desc = load_default()
        return X, y, desc
    try:
        X, y = load_csv(args.data)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except IsADirectoryError as exc:
        raise CLIError(str(exc) if "folder" in str(exc) else f"{args.data} is a folder, not a CSV file") from None
    except OSError as exc:  # permission denied, …: name the user's path
        raise CLIError(f"cannot read {args.data}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise CLIError(f"malformed CSV: {exc}") from None
    return X, y, f"{args.data} ({X.shape[0]} rows, {X.shape[1]} features)"


def _problem(args, X, y):
    from .problems import make_problem

    name, params = _penalty_args(args)
    try:
        return make_problem(
            X, y, formulation=args.formulation, lam=args.lam, loss=args.loss, bias=args.bias,
            n_gates=args.n_gates, seed=args.seed, max_patterns=args.max_patterns,
            penalty=name, penalty_params=params or None,
        )
    except (ValueError, TypeError) as exc:
        hint = " (on the command line: --n-gates N samples N gates)" if "max_patterns" in str(exc) else ""
        raise CLIError(f"{exc}{hint}") from None


# ---------------------------------------------------------------------------
# certify
# ---------------------------------------------------------------------------


def _own_status(sol):
    """The solver's own word (evidence), as opposed to our certificate's verdict."""
    return (getattr(sol, "info", None) or {}).get("solver_status", sol.status)


def _verdict(claim_obj, gap_tol):
    """The ``status`` of the report: the certificate's verdict, never the solver's."""
    if not claim_obj.valid:
        return "invalid_certificate", "certificate INVALID (dual above primal beyond round-off, or not finite)"
    rel = claim_obj.relative_gap
    if rel <= gap_tol:
        return "optimal", f"certified: relative gap {rel:.2e} <= tol {gap_tol:g}"
    return "not_certified", f"NOT certified: relative gap {rel:.2e} > tol {gap_tol:g}"


def _arrangement_if_too_large(args, X):
    """The arrangement of ``[X, 1]`` when it has more chambers (Cover's bound) than
    ``--max-patterns`` and the patterns are to be enumerated; else ``None``."""
    if isinstance(args.max_patterns, int) and args.max_patterns < 1:
        raise CLIError(f"--max-patterns must be >= 1; got {args.max_patterns}")
    if args.n_gates is not None:
        return None
    from .patterns import Arrangement

    try:
        arr = Arrangement(X, bias=args.bias)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None
    return arr if arr.bound > args.max_patterns else None


def _global_report(args, X, y, desc, arrangement, gap_tol):
    """``certify`` by column generation: every chamber priced, a progress bar per round."""
    import dataclasses

    from .claims import claim
    from .networks import network_from_weights
    from .pricing import solve_global

    if _penalty_args(args)[0] != "neuron_group":
        raise CLIError(f"--penalty {args.penalty}: the arrangement has {arrangement.bound} chambers "
                       f"(more than --max-patterns {args.max_patterns}) and pattern pricing supports "
                       "only the neuron_group penalty; raise --max-patterns or sample --n-gates")
    if not args.lam > 0:
        raise CLIError(f"--lam must be > 0 to price {arrangement.bound} chambers (more than "
                       f"--max-patterns {args.max_patterns}); got {args.lam!r}")
    bars = {}
    show = not getattr(args, "no_progress", False)

    def pricing_progress(rnd, b):
        if not show:
            return
        bar = bars.get(rnd)
        if bar is None:
            from tqdm import tqdm

            for old in bars.values():
                old.close()
            bar = bars[rnd] = tqdm(total=arrangement.bound, desc=f"pricing round {rnd}", unit=" chambers",
                                   file=sys.stderr, leave=True, mininterval=0.5)
        bar.update(b)

    def round_done(rec):
        bar = bars.get(rec.round)
        if bar is not None:
            if getattr(rec, "partial", False):  # faces inside hyperplanes only: columns, no bound
                bar.set_postfix_str(f"faces only, max face violation {rec.max_violation:.6f}, no bound yet")
            else:
                bar.set_postfix_str(f"max violation {rec.max_violation:.6f}, global gap {rec.relative_gap:.1e}")
            bar.close()

    t0 = time.perf_counter()
    try:
        res = solve_global(X, y, lam=args.lam, formulation=args.formulation, loss=args.loss, bias=args.bias,
                           tol=gap_tol, arrangement=arrangement, seed=args.seed, progress=round_done,
                           pricing_progress=pricing_progress, max_rounds=args.max_rounds)
    except (ValueError, RuntimeError, ImportError) as exc:
        raise CLIError(str(exc)) from None
    finally:
        for bar in bars.values():
            bar.close()
    elapsed = time.perf_counter() - t0
    problem = res.problem
    gc = res.certificate
    rc = res.restricted_certificate
    weights = rc.weights if getattr(rc, "weights", None) is not None else res.solution.weights
    net = network_from_weights(problem, weights)
    net_obj = float(net.objective(problem.X, problem.Y, problem.lam, problem.loss))
    # interior-point dust: drop patterns whose groups are below 1e-6 of the largest, and
    # keep that smaller network when its own objective still meets --gap-tol against the
    # same global dual bound (the bound does not depend on the primal point)
    norms = problem.group_norms(weights).reshape(-1, problem.p).max(axis=0)
    small = norms <= 1e-6 * max(float(norms.max()), np.finfo(float).tiny)
    if small.any():
        pruned = np.array(weights, copy=True)
        pruned[..., small] = 0.0
        net_p = network_from_weights(problem, pruned)
        obj_p = float(net_p.objective(problem.X, problem.Y, problem.lam, problem.loss))
        if math.isfinite(obj_p) and (obj_p - gc.dual) <= gap_tol * abs(obj_p):
            net, net_obj = net_p, obj_p
    evidence = gc
    if math.isfinite(net_obj) and net_obj > gc.primal:
        evidence = dataclasses.replace(gc, primal=net_obj, gap=net_obj - gc.dual)
    verdict = claim(problem, evidence, tol=gap_tol, width=net.width, all_chambers=True)
    status, status_line = _verdict(verdict, gap_tol)
    rounds = [r.to_dict() for r in res.rounds]
    return {
        "version": __version__,
        "data": desc,
        "n": problem.n,
        "d": problem.X.shape[1],
        "bias": problem.bias,
        "outputs": problem.c,
        "loss": problem.loss,
        "formulation": problem.formulation,
        "patterns": problem.p,
        "pattern_method": "column generation (every chamber priced)",
        "patterns_complete": verdict.complete,
        "patterns_dropped": 0,
        "chambers": gc.n_chambers,
        "chambers_bound": arrangement.bound,
        "pattern_time_s": 0.0,
        "lam": problem.lam,
        "lam_max": problem.lam_max(),
        **_penalty_report(problem),
        "solver": "column generation: " + ", ".join(sorted({r.method for r in res.rounds})),
        "solver_status": res.status,
        "solver_tol": gap_tol,
        "status": status,
        "status_detail": status_line,
        "gap_tol": gap_tol,
        "iterations": len(res.rounds),
        "compile_time_s": 0.0,
        "solve_time_s": elapsed,
        "optimal_value": gc.primal,
        "dual_bound": gc.dual,
        "gap": gc.gap,
        "relative_gap": gc.relative_gap,
        "cone_violation": float(getattr(rc, "violation", 0.0) or 0.0),
        "dual_note": "",
        "weights_reported": "raw",
        "cleanup": {},
        "network_width": net.width,
        "network_objective": net_obj,
        "claim_level": verdict.level,
        "claim": verdict.sentence,
        "pricing": {
            "rounds": len(res.rounds),
            "patterns_priced": res.patterns_priced,
            "max_violation": gc.max_violation,
            "final_working_set": problem.p,
            "status": res.status,
            "time_s": elapsed,
            "exact": gc.exact,
            "round_log": rounds,
        },
    }


def _certify_report(args):
    from .certificates import certify
    from .claims import claim
    from .cvx import cleanup_solution, solve_exact
    from .networks import network_from_weights

    tol = _check_positive(args.tol, "--tol")
    gap_tol = _check_positive(args.gap_tol, "--gap-tol")
    _penalty_args(args)  # before loading anything
    X, y, desc = _load(args)
    if isinstance(args.max_rounds, bool) or args.max_rounds < 1:
        raise CLIError(f"--max-rounds must be a positive integer; got {args.max_rounds!r}")
    arrangement = _arrangement_if_too_large(args, X)
    if arrangement is not None:
        return _global_report(args, X, y, desc, arrangement, gap_tol)
    t0 = time.perf_counter()
    problem = _problem(args, X, y)
    pattern_time = time.perf_counter() - t0
    kwargs = {}
    if "gap_tol" in inspect.signature(solve_exact).parameters:
        kwargs["gap_tol"] = gap_tol  # refine (re-solve, polish) only as far as the claim needs
    try:
        sol = solve_exact(problem, solver=args.solver, tol=tol, **kwargs)
    except (ValueError, RuntimeError, ImportError) as exc:
        raise CLIError(str(exc)) from None

    # the network reported is built from the weights the certificate was evaluated at
    # (for C-ReLU: repaired onto the cones), after a clean-up of interior-point dust,
    # unless the clean-up costs the certificate (then the raw solution is reported)
    # the solver's cone multipliers tighten the bound of the non-radial penalties of
    # C-ReLU (certify ignores them otherwise); any non-negative values give a valid bound
    duals = getattr(sol, "duals", None)
    raw_cert = certify(problem, sol.weights, multipliers=duals)
    with warnings.catch_warnings(record=True) as cleanup_warnings:
        warnings.simplefilter("always")
        cleaned = cleanup_solution(sol)
    cert = certify(problem, cleaned.weights, multipliers=getattr(cleaned, "duals", duals))
    cleanup_info = dict(cleaned.info.get("cleanup", {}))
    used = "cleaned"
    # keep the clean-up unless it costs the certificate: it misses --gap-tol and is
    # materially (1 %) worse than the raw solution's (NaN compares false: raw kept)
    if cert.relative_gap > gap_tol and not cert.relative_gap <= 1.01 * raw_cert.relative_gap:
        cleanup_info["skipped"] = (f"clean-up raised the certified relative gap from "
                                   f"{raw_cert.relative_gap:.2e} to {cert.relative_gap:.2e} "
                                   f"(> --gap-tol {gap_tol:g}); the raw solution is reported")
        cert, used = raw_cert, "raw"
    if used == "cleaned":  # its warnings concern what is reported; otherwise superseded
        for w in cleanup_warnings:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    weights = cert.weights if cert.weights is not None else (cleaned.weights if used == "cleaned"
                                                             else sol.weights)
    net = network_from_weights(problem, weights)
    net_obj = float(net.objective(problem.X, problem.Y, problem.lam, problem.loss))
    # the claim is about the network: its own objective, if (by round-off) above the convex
    # one. Only for a penalty whose convex program IS weight-decay training: otherwise the
    # network's weight-decay objective is another function, not evidence about this program
    equivalent = bool(problem.penalty.network_equivalent)
    if not equivalent:
        net_obj = float("nan")
    evidence = cert
    if equivalent and math.isfinite(net_obj) and net_obj > cert.primal:
        import dataclasses

        evidence = dataclasses.replace(cert, primal=net_obj, gap=net_obj - cert.dual)
    verdict = claim(problem, evidence, tol=gap_tol, width=net.width)
    status, status_line = _verdict(verdict, gap_tol)
    report = {
        "version": __version__,
        "data": desc,
        "n": problem.n,
        "d": problem.X.shape[1],
        "bias": problem.bias,
        "outputs": problem.c,
        "loss": problem.loss,
        "formulation": problem.formulation,
        "patterns": problem.p,
        "pattern_method": problem.patterns.method,
        "patterns_complete": verdict.complete,
        "patterns_dropped": int(getattr(problem.patterns, "n_dropped", 0) or 0),
        "pattern_time_s": pattern_time,
        "lam": problem.lam,
        "lam_max": problem.lam_max(),
        **_penalty_report(problem),
        "solver": sol.solver,
        "solver_status": _own_status(sol),
        "solver_tol": tol,
        "status": status,
        "status_detail": status_line,
        "gap_tol": gap_tol,
        "iterations": sol.n_iter,
        "compile_time_s": sol.compile_time,
        "solve_time_s": sol.solve_time,
        "optimal_value": cert.primal,
        "dual_bound": cert.dual,
        "gap": cert.gap,
        "relative_gap": cert.relative_gap,
        "cone_violation": cert.violation,
        "dual_note": getattr(cert, "dual_note", ""),
        "weights_reported": used,
        "cleanup": cleanup_info,
        "network_width": net.width,
        "network_objective": net_obj if equivalent else None,
        "claim_level": verdict.level,
        "claim": verdict.sentence,
    }
    if getattr(args, "crosscheck", False):
        from .crosscheck import crosscheck

        try:
            cc = crosscheck(problem, exact=sol, tol=gap_tol)
        except (ValueError, RuntimeError, ImportError) as exc:
            raise CLIError(str(exc)) from None
        report["crosscheck"] = cc.to_dict()
        report["_crosscheck_text"] = str(cc)
    return report


def _print_certify(report):
    lines = [
        f"convex-relu {report['version']} — certify",
        f"data          {report['data']}",
        f"size          n = {report['n']}, d = {report['d']}"
        f"{' + bias' if report['bias'] else ''}, outputs = {report['outputs']}, loss = {report['loss']}",
        f"patterns      {report['patterns']} ({report['pattern_method']}"
        f"{', ' + str(report['patterns_dropped']) + ' dropped' if report['patterns_dropped'] else ''}"
        f"{', complete' if report['patterns_complete'] else ', not complete'}, "
        f"{report['pattern_time_s']:.2f} s)",
        f"program       {'C-ReLU' if report['formulation'] == 'relu' else 'C-GReLU'}, "
        f"λ = {report['lam']:g} (λ_max = {report['lam_max']:.4g}), penalty "
        f"{report.get('penalty', 'neuron_group')}"
        f"{''.join(f', {k} = {v:g}' for k, v in report.get('penalty_params', {}).items())}",
        f"solver        {report['solver']}: reported {report['solver_status']} (evidence only), "
        f"{report['iterations']} iterations, compile {report['compile_time_s']:.2f} s, "
        f"solve {report['solve_time_s']:.2f} s",
        f"status        {report['status_detail']}",
        f"primal value  {report['optimal_value']:.10g}",
        f"certificate   dual bound {report['dual_bound']:.10g}, gap {report['gap']:.2e} "
        f"(relative {report['relative_gap']:.2e}), cone violation {report['cone_violation']:.1e}",
    ]
    if report.get("dual_note"):
        lines.append(f"dual point    {report['dual_note']}")
    if "pricing" in report:
        pr = report["pricing"]
        lines.append(f"pricing       {pr['rounds']} rounds over the {report['chambers']} chambers "
                     f"(chambers priced per round: "
                     f"{', '.join('faces only' if r.get('partial') else str(r['n_chambers']) for r in pr['round_log'])}"
                     f"); final "
                     f"maximum violation {pr['max_violation']:.9f} (dual constraint / λ, before scaling)")
    if "skipped" in report.get("cleanup", {}):
        lines.append(f"clean-up      {report['cleanup']['skipped']}")
    own = report["network_objective"]
    lines += [
        f"network       width {report['network_width']}, own objective "
        + (f"{own:.10g}" if isinstance(own, float) and math.isfinite(own) else
           "— (this penalty has no exact non-convex equivalent)"),
        "",
        report["claim"],
    ]
    print("\n".join(lines))
    if "_crosscheck_text" in report:
        print()
        print(report["_crosscheck_text"])


def cmd_certify(args):
    report = _certify_report(args)
    text = report.pop("_crosscheck_text", None)
    if args.json:
        print(json.dumps(report, indent=2, default=_json_default))
    else:
        if text is not None:
            report["_crosscheck_text"] = text
        _print_certify(report)
    if "crosscheck" in report and not report["crosscheck"].get("passed", True):
        return EXIT_NOT_CERTIFIED
    return EXIT_OK if report["status"] == "optimal" else EXIT_NOT_CERTIFIED


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        v = obj.item()
        return v if not isinstance(v, float) or math.isfinite(v) else str(v)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.bool_):
        return bool(obj)
    return str(obj)


# ---------------------------------------------------------------------------
# crosscheck (the library function lives in convex_relu.crosscheck, which never
# imports this module)
# ---------------------------------------------------------------------------


def _add_crosscheck(sub):
    from .crosscheck import EXACT_SOLVERS, EXACT_TOL_FLOOR

    p = sub.add_parser(
        "crosscheck",
        help="solve with a fast and an exact solver and check that they agree",
        description=(
            "Solve the problem with a fast first-order method and an exact conic solver, "
            "certify both, and compare objectives, dual points, predictions, inactive "
            "groups, cone feasibility and (gated) the cone-decomposition bound. The exact "
            "reference is re-solved with a tighter solver tolerance while its certified "
            "gap misses --tol. Exit status 1 when a check fails."
        ),
    )
    _add_data_args(p)
    p.add_argument("--fast", default="auto",
                   help="fast method passed to convex_relu.solvers.solve (default: rfista for "
                        "gated_relu, al for relu)")
    p.add_argument("--exact", default="clarabel", choices=EXACT_SOLVERS, help="exact conic solver")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="relative duality gap asked of the fast solver and required of both (1e-6)")
    p.add_argument("--rtol", type=float, default=1e-6,
                   help="relative round-off slack of the comparisons (1e-6)")
    p.add_argument("--exact-tol", type=float, default=None,
                   help="first solver tolerance of the exact reference (default: the solver's "
                        "default, 1e-8 Clarabel/MOSEK, 1e-6 SCS)")
    p.add_argument("--exact-retries", type=int, default=3,
                   help="at most this many re-solves of the exact reference at a 100x tighter "
                        f"solver tolerance (not below {EXACT_TOL_FLOOR:g}) while its certified "
                        "gap misses --tol (default 3; 0 disables)")
    p.add_argument("--max-iter", type=int, default=None, help="iteration limit of the fast solver")
    p.add_argument("--no-bound", dest="bound", action="store_false",
                   help="skip the cone-decomposition bound (gated problems)")
    p.set_defaults(func=cmd_crosscheck)
    return p


def cmd_crosscheck(args):
    from .crosscheck import crosscheck

    _check_positive(args.tol, "--tol")
    if args.rtol is None or not math.isfinite(args.rtol) or args.rtol < 0:
        raise CLIError(f"--rtol must be a finite number >= 0; got {args.rtol!r}")
    _check_positive(args.exact_tol, "--exact-tol", allow_none=True)
    if args.exact_retries < 0:
        raise CLIError(f"--exact-retries must be an integer >= 0; got {args.exact_retries}")
    if args.max_iter is not None and args.max_iter < 1:
        raise CLIError(f"--max-iter must be an integer >= 1; got {args.max_iter}")
    _penalty_args(args)  # before loading anything
    X, y, desc = _load(args)
    problem = _problem(args, X, y)
    try:
        report = crosscheck(
            problem, fast=args.fast, exact=args.exact, tol=args.tol, rtol=args.rtol,
            max_iter=args.max_iter, bound=args.bound, exact_tol=args.exact_tol,
            exact_retries=args.exact_retries,
        )
    except (ValueError, RuntimeError, ImportError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        out = report.to_dict()
        out["data"] = desc
        out.update(_penalty_report(problem))
        print(json.dumps(out, indent=2, default=_json_default))
    else:
        print(f"data: {desc}")
        pr = _penalty_report(problem)
        print(f"penalty: {pr['penalty']}"
              + "".join(f", {k} = {v:g}" for k, v in pr["penalty_params"].items()))
        print(report)
    return EXIT_OK if report.passed else EXIT_NOT_CERTIFIED


# ---------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="convex-relu",
        description="Two-layer ReLU networks trained by convex optimisation, with certificates.",
        epilog="Exit status: 0 certified / checks passed, 1 not certified / a check failed, "
               "2 usage or input error.",
    )
    parser.add_argument("--version", action="version", version=f"convex-relu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "certify",
        help="solve exactly and say what the certificate proves about the network",
        description=(
            "Solve the convex program exactly, certify the result with a duality gap, build "
            "the network and state what is proven: a global optimum only with every "
            "activation pattern enumerated (none dropped), C-ReLU, one output and a "
            "certified relative gap <= --gap-tol; otherwise what the evidence supports. "
            "Exit status 1 when the certified gap misses --gap-tol."
        ),
    )
    _add_data_args(p)
    p.add_argument("--solver", default="clarabel", choices=("clarabel", "scs", "mosek"))
    p.add_argument("--tol", type=float, default=1e-10,
                   help="solver tolerance (default 1e-10: tight enough for a gap near 1e-9)")
    p.add_argument("--gap-tol", type=float, default=1e-6,
                   help="certified relative duality gap required to call the result optimal "
                        "(default 1e-6)")
    p.add_argument("--crosscheck", action="store_true",
                   help="also cross-check a fast solver against the exact solution")
    p.add_argument("--max-rounds", type=int, default=50,
                   help="column generation (used when the arrangement has more chambers than "
                        "--max-patterns): at most this many pricing rounds (default 50)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_certify)

    bg = sub.add_parser("bench-global", add_help=False,
                        help="benchmark of the certified global optimum by pattern pricing "
                             "(options: convex-relu bench-global --help)")
    bg.set_defaults(func=None)
    bm = sub.add_parser("bench-models", add_help=False,
                        help="default estimators vs Ridge/LogisticRegression, SVC and MLP under "
                             "5-fold CV (options: convex-relu bench-models --help)")
    bm.set_defaults(func=None)
    br = sub.add_parser("bench-real", add_help=False,
                        help="solvers and peers on scikit-learn and KEEL data, and a λ path vs "
                             "skglm (options: convex-relu bench-real --help)")
    br.set_defaults(func=None)
    bh = sub.add_parser("bench-headline", add_help=False,
                        help="time to 1e-3 of the certified optimum: ours vs torch Adam/SGD, with "
                             "a performance profile (options: convex-relu bench-headline --help)")
    bh.set_defaults(func=None)

    _add_crosscheck(sub)

    try:
        from .bench import add_cli as add_bench
    except ImportError:
        add_bench = None
    if add_bench is not None:
        add_bench(sub)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench-global":
        from .bench_global import main as bench_global_main

        return int(bench_global_main(argv[1:]) or 0)
    if argv and argv[0] == "bench-real":
        from .bench_real import main as bench_real_main

        return int(bench_real_main(argv[1:]) or 0)
    if argv and argv[0] == "bench-headline":
        from .bench_headline import main as bench_headline_main

        return int(bench_headline_main(argv[1:]) or 0)
    if argv and argv[0] == "bench-models":
        from .bench_models import main as bench_models_main

        bench_models_main(argv[1:])  # prints its table; returns the rows
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"convex-relu {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
