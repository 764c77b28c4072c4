"""Save and load solutions, networks, certificates, problems, estimators and whole
scikit-learn Pipelines — without pickle.

Why our own format and not ``skops.io``
---------------------------------------
``skops.io`` (0.16, the scikit-learn ecosystem's safe format) installs with our numpy
and scikit-learn and round-trips ``Pipeline(StandardScaler(), ConvexReLURegressor())``
exactly once our seven classes are passed as ``trusted``. We extend our format instead:

- *Safety.* skops rebuilds a trusted type with ``cls.__new__`` and its
  ``__setstate__`` and can also load functions and methods once they are trusted; its
  documented workflow trusts ``get_untrusted_types()`` wholesale. Here no node of the
  format can produce a callable at all, every object is rebuilt by its constructor
  with data arguments (our classes re-check their consistency there: patterns against
  data, weight shapes against the problem), and fitted state is written into the
  instance dictionary. Our classes are always trusted; scikit-learn types only from
  an explicit list (:func:`trusted_types`: the Pipeline containers and the usual
  preprocessing and linear steps) plus what the caller passes as ``trusted=``.
- *Integrity.* Our files carry SHA-256 digests of the metadata and of every array and
  are validated whole before anything is built; skops checks only the zip CRCs.
- *Exactness and versions.* Both restore arrays and floats bit for bit; ours stores
  each class by its constructor fields under a ``format_version``, not by its
  ``__dict__`` layout, and keeps the scaling convention in the metadata.
- *No new dependency* (skops brings prettytable and wcwidth).

The cost: a scikit-learn step whose fitted state is not plain data (a Cython tree, a
function, a random generator) cannot be saved here; :func:`save` refuses it with an
error naming the attribute (use skops or joblib for such models, knowing what
loading them trusts).

File format (``format_version`` 2; version-1 files are read too)
----------------------------------------------------------------
One ``.npz`` archive (a zip of ``.npy`` arrays, written by :func:`numpy.savez_compressed`)
holding

- ``__meta__``: a ``uint8`` array, the UTF-8 bytes of a JSON document::

      {"format": "convex_relu", "format_version": 2,
       "package_version": "0.1.0", "numpy_version": "...",
       "scaling": "loss/(n*c), lambda not divided by n ...",
       "kind": "solution",                      # what the file holds
       "training_data": true, "claims": {...},  # estimators: see "Training data"
       "arrays": {"a0": {"dtype": "<f8", "shape": [12, 2]}, ...},
       "checksum": {"algorithm": "sha256", "arrays": "<hex>"},
       "tree": {...}}                           # the object, as JSON

- ``__meta_sha256__``: a ``uint8`` array, the SHA-256 digest of the ``__meta__`` bytes;
- the arrays ``a0, a1, …`` referenced from ``tree`` as ``{"__array__": "a0"}``.

Arrays hold booleans, numbers or fixed-width strings; arrays of Python strings
(scikit-learn's ``feature_names_in_``) are kept in the JSON. ``tree`` describes the
object with a closed set of node types (JSON scalars,
lists, dicts, tuples, slices, numpy dtypes and scalars, arrays, a whitelist of this
package's classes, such as ``{"__type__": "Solution", "fields": {...}}``, and
scikit-learn estimators ``{"__sklearn__": "sklearn.pipeline.Pipeline", "params": {...},
"state": {...}}``); nothing is imported or called by name beyond the trusted types, and
arrays are read with ``allow_pickle=False``. Floats in the
JSON are written with Python's shortest round-trip ``repr``, so every scalar and every
array comes back bit for bit: predictions and certificates recomputed from a loaded
object equal the original ones exactly.

Training data
-------------
Estimators and Pipelines are saved *without* their training data unless
``save(..., include_data=True)``: problems, solutions and training activation masks
inside them become ``None`` and certificates lose their per-row dual point. The file
then holds the model and the certificate's numbers; the metadata records
``"training_data"`` and, under ``"claims"``, each estimator's claim as proven at save
time (:func:`read_metadata`).

Integrity
---------
:func:`load` validates the whole file before it builds anything: the zip structure
and each member's CRC, the metadata digest, the format name and version, the kind
(``expected_kind=``), that exactly the listed arrays are present with their dtypes and
shapes, that none is an object (pickled) array, and a SHA-256 over all arrays (name,
dtype, shape and bytes, in name order). Only then are objects constructed, and their
own constructors re-check consistency (patterns against the data, weight shapes
against the problem). Any failure raises :class:`PersistenceError` (a ``ValueError``)
naming the file and the problem; nothing partially loaded is ever returned.

:func:`save` writes to a temporary file in the target directory and renames it over
the target (``os.replace``), so an interrupted save never leaves a truncated file
under the final name. The path is used exactly as given (no ``.npz`` is appended).
Before any work it refuses, naming the user's path: a folder that does not exist
(``FileNotFoundError``), a path that is a folder (``IsADirectoryError``), and an
existing file that is read-only (no write permission bit) or a folder it may not
write into (``PermissionError``); a refused target is left untouched. A new file
gets the mode ``0o666 & ~umask`` (like ``open(path, "w")``), a replaced file keeps
its mode.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import math
import os
import stat
import struct
import tempfile
import warnings
import zipfile

import numpy as np

__all__ = ["save", "load", "read_metadata", "trusted_types", "get_untrusted_types",
           "PersistenceError", "FORMAT_NAME", "FORMAT_VERSION", "SCALING_CONVENTION", "KINDS"]

FORMAT_NAME = "convex_relu"
#: Written by this version. 2 added scikit-learn estimators (``__sklearn__`` nodes),
#: slices, dtypes and numpy scalars, and estimator files without training data.
FORMAT_VERSION = 3
#: 3 added penalties (``{"__penalty__": name, "params": {...}}`` nodes and a problem's
#: ``penalty`` field); a version-2 reader would silently ignore a problem's penalty, hence
#: the new number. Versions this version reads (each older one lacks only the new nodes).
READABLE_VERSIONS = (1, 2, 3)
SCALING_CONVENTION = (
    "loss/(n*c), lambda not divided by n: squared loss ||Yhat - Y||_F^2 / (2 n c), logistic "
    "loss (1/(n c)) sum log(1 + exp(-y yhat)); regulariser lambda * sum of group norms; "
    "weights (c, d~, p) for C-GReLU and (2, c, d~, p) (v, w) for C-ReLU; bias is the last "
    "column of X~ = [X, 1]"
)

_META = "__meta__"
_META_DIGEST = "__meta_sha256__"
_RESERVED = (_META, _META_DIGEST)
# Array dtypes a file may contain: booleans, numbers and fixed-width strings. Objects
# (pickles), structured and datetime arrays are refused.
_ALLOWED_DTYPE_KINDS = "biufcUS"


class PersistenceError(ValueError):
    """A file could not be saved or loaded; the message names the file and the cause."""


# --------------------------------------------------------------------------------------
# the whitelist of classes
# --------------------------------------------------------------------------------------

# type name in the file -> (module, class name, kind when it is the top-level object)
_CLASSES = {
    "Patterns": ("convex_relu.patterns", "Patterns", "patterns"),
    "GatedReLUProblem": ("convex_relu.problems", "GatedReLUProblem", "problem"),
    "ReLUProblem": ("convex_relu.problems", "ReLUProblem", "problem"),
    "Solution": ("convex_relu.solution", "Solution", "solution"),
    "Certificate": ("convex_relu.certificates", "Certificate", "certificate"),
    "NetworkCertificate": ("convex_relu.certificates", "NetworkCertificate", "certificate"),
    "ReLUNetwork": ("convex_relu.networks", "ReLUNetwork", "relu_network"),
    "GatedReLUNetwork": ("convex_relu.networks", "GatedReLUNetwork", "gated_relu_network"),
    "PathResult": ("convex_relu.path", "PathResult", "path"),
    "ConvexReLURegressor": ("convex_relu.estimators", "ConvexReLURegressor", "estimator"),
    "ConvexReLUClassifier": ("convex_relu.estimators", "ConvexReLUClassifier", "estimator"),
    # the cross-validated estimators (saved like the others: parameters + fitted state)
    "ConvexReLURegressorCV": ("convex_relu.model_selection", "ConvexReLURegressorCV", "estimator"),
    "ConvexReLUClassifierCV": ("convex_relu.model_selection", "ConvexReLUClassifierCV", "estimator"),
}
_PROBLEM_TYPES = ("GatedReLUProblem", "ReLUProblem")
_ESTIMATOR_TYPES = ("ConvexReLURegressor", "ConvexReLUClassifier", "ConvexReLURegressorCV",
                    "ConvexReLUClassifierCV")

# Without training data (``include_data=False``, the default inside estimators), objects
# of these types are stored as ``None``: a problem holds X and y, a solution its problem
# and per-row cone duals, patterns the n×p training activation masks. Fields named here
# are dropped (``None``) from the objects kept: the certificate's dual point is one value
# per training row (y − prediction, scaled), and a path keeps its problem.
_DATA_TYPES = _PROBLEM_TYPES + ("Solution", "Patterns")
_DATA_FIELDS = {
    "Certificate": ("dual_point",),
    "NetworkCertificate": ("dual_point",),
    "PathResult": ("problem",),
}

#: The kinds a file can hold. ``expected_kind="network"`` accepts either network kind;
#: ``"pipeline"`` is a scikit-learn Pipeline, ``"estimator"`` any other estimator (ours
#: or a trusted scikit-learn one).
KINDS = tuple(sorted({v[2] for v in _CLASSES.values()} | {"pipeline"}))
_KIND_ALIASES = {"network": ("relu_network", "gated_relu_network")}


# --------------------------------------------------------------------------------------
# trusted scikit-learn types
# --------------------------------------------------------------------------------------

# (public module, class) of the scikit-learn types :func:`load` rebuilds without being
# told: containers and the usual preprocessing and linear steps. Each is rebuilt as
# ``cls(**params)`` followed by an update of its ``__dict__`` with the fitted state; by
# scikit-learn's own convention ``__init__`` only stores its arguments, so nothing runs.
_SKLEARN_TRUSTED = (
    ("sklearn.pipeline", "Pipeline"),
    ("sklearn.pipeline", "FeatureUnion"),
    ("sklearn.compose", "ColumnTransformer"),
    ("sklearn.compose", "TransformedTargetRegressor"),
    ("sklearn.preprocessing", "StandardScaler"),
    ("sklearn.preprocessing", "MinMaxScaler"),
    ("sklearn.preprocessing", "MaxAbsScaler"),
    ("sklearn.preprocessing", "RobustScaler"),
    ("sklearn.preprocessing", "Normalizer"),
    ("sklearn.preprocessing", "PolynomialFeatures"),
    ("sklearn.preprocessing", "OneHotEncoder"),
    ("sklearn.preprocessing", "OrdinalEncoder"),
    ("sklearn.preprocessing", "QuantileTransformer"),
    ("sklearn.preprocessing", "PowerTransformer"),
    ("sklearn.preprocessing", "LabelEncoder"),
    ("sklearn.impute", "SimpleImputer"),
    ("sklearn.impute", "MissingIndicator"),
    ("sklearn.decomposition", "PCA"),
    ("sklearn.decomposition", "TruncatedSVD"),
    ("sklearn.feature_selection", "VarianceThreshold"),
    ("sklearn.linear_model", "LinearRegression"),
    ("sklearn.linear_model", "Ridge"),
    ("sklearn.linear_model", "LogisticRegression"),
)


def _full_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _default_trusted():
    """``{full name: class}`` of the trusted scikit-learn types importable here."""
    import importlib

    out = {}
    for module, name in _SKLEARN_TRUSTED:
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # an older scikit-learn without it
            continue
        out[_full_name(cls)] = cls
    return out


def _is_sklearn_estimator_class(cls):
    try:
        from sklearn.base import BaseEstimator
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        return False
    return isinstance(cls, type) and issubclass(cls, BaseEstimator)


def trusted_types():
    """Full names of the scikit-learn types :func:`load` rebuilds without ``trusted=``.

    This package's own classes are always trusted (they are listed in the file by a
    short name, not a module path). Anything else in a file is refused unless passed
    to ``load(..., trusted=[...])``.
    """
    return sorted(_default_trusted())


def _trusted_registry(trusted):
    """``{full name: class}``: the defaults plus the user's ``trusted`` (validated)."""
    registry = _default_trusted()
    if trusted is None:
        return registry
    if isinstance(trusted, (str, type)) or not isinstance(trusted, (list, tuple, set, frozenset)):
        raise TypeError(
            "trusted must be a list of scikit-learn estimator classes or their full names "
            f"('module.Class'); got {trusted!r}."
        )
    import importlib

    for item in trusted:
        cls = item
        if isinstance(item, str):
            module, _, name = item.rpartition(".")
            if not module or not name:
                raise ValueError(f"trusted: {item!r} is not a full class name 'module.Class'.")
            try:
                cls = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                raise ValueError(f"trusted: cannot find {item!r} ({exc}).") from None
        if not _is_sklearn_estimator_class(cls):
            raise TypeError(
                f"trusted: {item!r} is not a scikit-learn estimator class (a subclass of "
                "sklearn.base.BaseEstimator); only estimators can be rebuilt from a file."
            )
        registry[_full_name(cls)] = cls
        if isinstance(item, str):
            registry[item] = cls  # the name the user wrote, in case it is a public alias
    return registry


