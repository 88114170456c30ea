"""A CatBoost model read from its JSON export (``save_model(format="json")``).

CatBoost evaluates oblivious trees over binary features: ``x > border`` for a float
feature, ``hash(x) == value`` for a one-hot categorical feature, ``ctr > border`` for a
CTR (a statistic of the target per value of one categorical feature or of a combination
of them). Each tree's leaf index is sum(bit_d << d) over its splits; the prediction is
``scale * sum(leaf values) + bias``. Models grown with ``grow_policy`` Depthwise or
Lossguide have non-symmetric trees instead (``trees`` in the export), read as ordinary
binary trees over the same split bits.

Categorical values are hashed (CityHash) and the model keeps hashes only, no hash
function: which string has which hash comes from CatBoost's own Python export of the
model applied to the sample (the values present in the sample are the ones the ONNX
model knows). A CTR's projection hash chains the categorical hashes and the binary
elements with CatBoost's CalcHash; its table maps the projection hash to counts, from
which the CTR (and so each split's bit) is computed at conversion time.
"""

from __future__ import annotations

import ast
import json
import os
import re
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .. import ConversionError
from ..sklearn._forest import Tree

MAGIC = 0x4906BA494954CB65
MASK = (1 << 64) - 1
EMPTY_SLOT = MASK  # CatBoost's hash tables mark free slots with ~0
UNKNOWN_HASH = 0x7FFFFFFF  # what CatBoost's own Python export gives a value it does not know


def calc_hash(a: int, b: int) -> int:
    """CatBoost's CalcHash on unsigned 64-bit integers."""
    return (MAGIC * ((a + MAGIC * (b & MASK)) & MASK)) & MASK


def signed32(v: int) -> int:
    v = int(v) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def signed64(v: int) -> int:
    v = int(v) & MASK
    return v - (1 << 64) if v >= 1 << 63 else v


@dataclass
class Split:
    kind: str  # "float", "onehot", "ctr"
    feature: int = -1  # float feature index / cat feature index
    border: float = 0.0
    value: int = 0  # one-hot hash (signed 32-bit)
    ctr: int = -1  # index into Model.ctrs


@dataclass
class Projection:
    cats: list[int]  # cat feature indexes hashed first, in order
    binary: list[Split]  # then these bits (float > border, or one-hot equality)


@dataclass
class Ctr:
    projection: Projection
    key: str  # ctr_data key
    ctr_type: str
    prior_num: float
    prior_denom: float
    shift: float
    scale: float
    target_border_idx: int
    borders: list[float]


@dataclass
class Model:
    float_features: list[dict]  # features_info["float_features"]
    cat_features: list[dict]
    n_flat: int
    splits: list[Split]  # in split_index order
    ctrs: list[Ctr]
    ctr_data: dict
    trees: list[tuple[list[int], np.ndarray]]  # (split indexes by depth, leaf values (2**depth, dim))
    dim: int
    scale: float
    bias: np.ndarray
    loss: str
    free_trees: list[Tree] = field(default_factory=list)  # non-symmetric trees, split indexes as features
    cat_hashes: dict[int, dict[str, int]] = field(default_factory=dict)  # cat feature -> value -> hash


