"""``network.to_torch()``: the exported nn.Module predicts what the network predicts.

Independent computation: the NumPy forward pass of ReLUNetwork / GatedReLUNetwork,
written out again here from W1, W2 and the gates (not through ``predict``), and the
networks of real convex solutions.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from convex_relu import make_problem  # noqa: E402
from convex_relu.networks import GatedReLUNetwork, ReLUNetwork, network_from_solution  # noqa: E402


def _forward(W1, W2, X, bias, gates=None):
    """relu(X̃W1)W2 or 1[X̃G >= 0]∘(X̃W1) W2, by hand."""
    Xt = np.hstack([X, np.ones((len(X), 1))]) if bias else X
    Z = Xt @ W1
    H = np.maximum(Z, 0) if gates is None else (Xt @ gates >= 0) * Z
    return H @ W2


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("c", [1, 3])
def test_relu_and_gated_modules_match_numpy_to_1e10(bias, c):
    rng = np.random.default_rng(7 + c + bias)
    d, m = 4, 9
    W1 = rng.standard_normal((d + bias, m))
    W2 = rng.standard_normal((m, c))
    G = rng.standard_normal((d + bias, m))
    X = 3 * rng.standard_normal((50, d))
    for net, gates in ((ReLUNetwork(W1, W2, bias=bias), None),
                       (GatedReLUNetwork(W1, W2, bias=bias, gates=G), G)):
        module = net.to_torch()
        assert isinstance(module, torch.nn.Module)
        assert module.W1.dtype == torch.float64
        with torch.no_grad():
            out = module(torch.from_numpy(X)).numpy()
        expected = _forward(W1, W2, X, bias, gates)
        assert out.shape == (50, c)
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-10 * max(1, np.abs(expected).max()))
        np.testing.assert_allclose(out, net.predict(X), rtol=0, atol=1e-10)


def test_gates_matter_and_are_buffers_not_parameters():
    rng = np.random.default_rng(0)
    W1, W2, G = rng.standard_normal((3, 5)), rng.standard_normal((5, 1)), rng.standard_normal((3, 5))
    gated = GatedReLUNetwork(W1, W2, bias=True, gates=G).to_torch()
    plain = ReLUNetwork(W1, W2, bias=True).to_torch()
    X = torch.from_numpy(rng.standard_normal((40, 2)))
    with torch.no_grad():
        assert not torch.allclose(gated(X), plain(X))  # the gates change the function
    names = {n for n, _ in gated.named_parameters()}
    assert names == {"W1", "W2"}
    assert "gates" in dict(gated.named_buffers())
    assert plain.gates is None


def test_convex_solutions_export_exactly():
    """Networks from real solutions (ReLU with enumerated patterns, gated with sampled gates)."""
    from convex_relu.solvers import solve

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((25, 2)), rng.standard_normal(25)
    Xnew = rng.standard_normal((30, 2))
    for formulation, kw in (("relu", {}), ("gated_relu", {"n_gates": 20})):
        problem = make_problem(X, y, formulation=formulation, lam=0.05, bias=True, **kw)
        net = network_from_solution(solve(problem, "clarabel"))
        with torch.no_grad():
            for Z in (X, Xnew):
                out = net.to_torch()(torch.from_numpy(Z)).numpy()
                np.testing.assert_allclose(out, net.predict(Z), rtol=0, atol=1e-10)


def test_dtype_option_and_copies():
    rng = np.random.default_rng(1)
    net = ReLUNetwork(rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), bias=True)
    X = rng.standard_normal((10, 2))
    for dtype in (torch.float32, "float32", np.float32):
        m32 = net.to_torch(dtype=dtype)
        assert m32.W1.dtype == torch.float32
        with torch.no_grad():
            out = m32(torch.from_numpy(X).float())
        assert out.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), net.predict(X), rtol=1e-5, atol=1e-5)
    module = net.to_torch()
    with torch.no_grad():
        module.W1.mul_(0)  # training the module leaves the network alone
    assert np.any(net.W1 != 0)
    for bad in (torch.int64, "int32", "bogus", torch.complex128, 3):
        with pytest.raises(ValueError, match="dtype"):
            net.to_torch(dtype=bad)
    with pytest.raises(ValueError, match="shape"):
        net.to_torch()(torch.zeros(4, 5, dtype=torch.float64))


def test_gradients_flow_for_fine_tuning():
    """The module is trainable: autograd's gradient equals the closed-form one."""
    rng = np.random.default_rng(2)
    W1, W2 = rng.standard_normal((3, 4)), rng.standard_normal((4, 1))
    X, y = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))
    module = ReLUNetwork(W1, W2, bias=True).to_torch()
    loss = 0.5 * ((module(torch.from_numpy(X)) - torch.from_numpy(y)) ** 2).sum()
    loss.backward()
    Xt = np.hstack([X, np.ones((12, 1))])
    H = np.maximum(Xt @ W1, 0)
    R = H @ W2 - y
    np.testing.assert_allclose(module.W2.grad.numpy(), H.T @ R, atol=1e-12)
    np.testing.assert_allclose(module.W1.grad.numpy(), Xt.T @ ((R @ W2.T) * (Xt @ W1 > 0)), atol=1e-12)


def test_missing_torch_names_pip_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    net = ReLUNetwork(np.ones((2, 1)), np.ones((1, 1)))
    with pytest.raises(ImportError, match="pip install torch"):
        net.to_torch()
