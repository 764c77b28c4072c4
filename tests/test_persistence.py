"""Saving and loading: exact round trips, and clean failures on bad files.

Exactness is checked by recomputing predictions and certificates from the loaded
objects and comparing them bit for bit (``np.array_equal``, ``==``) with the values
computed from the originals. Failures are provoked by editing the bytes of real
files (flipped bytes, truncation) and by rebuilding archives with altered content;
the expected hashes are recomputed here from the format's description, not by
calling the module's own checksum code.
"""

import hashlib
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from convex_relu import (
    GatedReLUProblem,
    ReLUProblem,
    Solution,
    enumerate_patterns,
    make_problem,
    sample_patterns,
)
from convex_relu.certificates import Certificate, certify
from convex_relu.networks import GatedReLUNetwork, ReLUNetwork, network_from_weights
from convex_relu.persistence import (
    FORMAT_VERSION,
    PersistenceError,
    load,
    read_metadata,
    save,
)


# ------------------------------------------------------------------ fixtures


def _data(n=14, d=2, c=1, seed=0, logistic=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, c))
    if logistic:
        Y = np.where(Y >= 0, 1.0, -1.0)
    return X, (Y[:, 0] if c == 1 else Y)


def _feasible_relu_weights(problem, seed=1):
    """Points of the cones K_i: nonnegative multiples of each pattern's interior gate."""
    rng = np.random.default_rng(seed)
    a = rng.exponential(size=(2, problem.c, 1, problem.p))
    a[rng.random(a.shape) < 0.3] = 0.0
    return a * problem.patterns.gates[None, None]


def _gated_solution(bias=True, c=1, seed=0):
    X, y = _data(c=c, seed=seed)
    problem = GatedReLUProblem(X, y, sample_patterns(X, 20, seed=3, bias=bias), lam=0.05)
    W = np.random.default_rng(seed + 1).standard_normal(problem.weights_shape)
    hist = {
        "iteration": list(range(0, 40, 2)),
        "time": [0.001 * k + 1e-17 for k in range(20)],
        "objective": [1.0 / (k + 3) for k in range(20)],
        "gap": [10.0 ** -k for k in range(20)],
    }
    return Solution(
        problem=problem, weights=W, objective=problem.objective(W), status="max_iter",
        solver="rfista", converged=False, n_iter=40, solve_time=0.123456789, compile_time=0.0,
        certificate=certify(problem, W), history=hist,
        info={"step": 0.3, "restarts": 4, "nested": {"a": [1, 2.5, None], (1, 2): "tuple key"},
              "pair": (1, 2.0), "nan": float("nan"), "inf": float("-inf"), "np": np.float32(0.1)},
    )


def _relu_solution(loss="squared", c=2, bias=False):
    X, y = _data(c=c, seed=5, logistic=loss == "logistic")
    problem = ReLUProblem(X, y, enumerate_patterns(X, bias=bias), lam=0.02, loss=loss)
    W = _feasible_relu_weights(problem)
    duals = np.abs(np.random.default_rng(7).standard_normal((2, problem.n, problem.c, problem.p)))
    return Solution(
        problem=problem, weights=W, objective=problem.objective(W), status="optimal",
        solver="clarabel", converged=True, n_iter=12, solve_time=0.5, compile_time=0.25,
        certificate=certify(problem, W), history=None, duals=duals, info={},
    )


def _assert_same_certificate(a, b):
    assert type(a) is type(b)
    assert a.to_dict() == b.to_dict()
    assert np.array_equal(a.dual_point, b.dual_point)
    assert (a.weights is None) == (b.weights is None)
    if a.weights is not None:
        assert np.array_equal(a.weights, b.weights)