def read_model(model) -> Model:
    from catboost import CatBoostError

    for kind in ("text", "embedding"):
        getter = getattr(model, f"get_{kind}_feature_indices", None)
        if getter is not None and list(getter()):
            # CatBoost cannot export such models to JSON, and their tokenizers, dictionaries and
            # feature estimators (BoW, NaiveBayes, BM25, LDA, KNN) have no ONNX form here
            raise ConversionError(f"CatBoost: {kind} features are not supported (features {list(getter())})")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        try:
            model.save_model(path, format="json")
        except CatBoostError as e:
            raise ConversionError(f"CatBoost: the model cannot be exported to JSON, which nnex reads ({e})") from None
        with open(path) as fh:
            doc = json.load(fh)
    info = doc["features_info"]
    if info.get("text_features") or info.get("embedding_features") or doc.get("embedding_features"):
        raise ConversionError("CatBoost: text and embedding features are not supported")
    floats = info.get("float_features", [])
    cats = info.get("categorical_features", [])
    n_flat = 1 + max([f["flat_feature_index"] for f in floats + cats], default=-1)
    ctrs = [_read_ctr(c) for c in info.get("ctrs", [])]
    described = [(c.key, c.ctr_type, c.prior_num, c.prior_denom, c.shift, c.scale, c.target_border_idx) for c in ctrs]
    if len(set(described)) != len(described):
        # multi-target CTRs: the JSON export keeps one table where the model has one per target
        raise ConversionError("CatBoost: the model has CTRs of several targets (a multi-target loss with "
                              "categorical features); CatBoost's JSON export does not keep them apart")
    splits = _global_splits(floats, cats, ctrs)
    trees = []
    dim = None
    for t in doc.get("oblivious_trees") or []:
        idx = []
        for s in t.get("splits") or []:  # null for a tree of depth 0
            i = int(s["split_index"])
            if not 0 <= i < len(splits) or not _matches(splits[i], s):
                raise ConversionError(f"CatBoost: split {s} does not match the model's features (split_index {i})")
            idx.append(i)
        values = np.asarray(t["leaf_values"], dtype=np.float64)
        n_leaves = 1 << len(idx)
        d = len(values) // n_leaves
        if dim is None:
            dim = d
        elif d != dim:
            raise ConversionError("CatBoost: trees of different output dimensions")
        trees.append((idx, values.reshape(n_leaves, d)))
    free_trees = [_read_free_tree(t, splits) for t in doc.get("trees") or []]
    for t in free_trees:
        if dim is None:
            dim = t.values.shape[1]
        elif t.values.shape[1] != dim:
            raise ConversionError("CatBoost: trees of different output dimensions")
    scale, bias = doc.get("scale_and_bias", [1.0, [0.0]])
    dim = dim or len(bias) or 1
    bias = np.asarray(bias if isinstance(bias, list) else [bias], dtype=np.float64)
    if bias.size == 1 and dim > 1:
        bias = np.repeat(bias, dim)
    loss = doc["model_info"].get("params", {}).get("loss_function", {}).get("type", "RMSE")
    return Model(floats, cats, n_flat, splits, ctrs, doc.get("ctr_data", {}), trees, dim, float(scale), bias, loss,
                 free_trees=free_trees)


def _read_free_tree(root: dict, splits: list[Split]) -> Tree:
    """A non-symmetric tree (``grow_policy`` Depthwise or Lossguide): nested nodes whose
    ``right`` child is taken when the split's bit is 1. Its ``feature`` is the global split
    index, read from a matrix of split bits, and its threshold 0.5."""
    nodes, left, right = [], [], []
    stack = [(root, -1, False)]
    while stack:
        node, parent, is_right = stack.pop()
        i = len(nodes)
        nodes.append(node)
        left.append(-1)
        right.append(-1)
        if parent >= 0:
            (right if is_right else left)[parent] = i
        if "split" in node:
            stack += [(node["right"], i, True), (node["left"], i, False)]
    n = len(nodes)
    feature = np.full(n, -2, np.int64)
    values = []
    for i, node in enumerate(nodes):
        if "split" in node:
            s = node["split"]
            j = int(s["split_index"])
            if not 0 <= j < len(splits) or not _matches(splits[j], s):
                raise ConversionError(f"CatBoost: split {s} does not match the model's features (split_index {j})")
            feature[i] = j
        values.append(np.atleast_1d(np.asarray(node.get("value", 0.0), dtype=np.float64)))
    table = np.zeros((n, max(len(v) for v in values)))
    for i, v in enumerate(values):
        if left[i] < 0:
            table[i] = v
    return Tree(np.asarray(left), np.asarray(right), feature, np.full(n, 0.5), table)


def _read_ctr(c: dict) -> Ctr:
    cats, binary = [], []
    for e in c["elements"]:
        kind = e["combination_element"]
        if kind == "cat_feature_value":
            cats.append(int(e["cat_feature_index"]))
        elif kind == "float_feature":
            binary.append(Split("float", int(e["float_feature_index"]), border=float(e["border"])))
        elif kind == "cat_feature_exact_value":
            binary.append(Split("onehot", int(e["cat_feature_index"]), value=signed32(e["value"])))
        else:
            raise ConversionError(f"CatBoost: CTR element {kind!r} is not supported")
    return Ctr(Projection(cats, binary), c["identifier"], c["ctr_type"], float(c["prior_numerator"]),
               float(c["prior_denomerator"]), float(c["shift"]), float(c["scale"]), int(c.get("target_border_idx", 0)),
               [float(b) for b in c["borders"]])


