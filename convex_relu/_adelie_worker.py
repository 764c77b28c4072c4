"""Run adelie's group lasso / elastic net on one C-GReLU problem, in *adelie's own* interpreter.

adelie needs ``numpy < 2``, so it lives in a virtual environment of its own and this
script is run there (``python _adelie_worker.py IN.npz OUT.npz``). It imports neither
``convex_relu`` nor anything outside the standard library, numpy, threadpoolctl and
adelie: the benchmark (:mod:`convex_relu.bench`) writes the problem, runs this script,
reads the weights back and certifies them with OUR certificate.

Input ``IN.npz``: ``Xt`` (n×d̃, bias column included), ``masks`` (n×p, 0/1), ``Y``
(n×c), ``lam`` (OUR λ), ``tol`` (adelie's coordinate-descent ``tol``), ``threads``,
``warm`` (1: solve a tiny problem first so one-off set-up is not timed), optional
``alpha`` (the elastic-net parameter in ``[0, 1]``, default 1: the group lasso).

Scaling. adelie's Gaussian GLM with its default weights ``1/n`` has loss
``Σ_j (y_j − η_j)²/(2n)`` and penalty ``λ_a Σ_g ω_g ‖β_g‖`` (we pass ``ω = 1``; its
default is ``√|g|``). Ours for output ``k`` is
``‖y_k − Au_k‖²/(2nc) + λ Σ_i ‖u_{k,i}‖ = (1/c)[‖y_k − Au_k‖²/(2n) + cλ Σ_i ‖u_{k,i}‖]``,
so each output is one adelie solve with ``λ_a = c·λ``. The group elastic net is the
same mapping with the same ``α``: adelie's penalty is ``λ_a Σ_g ω_g(α‖β_g‖ +
(1 − α)/2 ‖β_g‖²)`` and ours ``λ Σ_i (α‖u_i‖ + (1 − α)/2 ‖u_i‖²)`` (penalties module).
``adelie.matrix.convex_relu(Xt, masks, gated=True)`` is the stacked operator ``[D_1X̃ … D_pX̃]`` (group ``i`` = columns
``i·d̃ … (i+1)·d̃ − 1``), the same layout as ours, without forming it.

What is timed: the ``grpnet`` calls only (summed over outputs).

Output ``OUT.npz``: ``W`` (c, d̃, p), ``time``, ``n_iter`` (coordinate-descent passes
reported by adelie, or −1), ``peak_rss_kb`` (the process's RSS high-water mark during
the timed calls, reset before them through ``/proc/self/clear_refs`` where allowed;
otherwise the process lifetime maximum), ``base_rss_kb`` (RSS just before).
"""

import sys
import time


def _status_kb(field):
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def _reset_peak():
    try:  # free heap back to the system first (glibc), so "before" is live memory
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _solve(ad, np, Xt, masks, Y, lam, tol, threads, alpha=1.0):
    n, d = Xt.shape
    p = masks.shape[1]
    c = Y.shape[1]
    Xt = np.asfortranarray(Xt, dtype=np.float64)
    masks = np.asfortranarray(masks.astype(bool))
    mat = ad.matrix.convex_relu(Xt, masks, gated=True, n_threads=threads)
    groups = np.arange(p) * d
    W = np.zeros((c, d, p))
    elapsed, n_iter = 0.0, 0
    for k in range(c):
        glm = ad.glm.gaussian(np.ascontiguousarray(Y[:, k], dtype=np.float64))
        t0 = time.perf_counter()
        state = ad.grpnet(
            mat, glm, groups=groups, alpha=float(alpha), penalty=np.ones(p),
            lmda_path=np.array([c * lam]), tol=tol, intercept=False, early_exit=False,
            adev_tol=1.0, ddev_tol=0.0, max_iters=10**8, n_threads=threads,
            progress_bar=False,
        )
        elapsed += time.perf_counter() - t0
        beta = state.betas[-1]
        beta = np.asarray(beta.toarray() if hasattr(beta, "toarray") else beta).reshape(-1)
        W[k] = beta.reshape(p, d).T
        n_iter += int(getattr(state, "n_iters", 0) or 0)
    return W, elapsed, n_iter


def _die_with_parent():
    """Ask Linux to kill this process when its parent dies: the benchmark kills a worker
    that runs past its budget, and adelie must not go on running without it."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv):
    _die_with_parent()
    if len(argv) != 3:
        print("usage: python _adelie_worker.py IN.npz OUT.npz", file=sys.stderr)
        return 2
    import numpy as np
    from threadpoolctl import threadpool_limits

    import adelie as ad

    data = np.load(argv[1])
    threads = int(data["threads"])
    alpha = float(data["alpha"]) if "alpha" in data.files else 1.0
    if not 0.0 <= alpha <= 1.0:
        print(f"alpha must be in [0, 1]; got {alpha}", file=sys.stderr)
        return 2
    with threadpool_limits(limits=threads):
        if int(data["warm"]):
            rng = np.random.default_rng(0)
            Xs = np.c_[rng.standard_normal((30, 3)), np.ones(30)]
            Ms = (Xs @ rng.standard_normal((4, 5)) >= 0).astype(float)
            _solve(ad, np, Xs, Ms, rng.standard_normal((30, 1)), 0.01, 1e-7, threads)
        reset = _reset_peak()
        base = _status_kb("VmRSS")
        W, elapsed, n_iter = _solve(ad, np, data["Xt"], data["masks"], data["Y"],
                                    float(data["lam"]), float(data["tol"]), threads, alpha)
        peak = _status_kb("VmHWM")
    np.savez(argv[2], W=W, time=elapsed, n_iter=n_iter, peak_rss_kb=peak, base_rss_kb=base,
             peak_reset=int(reset))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