def _assert_same_solution(a, b):
    pa, pb = a.problem, b.problem
    assert type(pa) is type(pb)
    for name in ("lam", "loss", "bias", "formulation", "y_was_1d"):
        assert getattr(pa, name) == getattr(pb, name)
    for name in ("X", "Y", "X_tilde", "masks"):
        assert np.array_equal(getattr(pa, name), getattr(pb, name))
    assert np.array_equal(pa.patterns.masks, pb.patterns.masks)
    assert np.array_equal(pa.patterns.gates, pb.patterns.gates)
    assert (pa.patterns.method, pa.patterns.seed, pa.patterns.bias) == (
        pb.patterns.method, pb.patterns.seed, pb.patterns.bias)
    assert np.array_equal(a.weights, b.weights)
    for name in ("objective", "status", "solver", "converged", "n_iter", "solve_time", "compile_time"):
        assert getattr(a, name) == getattr(b, name)
    assert a.history == b.history
    if a.duals is None:
        assert b.duals is None
    else:
        assert np.array_equal(a.duals, b.duals)
    # what users rely on, recomputed from the loaded object
    assert np.array_equal(a.predict(), b.predict())
    assert pb.objective(b.weights) == pa.objective(a.weights)
    _assert_same_certificate(a.certificate, b.certificate)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("bias,c", [(True, 1), (False, 3)])
def test_gated_solution_round_trip_is_exact(tmp_path, bias, c):
    sol = _gated_solution(bias=bias, c=c)
    path = tmp_path / "sol.npz"
    assert save(sol, path) == str(path)
    back = load(path, expected_kind="solution")
    _assert_same_solution(sol, back)
    # info: numbers, nested containers, tuples, non-string keys, nan/inf all come back
    assert back.info["step"] == 0.3 and back.info["restarts"] == 4
    assert back.info["nested"] == {"a": [1, 2.5, None], (1, 2): "tuple key"}
    assert back.info["pair"] == (1, 2.0)
    assert np.isnan(back.info["nan"]) and back.info["inf"] == -np.inf
    assert back.info["np"] == float(np.float32(0.1))
    # the certificate recomputed from the loaded problem and weights is identical
    _assert_same_certificate(certify(sol.problem, sol.weights), certify(back.problem, back.weights))
    # and so is the network built from it, on new data
    Xnew = np.random.default_rng(9).standard_normal((6, sol.problem.X.shape[1]))
    assert np.array_equal(network_from_weights(sol.problem, sol.weights).predict(Xnew),
                          network_from_weights(back.problem, back.weights).predict(Xnew))


@pytest.mark.parametrize("loss,c,bias", [("squared", 2, False), ("logistic", 1, True)])
def test_relu_solution_round_trip_is_exact(tmp_path, loss, c, bias):
    sol = _relu_solution(loss=loss, c=c, bias=bias)
    path = tmp_path / "relu.npz"
    save(sol, path)
    back = load(path)
    _assert_same_solution(sol, back)
    assert back.problem.patterns.method == "enumerated" and back.problem.patterns.seed is None
    assert back.problem.cone_violation(back.weights) == sol.problem.cone_violation(sol.weights)


def test_exact_solver_solution_round_trip(tmp_path):
    """A real Clarabel solution (its info dict holds solver options, timings, …)."""
    from convex_relu.cvx import solve_exact

    X, y = _data(n=12, seed=11)
    problem = make_problem(X, y, formulation="gated_relu", lam=0.02, bias=True, n_gates=30, seed=1)
    sol = solve_exact(problem)
    save(sol, tmp_path / "exact.npz")
    back = load(tmp_path / "exact.npz")
    _assert_same_solution(sol, back)
    assert back.info == sol.info
    assert back.gap == sol.gap and back.relative_gap == sol.relative_gap


