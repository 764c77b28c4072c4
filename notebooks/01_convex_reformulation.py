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
# # 1. The convex reformulation of a two-layer ReLU network, from scratch
#
# Training a two-layer ReLU network with weight decay,
#
# $$\min_{W_1, w_2}\; \ell\Big(\sum_{j=1}^m (\tilde X W_{1,j})_+\, w_{2,j}\Big) + \frac{\lambda}{2}\sum_{j=1}^m \big(\|W_{1,j}\|_2^2 + w_{2,j}^2\big),$$
#
# is a non-convex problem: gradient methods find *a* stationary point, which depends on the
# random initialisation. Pilanci & Ergen (2020) showed that it has the same optimal value as a
# **convex** program over the *activation patterns* of the data. This notebook builds that
# program by hand on a small 2-D data set, solves it with CVXPY, proves with a duality gap that
# the resulting ReLU network is globally optimal, and compares it with non-convex training
# from many random seeds.
#
# **Scaling convention** (the package's, the same as the reference library `scnn`): for $n$
# samples and $c$ outputs the squared loss is $\ell(\hat Y) = \|\hat Y - Y\|_F^2 / (2nc)$ and
# $\lambda$ is **not** divided by $n$. $\tilde X = [X, \mathbf 1]$ carries the bias.

# %%
import time

import cvxpy as cp
import matplotlib.pyplot as plt
import numpy as np

from convex_relu import enumerate_patterns, make_problem, sample_patterns
from convex_relu.certificates import certify, certify_network, network_objective
from convex_relu.claims import claim
from convex_relu.cvx import cleanup_solution, solve_exact
from convex_relu.networks import network_from_solution

notebook_start = time.perf_counter()

# %% [markdown]
# ## Data
#
# Fourteen points in the square $[-1, 1]^2$ and a smooth target with a little noise. Small
# enough that *every* activation pattern can be listed, which is what makes the global
# optimum certifiable.

# %%
rng = np.random.default_rng(0)
n = 14
X = rng.uniform(-1, 1, size=(n, 2))
y = np.sin(2 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.5 * X[:, 1] + 0.05 * rng.standard_normal(n)
X_tilde = np.hstack([X, np.ones((n, 1))])  # bias as a last column of ones

fig, ax = plt.subplots(figsize=(4.2, 3.6))
sc = ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=60, edgecolor="k")
fig.colorbar(sc, label="target y")
ax.set(xlabel="$x_1$", ylabel="$x_2$", title="training data")
plt.show()

# %% [markdown]
# ## Activation patterns
#
# A hidden neuron with weights $g \in \mathbb R^3$ (two input weights and a bias) is *active*
# on the points with $\tilde x_j^\top g \ge 0$ — one side of a line in the plane. On the
# training set it therefore acts through a 0/1 vector, its **activation pattern**
# $d = \mathbb 1[\tilde X g \ge 0]$, and $(\tilde X g)_+ = D\tilde X g$ with $D = \mathrm{diag}(d)$.
# Four random neurons:

# %%
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2), sharey=True)
gate_rng = np.random.default_rng(3)
t = np.linspace(-1.2, 1.2, 2)
for ax in axes:
    g = gate_rng.standard_normal(3)
    active = X_tilde @ g >= 0
    ax.scatter(X[active, 0], X[active, 1], c="tab:red", s=40, label="active")
    ax.scatter(X[~active, 0], X[~active, 1], c="lightgray", edgecolor="k", s=40, label="inactive")
    ax.plot(t, -(g[0] * t + g[2]) / g[1], "k--", lw=1)  # the line x̃ᵀg = 0
    ax.set(xlim=(-1.2, 1.2), ylim=(-1.2, 1.2), title="pattern " + "".join(map(str, active.astype(int))))
    ax.title.set_fontsize(8)
axes[0].legend(fontsize=7, loc="lower left")
plt.show()

# %% [markdown]
# Only finitely many patterns exist: they are the chambers of the arrangement of the $n$
# planes $\{g : \tilde x_j^\top g = 0\}$ in $\mathbb R^3$. For points in general position Cover
# (1965) counts $2\sum_{k<r}\binom{n-1}{k}$ chambers ($r = 3$ here); the all-zero pattern
# (a dead neuron) is dropped. `enumerate_patterns` lists them all exactly, each with an
# interior *gate* $g_i$. Sampling random gates finds them only gradually:

