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


# ------------------------------------------------------------------ pipelines (format 2)


def _pipeline_data(n=40, d=3, seed=11):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.array([1.0, 30.0, 0.01])[:d] + 5.0
    y = np.sin(X[:, 0]) + 0.02 * X[:, 1] + 0.1 * rng.standard_normal(n)
    return X, y, rng.standard_normal((15, d)) * 2 + 5.0


@pytest.fixture(scope="module")
def fitted_pipelines():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from convex_relu.estimators import ConvexReLUClassifier, ConvexReLURegressor

    X, y, Xnew = _pipeline_data()
    reg = make_pipeline(StandardScaler(), ConvexReLURegressor("gated_relu", lam=1e-2, n_gates=15))
    labels = np.array(["low", "high"])[(y > np.median(y)).astype(int)]
    clf = make_pipeline(StandardScaler(), ConvexReLUClassifier("gated_relu", lam=1e-2, n_gates=15))
    return X, y, labels, Xnew, reg.fit(X, y), clf.fit(X, labels)


def test_pipeline_round_trip_predicts_exactly(tmp_path, fitted_pipelines):
    """The reloaded Pipeline predicts bit for bit what the fitted one predicts."""
    from sklearn.pipeline import Pipeline

    X, y, labels, Xnew, reg, clf = fitted_pipelines
    for name, pipe in (("reg", reg), ("clf", clf)):
        path = save(pipe, tmp_path / f"{name}.npz")
        assert read_metadata(path)["kind"] == "pipeline"
        back = load(path, expected_kind="pipeline")
        assert isinstance(back, Pipeline) and back is not pipe
        assert [n for n, _ in back.steps] == [n for n, _ in pipe.steps]
        for Z in (X, Xnew):
            assert np.array_equal(back.predict(Z), pipe.predict(Z))
        assert back.score(X, y if name == "reg" else labels) == pipe.score(X, y if name == "reg" else labels)
    for method in ("decision_function", "predict_proba"):
        if hasattr(clf, method):
            assert np.array_equal(getattr(load(tmp_path / "clf.npz"), method)(Xnew),
                                  getattr(clf, method)(Xnew))
    # the scaler's statistics come back exactly (they are the mean and std of X: recompute)
    scaler = load(tmp_path / "reg.npz").steps[0][1]
    assert np.array_equal(scaler.mean_, X.mean(axis=0)) or np.allclose(scaler.mean_, X.mean(axis=0))
    assert np.array_equal(scaler.scale_, reg.steps[0][1].scale_)