def _global_splits(floats, cats, ctrs) -> list[Split]:
    """Every binary feature in CatBoost's order: float borders, one-hot values, CTR borders."""
    out = []
    for f in floats:
        out += [Split("float", int(f["feature_index"]), border=float(b)) for b in f.get("borders", [])]
    for c in cats:
        out += [Split("onehot", int(c["feature_index"]), value=signed32(v)) for v in c.get("values", [])]
    for i, c in enumerate(ctrs):
        out += [Split("ctr", border=b, ctr=i) for b in c.borders]
    return out


def _matches(split: Split, s: dict) -> bool:
    kind = s["split_type"]
    if kind == "FloatFeature":
        return split.kind == "float" and split.feature == int(s["float_feature_index"]) and \
            np.float32(split.border) == np.float32(s["border"])
    if kind == "OneHotFeature":
        return split.kind == "onehot" and split.feature == int(s["cat_feature_index"]) and \
            split.value == signed32(s["value"])
    if kind == "OnlineCtr":
        return split.kind == "ctr" and np.float32(split.border) == np.float32(s["border"])
    raise ConversionError(f"CatBoost: split type {kind!r} is not supported")


# ------------------------------------------------------------------ category hashes


def read_cat_hashes(model, sample, cat_columns: list, symmetric: bool = True) -> dict[int, dict[str, int]]:
    """cat feature index -> {value string: CatBoost's hash} for the values in ``sample``,
    from CatBoost's own Python export of the model with ``sample`` as its pool (of a
    stand-in model for a model with non-symmetric trees, which CatBoost cannot export so)."""
    from catboost import CatBoostError, Pool

    try:
        if symmetric:
            text = _python_export(model, Pool(sample, cat_features=cat_columns))
        else:
            text = _python_export(*_stand_in(sample, cat_columns))
    except CatBoostError as e:
        raise ConversionError(f"CatBoost: could not read the hashes of the sample's category values ({e})") from None
    m = re.search(r"^cat_features_hashes = (\{.*?^\})", text, re.DOTALL | re.MULTILINE)
    if not m:
        raise ConversionError("CatBoost: its Python export gave no categorical value hashes")
    table = {_utf8(k): v for k, v in ast.literal_eval(m.group(1)).items()}
    # the export keys values by their string; which feature a value belongs to does not
    # matter to the hash, so every categorical feature shares the table
    return {i: dict(table) for i in range(len(cat_columns))}


def _python_export(model, pool) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.py")
        model.save_model(path, format="python", pool=pool)
        with open(path) as fh:
            return fh.read()


def _stand_in(sample, cat_columns: list):
    """(model, pool): a one-tree model fitted on the sample, with its category columns.
    The hashes (of the values as CatBoost reads each column) do not depend on the model,
    and the export with this pool lists every value of the sample."""
    import pandas as pd
    from catboost import CatBoostRegressor, Pool

    frame = pd.concat([sample, sample], ignore_index=True)
    frame["__nnex_row__"] = np.arange(len(frame), dtype=np.float64)  # a feature that is not constant
    pool = Pool(frame, label=np.arange(len(frame), dtype=np.float64), cat_features=list(cat_columns))
    model = CatBoostRegressor(iterations=1, depth=1, verbose=0, thread_count=1, allow_writing_files=False)
    return model.fit(pool), pool


def _utf8(key: str) -> str:
    """CatBoost's Python export writes a value's UTF-8 bytes as \\x escapes, which Python
    reads as Latin-1 characters: undo that."""
    try:
        return key.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return key


