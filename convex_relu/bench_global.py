"""Benchmark of the certified global optimum by pattern pricing (``convex-relu bench-global``).

Data: scikit-learn's bundled ``digits`` set (1797 real images), reduced to its first
two (``--features 2``, rank r = 3, the default) or three (``--features 3``, r = 4)
principal components (standardised) — continuous real features, so the
arrangement of ``[X, 1]`` is in general position (raw pixels are integers on a grid,
whose arrangement would be tiny) — with the standardised digit label as target.
``convex-relu bench-global --features 3 --sizes 20,30,50,100,200 --full-max-chambers 10000``
prints the rank-4 table.
λ = 0.01, squared loss, bias. Prints one row per run: time, peak memory
(peak resident set of a forked process per run; ``--memory tracemalloc`` for traced
Python and numpy allocations), rounds, chambers priced per round, the
final maximum violation and the certified global relative gap; beside it, where
affordable, full enumeration + Clarabel (all chambers in one program), with the
same-run ratio of times.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
import warnings

import numpy as np

__all__ = ["main", "load_digits_2d"]


def load_digits_2d(n, n_features=2):
    """First ``n`` rows of digits: ``n_features`` standardised principal components, standardised label."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    data = load_digits()
    if not 2 <= n <= data.data.shape[0]:
        raise ValueError(f"n must be in [2, {data.data.shape[0]}]; got {n}.")
    Z = PCA(n_features, random_state=0).fit_transform(data.data[:n])
    X = (Z - Z.mean(0)) / Z.std(0)
    t = data.target[:n].astype(float)
    return X, (t - t.mean()) / t.std()


def _measure(fn, summary, memory="rss"):
    """``(summary(fn()), seconds, peak MiB)``.

    ``memory="rss"``: ``fn`` runs in a forked child, timed without any tracing; the
    peak is the child's peak resident set (``ru_maxrss``, the whole process: the
    interpreter and the imported libraries included). ``"tracemalloc"``: in this
    process, the peak of Python and numpy allocations (tracing slows numpy-heavy
    Python code about 3x, so the time is then inflated).
    """
    if memory == "tracemalloc":
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            out = fn()
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return summary(out), time.perf_counter() - t0, peak / 2**20
    import multiprocessing as mp
    import resource

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child():
        try:
            t0 = time.perf_counter()
            out = summary(fn())
            dt = time.perf_counter() - t0
            send.send(("ok", out, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
        except BaseException as exc:  # reported in the parent
            send.send(("error", repr(exc), 0.0, 0.0))

    proc = ctx.Process(target=child)
    proc.start()
    kind, out, dt, peak = recv.recv()
    proc.join()
    if kind != "ok":
        raise RuntimeError(f"benchmark run failed: {out}")
    return out, dt, peak


def _summary_global(res):
    c = res.certificate
    return {"n_chambers": res.n_chambers, "rounds": len(res.rounds),
            "full_rounds": sum(not getattr(r, "partial", False) for r in res.rounds),
            "p": res.problem.p, "max_violation": c.max_violation, "relative_gap": c.relative_gap,
            "status": res.status}


def _global(X, y, lam, formulation, tol, time_limit=None):
    from .pricing import solve_global

    return solve_global(X, y, lam=lam, formulation=formulation, tol=tol, bias=True, time_limit=time_limit)


def _full(X, y, lam, formulation, tol):
    from .certificates import certify
    from .problems import make_problem
    from .solvers import solve

    prob = make_problem(X, y, formulation=formulation, lam=lam, bias=True, max_patterns=10**7)
    return prob.p, certify(prob, solve(prob, "clarabel", tol=tol).weights)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="convex-relu bench-global", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=None,
                    help="n values (default 100,300,1000,3000 for 2 features, 50,100,200 for 3)")
    ap.add_argument("--features", type=int, default=2, choices=[2, 3],
                    help="principal components: 2 (rank r = 3 with the bias) or 3 (r = 4)")
    ap.add_argument("--formulation", default="relu", choices=["relu", "gated_relu"])
    ap.add_argument("--lam", type=float, default=0.01)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per column-generation run")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads for every tool (threadpoolctl)")
    ap.add_argument("--full-max-chambers", type=int, default=3000,
                    help="run full enumeration + Clarabel only up to this many chambers")
    ap.add_argument("--memory", default="rss", choices=["rss", "tracemalloc"],
                    help="peak memory: resident set of a forked child per run (default; times untraced) "
                         "or tracemalloc in-process (inflates times about 3x)")
    args = ap.parse_args(argv)
    if args.sizes is None:
        args.sizes = "100,300,1000,3000" if args.features == 2 else "50,100,200"
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"data: digits, {args.features} standardised principal components + bias (rank {args.features + 1}), "
          f"standardised label; "
          f"λ={args.lam:g}, squared loss, {args.formulation}, tol={args.tol:g}")
    hdr = (f"{'n':>6} {'chambers':>10} {'rounds':>6} {'full':>4} {'WS p':>5} {'time s':>8} {'peak MiB':>9} "
           f"{'max viol':>9} {'rel gap':>9} {'status':>9} | {'full s':>8} {'full MiB':>9} {'ratio':>6}")
    print(hdr)
    print("-" * len(hdr))
    from threadpoolctl import threadpool_limits

    print(f"BLAS threads: {args.threads} for every tool; single runs are noisy on a shared machine")
    print("peak MiB: " + ("peak resident set of the run's forked process (interpreter and libraries included)"
                          if args.memory == "rss" else "tracemalloc peak (times inflated by tracing)"))
    print("full: rounds that priced every chamber (rank 4: the others priced the faces inside hyperplanes "
          "only, no bound)")
    with warnings.catch_warnings(), threadpool_limits(args.threads):
        warnings.simplefilter("ignore")
        for n in sizes:
            if n <= 1797:
                X, y = load_digits_2d(n, args.features)
            else:  # digits has 1797 rows: larger n use synthetic Gaussian data (said in the row)
                rng = np.random.default_rng(n)
                X = rng.standard_normal((n, args.features))
                y = np.sin(2 * X[:, 0]) + 0.5 * X[:, -1] ** 2 + 0.1 * rng.standard_normal(n)
                y = (y - y.mean()) / y.std()
                print(f"  (n={n}: synthetic Gaussian features, digits has 1797 rows)")
            times, mems, res = [], [], None
            for _ in range(args.repeats):
                res, t, mem = _measure(lambda: _global(X, y, args.lam, args.formulation, args.tol, args.time_limit),
                                       _summary_global, args.memory)
                times.append(t)
                mems.append(mem)
            from .patterns import Arrangement

            bound = Arrangement(X, bias=True).bound
            full = ""
            if bound <= args.full_max_chambers:
                ft, fm = [], []
                for _ in range(args.repeats):
                    _, t, mem = _measure(lambda: _full(X, y, args.lam, args.formulation, args.tol),
                                         lambda out: out[0], args.memory)
                    ft.append(t)
                    fm.append(mem)
                full = f"{statistics.median(ft):8.2f} {statistics.median(fm):9.1f} " \
                       f"{statistics.median(ft) / statistics.median(times):6.2f}"
            else:
                full = f"{'-':>8} {'-':>9} {'-':>6}"
            print(f"{n:6d} {res['n_chambers']:10d} {res['rounds']:6d} {res['full_rounds']:4d} {res['p']:5d} "
                  f"{statistics.median(times):8.2f} {statistics.median(mems):9.1f} {res['max_violation']:9.6f} "
                  f"{res['relative_gap']:9.2e} {res['status']:>9} | {full}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