# %%
patterns = enumerate_patterns(X, bias=True)
cover = 2 * sum(np.prod([(n - 1 - i) / (i + 1) for i in range(k)]) for k in range(3))
print(f"enumerated patterns: {patterns.n_patterns}   (Cover's count {cover:.0f}, minus the all-zero one)")
assert np.array_equal(patterns.masks, X_tilde @ patterns.gates >= 0)

n_gates = np.unique(np.geomspace(3, 3000, 15).astype(int))
found = [sample_patterns(X, m, seed=0, bias=True).n_patterns for m in n_gates]
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.semilogx(n_gates, found, "o-", label="distinct patterns among sampled gates")
ax.axhline(patterns.n_patterns, color="k", ls=":", label="all patterns (enumerated)")
ax.set(xlabel="number of random Gaussian gates", ylabel="patterns found")
ax.legend()
plt.show()

# %% [markdown]
# ## The two convex programs, written out in CVXPY
#
# Grouping the neurons by pattern, the network becomes a sum over the $p$ patterns. With
# one weight vector $u_i$ per pattern the **gated ReLU** program (C-GReLU) is a group lasso,
#
# $$d^* = \min_{u}\; \ell\Big(\sum_i D_i\tilde X u_i\Big) + \lambda\sum_i \|u_i\|_2 ,$$
#
# and the **ReLU** program (C-ReLU) splits each group into a positive and a negative neuron
# $v_i, w_i$ that must really have pattern $i$: they must lie in the cone
# $K_i = \{u : (2D_i - I)\tilde X u \ge 0\}$,
#
# $$p^* = \min_{v, w}\; \ell\Big(\sum_i D_i\tilde X (v_i - w_i)\Big) + \lambda\sum_i \big(\|v_i\|_2 + \|w_i\|_2\big)
# \quad\text{s.t. } v_i, w_i \in K_i .$$
#
# With all patterns, $p^*$ equals the optimum of the non-convex training problem (for any
# width $m \ge$ the number of non-zero groups). We write both with one matrix variable
# ($U_{:,i} = u_i$), so that $\sum_i D_i \tilde X u_i = \big(M \circ \tilde X U\big)\mathbf 1$ with
# $M$ the $n\times p$ matrix of patterns.

# %%
lam = 0.01
M = patterns.masks.astype(float)  # n × p
S = 2 * M - 1  # signs of the cone constraints
p = M.shape[1]


def squared_loss(pred):
    return cp.sum_squares(pred - y) / (2 * n)


U = cp.Variable((3, p))
gated = cp.Problem(cp.Minimize(
    squared_loss(cp.sum(cp.multiply(M, X_tilde @ U), axis=1)) + lam * cp.sum(cp.norm(U, 2, axis=0))))
V, W = cp.Variable((3, p)), cp.Variable((3, p))
relu = cp.Problem(
    cp.Minimize(squared_loss(cp.sum(cp.multiply(M, X_tilde @ (V - W)), axis=1))
                + lam * (cp.sum(cp.norm(V, 2, axis=0)) + cp.sum(cp.norm(W, 2, axis=0)))),
    [cp.multiply(S, X_tilde @ V) >= 0, cp.multiply(S, X_tilde @ W) >= 0],
)
d_star = gated.solve(solver="CLARABEL")
p_star = relu.solve(solver="CLARABEL")
print(f"C-GReLU optimum d* = {d_star:.8f}")
print(f"C-ReLU  optimum p* = {p_star:.8f}   (d* <= p*: the cone constraints only restrict)")

# %% [markdown]
# The package builds the same programs (vectorised the same way) from a *problem* object and
# returns a `Solution`; the optimal values agree with the hand-written ones.

# %%
problem = make_problem(X, y, formulation="relu", lam=lam, bias=True, patterns=patterns)
solution = solve_exact(problem, solver="clarabel")
gated_solution = solve_exact(problem.gated_problem(), solver="clarabel")
print(solution)
assert abs(solution.objective - p_star) <= 1e-6 * abs(p_star)
assert abs(gated_solution.objective - d_star) <= 1e-6 * abs(d_star)

# %% [markdown]
# ## The certificate: a proof of (near-)optimality
#
# Any *dual-feasible* point $z$ gives a lower bound $D(z) \le p^*$ (weak duality), and any
# feasible weights $u$ give an upper bound $P(u) \ge p^*$. The **duality gap**
# $P(u) - D(z) \ge P(u) - p^*$ is therefore a proven bound on how far $u$ is from optimal —
# no knowledge of $p^*$ needed. `certify` builds $z$ from the weights themselves
# ($z = \gamma\nabla\ell(\hat y)$, scaled by the largest $\gamma$ that keeps
# $\max_i \|\Pi_{K_i}(\pm \tilde X^\top D_i z)\| \le \lambda$) and, for C-ReLU, first repairs
# round-off violations of the cone constraints.