@pytest.mark.parametrize("gated", [False, True])
def test_network_round_trip_predicts_identically(tmp_path, gated):
    sol = _gated_solution(bias=True, c=2) if gated else _relu_solution(c=2, bias=True)
    net = network_from_weights(sol.problem, sol.weights)
    assert isinstance(net, GatedReLUNetwork if gated else ReLUNetwork)
    save(net, tmp_path / "net.npz")
    back = load(tmp_path / "net.npz", expected_kind="network")
    assert type(back) is type(net) and back.bias == net.bias
    assert np.array_equal(back.W1, net.W1) and np.array_equal(back.W2, net.W2)
    Xnew = np.random.default_rng(3).standard_normal((25, net.n_features))
    assert np.array_equal(back.predict(Xnew), net.predict(Xnew))
    X, Y = sol.problem.X, sol.problem.Y
    assert back.objective(X, Y, 0.1) == net.objective(X, Y, 0.1)


def test_certificate_problem_and_patterns_round_trip(tmp_path):
    sol = _gated_solution()
    save(sol.certificate, tmp_path / "cert.npz")
    _assert_same_certificate(sol.certificate, load(tmp_path / "cert.npz", expected_kind="certificate"))

    save(sol.problem, tmp_path / "problem.npz")
    problem = load(tmp_path / "problem.npz", expected_kind="problem")
    assert type(problem) is GatedReLUProblem
    assert np.array_equal(problem.predict(sol.weights), sol.problem.predict(sol.weights))
    assert problem.lam_max() == sol.problem.lam_max()

    save(sol.problem.patterns, tmp_path / "patterns.npz")
    pat = load(tmp_path / "patterns.npz", expected_kind="patterns")
    assert np.array_equal(pat.masks, sol.problem.patterns.masks)
    assert np.array_equal(pat.gates, sol.problem.patterns.gates) and pat.seed == 3


def test_network_certificate_round_trip(tmp_path):
    """The certificate of a (non-convex) network, and its recomputation after loading."""
    from convex_relu.certificates import NetworkCertificate, certify_network

    X, y = _data(n=10, seed=8)
    problem = ReLUProblem(X, y, enumerate_patterns(X, bias=True), lam=0.03)
    rng = np.random.default_rng(1)
    W1, W2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 1))
    cert = certify_network(problem, W1, W2)
    assert isinstance(cert, NetworkCertificate)
    save(cert, tmp_path / "nc.npz")
    back = load(tmp_path / "nc.npz", expected_kind="certificate")
    _assert_same_certificate(cert, back)
    assert np.array_equal(back.neuron_patterns, cert.neuron_patterns)
    save(problem, tmp_path / "p.npz")
    again = certify_network(load(tmp_path / "p.npz"), W1, W2)
    _assert_same_certificate(cert, again)
    assert again.network_gap == cert.network_gap


def test_path_result_round_trip(tmp_path):
    from convex_relu.path import regularization_path

    X, y = _data(n=16, seed=4)
    path = regularization_path(X, y, lams=4, n_gates=12, method="clarabel")
    save(path, tmp_path / "path.npz")
    back = load(tmp_path / "path.npz", expected_kind="path")
    for name in ("lams", "weights", "objectives", "gaps", "n_active", "times", "converged"):
        assert np.array_equal(getattr(back, name), getattr(path, name))
    assert back.status == path.status and back.lam_max == path.lam_max
    Xnew = np.random.default_rng(0).standard_normal((7, 2))
    for i in range(len(path)):
        assert np.array_equal(back.network(i).predict(Xnew), path.network(i).predict(Xnew))


def test_metadata_records_format_versions_and_scaling(tmp_path):
    import convex_relu

    save(_gated_solution(), tmp_path / "s.npz")
    meta = read_metadata(tmp_path / "s.npz")
    assert meta["format"] == "convex_relu"
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["package_version"] == convex_relu.__version__
    assert meta["kind"] == "solution"
    assert "lambda not divided by n" in meta["scaling"] and "n*c" in meta["scaling"]
    # the file itself is an ordinary npz of plain arrays (no pickles) with JSON metadata
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        raw = json.loads(npz["__meta__"].tobytes().decode("utf-8"))
        assert raw["kind"] == "solution"
        assert all(npz[k].dtype != object for k in npz.files)


