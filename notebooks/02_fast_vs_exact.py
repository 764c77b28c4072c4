# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Fast vs exact: R-FISTA and the augmented Lagrangian against Clarabel and SCS
#
# The two convex programs can be solved two ways:
#
# * **exactly**, with a conic solver through CVXPY — Clarabel (interior point: few, expensive
#   iterations, high accuracy) or SCS (ADMM: many cheap iterations, moderate accuracy);
# * **fast**, with first-order methods that only multiply by $\tilde X$ and $\tilde X^\top$ —
#   R-FISTA (restarted accelerated proximal gradient) for the gated program C-GReLU, and an
#   augmented Lagrangian (AL) method for the ReLU program C-ReLU.
#
# Comparing them needs one yardstick that no solver can fake: the **certified duality gap**.
# For any weights $u$, `certify` builds a dual-feasible point $z$ and returns
# $P(u) - D(z) \ge P(u) - p^*$ — recomputed by us from the weights, never read from a solver's
# own report. We plot it against wall-clock time, tabulate the timings, and let `crosscheck`
# verify line by line that the fast and exact solutions describe the same optimum.
#
# Scaling as everywhere in the package: the loss is divided by $s = n\cdot c$, $\lambda$ is not.

# %%
import dataclasses
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from convex_relu import SolverWarning, make_problem
from convex_relu.certificates import certify
from convex_relu.crosscheck import crosscheck
from convex_relu.cvx import build_program, solve_exact
from convex_relu.datasets import load_diabetes_regression
from convex_relu.networks import network_from_solution
from convex_relu.plots import plot_convergence
from convex_relu.solvers import solve

notebook_start = time.perf_counter()

# %% [markdown]
# ## Data: scikit-learn's diabetes set
#
# 442 patients, 10 standardised features, a standardised disease-progression target. We train
# on 250 random rows (the rest is a test set) with a bias and 40 random Gaussian gates; the
# exact C-ReLU program then has $2np \approx 2\cdot10^4$ cone constraints — still a few seconds
# for Clarabel on two cores.

# %%
X_all, y_all = load_diabetes_regression()
order = np.random.default_rng(0).permutation(len(y_all))
train, test = order[:250], order[250:]
X, y, X_test, y_test = X_all[train], y_all[train], X_all[test], y_all[test]

gated_problem = make_problem(X, y, formulation="gated_relu", lam=1e-2, bias=True, n_gates=40, seed=0)
relu_problem = gated_problem.relu_problem()  # same data, patterns and λ
print(gated_problem)
print(relu_problem)

# %% [markdown]
# ## Convergence curves for the exact solvers
#
# CVXPY returns only the final point of a conic solver. To see how the certified gap of Clarabel's
# and SCS's iterates falls with time, we stop each solver after $k$ iterations for a range of $k$
# (each a fresh solve of the same compiled program; the solvers then warn that they stopped
# early, which is the point here) and certify every iterate. The first-order solvers record their
# certified gap as they go (`Solution.history`). On problems this small every solve takes a
# fraction of a second, so expect some timing noise.

# %%
def traced(problem, solver, iteration_caps):
    """The exact solution, with a history of the certified gaps of truncated runs.

    All runs share one compiled CVXPY program, so each point's time is the one-off cost
    (building the model and CVXPY's compilation, paid by the first run) plus that run's
    solver time. The last run is not truncated: it is the returned solution.
    """
    t0 = time.perf_counter()
    program = build_program(problem)
    one_off = time.perf_counter() - t0
    hist = {"iteration": [], "time": [], "objective": [], "relative_gap": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverWarning)  # "stopped early": intended here
        for k, cap in enumerate([*iteration_caps, None]):
            sol = solve_exact(problem, solver=solver, max_iter=cap, program=program)
            if k == 0:
                one_off += sol.compile_time  # CVXPY caches the compiled problem afterwards
            sol = dataclasses.replace(sol, compile_time=one_off)
            if cap is None:
                return dataclasses.replace(sol, history=hist)
            cert = certify(problem, sol.weights)
            hist["iteration"].append(sol.n_iter)
            hist["time"].append(one_off + sol.solve_time)
            hist["objective"].append(cert.primal)
            hist["relative_gap"].append(cert.relative_gap)