def check_coverage(model: Model) -> None:
    """Refuse a sample that lacks category values the model has seen, where the model shows
    it: one-hot values and the keys of the CTR tables (a combination's key chains the hashes
    of its values and bits, so every chain the sample's values can make is tried, up to
    ``_MAX_CHAINS`` of them)."""
    for c in model.cat_features:
        i = int(c["feature_index"])
        have = {signed32(h) for h in model.cat_hashes.get(i, {}).values()}
        missing = [v for v in c.get("values", []) if signed32(v) not in have]
        if missing:
            raise _lacking([c], len(missing))
    for ctr in model.ctrs:
        have = _projection_keys(model, ctr.projection)
        if have is None:
            continue
        missing = [k for k in table_keys(model.ctr_data[ctr.key]) if k not in have]
        if missing:
            raise _lacking([model.cat_features[i] for i in ctr.projection.cats], len(missing))


_MAX_CHAINS = 1 << 21


def _projection_keys(model: Model, p: Projection) -> set[int] | None:
    """Every projection hash the sample's category values (and any bits) can give; None
    when there are too many to list."""
    parts = [np.asarray([signed32(h) & MASK for h in model.cat_hashes.get(i, {}).values()], dtype=np.uint64)
             for i in p.cats]
    parts += [np.asarray([0, 1], dtype=np.uint64)] * len(p.binary)
    if int(np.prod([len(v) for v in parts], dtype=np.float64)) > _MAX_CHAINS:
        return None
    magic = np.uint64(MAGIC)
    h = np.zeros(1, dtype=np.uint64)
    with np.errstate(over="ignore"):  # CalcHash wraps around in unsigned 64 bits
        for v in parts:
            h = ((h[:, None] + v[None, :] * magic) * magic).ravel()
    return {int(k) for k in h}


def _lacking(features: list[dict], n: int) -> ConversionError:
    names = ", ".join(repr(c.get("feature_id") or c["feature_index"]) for c in features)
    return ConversionError(
        f"CatBoost: the sample lacks {n} value(s) (or combination(s) of values) of categorical feature(s) {names} "
        f"seen in training; CatBoost keeps only hashes of the values, so pass a sample holding every category "
        f"value (the training data) to convert the model")


def table_keys(data: dict) -> list[int]:
    stride = int(data["hash_stride"])
    hm = data["hash_map"]
    return [int(hm[j]) for j in range(0, len(hm), stride) if int(hm[j]) != EMPTY_SLOT]


def ctr_table(model: Model, ctr: Ctr) -> tuple[list[int], np.ndarray, float]:
    """(projection hashes, their CTR values, the value for an unseen projection), computed
    as CatBoost computes them (float arithmetic)."""
    data = model.ctr_data[ctr.key]
    stride = int(data["hash_stride"])
    hm = data["hash_map"]
    keys, values = [], []
    for j in range(0, len(hm), stride):
        h = int(hm[j])
        if h == EMPTY_SLOT:
            continue
        stats = [float(v) for v in hm[j + 1:j + stride]]
        keys.append(h)
        values.append(_ctr_value(ctr, stats, float(data.get("counter_denominator", 0))))
    return keys, np.asarray(values, dtype=np.float32), _calc(ctr, 0.0, 0.0)


def _calc(ctr: Ctr, good: float, total: float) -> np.float32:
    f = np.float32
    v = (f(good) + f(ctr.prior_num)) / (f(total) + f(ctr.prior_denom))
    return (f(v) + f(ctr.shift)) * f(ctr.scale)


def _ctr_value(ctr: Ctr, stats: list[float], denominator: float) -> np.float32:
    kind = ctr.ctr_type
    if kind in ("BinarizedTargetMeanValue", "FloatTargetMeanValue"):
        return _calc(ctr, stats[0], stats[1])
    if kind in ("Counter", "FeatureFreq"):
        return _calc(ctr, stats[0], denominator)
    if kind == "Buckets":
        return _calc(ctr, stats[ctr.target_border_idx], sum(stats))
    if kind == "Borders":
        if len(stats) > 2:
            total = sum(stats[:ctr.target_border_idx + 1])
            good = sum(stats[ctr.target_border_idx + 1:])
            return _calc(ctr, good, total + good)
        return _calc(ctr, stats[1], stats[0] + stats[1])
    raise ConversionError(f"CatBoost: CTR type {kind!r} is not supported")