def _class(type_name):
    import importlib

    module, name, _ = _CLASSES[type_name]
    return getattr(importlib.import_module(module), name)


def _type_name(obj):
    """The whitelist name of ``obj``'s exact class, or ``None``."""
    cls = type(obj)
    for type_name, (module, name, _) in _CLASSES.items():
        if cls.__name__ == name and cls.__module__ == module:
            return type_name
    return None


# --------------------------------------------------------------------------------------
# encoding: object -> (JSON tree, arrays)
# --------------------------------------------------------------------------------------

# Lists of plain numbers at least this long go into an array (compact; exact via tolist()).
_LIST_ARRAY_MIN = 16


class _Encoder:
    def __init__(self, include_data=True):
        self.include_data = include_data
        self.arrays = {}
        self._ids = {}  # id(ndarray) -> name, so an array shared by two fields is stored once
        self._keep = []  # keep encoded arrays alive so their ids stay unique during the save

    def array(self, arr, where):
        if arr.dtype.kind == "O" and all(isinstance(v, str) for v in arr.flat):
            # e.g. scikit-learn's feature_names_in_: strings kept in JSON, no pickle
            return {"__str_array__": [str(v) for v in arr.flat], "shape": list(arr.shape)}
        if arr.dtype.kind not in _ALLOWED_DTYPE_KINDS:
            raise TypeError(f"{where}: arrays of dtype {arr.dtype} cannot be saved (numbers, "
                            "booleans and strings only).")
        name = self._ids.get(id(arr))
        if name is None:
            name = f"a{len(self.arrays)}"
            self.arrays[name] = arr
            self._ids[id(arr)] = name
            self._keep.append(arr)
        return {"__array__": name}

    def encode(self, obj, where="object", *, lenient=False):
        """JSON node for ``obj``; ``lenient`` stores unsupported values as their repr."""
        try:
            return self._encode(obj, where, lenient)
        except TypeError:
            if not lenient:
                raise
            warnings.warn(
                f"{where} ({type(obj).__name__}) cannot be saved exactly; its repr is stored.",
                UserWarning,
                stacklevel=4,
            )
            return {"__repr__": repr(obj)}

    def _encode(self, obj, where, lenient):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.bool_):
            return bool(obj)
        if isinstance(obj, (int, np.integer)):
            return int(obj)
        if isinstance(obj, (np.floating, np.complexfloating)) and type(obj) is not np.float64:
            # float32 & co. keep their type (a 0-d array): scikit-learn's float32 paths
            # must compute exactly as before
            return {"__scalar__": self.array(np.asarray(obj), where)["__array__"]}
        if isinstance(obj, (float, np.floating)):
            return float(obj)  # float64 repr round-trips exactly
        if isinstance(obj, np.ndarray):
            return self.array(obj, where)
        if isinstance(obj, (list, tuple)):
            node = self._sequence(obj, where, lenient)
            return {"__tuple__": node} if isinstance(obj, tuple) else node
        if isinstance(obj, dict):
            return self._dict(obj, where, lenient)
        if isinstance(obj, slice):  # ColumnTransformer's output_indices_
            return {"__slice__": [self._encode(v, f"{where}.slice", False)
                                  for v in (obj.start, obj.stop, obj.step)]}
        if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
            # e.g. OneHotEncoder(dtype=np.float64): a numpy type, stored by its name
            dt = np.dtype(obj)
            if dt.kind not in _ALLOWED_DTYPE_KINDS:
                raise TypeError(f"{where}: the dtype {dt} cannot be saved.")
            return {"__dtype__": dt.str, "scalar_type": not isinstance(obj, np.dtype)}
        penalty_node = _penalty_node(obj, where)
        if penalty_node is not None:
            return penalty_node
        type_name = _type_name(obj)
        if type_name is None:
            if _is_sklearn_estimator_class(type(obj)):
                return {"__sklearn__": _full_name(type(obj)),
                        **self._estimator_fields(obj, where)}
            raise TypeError(
                f"{where}: objects of type {type(obj).__module__}.{type(obj).__qualname__} "
                "cannot be saved."
            )
        if not self.include_data and type_name in _DATA_TYPES:
            return None  # training data left out on request (see _DATA_TYPES)
        if type_name in _PROBLEM_TYPES:
            return {"__type__": type_name, "fields": self._problem_fields(obj, where)}
        if type_name in _ESTIMATOR_TYPES:
            return {"__type__": type_name, "fields": self._estimator_fields(obj, where)}
        dropped = () if self.include_data else _DATA_FIELDS.get(type_name, ())
        fields = {}
        for f in dataclasses.fields(obj):
            if not f.init:
                continue
            if f.name in dropped:
                fields[f.name] = None
                continue
            value = getattr(obj, f.name)
            # solver-specific extras may hold anything; store what JSON cannot as a repr
            fields[f.name] = self.encode(
                value, f"{where}.{f.name}", lenient=lenient or (type_name == "Solution" and f.name == "info")
            )
        return {"__type__": type_name, "fields": fields}

    def _sequence(self, seq, where, lenient):
        if (
            len(seq) >= _LIST_ARRAY_MIN
            and isinstance(seq, list)
            and (all(type(v) is float for v in seq) or all(type(v) is int for v in seq))
        ):
            arr = np.asarray(seq)
            if arr.dtype.kind in "if":  # ints beyond int64 stay in JSON
                return {"__list_array__": self.array(arr, where)["__array__"]}
        return [self.encode(v, f"{where}[{i}]", lenient=lenient) for i, v in enumerate(seq)]

    def _dict(self, d, where, lenient):
        plain = all(isinstance(k, str) and not k.startswith("__") for k in d)
        if plain:
            return {k: self.encode(v, f"{where}[{k!r}]", lenient=lenient) for k, v in d.items()}
        items = []
        for k, v in d.items():
            items.append([self._encode(k, f"{where} key {k!r}", False),
                          self.encode(v, f"{where}[{k!r}]", lenient=lenient)])
        return {"__dict_items__": items}

    def _problem_fields(self, problem, where):
        Y = problem.Y
        y = Y[:, 0] if getattr(problem, "y_was_1d", False) else Y
        return {
            "X": self.array(problem.X, f"{where}.X"),
            "y": self.array(y, f"{where}.y"),
            "patterns": self.encode(problem.patterns, f"{where}.patterns"),
            "lam": float(problem.lam),
            "loss": problem.loss,
            "bias": bool(problem.bias),
            # the user's sample weights (None when unweighted); older files lack the key
            "sample_weight": None if getattr(problem, "sample_weight", None) is None
            else self.array(problem.sample_weight, f"{where}.sample_weight"),
            # the penalty by name and parameters (rebuilt from the registry on load)
            "penalty": self.encode(getattr(problem, "penalty", None), f"{where}.penalty"),
        }

    def _estimator_fields(self, est, where):
        """``params`` (``get_params(deep=False)``) and ``state`` (the rest of ``__dict__``)."""
        try:
            params = est.get_params(deep=False)
        except Exception as exc:  # a broken get_params: not an estimator we can describe
            raise TypeError(f"{where}: get_params() failed: {exc}") from None
        # everything fit() set: fitted attributes (``name_``) and private state (``_y_1d``)
        state = {k: v for k, v in vars(est).items() if k not in params}
        return {
            "params": self.encode(params, f"{where}.params"),
            "state": self.encode(state, f"{where}.state"),
        }