# %%
cert = certify(problem, solution.weights)
print(f"primal P(u) = {cert.primal:.10f}")
print(f"dual   D(z) = {cert.dual:.10f}")
print(f"gap         = {cert.gap:.2e}  (relative {cert.relative_gap:.1e})")
assert cert.dual <= p_star + 1e-9 <= cert.primal + 2e-9

# %% [markdown]
# ## From the convex solution to a ReLU network
#
# Each non-zero $v_i$ becomes a neuron $(v_i/\sqrt{\|v_i\|},\, +\sqrt{\|v_i\|})$ and each
# $w_i$ a neuron $(w_i/\sqrt{\|w_i\|},\, -\sqrt{\|w_i\|})$: its weight-decay cost
# $\tfrac\lambda2(\|v_i\| + \|v_i\|) = \lambda\|v_i\|$ equals the group-norm penalty, and
# because $v_i \in K_i$ its ReLU acts exactly as $D_i\tilde X v_i$ on the training data. So
# the network's *non-convex* objective equals the convex one. Interior-point solutions are
# never exactly sparse, so we first zero the groups below $10^{-4}$ of the largest
# (`cleanup_solution` records the objective change) and certify again.

# %%
clean = cleanup_solution(solution, 1e-4)
net = network_from_solution(clean)
print(f"neurons: {net.width} (non-zero groups out of {2 * p})")
print(f"objective change of the clean-up: {clean.info['cleanup']['objective_change']:+.1e}")
net_cert = certify_network(problem, net.W1, net.W2)
print(f"network objective (non-convex)  = {net.objective(X, y, lam):.10f}")
print(f"certified gap to the best network of any width: {net_cert.network_gap:.2e} "
      f"(relative {net_cert.network_relative_gap:.1e})")
# all patterns were enumerated and none dropped: p* is the optimum over every width
assert getattr(problem.patterns, "complete", problem.patterns.method == "enumerated")
# what the certificate proves, graded by the evidence (convex_relu.claims): "global
# optimum" needs a certified relative gap within tol, here 1e-6
net_claim = claim(problem, net_cert, tol=1e-6, width=net.width)
print(net_claim.sentence)
assert net_claim.level in ("global_optimum", "within_gap")
assert (net_claim.level == "global_optimum") == (net_cert.network_relative_gap <= 1e-6)
optimal_gap = net_cert.network_gap

# %% [markdown]
# The clean-up is a trade: the groups it zeroed were tiny but not useless, so the certified
# gap of the small network is larger than that of the raw interior-point solution (which
# has a "neuron" for every one of the $2p$ groups). Both are proofs; pick the model you want
# and read off how close to optimal it is. The claim says which one is a certified global
# optimum (relative gap within $10^{-6}$) and which is only certified to be close to one.

# %%
raw_net = network_from_solution(solution)
raw_cert = certify_network(problem, raw_net.W1, raw_net.W2)
raw_claim = claim(problem, raw_cert, tol=1e-6, width=raw_net.width)
print(f"raw solution:   {raw_net.width:3d} neurons, certified gap {raw_cert.network_gap:.1e}: {raw_claim.level}")
print(f"after clean-up: {net.width:3d} neurons, certified gap {net_cert.network_gap:.1e}: {net_claim.level}")
print(raw_claim.sentence)
assert raw_claim.level == "global_optimum"  # the raw solution is certified to 1e-6

# %% [markdown]
# ## Non-convex training from many seeds
#
# Now the usual way: Adam on the non-convex objective, full batch, from 20 random
# initialisations, for a narrow ($m = 4$) and a wide ($m = 20$) network. Plain NumPy: the
# gradients of $\ell(\sigma(\tilde X W_1) W_2) + \frac\lambda2(\|W_1\|^2 + \|W_2\|^2)$ are
# $\nabla_{W_2} = H^\top R + \lambda W_2$ and
# $\nabla_{W_1} = \tilde X^\top\big((R W_2^\top)\circ \mathbb 1[\tilde X W_1 > 0]\big) + \lambda W_1$,
# with $H = (\tilde X W_1)_+$ and $R = (HW_2 - y)/n$. All seeds are trained at once
# (a leading batch axis).

