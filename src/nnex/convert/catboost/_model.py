"""A CatBoost model read from its JSON export (``save_model(format="json")``).

CatBoost evaluates oblivious trees over binary features: ``x > border`` for a float
feature, ``hash(x) == value`` for a one-hot categorical feature, ``ctr > border`` for a
CTR (a statistic of the target per value of one categorical feature or of a combination
of them). Each tree's leaf index is sum(bit_d << d) over its splits; the prediction is
``scale * sum(leaf values) + bias``.

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
    cat_hashes: dict[int, dict[str, int]] = field(default_factory=dict)  # cat feature -> value -> hash


def read_model(model) -> Model:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.json")
        model.save_model(path, format="json")
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
    for t in doc["oblivious_trees"]:
        idx = []
        for s in t["splits"]:
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
    scale, bias = doc.get("scale_and_bias", [1.0, [0.0]])
    dim = dim or len(bias) or 1
    bias = np.asarray(bias if isinstance(bias, list) else [bias], dtype=np.float64)
    if bias.size == 1 and dim > 1:
        bias = np.repeat(bias, dim)
    loss = doc["model_info"].get("params", {}).get("loss_function", {}).get("type", "RMSE")
    return Model(floats, cats, n_flat, splits, ctrs, doc.get("ctr_data", {}), trees, dim, float(scale), bias, loss)


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


def read_cat_hashes(model, sample, cat_columns: list) -> dict[int, dict[str, int]]:
    """cat feature index -> {value string: CatBoost's hash} for the values in ``sample``,
    from CatBoost's own Python export of the model with ``sample`` as its pool."""
    from catboost import CatBoostError, Pool

    try:
        pool = Pool(sample, cat_features=cat_columns)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.py")
            model.save_model(path, format="python", pool=pool)
            with open(path) as fh:
                text = fh.read()
    except CatBoostError as e:
        raise ConversionError(f"CatBoost: could not read the hashes of the sample's category values ({e})") from None
    m = re.search(r"^cat_features_hashes = (\{.*?^\})", text, re.DOTALL | re.MULTILINE)
    if not m:
        raise ConversionError("CatBoost: its Python export gave no categorical value hashes")
    table = ast.literal_eval(m.group(1))
    # the export keys values by their string; which feature a value belongs to does not
    # matter to the hash, so every categorical feature shares the table
    return {i: dict(table) for i in range(len(cat_columns))}


def check_coverage(model: Model) -> None:
    """Refuse a sample that lacks category values the model has seen, where the model shows
    it: one-hot values and the tables of single-feature CTRs."""
    for c in model.cat_features:
        i = int(c["feature_index"])
        have = {signed32(h) for h in model.cat_hashes.get(i, {}).values()}
        missing = [v for v in c.get("values", []) if signed32(v) not in have]
        if missing:
            raise _lacking(c, len(missing))
    for ctr in model.ctrs:
        p = ctr.projection
        if len(p.cats) != 1 or p.binary:
            continue
        i = p.cats[0]
        have = {calc_hash(0, h) for h in model.cat_hashes.get(i, {}).values()}
        keys = table_keys(model.ctr_data[ctr.key])
        missing = [k for k in keys if k not in have]
        if missing:
            raise _lacking(model.cat_features[i], len(missing))


def _lacking(c: dict, n: int) -> ConversionError:
    return ConversionError(
        f"CatBoost: the sample lacks {n} value(s) of categorical feature {c.get('feature_id') or c['feature_index']!r} "
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