def test_estimator_round_trip(tmp_path):
    from convex_relu.estimators import ConvexReLUClassifier, ConvexReLURegressor

    X, y = _data(n=30, d=3, seed=2)
    reg = ConvexReLURegressor("gated_relu", lam=1e-2, n_gates=20, solver="clarabel").fit(X, y)
    save(reg, tmp_path / "reg.npz")
    back = load(tmp_path / "reg.npz", expected_kind="estimator")
    Xnew = np.random.default_rng(4).standard_normal((10, 3))
    assert np.array_equal(back.predict(Xnew), reg.predict(Xnew))
    assert back.get_params() == reg.get_params() and back.gap_ == reg.gap_

    labels = np.array(["no", "yes"])[(y > 0).astype(int)]
    clf = ConvexReLUClassifier("gated_relu", lam=1e-2, n_gates=20, solver="clarabel").fit(X, labels)
    save(clf, tmp_path / "clf.npz")
    back = load(tmp_path / "clf.npz")
    assert np.array_equal(back.predict(Xnew), clf.predict(Xnew))
    assert np.array_equal(back.decision_function(Xnew), clf.decision_function(Xnew))


def test_save_is_atomic_and_refuses_unsupported_objects(tmp_path):
    path = tmp_path / "s.npz"
    sol = _gated_solution()
    save(sol, path)
    before = path.read_bytes()
    with pytest.raises(PersistenceError, match="cannot save"):
        save({"not": "supported"}, path)
    bad = _gated_solution()
    bad.history = {"callback": lambda: None}  # not representable: nothing is written
    with pytest.raises(PersistenceError, match="history"):
        save(bad, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["s.npz"]  # no temporary files left behind
    _assert_same_solution(sol, load(path))


# ------------------------------------------------------------------ failures


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A real solution file and the solution it holds."""
    path = tmp_path_factory.mktemp("files") / "good.npz"
    sol = _gated_solution(c=2)
    save(sol, path)
    return path, sol


def _write(tmp_path, data, name="bad.npz"):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_flipped_bytes_in_the_middle_are_detected(tmp_path, saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for k in range(8):
        data[mid + k] ^= 0xFF
    with pytest.raises(PersistenceError, match="bad.npz"):
        load(_write(tmp_path, bytes(data)))


def test_every_single_byte_corruption_fails_cleanly_or_changes_nothing(tmp_path, saved):
    """Flip each byte in turn: the load raises PersistenceError or returns the intact object.

    (Bytes such as zip timestamps carry no data; a flip there is harmless. Nothing else
    may escape: no other exception type, no silently altered values.)
    """
    path, sol = saved
    good = path.read_bytes()
    # every byte of the zip structure of two members (local header, central-directory
    # entry) and of the end record, where damage shows up in the most varied ways,
    # plus a sample of the whole file
    eocd = good.rfind(b"PK\x05\x06")
    structure = set(range(eocd, len(good)))
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        infos = zf.infolist()
    cd = int(np.frombuffer(good[eocd + 16: eocd + 20], "<u4")[0])
    for info in infos[:2]:
        off = info.header_offset
        name_len, extra_len = np.frombuffer(good[off + 26: off + 30], "<u2")
        structure.update(range(off, off + 30 + int(name_len) + int(extra_len)))
        cd_len = 46 + sum(int(v) for v in np.frombuffer(good[cd + 28: cd + 34], "<u2"))
        structure.update(range(cd, cd + cd_len))
        cd += cd_len
    positions = sorted(structure | set(range(0, len(good), 29)))
    n_detected = 0
    for pos in positions:
        data = bytearray(good)
        data[pos] ^= 0x5A
        p = _write(tmp_path, bytes(data))
        try:
            back = load(p)
        except PersistenceError:
            n_detected += 1
            continue
        _assert_same_solution(sol, back)
    assert n_detected > 0.5 * len(positions)


def test_every_flipped_byte_of_a_local_header_is_detected(tmp_path, saved):
    """zipfile trusts the central directory; the loader also checks the local headers.

    A flip anywhere in a member's local header (signature, flags, method, timestamp,
    CRC, sizes, name) must be refused, which the central-directory CRC alone cannot see.
    The header extents come from zipfile's own directory (an independent reading).
    """
    path, _ = saved
    good = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(good)) as zf:
        infos = zf.infolist()
    positions = []
    for info in (infos[0], infos[len(infos) // 2], infos[-1]):
        name_len = len(info.orig_filename.encode())
        positions += [p for p in range(info.header_offset, info.header_offset + 30 + name_len)
                      if p - info.header_offset not in (4, 5)]  # "version needed" is advisory
    for pos in positions:
        data = bytearray(good)
        data[pos] ^= 0x5A
        with pytest.raises(PersistenceError, match="bad.npz"):
            load(_write(tmp_path, bytes(data)))


@pytest.mark.parametrize("keep", [0, 1, 10, 0.25, 0.5, 0.9, -1])
def test_truncated_file_is_refused(tmp_path, saved, keep):
    path, _ = saved
    data = path.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else (len(data) - 1 if keep == -1 else int(keep * len(data)))
    with pytest.raises(PersistenceError, match="not a convex_relu file|corrupted or truncated"):
        load(_write(tmp_path, data[:n]))


def test_wrong_kind_is_refused(tmp_path, saved):
    path, sol = saved
    with pytest.raises(PersistenceError, match="holds a 'solution', not a 'network'"):
        load(path, expected_kind="network")
    save(sol.certificate, tmp_path / "cert.npz")
    with pytest.raises(PersistenceError, match="not a 'solution'"):
        load(tmp_path / "cert.npz", expected_kind="solution")
    assert isinstance(load(tmp_path / "cert.npz", expected_kind=("solution", "certificate")), Certificate)
    with pytest.raises(ValueError, match="expected_kind"):
        load(path, expected_kind="model")


def _members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _repack(tmp_path, members, meta=None, *, fix_meta_digest=True, name="bad.npz"):
    """Write an archive with ``members``; optionally replace the metadata JSON."""
    members = dict(members)
    if meta is not None:
        meta_bytes = json.dumps(meta).encode("utf-8")
        members["__meta__"] = np.frombuffer(meta_bytes, dtype=np.uint8)
        if fix_meta_digest:
            members["__meta_sha256__"] = np.frombuffer(hashlib.sha256(meta_bytes).digest(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **members)
    return _write(tmp_path, buf.getvalue(), name)


def _meta(members):
    return json.loads(members["__meta__"].tobytes().decode("utf-8"))


def _digest(arrays):
    """The documented array checksum: name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(name.encode() + b"\0" + a.dtype.str.encode() + b"\0")
        h.update(repr(tuple(a.shape)).encode() + b"\0" + np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_repacking_unchanged_content_loads(tmp_path, saved):
    """Control for the tampering tests below: the repacking itself is harmless."""
    path, sol = saved
    members = _members(path)
    arrays = {k: v for k, v in members.items() if not k.startswith("__")}
    assert _meta(members)["checksum"]["arrays"] == _digest(arrays)
    _assert_same_solution(sol, load(_repack(tmp_path, members, _meta(members))))


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 0, "1", None])
def test_unknown_format_version_is_refused(tmp_path, saved, version):
    path, _ = saved
    members = _members(path)
    meta = _meta(members)
    meta["format_version"] = version
    with pytest.raises(PersistenceError, match="format_version"):
        load(_repack(tmp_path, members, meta))