# %%
def adam_many(seeds, m, steps=3000, lr=0.02):
    """Adam from each seed; returns W1 (S, 3, m), W2 (S, m, 1), objectives (steps, S)."""
    W1 = np.stack([np.random.default_rng(s).standard_normal((3, m)) / np.sqrt(3) for s in seeds])
    W2 = np.stack([np.random.default_rng(10_000 + s).standard_normal((m, 1)) / np.sqrt(m) for s in seeds])
    params, mom, sq = [W1, W2], [np.zeros_like(W1), np.zeros_like(W2)], [np.zeros_like(W1), np.zeros_like(W2)]
    b1, b2 = 0.9, 0.999
    Y = y[:, None]
    history = np.empty((steps, len(seeds)))
    for t in range(1, steps + 1):
        step = lr * 0.5 * (1 + np.cos(np.pi * t / steps))  # cosine decay: settle at the end
        Z = X_tilde @ W1
        H = np.maximum(Z, 0)
        R = (H @ W2 - Y) / n
        history[t - 1] = (0.5 * n * np.sum(R**2, axis=(1, 2))
                          + 0.5 * lam * (np.sum(W1**2, axis=(1, 2)) + np.sum(W2**2, axis=(1, 2))))
        grads = (X_tilde.T @ ((R @ W2.transpose(0, 2, 1)) * (Z > 0)) + lam * W1,
                 H.transpose(0, 2, 1) @ R + lam * W2)
        for k, g in enumerate(grads):
            mom[k] = b1 * mom[k] + (1 - b1) * g
            sq[k] = b2 * sq[k] + (1 - b2) * g * g
            params[k] -= step * (mom[k] / (1 - b1**t)) / (np.sqrt(sq[k] / (1 - b2**t)) + 1e-8)
    return W1, W2, history


seeds = range(20)
runs = {m: adam_many(seeds, m) for m in (4, 20)}

# %% [markdown]
# Each trained network gets its own certificate with `certify_network`: its weights are read
# as C-ReLU weights (each neuron's pattern is one of the enumerated ones), and the dual bound
# built from its predictions bounds its distance to the global optimum. Here we also know
# $p^*$ exactly, so we can compare the certified gap with the true suboptimality: the
# certificate is always above it, and it is tight only at the optimum.
# The two are different quantities, so they get separate panels (on the same scale): the true
# suboptimality `objective − p*`, which only this small example lets us compute, and the certified
# gap, which is what one has in general.

# %%
results = {}
for m, (W1s, W2s, hist) in runs.items():
    certs = [certify_network(problem, W1s[k], W2s[k]) for k in range(len(seeds))]
    final = np.array([c.network_objective for c in certs])
    assert np.allclose(final, [network_objective(problem, W1s[k], W2s[k]) for k in range(len(seeds))])
    results[m] = {
        "suboptimality": final - p_star,
        "certified_gap": np.array([c.network_gap for c in certs]),
    }
    r = results[m]
    print(f"m = {m:2d}: objective − p* in [{r['suboptimality'].min():.1e}, {r['suboptimality'].max():.1e}], "
          f"certified gaps in [{r['certified_gap'].min():.1e}, {r['certified_gap'].max():.1e}]")
    # a certificate never claims more than the truth: gap >= objective − p*
    assert np.all(r["certified_gap"] >= r["suboptimality"] - 1e-9)

# the convex network on the same two scales: its true suboptimality (p* is CVXPY's value, so
# this is known only to about Clarabel's accuracy and can even come out below 0) and its
# certified gap
convex_subopt = net_cert.network_objective - p_star
print(f"convex network: objective − p* = {convex_subopt:.1e}, certified gap {optimal_gap:.1e}")
floor = 1e-12  # where values <= 0 are drawn on the log axes (marked as such)

fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
for m, (_, _, hist) in runs.items():
    axes[0].loglog(np.arange(1, hist.shape[0] + 1), np.maximum(hist - p_star, floor), lw=0.8,
                   color="tab:orange" if m == 4 else "tab:blue", alpha=0.6)
axes[0].plot([], [], color="tab:orange", label="Adam, m = 4")
axes[0].plot([], [], color="tab:blue", label="Adam, m = 20")
axes[0].axhline(max(convex_subopt, floor), color="k", ls=":",
                label=f"convex network ({convex_subopt:.0e})")
axes[0].set(xlabel="Adam step", ylabel="true suboptimality  objective − p*",
            title="training curves, 20 seeds per width")