def test_column_transformer_pipeline_round_trip(tmp_path):
    """Slices, dtypes and nested estimators of a ColumnTransformer survive the round trip."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from convex_relu.estimators import ConvexReLURegressor

    rng = np.random.default_rng(2)
    X = np.column_stack([rng.standard_normal((50, 2)), rng.integers(0, 3, 50)]).astype(float)
    X[3, 0] = np.nan
    y = X[:, 1] + (X[:, 2] == 1) + 0.1 * rng.standard_normal(50)
    pre = ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()), [0, 1]),
                             ("cat", OneHotEncoder(handle_unknown="ignore", dtype=np.float32), [2])])
    pipe = make_pipeline(pre, ConvexReLURegressor("gated_relu", lam=1e-2, n_gates=10)).fit(X, y)
    back = load(save(pipe, tmp_path / "ct.npz"))
    Xnew = X[::-1].copy()
    Xnew[0, 2] = 7  # a category never seen: ignored by both
    assert np.array_equal(back.predict(Xnew), pipe.predict(Xnew))
    assert back.steps[0][1].transformers_[1][1].dtype is np.float32


def test_estimators_omit_training_data_by_default(tmp_path, fitted_pipelines):
    """No training row is in the file, yet the model predicts and keeps its certificate numbers."""
    X, y, _, Xnew, reg, _ = fitted_pipelines
    est = reg.steps[-1][1]
    path = save(reg, tmp_path / "nodata.npz")
    meta = read_metadata(path)
    assert meta["training_data"] is False
    # every stored number, searched for the training values (X after scaling, and y)
    Xs = reg.steps[0][1].transform(X)
    with np.load(path, allow_pickle=False) as npz:
        stored = np.concatenate([npz[k].ravel().astype(float) for k in npz.files
                                 if not k.startswith("__") and npz[k].dtype.kind == "f"])
    assert not np.isin(y, stored).any()
    assert not np.isin(Xs, stored).any() and not np.isin(X, stored).any()
    back = load(path).steps[-1][1]
    assert back.problem_ is None and back.solution_ is None and back.patterns_ is None
    assert np.array_equal(back.network_.predict(Xs), est.network_.predict(Xs))
    for name in ("gap_", "relative_gap_", "objective_", "converged_", "n_neurons_"):
        assert getattr(back, name) == getattr(est, name)
    c0, c1 = est.certificate_, back.certificate_
    assert (c1.primal, c1.dual, c1.gap, c1.relative_gap) == (c0.primal, c0.dual, c0.gap, c0.relative_gap)
    assert c1.dual_point is None
    # the claim proven at save time is kept in the metadata
    (where, stored_claim), = meta["claims"].items()
    assert "steps[1]" in where and stored_claim["sentence"] == est.claim_.sentence


def test_training_data_on_request_reproduces_the_certificate(tmp_path, fitted_pipelines):
    X, y, _, _, reg, _ = fitted_pipelines
    est = reg.steps[-1][1]
    path = save(est, tmp_path / "withdata.npz", include_data=True)
    assert read_metadata(path)["training_data"] is True
    back = load(path, expected_kind="estimator")
    assert np.array_equal(back.problem_.X, est.problem_.X) and np.array_equal(back.problem_.Y, est.problem_.Y)
    again = certify(back.problem_, back.weights_)  # recomputed from the stored data
    assert again.gap == est.certificate_.gap and again.dual == est.certificate_.dual
    assert back.claim_.sentence == est.claim_.sentence


def test_include_data_is_validated(tmp_path):
    sol = _gated_solution()
    with pytest.raises(ValueError, match="include_data=False"):
        save(sol, tmp_path / "s.npz", include_data=False)
    with pytest.raises(TypeError, match="include_data"):
        save(sol, tmp_path / "s.npz", include_data="no")
    assert not (tmp_path / "s.npz").exists()
    net = network_from_weights(sol.problem, sol.weights)
    save(net, tmp_path / "n.npz", include_data=False)  # a network holds no data: fine


def _tree_nodes(node):
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _with_first_step(members, step_node):
    meta = _meta(members)
    steps = meta["tree"]["params"]["steps"]
    steps[0]["__tuple__"][1] = step_node
    return meta


def test_loading_never_executes_code_from_a_crafted_file(tmp_path, fitted_pipelines, monkeypatch):
    """A file naming os.system, an unknown module or an untrusted class is refused unbuilt."""
    import sys

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    # a module that records its import: it must never be imported
    (tmp_path / "evil_payload_mod.py").write_text(
        "import os\nos.environ['EVIL_PAYLOAD_RAN'] = '1'\nclass Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("EVIL_PAYLOAD_RAN", raising=False)

    _, _, _, _, reg, _ = fitted_pipelines
    members = _members(save(reg, tmp_path / "good.npz"))
    crafted = [
        {"__sklearn__": "os.system", "params": {"command": "echo pwned"}, "state": {}},
        {"__sklearn__": "evil_payload_mod.Thing", "params": {}, "state": {}},
        {"__sklearn__": "sklearn.preprocessing._function_transformer.FunctionTransformer",
         "params": {"func": "os.system"}, "state": {}},
        {"__type__": "system", "fields": {}},
        {"__type__": "os.system", "fields": {}},
        {"__reduce__": ["os.system", ["echo pwned"]]},
    ]
    for node in crafted:
        path = _repack(tmp_path, members, _with_first_step(members, node))
        with pytest.raises(PersistenceError, match="bad.npz"):
            load(path)
    assert calls == [] and "EVIL_PAYLOAD_RAN" not in os.environ
    assert "evil_payload_mod" not in sys.modules
    # untrusted types are listed without being resolved
    path = _repack(tmp_path, members, _with_first_step(members, crafted[1]))
    from convex_relu.persistence import get_untrusted_types, trusted_types

    assert get_untrusted_types(path) == ["evil_payload_mod.Thing"]
    assert "evil_payload_mod" not in sys.modules
    assert any(name.endswith("StandardScaler") for name in trusted_types())


def test_untrusted_sklearn_type_loads_only_when_trusted(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from convex_relu.persistence import get_untrusted_types

    X, y, Xnew = _pipeline_data()
    pipe = make_pipeline(FunctionTransformer(), StandardScaler()).fit(X, y)  # identity function
    path = save(pipe, tmp_path / "ft.npz")
    name = f"{FunctionTransformer.__module__}.FunctionTransformer"
    assert get_untrusted_types(path) == [name]
    with pytest.raises(PersistenceError, match="not trusted.*FunctionTransformer"):
        load(path)
    for trusted in ([FunctionTransformer], [name], ["sklearn.preprocessing.FunctionTransformer"]):
        back = load(path, trusted=trusted)
        assert np.array_equal(back.transform(Xnew), pipe.transform(Xnew))
    with pytest.raises(TypeError, match="trusted"):
        load(path, trusted="sklearn.preprocessing.FunctionTransformer")
    with pytest.raises(TypeError, match="not a scikit-learn estimator"):
        load(path, trusted=[os.system])
    with pytest.raises(TypeError, match="not a scikit-learn estimator"):
        load(path, trusted=["os.path.join"])


def test_functions_and_unsupported_state_are_refused_at_save(tmp_path):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    X, y, _ = _pipeline_data()
    with pytest.raises(PersistenceError, match="func"):
        save(make_pipeline(FunctionTransformer(np.log1p)).fit(X, y), tmp_path / "f.npz")
    with pytest.raises(PersistenceError, match="cannot save"):
        save(make_pipeline(RandomForestRegressor(n_estimators=2)).fit(X, y), tmp_path / "rf.npz")
    assert os.listdir(tmp_path) == []


def test_corrupted_pipeline_files_fail_cleanly(tmp_path, fitted_pipelines):
    _, _, _, Xnew, reg, _ = fitted_pipelines
    good = save(reg, tmp_path / "pipe.npz")
    data = open(good, "rb").read()
    n_detected = 0
    for pos in range(0, len(data), max(1, len(data) // 60)):
        bad = bytearray(data)
        bad[pos] ^= 0xA5
        path = _write(tmp_path, bytes(bad), "corrupt.npz")
        try:
            back = load(path)
        except PersistenceError as exc:
            assert "corrupt.npz" in str(exc)
            n_detected += 1
            continue
        assert np.array_equal(back.predict(Xnew), reg.predict(Xnew))  # a harmless byte
    assert n_detected > 0
    with pytest.raises(PersistenceError, match="corrupt.npz"):
        load(_write(tmp_path, data[: len(data) // 2], "corrupt.npz"))


def test_deeply_nested_metadata_fails_cleanly(tmp_path, saved):
    path, _ = saved
    members = _members(path)
    meta_bytes = b'{"format": "convex_relu", "format_version": 2, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    members["__meta__"] = np.frombuffer(meta_bytes, np.uint8)
    members["__meta_sha256__"] = np.frombuffer(hashlib.sha256(meta_bytes).digest(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **members)
    with pytest.raises(PersistenceError, match="bad.npz"):
        load(_write(tmp_path, buf.getvalue()))


def test_format_version_1_files_still_load(tmp_path, saved):
    path, sol = saved
    members = _members(path)
    meta = _meta(members)
    meta["format_version"] = 1
    _assert_same_solution(sol, load(_repack(tmp_path, members, meta)))


def test_cv_estimator_in_a_pipeline_round_trip(tmp_path):
    import convex_relu
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    CV = getattr(convex_relu, "ConvexReLURegressorCV", None)
    if CV is None:
        pytest.skip("no ConvexReLURegressorCV in this version")
    X, y, Xnew = _pipeline_data(n=30)
    pipe = make_pipeline(StandardScaler(), CV(lams=3, cv=2, n_gates=8)).fit(X, y)
    back = load(save(pipe, tmp_path / "cv.npz"), expected_kind="pipeline")
    assert np.array_equal(back.predict(Xnew), pipe.predict(Xnew))
    est, est_back = pipe.steps[-1][1], back.steps[-1][1]
    assert est_back.lam_ == est.lam_ and np.array_equal(est_back.lams_, est.lams_)
    assert np.array_equal(est_back.cv_scores_, est.cv_scores_)


def test_weighted_problem_round_trips_with_its_weights(tmp_path):
    # the reloaded problem must give the same objective as the original, which
    # depends on the weights (an unweighted reload would differ)
    from convex_relu import make_problem
    from convex_relu.persistence import load, save

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((15, 2)), rng.standard_normal(15)
    w = rng.integers(0, 4, 15).astype(float)
    w[0] = 1.0
    prob = make_problem(X, y, formulation="gated_relu", lam=0.05, n_gates=6, sample_weight=w)
    save(prob, tmp_path / "p.npz")
    back = load(tmp_path / "p.npz")
    W = rng.standard_normal(prob.weights_shape)
    assert back.objective(W) == prob.objective(W)
    unweighted = make_problem(X, y, formulation="gated_relu", lam=0.05, patterns=prob.patterns)
    assert unweighted.objective(W) != prob.objective(W)


# ------------------------------------------------------------------ penalties (issue 13)
_PENALTY_CASES = [("neuron_group", None), ("feature_group", None), ("l1", None), ("l2", None),
                  ("group_elastic_net", {"alpha": 0.3})]


@pytest.mark.parametrize("name,params", _PENALTY_CASES)
@pytest.mark.parametrize("formulation", ["gated_relu", "relu"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_problem_and_solution_with_any_penalty_round_trip(tmp_path, name, params, formulation):
    # same penalty (name and parameters) and the SAME certificate after the round trip;
    # a reload that fell back to the default penalty gives another objective (checked below)
    from convex_relu.solvers import solve

    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((14, 3)), rng.standard_normal(14)
    prob = make_problem(X, y, formulation=formulation, lam=0.05, n_gates=5, seed=0,
                        penalty=name, penalty_params=params)
    method = "rfista" if formulation == "gated_relu" else "clarabel"
    if formulation == "relu" and name in ("neuron_group", "l2", "group_elastic_net"):
        method = "al"
    sol = solve(prob, method=method, max_iter=200)
    save(sol, tmp_path / "s.npz")
    back = load(tmp_path / "s.npz")
    assert back.problem.penalty.name == name
    assert back.problem.penalty == prob.penalty
    if params:
        assert back.problem.penalty.alpha == params["alpha"]
    c0, c1 = certify(prob, sol.weights), certify(back.problem, back.weights)
    assert (c1.primal, c1.dual) == (c0.primal, c0.dual)
    W = rng.standard_normal(prob.weights_shape)
    assert back.problem.objective(W) == prob.objective(W)
    if name != "neuron_group":
        default = make_problem(X, y, formulation=formulation, lam=0.05, patterns=prob.patterns)
        assert default.objective(W) != prob.objective(W)


def test_penalty_file_has_no_code_and_unregistered_penalty_is_refused(tmp_path):
    from convex_relu.penalties import L1

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    prob = make_problem(X, y, formulation="gated_relu", lam=0.05, n_gates=4,
                        penalty="group_elastic_net", penalty_params={"alpha": 0.7})
    save(prob, tmp_path / "p.npz")
    text = json.dumps(_meta(_members(tmp_path / "p.npz")))
    assert '"__penalty__": "group_elastic_net"' in text and '"alpha": 0.7' in text

    class Toy(L1):  # a subclass outside the registry: no name to rebuild it by
        name = "toy"

    bad = prob.with_penalty(Toy())
    with pytest.raises(PersistenceError, match="not in convex_relu.penalties.PENALTIES"):
        save(bad, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_tampered_penalty_name_or_params_are_refused(tmp_path):
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    prob = make_problem(X, y, formulation="gated_relu", lam=0.05, n_gates=4,
                        penalty="group_elastic_net", penalty_params={"alpha": 0.7})
    path = tmp_path / "p.npz"
    save(prob, path)
    members = _members(path)
    raw = json.dumps(_meta(members))
    for old, new, msg in [('"__penalty__": "group_elastic_net"', '"__penalty__": "os.system"',
                           "unknown penalty"),
                          ('"alpha": 0.7', '"alpha": 7.0', "alpha")]:
        assert old in raw
        bad = _repack(tmp_path, members, json.loads(raw.replace(old, new)))
        with pytest.raises((PersistenceError, ValueError), match=msg):
            load(bad)


@pytest.mark.parametrize("penalty,params", [("feature_group", None), ("group_elastic_net", {"alpha": 0.4}),
                                            ("l1_instance", None)])
def test_estimator_with_penalty_round_trips(tmp_path, penalty, params):
    from convex_relu import estimators
    from convex_relu.penalties import L1

    est_cls = estimators.ConvexReLURegressor
    import inspect
    if "penalty" not in inspect.signature(est_cls.__init__).parameters:
        pytest.skip("estimators take no penalty= yet")
    pen = L1() if penalty == "l1_instance" else penalty
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((30, 3)), rng.standard_normal(30)
    est = est_cls(penalty=pen, penalty_params=params).fit(X, y)
    save(est, tmp_path / "e.npz")
    back = load(tmp_path / "e.npz")
    assert back.get_params()["penalty"] == pen
    assert back.get_params()["penalty_params"] == params
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