def traced_fast(problem, method, iteration_caps, **kwargs):
    """The first-order solution, with a history of certified gaps of runs stopped early.

    Each point is a separate run capped at ``max_iter = k`` whose returned weights we
    certify, exactly as for the exact solvers above: every point drawn is a certificate
    (a solver's own running bound is not). Its time is that run's wall-clock time.
    """
    hist = {"iteration": [], "time": [], "objective": [], "relative_gap": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "stopped at max_iter": intended here
        for cap in iteration_caps:
            sol = solve(problem, method=method, max_iter=cap, **kwargs)
            cert = certify(problem, sol.weights)
            hist["iteration"].append(sol.n_iter)
            hist["time"].append(sol.compile_time + sol.solve_time)
            hist["objective"].append(cert.primal)
            hist["relative_gap"].append(cert.relative_gap)
    return hist


def timing_table(solutions):
    print(f"{'solver':<10} {'status':<10} {'objective':>14} {'certified gap':>14} {'rel. gap':>9} "
          f"{'iters':>6} {'time [s]':>9}")
    for name, s in solutions.items():
        cert = certify(s.problem, s.weights)
        print(f"{name:<10} {s.status:<10} {cert.primal:14.10f} {cert.gap:14.2e} {cert.relative_gap:9.1e} "
              f"{s.n_iter if s.n_iter is not None else '-':>6} {s.compile_time + s.solve_time:9.3f}")

# %% [markdown]
# ## The gated program: R-FISTA vs Clarabel vs SCS

# %%
gated = {
    "R-FISTA": solve(gated_problem, method="rfista", tol=1e-8),
    "Clarabel": traced(gated_problem, "clarabel", [2, 4, 6, 8]),
    "SCS": traced(gated_problem, "scs", [25, 50, 100, 200]),
}
timing_table(gated)

fig, axes = plt.subplots(1, 2, figsize=(13, 4))
plot_convergence(gated, metric="relative_gap", ax=axes[0])
axes[0].set_title("C-GReLU: certified relative gap")
plot_convergence(gated, metric="suboptimality", ax=axes[1])
axes[1].set_title("C-GReLU: objective − best certified lower bound")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The ReLU program: augmented Lagrangian vs Clarabel vs SCS
#
# C-ReLU has the cone constraints. The AL method handles them with multipliers and a penalty,
# solving each penalised subproblem with R-FISTA. Its iterates are only approximately feasible,
# so each certificate first *repairs* them (projection onto the cones, then a shift along the
# interior gate that leaves the predictions unchanged) and the gap is that of the repaired
# weights. A multiplier method alone converges slowly; once the AL has identified the active
# groups and the tight rows of their cones, the solver switches to a *face solve*: R-FISTA on
# those groups with the exact proximal map of $\lambda\|\cdot\|$ plus the cone indicator, whose
# iterates are exactly feasible. The AL's own history mixes its cheap per-subproblem bound with
# the certified gaps of the face solve, so for the curve we certify runs stopped after $k$
# iterations for a range of $k$ (as for the exact solvers); the final point is the full run.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", SolverWarning)
    al = solve(relu_problem, method="al", tol=1e-6)
for w in caught:
    print("warning:", w.message)
al_caps = [int(k) for k in np.unique(np.geomspace(10, 0.9 * al.n_iter, 7).astype(int))]
relu = {
    "AL": dataclasses.replace(al, history=traced_fast(relu_problem, "al", al_caps, tol=1e-6)),
    "Clarabel": traced(relu_problem, "clarabel", [5, 10, 15, 20]),
    "SCS": traced(relu_problem, "scs", [50, 150, 400]),
}
timing_table(relu)

fig, axes = plt.subplots(1, 2, figsize=(13, 4))
plot_convergence(relu, metric="relative_gap", ax=axes[0])
axes[0].set_title("C-ReLU: certified relative gap")
plot_convergence(relu, metric="suboptimality", ax=axes[1])
axes[1].set_title("C-ReLU: objective − best certified lower bound")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The cross-check
#
# `crosscheck` compares a fast and an exact solution through quantities that *must* agree when
# both solvers are right, each with a tolerance derived from the certificates: both gaps small,
# every dual bound below every primal value, objectives within the gaps, dual points and
# predictions within the distance strong convexity allows, the groups that are provably zero in
# every optimum (gap-safe screening) zero in both, and — for C-ReLU — feasibility. Weights are *not*
# compared: a group lasso with more columns than rows has a whole face of optimal solutions.
# A line fails only when something is wrong — a solver that stopped short of the tolerance, or a
# certificate that contradicts another — and the report says which.

# %%
report_gated = crosscheck(gated_problem, fast=gated["R-FISTA"], exact=gated["Clarabel"], tol=1e-6)
print(report_gated)
assert report_gated.passed

# %%
report_relu = crosscheck(relu_problem, fast=relu["AL"], exact=relu["Clarabel"], tol=1e-6)
print(report_relu)
assert report_relu.passed
# the closing CLAIM is graded by the evidence (convex_relu.claims): with sampled gates the
# optimum holds over the sampled patterns only, never "global"
for rep in (report_gated, report_relu):
    assert rep.claim.level in ("gated_optimum", "optimal_over_patterns"), rep.claim.sentence

# %% [markdown]
# ## What the models predict
#
# The networks built from the fast and the exact solutions predict the same on the training
# data (that is what the cross-check certified), and nearly the same on the held-out rows.

# %%
for name, solutions in (("gated", gated), ("ReLU", relu)):
    for solver, sol in solutions.items():  # every curve has enough points to show convergence
        assert len(sol.history["time"]) >= 3, (name, solver, len(sol.history["time"]))
    for solver in solutions:
        net = network_from_solution(solutions[solver])
        train_mse = np.mean((net.predict(X)[:, 0] - y) ** 2)
        test_mse = np.mean((net.predict(X_test)[:, 0] - y_test) ** 2)
        print(f"{name:<6} {solver:<9} train MSE {train_mse:.4f}   test MSE {test_mse:.4f}")
print(f"\nnotebook ran in {time.perf_counter() - notebook_start:.1f} s")