axes[0].legend(fontsize=8)
offsets = np.linspace(-0.15, 0.15, len(seeds))
for panel, key, title, ylabel, convex_value in (
    (axes[1], "suboptimality", "final networks: true suboptimality", "objective − p*", convex_subopt),
    (axes[2], "certified_gap", "final networks: certified gap", "certified gap  P − D (certify_network)",
     optimal_gap),
):
    for i, m in enumerate(results):
        panel.scatter(i + offsets, np.maximum(results[m][key], floor), marker="o", s=18,
                      color="tab:orange" if m == 4 else "tab:blue")
    panel.scatter([2], [max(convex_value, floor)], marker="*", s=120, color="k")
    panel.annotate(f"{convex_value:.1e}" + (" (≤ 0, drawn at 1e-12)" if convex_value <= floor else ""),
                   (2, max(convex_value, floor)), textcoords="offset points", xytext=(-60, 10), fontsize=8)
    panel.set(xticks=[0, 1, 2], xticklabels=["Adam m = 4", "Adam m = 20", "convex"], yscale="log",
              ylabel=ylabel, title=title, xlim=(-0.5, 2.5))
lo = min(a.get_ylim()[0] for a in axes[1:])
hi = max(a.get_ylim()[1] for a in axes[1:])
for a in axes[1:]:
    a.set_ylim(lo, hi)  # the same scale, so the two panels compare at a glance
    a.grid(True, which="major", axis="y", alpha=0.3)
plt.tight_layout()
plt.show()
# the certificate bounds the suboptimality from above for every network, the convex one included
assert optimal_gap >= convex_subopt - 1e-9

# %% [markdown]
# ## Model churn
#
# Even when every wide run reaches nearly the optimal *objective*, the networks differ
# between seeds away from the training points: retraining changes the model ("churn"). The
# convex model has no initialisation — the same data and $\lambda$ give the same solve, and
# its certificate says how close to the global optimum it is. Below: the predictions of the
# 20 wide networks and of the convex network along the diagonal $x_1 = x_2$, and the spread
# (standard deviation over seeds) of the predictions over the square.

# %%
grid = np.stack(np.meshgrid(np.linspace(-1, 1, 61), np.linspace(-1, 1, 61)), -1).reshape(-1, 2)
W1s, W2s, _ = runs[20]
G_tilde = np.hstack([grid, np.ones((len(grid), 1))])
seed_preds = (np.maximum(G_tilde @ W1s, 0) @ W2s)[..., 0]  # (seeds, points)
spread = seed_preds.std(axis=0)
convex_again = network_from_solution(cleanup_solution(solve_exact(problem), 1e-4))
assert np.array_equal(convex_again.predict(grid), net.predict(grid))  # re-solving: no churn

diag = np.linspace(-1, 1, 101)
D = np.column_stack([diag, diag])
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for k in range(len(seeds)):
    axes[0].plot(diag, (np.maximum(np.hstack([D, np.ones((101, 1))]) @ W1s[k], 0) @ W2s[k])[:, 0],
                 color="tab:blue", alpha=0.35, lw=0.8)
convex_label = ("convex (certified global optimum)" if net_claim.level == "global_optimum"
                else f"convex (certified within {100 * net_cert.network_relative_gap:.2g} % of optimal)")
axes[0].plot(diag, net.predict(D)[:, 0], "k", lw=2, label=convex_label)
axes[0].plot([], [], color="tab:blue", label="Adam, 20 seeds (m = 20)")
axes[0].set(xlabel="t  (input x = (t, t))", ylabel="prediction")
axes[0].legend(fontsize=8)
im = axes[1].imshow(spread.reshape(61, 61), origin="lower", extent=(-1, 1, -1, 1), cmap="viridis")
axes[1].scatter(X[:, 0], X[:, 1], c="w", edgecolor="k", s=25)
fig.colorbar(im, ax=axes[1], label="std of predictions over seeds")
axes[1].set(title="churn of non-convex training (m = 20)", xlabel="$x_1$", ylabel="$x_2$")
plt.show()
print(f"mean spread over the square: {spread.mean():.3f} (convex model: 0 — it is deterministic)")

# %% [markdown]
# ## Keeping the result
#
# A certified model is worth keeping: `convex_relu.persistence` writes a solution (with its
# problem, patterns and certificate) or a network to a single `.npz` file with JSON metadata —
# never pickle — and reading it back reproduces predictions and certificates bit for bit.

# %%
import os
import tempfile

from convex_relu.persistence import load, save

with tempfile.TemporaryDirectory() as tmp:
    path = save(clean, os.path.join(tmp, "certified.npz"))
    loaded = load(path, expected_kind="solution")
assert np.array_equal(network_from_solution(loaded).predict(grid), net.predict(grid))
assert certify(loaded.problem, loaded.weights).to_dict() == certify(problem, clean.weights).to_dict()
print(f"round trip exact; notebook ran in {time.perf_counter() - notebook_start:.1f} s")