# --------------------------------------------------------------------------------------
# decoding: (JSON tree, arrays) -> object; called only after the file was validated
# --------------------------------------------------------------------------------------


class _Decoder:
    def __init__(self, arrays, registry=None):
        self.arrays = arrays
        # full name -> class of the scikit-learn types this load may rebuild; nothing
        # outside it (or outside _CLASSES) is ever looked up, imported or called
        self.registry = {} if registry is None else registry

    def array(self, name, where):
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"{where} refers to an array {name!r} that is not in the file")
        return self.arrays[name]

    def decode(self, node, where="object"):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            raise ValueError(f"{where}: unexpected JSON node {type(node).__name__}")
        if "__array__" in node:
            return self.array(node["__array__"], where)
        if "__list_array__" in node:
            return self.array(node["__list_array__"], where).tolist()
        if "__str_array__" in node:
            values = node["__str_array__"]
            if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
                raise ValueError(f"{where}: malformed string array")
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out.reshape(node.get("shape", [len(values)]))
        if "__tuple__" in node:
            return tuple(self.decode(node["__tuple__"], where))
        if "__scalar__" in node:
            value = self.array(node["__scalar__"], where)
            if value.shape != ():
                raise ValueError(f"{where}: a scalar node refers to an array of shape {value.shape}")
            return value[()]
        if "__slice__" in node:
            parts = node["__slice__"]
            if not (isinstance(parts, list) and len(parts) == 3
                    and all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in parts)):
                raise ValueError(f"{where}: malformed slice {parts!r}")
            return slice(*parts)
        if "__dtype__" in node:
            try:
                dt = np.dtype(str(node["__dtype__"]))
            except TypeError as exc:
                raise ValueError(f"{where}: unknown dtype {node['__dtype__']!r}") from exc
            if dt.kind not in _ALLOWED_DTYPE_KINDS:
                raise ValueError(f"{where}: the dtype {dt} is not allowed")
            return dt.type if node.get("scalar_type") else dt
        if "__sklearn__" in node:
            return self._sklearn(node, where)
        if "__penalty__" in node:
            return _penalty_from_node(node, where)
        if "__repr__" in node:
            return {"__repr__": node["__repr__"]}
        if "__dict_items__" in node:
            out = {}
            for item in node["__dict_items__"]:
                if not (isinstance(item, list) and len(item) == 2):
                    raise ValueError(f"{where}: malformed dict item")
                out[self.decode(item[0], where)] = self.decode(item[1], f"{where}[{item[0]!r}]")
            return out
        if "__type__" in node:
            return self._object(node, where)
        if any(k.startswith("__") for k in node):
            raise ValueError(f"{where}: unknown node {sorted(node)}")
        return {k: self.decode(v, f"{where}[{k!r}]") for k, v in node.items()}

    def _object(self, node, where):
        type_name = node["__type__"]
        if type_name not in _CLASSES:
            raise ValueError(f"{where}: type {type_name!r} is not one this package saves")
        fields = node.get("fields")
        if not isinstance(fields, dict):
            raise ValueError(f"{where}: {type_name} has no fields")
        try:
            cls = _class(type_name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"{where}: {type_name} is not available in this version: {exc}") from None
        if type_name in _PROBLEM_TYPES:
            return self._problem(cls, fields, where)
        if type_name in _ESTIMATOR_TYPES:
            return self._estimator(cls, fields, where)
        known = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(fields) - set(known))
        if unknown:
            raise ValueError(f"{where}: {type_name} has fields {unknown} this version does not know")
        missing = [
            name for name, f in known.items()
            if name not in fields
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValueError(f"{where}: {type_name} lacks the required fields {missing}")
        kwargs = {k: self.decode(v, f"{where}.{k}") for k, v in fields.items()}
        if type_name == "Solution":
            self._check_solution(kwargs, where)
        return cls(**kwargs)

    def _problem(self, cls, fields, where):
        need = ("X", "y", "patterns", "lam", "loss", "bias")
        missing = [k for k in need if k not in fields]
        if missing:
            raise ValueError(f"{where}: problem lacks {missing}")
        patterns = self.decode(fields["patterns"], f"{where}.patterns")
        return cls(
            self.decode(fields["X"], f"{where}.X"),
            self.decode(fields["y"], f"{where}.y"),
            patterns,
            fields["lam"],
            loss=fields["loss"],
            bias=fields["bias"],
            sample_weight=self.decode(fields.get("sample_weight"), f"{where}.sample_weight"),
            penalty=_checked_penalty(self.decode(fields.get("penalty"), f"{where}.penalty"),
                                     f"{where}.penalty"),
        )

    def _estimator(self, cls, fields, where):
        params = self.decode(fields.get("params"), f"{where}.params")
        state = self.decode(fields.get("state"), f"{where}.state")
        if not isinstance(params, dict) or not isinstance(state, dict):
            raise ValueError(f"{where}: malformed estimator")
        bad = [k for k in (*params, *state) if not isinstance(k, str) or k.startswith("__")
               or not k.isidentifier()]
        if bad:
            raise ValueError(f"{where}: invalid attribute names {bad!r}")
        est = cls(**params)
        # the instance dictionary directly: no property setter or __setattr__ runs
        vars(est).update(state)
        return est

    def _sklearn(self, node, where):
        name = node["__sklearn__"]
        cls = self.registry.get(name) if isinstance(name, str) else None
        if cls is None:
            raise _Untrusted(name, where)
        return self._estimator(cls, node, where)

    @staticmethod
    def _check_solution(kwargs, where):
        problem, weights = kwargs.get("problem"), kwargs.get("weights")
        if problem is not None and weights is not None:
            shape = tuple(problem.weights_shape)
            if np.shape(weights) != shape:
                raise ValueError(
                    f"{where}: weights have shape {np.shape(weights)} but the stored problem "
                    f"needs {shape}"
                )


class _Untrusted(ValueError):
    """A file names a type outside the trusted list (raised before it is looked up)."""

    def __init__(self, name, where):
        super().__init__(f"{where}: type {name!r} is not trusted")
        self.name = name


def _sklearn_names(node, out=None):
    """Every scikit-learn type name referenced in a metadata tree (nothing is resolved)."""
    out = set() if out is None else out
    stack = [node]
    while stack:  # iterative: a deep crafted tree must not exhaust the recursion limit
        item = stack.pop()
        if isinstance(item, dict):
            name = item.get("__sklearn__")
            if name is not None:
                out.add(str(name))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


# --------------------------------------------------------------------------------------
# checksums
# --------------------------------------------------------------------------------------


def _arrays_digest(arrays):
    """SHA-256 over every array's name, dtype, shape and C-order bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(name.encode("utf-8") + b"\0")
        h.update(a.dtype.str.encode("ascii") + b"\0")
        h.update(repr(tuple(int(s) for s in a.shape)).encode("ascii") + b"\0")
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# --------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------


def _object_kind(obj):
    """The kind of a top-level object, or ``None`` when it cannot be a file's content."""
    type_name = _type_name(obj)
    if type_name is not None:
        return _CLASSES[type_name][2]
    if _is_sklearn_estimator_class(type(obj)):
        from sklearn.pipeline import Pipeline

        return "pipeline" if isinstance(obj, Pipeline) else "estimator"
    return None


def _kind_of(obj):
    kind = _object_kind(obj)
    if kind is None:
        raise PersistenceError(
            f"cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__}; "
            f"supported: {', '.join(sorted(_CLASSES))}, and scikit-learn estimators and "
            "Pipelines (containing these)."
        )
    return kind


def _claims_of(obj, where="object"):
    """``{where: {"level", "sentence"}}`` for each fitted estimator of ours in ``obj``.

    Computed at save time from the estimator's own certificate (``claim_``), so a file
    saved without training data still says what the model was proven to be.
    """
    out = {}
    if _type_name(obj) in _ESTIMATOR_TYPES:
        try:
            c = obj.claim_
        except Exception:  # unfitted, or no certificate: nothing to report
            return out
        out[where] = {"level": str(c.level), "sentence": str(c.sentence)}
        return out
    steps = getattr(obj, "steps", None)
    if _is_sklearn_estimator_class(type(obj)) and isinstance(steps, list):
        for i, step in enumerate(steps):
            if isinstance(step, tuple) and len(step) == 2:
                out.update(_claims_of(step[1], f"{where}.steps[{i}] ({step[0]})"))
    return out


def _check_include_data(include_data, kind):
    """``include_data`` resolved for ``kind``: default False for estimators and pipelines."""
    if include_data is None:
        return kind not in ("estimator", "pipeline")
    if not isinstance(include_data, (bool, np.bool_)):
        raise TypeError(f"include_data must be True, False or None; got {include_data!r}.")
    include_data = bool(include_data)
    if not include_data and kind in ("solution", "problem", "patterns", "path"):
        raise ValueError(
            f"include_data=False cannot be used for a {kind}: its training data (X, y or the "
            "activation masks) is part of what it is; save an estimator or a network instead."
        )
    return include_data


def _check_path(path, name="path"):
    """``os.fspath(path)`` as a ``str``, or an error naming the argument."""
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{name} must be a str or os.PathLike file name; got {path!r} (type {type(path).__name__})."
        )
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError(f"{name} must name a file as str; got {path!r}.")
    if not path:
        raise ValueError(f"{name} is an empty string; expected a file name.")
    return path