def test_metadata_edited_without_its_digest_is_refused(tmp_path, saved):
    path, _ = saved
    members = _members(path)
    meta = _meta(members)
    meta["tree"]["fields"]["problem"]["fields"]["lam"] = 123.0
    with pytest.raises(PersistenceError, match="metadata checksum"):
        load(_repack(tmp_path, members, meta, fix_meta_digest=False))


def test_altered_array_is_refused_even_in_a_valid_zip(tmp_path, saved):
    path, _ = saved
    members = _members(path)
    name = _meta(members)["tree"]["fields"]["weights"]["__array__"]
    members[name] = members[name].copy()
    members[name].flat[0] += 1e-12
    with pytest.raises(PersistenceError, match="array checksum mismatch"):
        load(_repack(tmp_path, members))


def test_missing_extra_and_misshapen_arrays_are_refused(tmp_path, saved):
    path, _ = saved
    members = _members(path)
    meta = _meta(members)
    name = meta["tree"]["fields"]["weights"]["__array__"]

    missing = {k: v for k, v in members.items() if k != name}
    with pytest.raises(PersistenceError, match="missing"):
        load(_repack(tmp_path, missing))

    with pytest.raises(PersistenceError, match="unexpected arrays"):
        load(_repack(tmp_path, {**members, "zz": np.zeros(3)}))

    reshaped = dict(members)
    reshaped[name] = members[name].reshape(-1)
    with pytest.raises(PersistenceError, match="shape"):
        load(_repack(tmp_path, reshaped))


