"""Command line: ``convex-relu certify | crosscheck | bench``.

The boundary of the package: it validates, reports and turns every expected
failure (missing file, malformed CSV, too many patterns, solver unavailable)
into a one-line message and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from . import __version__

EXIT_USAGE = 2


class CLIError(Exception):
    """An expected failure reported as a message (exit status 2)."""


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
    p.add_argument("--json", action="store_true", help="print a JSON report instead of text")


def _load(args):
    from .datasets import load_csv, load_default

    if args.data is None:
        X, y, desc = load_default()
        return X, y, desc
    try:
        X, y = load_csv(args.data)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    except ValueError as exc:
        raise CLIError(f"malformed CSV: {exc}") from None
    return X, y, f"{args.data} ({X.shape[0]} rows, {X.shape[1]} features)"


def _problem(args, X, y):
    from .problems import make_problem

    try:
        return make_problem(
            X, y, formulation=args.formulation, lam=args.lam, loss=args.loss, bias=args.bias,
            n_gates=args.n_gates, seed=args.seed, max_patterns=args.max_patterns,
        )
    except ValueError as exc:
        hint = " (on the command line: --n-gates N samples N gates)" if "max_patterns" in str(exc) else ""
        raise CLIError(f"{exc}{hint}") from None


def _certify_report(args):
    from .certificates import certify
    from .cvx import cleanup_solution, solve_exact
    from .networks import network_from_solution

    X, y, desc = _load(args)
    t0 = time.perf_counter()
    problem = _problem(args, X, y)
    pattern_time = time.perf_counter() - t0
    try:
        sol = solve_exact(problem, solver=args.solver, tol=args.tol)
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc)) from None
    cleaned = cleanup_solution(sol)
    cert = certify(problem, cleaned.weights)
    net = network_from_solution(cleaned)
    net_obj = net.objective(problem.X, problem.Y, problem.lam, problem.loss)
    exhaustive = problem.patterns.method == "enumerated"
    optimal = sol.status == "optimal"
    if args.formulation == "relu" and exhaustive and optimal:
        claim = (
            f"This ReLU network of width {net.width} is a global optimum of weight-decay training "
            f"of two-layer ReLU networks of any width >= {net.width} on these data, up to the "
            f"solver's accuracy (certified relative gap {cert.relative_gap:.2e})."
        )
    elif args.formulation == "relu" and optimal:
        claim = (
            "Optimal over the sampled activation patterns only; sample more gates or enumerate "
            "them (omit --n-gates) for a certificate of global optimality."
        )
    elif optimal:
        claim = "Optimal gated ReLU model for these gates (C-GReLU is a relaxation of ReLU training)."
    else:
        claim = f"The solver did not report optimality (status {sol.status}); no claim is made."
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
        "pattern_time_s": pattern_time,
        "lam": problem.lam,
        "lam_max": problem.lam_max(),
        "solver": sol.solver,
        "status": sol.status,
        "iterations": sol.n_iter,
        "compile_time_s": sol.compile_time,
        "solve_time_s": sol.solve_time,
        "optimal_value": cert.primal,
        "dual_bound": cert.dual,
        "gap": cert.gap,
        "relative_gap": cert.relative_gap,
        "cone_violation": cert.violation,
        "cleanup": cleaned.info.get("cleanup", {}),
        "network_width": net.width,
        "network_objective": net_obj,
        "claim": claim,
    }
    if getattr(args, "crosscheck", False):
        from .crosscheck import crosscheck

        cc = crosscheck(problem, exact=sol)
        report["crosscheck"] = cc.to_dict()
        report["_crosscheck_text"] = str(cc)
    return report


def _print_certify(report):
    lines = [
        f"convex-relu {report['version']} — certify",
        f"data          {report['data']}",
        f"size          n = {report['n']}, d = {report['d']}"
        f"{' + bias' if report['bias'] else ''}, outputs = {report['outputs']}, loss = {report['loss']}",
        f"patterns      {report['patterns']} ({report['pattern_method']}, {report['pattern_time_s']:.2f} s)",
        f"program       {'C-ReLU' if report['formulation'] == 'relu' else 'C-GReLU'}, "
        f"λ = {report['lam']:g} (λ_max = {report['lam_max']:.4g})",
        f"solver        {report['solver']}: {report['status']}, {report['iterations']} iterations, "
        f"compile {report['compile_time_s']:.2f} s, solve {report['solve_time_s']:.2f} s",
        f"optimal value {report['optimal_value']:.10g}",
        f"certificate   dual bound {report['dual_bound']:.10g}, gap {report['gap']:.2e} "
        f"(relative {report['relative_gap']:.2e}), cone violation {report['cone_violation']:.1e}",
        f"network       width {report['network_width']}, own objective "
        f"{report['network_objective']:.10g}",
        "",
        report["claim"],
    ]
    print("\n".join(lines))
    if "_crosscheck_text" in report:
        print()
        print(report["_crosscheck_text"])


def cmd_certify(args):
    report = _certify_report(args)
    if args.json:
        report.pop("_crosscheck_text", None)
        print(json.dumps(report, indent=2, default=float))
    else:
        _print_certify(report)
    if "crosscheck" in report and not report["crosscheck"].get("passed", True):
        return 1
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="convex-relu",
        description="Two-layer ReLU networks trained by convex optimisation, with certificates.",
    )
    parser.add_argument("--version", action="version", version=f"convex-relu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("certify", help="solve exactly and certify a globally optimal network")
    _add_data_args(p)
    p.add_argument("--solver", default="clarabel", choices=("clarabel", "scs", "mosek"))
    p.add_argument("--tol", type=float, default=1e-10,
                   help="solver tolerance (default 1e-10: tight enough for a gap near 1e-9)")
    p.add_argument("--crosscheck", action="store_true",
                   help="also cross-check a fast solver against the exact solution")
    p.set_defaults(func=cmd_certify)

    try:
        from .crosscheck import add_cli as add_crosscheck
    except ImportError:
        add_crosscheck = None
    if add_crosscheck is not None:
        add_crosscheck(sub, _add_data_args, _load, _problem)

    try:
        from .bench import add_cli as add_bench
    except ImportError:
        add_bench = None
    if add_bench is not None:
        add_bench(sub)
    return parser


def main(argv=None):
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