def _umask():
    """The process umask, read without changing it where the OS allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    # Fallback: set and restore (not thread safe, hence only where /proc is absent).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _check_target(path):
    """Refuse, before any work, targets that :func:`save` cannot (or must not) write.

    Returns the mode the written file will get: the existing file's, or
    ``0o666 & ~umask`` for a new file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        what = "is not a folder" if os.path.exists(directory) else "does not exist"
        raise FileNotFoundError(f"cannot save to {path}: its folder {directory} {what}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot save to {path}: it is a folder")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot save to {path}: no permission to write in {directory}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    # Checked on the mode bits as well as os.access: os.access is always true for root,
    # and replacing a file its owner made read-only would silently defeat the intent.
    if not (st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) or not os.access(path, os.W_OK):
        raise PermissionError(
            f"cannot save to {path}: the file exists and is read-only (mode "
            f"{stat.filemode(st.st_mode)}); it was left untouched — make it writable or choose "
            "another path"
        )
    return stat.S_IMODE(st.st_mode)


def _check_fitted_estimator(obj):
    if _type_name(obj) in _ESTIMATOR_TYPES and not hasattr(obj, "network_"):
        raise PersistenceError(
            f"cannot save an unfitted {type(obj).__name__}: call fit before save "
            "(there is no network to save)."
        )