def test_inconsistent_object_is_refused_after_all_checks_pass(tmp_path, saved):
    """Arrays and checksums valid, but the weights do not fit the stored problem."""
    path, _ = saved
    members = _members(path)
    meta = _meta(members)
    name = meta["tree"]["fields"]["weights"]["__array__"]
    arrays = {k: v for k, v in members.items() if not k.startswith("__")}
    arrays[name] = arrays[name][..., :-1]  # one pattern fewer
    meta["arrays"][name]["shape"] = list(arrays[name].shape)
    meta["checksum"]["arrays"] = _digest(arrays)
    with pytest.raises(PersistenceError, match="inconsistent.*weights"):
        load(_repack(tmp_path, {**members, **arrays}, meta))


class _Trap:
    """Unpickling this sets a flag: proof that a pickle was (not) executed."""

    fired = False

    def __reduce__(self):
        return (_trap_fire, ())


def _trap_fire():
    _Trap.fired = True
    return "fired"


def test_pickle_is_never_loaded(tmp_path, saved):
    path, _ = saved
    members = _members(path)
    name = _meta(members)["tree"]["fields"]["weights"]["__array__"]
    obj = np.empty(1, dtype=object)
    obj[0] = _Trap()
    _Trap.fired = False

    # an object array in place of a real one, with otherwise valid metadata
    with pytest.raises(PersistenceError, match="pickled"):
        load(_repack(tmp_path, {**members, name: obj}))
    # an extra object array
    with pytest.raises(PersistenceError, match="pickled"):
        load(_repack(tmp_path, {**members, "evil": obj}))
    # a bare pickle file
    with pytest.raises(PersistenceError, match="not a convex_relu file"):
        load(_write(tmp_path, pickle.dumps(_Trap())))
    assert not _Trap.fired


def test_forged_array_header_is_refused_before_allocating(tmp_path, saved):
    """A header claiming 8 TB of data in a few bytes is rejected from the header alone."""
    path, _ = saved
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr("bomb.npy", hdr.getvalue() + b"\0" * 16)
    with pytest.raises(PersistenceError, match="corrupted.*declares more data"):
        load(_write(tmp_path, buf.getvalue()))


def test_other_files_are_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.npz")
    with pytest.raises(PersistenceError, match="not a convex_relu file"):
        load(_write(tmp_path, b"hello, world\n"))
    np.save(tmp_path / "plain.npy", np.arange(3))
    with pytest.raises(PersistenceError, match="not a convex_relu file"):
        load(tmp_path / "plain.npy")
    np.savez(tmp_path / "plain.npz", x=np.arange(3))
    with pytest.raises(PersistenceError, match="no __meta__"):
        load(tmp_path / "plain.npz")
    # a zip that is not an npz
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "not numpy")
    with pytest.raises(PersistenceError):
        load(_write(tmp_path, buf.getvalue()))
    assert issubclass(PersistenceError, ValueError)