# ---------------------------------------------------------------------------
# penalties: stored by registry name and constructor parameters, never as code
# ---------------------------------------------------------------------------


def _penalty_params(pen):
    """The constructor parameters of a penalty (``{"alpha": 0.5}``), read from its attributes."""
    import inspect

    init = type(pen).__init__
    if init is object.__init__:
        return {}
    names = [q.name for q in inspect.signature(init).parameters.values()
             if q.name != "self" and q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY)]
    return {k: getattr(pen, k) for k in names}


def _penalty_node(obj, where):
    """``{"__penalty__": name, "params": {...}}`` for a registered penalty; ``None`` for
    anything that is not a Penalty; TypeError for a penalty outside the registry (its
    code could be rebuilt only by unpickling, which this format never does)."""
    from .penalties import PENALTIES, Penalty

    if not isinstance(obj, Penalty):
        return None
    name = getattr(obj, "name", None)
    if not isinstance(name, str) or PENALTIES.get(name) is not type(obj):
        raise TypeError(
            f"{where}: the penalty {obj!r} ({type(obj).__module__}.{type(obj).__qualname__}) is "
            f"not in convex_relu.penalties.PENALTIES {sorted(PENALTIES)}; only registered "
            "penalties can be saved (by name and parameters)."
        )
    params = _penalty_params(obj)
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, str, np.integer, np.floating)):
            raise TypeError(f"{where}: penalty parameter {k}={v!r} is not a number or string.")
    return {"__penalty__": name,
            "params": {k: (v if isinstance(v, str) else float(v)) for k, v in params.items()}}


def _penalty_from_node(node, where):
    from .penalties import PENALTIES, get_penalty

    name, params = node.get("__penalty__"), node.get("params", {})
    if set(node) - {"__penalty__", "params"}:
        raise ValueError(f"{where}: malformed penalty node {sorted(node)}")
    if not isinstance(name, str) or name not in PENALTIES:
        raise ValueError(f"{where}: unknown penalty {name!r}; this version knows {sorted(PENALTIES)}")
    if not isinstance(params, dict) or not all(
            isinstance(k, str) and k.isidentifier() and not k.startswith("_")
            and not isinstance(v, bool) and isinstance(v, (int, float, str))
            for k, v in params.items()):
        raise ValueError(f"{where}: malformed parameters of penalty {name!r}")
    try:
        return get_penalty(name, **params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _checked_penalty(pen, where):
    from .penalties import Penalty

    if pen is not None and not isinstance(pen, Penalty):
        raise ValueError(f"{where}: expected a penalty node; got {type(pen).__name__}")
    return pen


def save(obj, path, *, include_data=None):
    """Save ``obj`` to ``path`` (an ``.npz`` archive with JSON metadata; no pickle).

    Parameters
    ----------
    obj : Solution, ReLUNetwork, GatedReLUNetwork, Certificate, NetworkCertificate,
        GatedReLUProblem, ReLUProblem, Patterns, PathResult, a fitted
        ConvexReLURegressor / ConvexReLUClassifier (or their CV versions), or a
        scikit-learn Pipeline / estimator (containing these)
        scikit-learn estimators are saved as ``get_params(deep=False)`` plus the rest of
        their ``__dict__`` (the fitted attributes), recursively; one whose state holds
        something else than numbers, strings, arrays, containers, slices, dtypes and
        estimators (a function, a Cython tree, a random generator) is refused with an
        error naming the attribute. Loading needs the type to be trusted (see
        :func:`load`).
        A :class:`~convex_relu.solution.Solution` is saved with its problem (data,
        patterns with masks, gates, bias, method and seed, ``λ``, loss, formulation),
        weights, certificate, status, solver, timings, history and duals. Entries of
        ``Solution.info`` that are not numbers, strings, lists, dicts or arrays are
        stored as their ``repr`` (with a ``UserWarning``); everything else is exact.
    path : str or os.PathLike
        Written atomically (temporary file, then ``os.replace``); used exactly as given.
        A new file gets mode ``0o666 & ~umask``; a replaced file keeps its mode.
    include_data : bool, optional
        Store the training data? Default ``False`` for estimators and pipelines: their
        problems (X, y), solutions and training activation masks are stored as ``None``
        and the certificate without its per-row dual point, so the file holds the model
        (network, gates, hyper-parameters) and the certificate's numbers (``gap_``,
        ``relative_gap_``, ``objective_``, ``certificate_.primal/dual/gap``) but no row of
        the data. The loaded estimator predicts exactly as the saved one; what needs the
        data (``claim_``, ``problem_``, ``solution_``) is unavailable. ``True`` stores
        everything. Solutions, problems, patterns and paths always include their data
        (``include_data=False`` is refused for them); networks hold none.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    TypeError
        ``path`` is not a str or os.PathLike.
    FileNotFoundError
        The folder of ``path`` does not exist (nothing is written).
    IsADirectoryError
        ``path`` is a folder.
    PermissionError
        ``path`` exists and is read-only, or its folder is not writable; the existing
        file is left untouched.
    PersistenceError
        ``obj`` (or something inside it) cannot be saved, an estimator is unfitted,
        or writing failed otherwise.
    """
    path = _check_path(path)
    kind = _kind_of(obj)
    include_data = _check_include_data(include_data, kind)
    _check_fitted_estimator(obj)
    mode = _check_target(path)
    enc = _Encoder(include_data=include_data)
    try:
        tree = enc.encode(obj)
    except TypeError as exc:
        raise PersistenceError(f"cannot save to {path}: {exc}") from None
    arrays = enc.arrays
    from . import __version__

    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "numpy_version": np.__version__,
        "scaling": SCALING_CONVENTION,
        "kind": kind,
        "type": _type_name(obj) or _full_name(type(obj)),
        "training_data": include_data,
        "claims": _claims_of(obj),
        "arrays": {
            name: {"dtype": a.dtype.str, "shape": [int(s) for s in a.shape]}
            for name, a in arrays.items()
        },
        "checksum": {"algorithm": "sha256", "arrays": _arrays_digest(arrays)},
        "tree": tree,
    }
    meta_bytes = json.dumps(meta, allow_nan=True, ensure_ascii=False, sort_keys=True).encode("utf-8")
    members = dict(arrays)
    members[_META] = np.frombuffer(meta_bytes, dtype=np.uint8)
    members[_META_DIGEST] = np.frombuffer(hashlib.sha256(meta_bytes).digest(), dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".convex_relu-", suffix=".tmp", dir=directory)
    except OSError as exc:
        # the folder vanished or became unwritable after the checks: name the user's path
        raise PersistenceError(f"cannot write {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **members)
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # mkstemp makes 0600; follow the umask instead
            os.fsync(fh.fileno())
        _check_target(path)  # the target may have been made read-only meanwhile
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, (PermissionError, FileNotFoundError,
                                                              IsADirectoryError)):
            raise PersistenceError(f"cannot write {path}: {exc}") from exc
        raise
    return path


# --------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------


class _Archive:
    """A validated view of an ``.npz`` file: member headers are read before any data.

    Every member must be an ``.npy`` file whose header declares a non-object dtype
    (no pickles) and no more data than the member holds, so neither a pickle nor a
    forged shape is ever acted on. Data are read only through :meth:`read`.
    """

    def __init__(self, path):
        self.path = path
        if not os.path.exists(path):
            raise FileNotFoundError(f"cannot load {path}: no such file")
        if os.path.isdir(path):
            raise IsADirectoryError(f"cannot load {path}: it is a folder, not a file")
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise PersistenceError(f"cannot read {path}: {exc}") from exc
        if not raw.startswith(b"PK\x03\x04"):
            raise PersistenceError(f"{path} is not a convex_relu file (not an .npz/zip archive).")
        self.headers = {}
        self.members = {}
        with self.guard():
            self.zf = zipfile.ZipFile(io.BytesIO(raw))
            for info in self.zf.infolist():
                self._check_local_header(raw, info)
                if not info.filename.endswith(".npy"):
                    raise PersistenceError(
                        f"{path} is not a convex_relu file, or is damaged (unexpected member "
                        f"{info.filename!r})."
                    )
                key = info.filename[: -len(".npy")]
                with self.zf.open(info) as fp:
                    version = np.lib.format.read_magic(fp)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
                    else:
                        raise ValueError(f"unsupported .npy format version {version} in {key!r}")
                if dtype.hasobject:
                    raise PersistenceError(
                        f"{path}: array {key!r} holds pickled Python objects; refusing to "
                        "load it (convex_relu files never contain pickles)."
                    )
                if math.prod(shape) * dtype.itemsize > info.file_size:
                    raise ValueError(f"array {key!r} declares more data than its member holds")
                self.headers[key] = (tuple(shape), dtype)
                self.members[key] = info

    # local file header: signature, version, flags, method, time, date, crc, sizes, name/extra lengths
    _LOCAL = struct.Struct("<4s5H3L2H")

    def _check_local_header(self, raw, info):
        """Each member's local header must repeat its central-directory entry.

        zipfile reads sizes, method and CRC from the central directory only, so a
        damaged local header (its date, CRC or method field) would otherwise go
        unnoticed; a file written by :func:`save` always has identical copies.
        """
        start = info.header_offset
        fields = self._LOCAL.unpack_from(raw, start) if start + self._LOCAL.size <= len(raw) else None
        if fields is None or fields[0] != b"PK\x03\x04":
            raise PersistenceError(f"{self.path} is corrupted: member {info.filename!r} has no local header.")
        _, _, flags, method, mtime, mdate, crc, csize, usize, name_len, extra_len = fields
        if (csize, usize) == (0xFFFFFFFF, 0xFFFFFFFF):  # zip64 (numpy.savez): sizes in the extra field
            extra_start = start + self._LOCAL.size + name_len
            extra = raw[extra_start: extra_start + extra_len]
            pos = 0
            while pos + 4 <= len(extra):
                tag, size = struct.unpack_from("<2H", extra, pos)
                if tag == 0x0001 and size >= 16:
                    usize, csize = struct.unpack_from("<2Q", extra, pos + 4)
                    break
                pos += 4 + size
        y, mo, d, h, mi, sec = info.date_time
        expected_time = (h << 11) | (mi << 5) | (sec // 2)
        expected_date = ((y - 1980) << 9) | (mo << 5) | d
        same = (flags == info.flag_bits and method == info.compress_type
                and (mtime, mdate) == (expected_time, expected_date)
                and name_len == len(info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437")))
        if not flags & 0x08:  # without a data descriptor the local header holds CRC and sizes
            same = same and (crc, csize, usize) == (info.CRC, info.compress_size, info.file_size)
        name = raw[start + self._LOCAL.size: start + self._LOCAL.size + name_len]
        if not same or name != info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437"):
            raise PersistenceError(
                f"{self.path} is corrupted: the local header of member {info.filename!r} disagrees "
                "with the zip directory."
            )

    @contextlib.contextmanager
    def guard(self):
        """Turn any failure to read the archive into one PersistenceError."""
        try:
            yield
        except (PersistenceError, FileNotFoundError):
            raise
        except Exception as exc:
            # zipfile, zlib and numpy's header parser signal damage in many ways
            # (BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError for a
            # garbled compression method or flag, …): all mean the archive is unreadable.
            raise PersistenceError(
                f"{self.path} is corrupted or truncated (cannot read the archive: "
                f"{type(exc).__name__}: {exc})."
            ) from None

    def read(self, key):
        with self.guard(), self.zf.open(self.members[key]) as fp:
            arr = np.lib.format.read_array(fp, allow_pickle=False)
        if (arr.shape, arr.dtype) != self.headers[key]:
            raise PersistenceError(f"{self.path} is corrupted: array {key!r} changed while reading.")
        return arr


def _parse_meta(path, archive):
    headers = archive.headers
    if _META not in headers or _META_DIGEST not in headers:
        raise PersistenceError(
            f"{path} is not a convex_relu file, or is damaged (no {_META} metadata)."
        )
    for key in _RESERVED:
        shape, dtype = headers[key]
        if dtype != np.uint8 or len(shape) != 1:
            raise PersistenceError(f"{path}: malformed metadata entry {key!r}.")
    meta_bytes = archive.read(_META).tobytes()
    digest = archive.read(_META_DIGEST).tobytes()
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PersistenceError(f"{path}: the metadata is not valid JSON ({exc}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise PersistenceError(
            f"{path} is not a convex_relu file (format {meta.get('format') if isinstance(meta, dict) else None!r})."
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise PersistenceError(
            f"{path} has format_version {version!r}; this convex_relu "
            f"(package {_package_version()}) reads format_version "
            f"{' and '.join(map(str, READABLE_VERSIONS))} only"
            + (" — the file was written by a newer version; upgrade convex_relu."
               if isinstance(version, int) and version > FORMAT_VERSION else ".")
        )
    if hashlib.sha256(meta_bytes).digest() != digest:
        raise PersistenceError(f"{path}: metadata checksum mismatch (the metadata was altered or corrupted).")
    for key in ("kind", "arrays", "checksum", "tree"):
        if key not in meta:
            raise PersistenceError(f"{path}: the metadata lacks {key!r}.")
    return meta


def _package_version():
    from . import __version__

    return __version__


def _check_expected_kind(expected_kind):
    """Validate ``expected_kind`` before the file is read."""
    if expected_kind is None:
        return
    known = KINDS + tuple(_KIND_ALIASES)
    wanted = (expected_kind,) if isinstance(expected_kind, str) else expected_kind
    if not isinstance(wanted, (tuple, list)) or not wanted or not all(isinstance(w, str) for w in wanted):
        raise TypeError(
            f"expected_kind must be None, a str or a tuple of str from {known}; got {expected_kind!r}."
        )
    for w in wanted:
        if w not in known:
            raise ValueError(f"expected_kind must be one of {known} (or a tuple of them); got {w!r}.")


def _check_kind(path, meta, expected_kind):
    if expected_kind is None:
        return
    wanted = (expected_kind,) if isinstance(expected_kind, str) else tuple(expected_kind)
    allowed = []
    for w in wanted:
        if w not in KINDS and w not in _KIND_ALIASES:
            raise ValueError(
                f"expected_kind must be one of {KINDS + tuple(_KIND_ALIASES)} (or a tuple of them); "
                f"got {w!r}."
            )
        allowed.extend(_KIND_ALIASES.get(w, (w,)))
    if meta["kind"] not in allowed:
        raise PersistenceError(
            f"{path} holds a {meta['kind']!r}, not a {' or '.join(map(repr, wanted))}."
        )


def _check_arrays(path, meta, archive):
    """Compare the members with the metadata's list, then read them and verify the checksum."""
    listed = meta["arrays"]
    if not isinstance(listed, dict):
        raise PersistenceError(f"{path}: malformed array list in the metadata.")
    present = {k: v for k, v in archive.headers.items() if k not in _RESERVED}
    missing = sorted(set(listed) - set(present))
    extra = sorted(set(present) - set(listed))
    if missing:
        raise PersistenceError(f"{path}: arrays {missing} listed in the metadata are missing.")
    if extra:
        raise PersistenceError(f"{path}: unexpected arrays {extra} not listed in the metadata.")
    for name, spec in listed.items():
        shape, dtype = present[name]
        if dtype.kind not in _ALLOWED_DTYPE_KINDS:
            raise PersistenceError(f"{path}: array {name!r} has the unsupported dtype {dtype}.")
        if not isinstance(spec, dict) or dtype.str != spec.get("dtype"):
            raise PersistenceError(
                f"{path}: array {name!r} has dtype {dtype.str}, the metadata says "
                f"{spec.get('dtype') if isinstance(spec, dict) else spec!r}."
            )
        if list(shape) != spec.get("shape"):
            raise PersistenceError(
                f"{path}: array {name!r} has shape {list(shape)}, the metadata says {spec.get('shape')}."
            )
    checksum = meta["checksum"]
    if not isinstance(checksum, dict) or checksum.get("algorithm") != "sha256":
        raise PersistenceError(f"{path}: unsupported checksum {checksum!r}.")
    arrays = {name: archive.read(name) for name in listed}
    if _arrays_digest(arrays) != checksum.get("arrays"):
        raise PersistenceError(
            f"{path}: array checksum mismatch (the data was altered or corrupted)."
        )
    return arrays


def read_metadata(path):
    """The validated metadata of a file (format, versions, scaling, kind, array specs).

    Checks the archive, the metadata digest, the format version, the arrays and their
    checksum, exactly as :func:`load` does, but builds no object.

    Returns
    -------
    dict
        The metadata without the object ``tree``.
    """
    path = _check_path(path)
    archive = _Archive(path)
    meta = _parse_meta(path, archive)
    _check_arrays(path, meta, archive)
    return {k: v for k, v in meta.items() if k != "tree"}


def get_untrusted_types(path, *, trusted=None):
    """The scikit-learn types in the file at ``path`` that :func:`load` would refuse.

    Reads and validates the file like :func:`load` but builds nothing and resolves no
    name. Review the list before passing it as ``load(path, trusted=...)``: a trusted
    type is rebuilt with ``cls(**params)``, so trust only classes whose ``__init__``
    merely stores its arguments (scikit-learn's convention).
    """
    path = _check_path(path)
    archive = _Archive(path)
    meta = _parse_meta(path, archive)
    _check_arrays(path, meta, archive)
    registry = _trusted_registry(trusted)
    return sorted(n for n in _sklearn_names(meta["tree"]) if n not in registry)


def load(path, expected_kind=None, *, trusted=None):
    """Load an object written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
    expected_kind : str or tuple of str, optional
        Refuse files holding anything else: ``"solution"``, ``"relu_network"``,
        ``"gated_relu_network"``, ``"network"`` (either network), ``"certificate"``,
        ``"problem"``, ``"patterns"``, ``"path"``, ``"estimator"``, ``"pipeline"``.
    trusted : list of classes or 'module.Class' names, optional
        scikit-learn estimator classes to rebuild beyond :func:`trusted_types` (the
        Pipeline containers and common preprocessing and linear steps). This package's
        own classes are always trusted. Each must subclass
        ``sklearn.base.BaseEstimator``.

    Safety
    ------
    Loading never executes code from the file: the file is JSON plus numeric arrays
    read with ``allow_pickle=False``; types are looked up only in this package's list
    and in the trusted scikit-learn list (a name outside both, such as ``os.system``,
    is refused before anything is imported or built); objects are rebuilt by their
    constructors with data arguments, and fitted state is written into the instance
    dictionary (no ``__setstate__``, no property setters). No node can produce a
    function or any other callable.

    Returns
    -------
    The saved object, rebuilt from exactly the saved arrays and scalars.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    PersistenceError
        The file is not a convex_relu file, is truncated or corrupted (zip CRC,
        metadata digest or array checksum), has an unsupported ``format_version``,
        holds another kind than ``expected_kind``, has missing, extra or misshapen
        arrays, contains pickled objects, names an untrusted type, or describes an
        inconsistent object. Nothing is returned in any of these cases.
    """
    path = _check_path(path)
    _check_expected_kind(expected_kind)
    registry = _trusted_registry(trusted)
    archive = _Archive(path)
    meta = _parse_meta(path, archive)
    _check_kind(path, meta, expected_kind)
    arrays = _check_arrays(path, meta, archive)
    untrusted = sorted(n for n in _sklearn_names(meta["tree"]) if n not in registry)
    if untrusted:
        raise PersistenceError(
            f"{path} contains types that are not trusted: {untrusted}; nothing was loaded. "
            "If you trust them (their __init__ only stores its arguments), pass "
            f"load(path, trusted={untrusted!r})."
        )
    try:
        obj = _Decoder(arrays, registry).decode(meta["tree"])
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise PersistenceError(f"{path}: the stored object is inconsistent: {exc}") from None
    if _object_kind(obj) != meta["kind"]:
        raise PersistenceError(
            f"{path}: the metadata says {meta['kind']!r} but the file describes a "
            f"{type(obj).__name__}."
        )
    return obj
