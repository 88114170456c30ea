"""ai.onnx.ml kernels checked against onnxruntime on small hand-built one-node models (and
the string ops the text converters emit: com.microsoft Tokenizer and MurmurHash3,
StringNormalizer's case changes).

Each case builds a model with onnx.helper, runs it with onnxruntime, and calls the
registered nnex kernel with the attributes decoded as the runtime decodes them.
Configurations where onnxruntime is known to misbehave or to depart from the spec are
left out: binary PROBIT scores (garbage), two-class tree ensembles with weights on both
classes (labels from class 1's sign alone), binary SVMClassifier in linear mode, and
TreeEnsemble post_transform 1/2 (onnxruntime swaps SOFTMAX and LOGISTIC).
"""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import array_api_compat.numpy as xp  # noqa: E402
from onnx import TensorProto as TP  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402

from nnex.ops.registry import lookup  # noqa: E402
from _random_forests import MODES, class_weights, random_forest, v5_member_forest  # noqa: E402

_NP2ONNX = {np.dtype("float32"): TP.FLOAT, np.dtype("float64"): TP.DOUBLE, np.dtype("int64"): TP.INT64,
            np.dtype("int32"): TP.INT32, np.dtype("uint32"): TP.UINT32, np.dtype("O"): TP.STRING}


def _type(t):
    return t if isinstance(t, onnx.TypeProto) else helper.make_tensor_type_proto(t, None)


def _map_type(key, value):
    return helper.make_map_type_proto(key, helper.make_tensor_type_proto(value, None))


def _decoded(attr: onnx.AttributeProto):
    """An attribute as the runtime hands it to a kernel."""
    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, onnx.TensorProto):
        return numpy_helper.to_array(v)
    if isinstance(v, list) and v and isinstance(v[0], bytes):
        return [s.decode() for s in v]
    return list(v) if isinstance(v, (list, tuple)) or type(v).__name__.startswith("Repeated") else v


def run_both(op, inputs, attrs, out_types, ml=3, in_types=None):
    names = [f"x{i}" for i in range(len(inputs))]
    outs = [f"y{i}" for i in range(len(out_types))]
    node = helper.make_node(op, names, outs, domain="ai.onnx.ml", **attrs)
    in_vi = []
    for i, (n, x) in enumerate(zip(names, inputs)):
        t = in_types[i] if in_types else _NP2ONNX[np.asarray(x).dtype]
        in_vi.append(helper.make_value_info(n, _type(t)))
    graph = helper.make_graph([node], "g", in_vi, [helper.make_value_info(n, _type(t)) for n, t in zip(outs, out_types)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", ml)])
    model.ir_version = 8
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = sess.run(None, dict(zip(names, inputs)))
    kernel = lookup("ai.onnx.ml", op, ml)
    got = kernel.fn(xp, *inputs, **{a.name: _decoded(a) for a in node.attribute})
    got = list(got) if isinstance(got, tuple) else [got]
    return expected, got


def assert_same(expected, got, rtol=1e-4, atol=1e-5):
    assert len(expected) == len(got)
    for e, g in zip(expected, got):
        if isinstance(e, list):  # a sequence of maps (ZipMap)
            assert len(e) == len(g)
            for de, dg in zip(e, g):
                assert list(de) == list(dg)
                np.testing.assert_allclose(list(dg.values()), list(de.values()), rtol=rtol, atol=atol)
            continue
        g = np.asarray(g)
        assert g.shape == e.shape, (g.shape, e.shape)
        if e.dtype == object:
            assert g.tolist() == e.tolist()
        else:
            assert g.dtype == e.dtype, (g.dtype, e.dtype)
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, equal_nan=True)


def check(op, inputs, attrs, out_types, ml=3, in_types=None, rtol=1e-4, atol=1e-5):
    expected, got = run_both(op, inputs, attrs, out_types, ml, in_types)
    assert_same(expected, got, rtol, atol)


X = np.array([[1.0, -2.0, 5.0], [0.0, 3.0, 4.0], [-1.5, 0.25, 0.0]], np.float32)

# --------------------------------------------------------------------------- simple ops

SIMPLE = [
    ("Binarizer", [X], dict(threshold=0.5), [TP.FLOAT], 1),
    ("Normalizer", [X], dict(norm="MAX"), [TP.FLOAT], 1),
    ("Normalizer", [X], dict(norm="L1"), [TP.FLOAT], 1),
    ("Normalizer", [X], dict(norm="L2"), [TP.FLOAT], 1),
    ("Normalizer", [np.array([3, -4], np.int64)], dict(norm="L2"), [TP.FLOAT], 1),
    ("Scaler", [X], dict(offset=[1.0, 2.0, 3.0], scale=[2.0, 0.5, -1.0]), [TP.FLOAT], 1),
    ("Scaler", [X.astype(np.float64)], dict(offset=[1.0], scale=[3.0]), [TP.FLOAT], 1),
    ("Imputer", [np.array([[1, np.nan, 3], [np.nan, 2, 2]], np.float32)],
     dict(imputed_value_floats=[9.0, 8.0, 7.0], replaced_value_float=float("nan")), [TP.FLOAT], 1),
    ("Imputer", [np.array([[1, 0, 3], [0, 2, 2]], np.int64)], dict(imputed_value_int64s=[9], replaced_value_int64=0),
     [TP.INT64], 1),
    ("FeatureVectorizer", [X, np.array([[7.0], [8.0], [9.0]], np.float32)], dict(inputdimensions=[2, 3]), [TP.FLOAT], 1),
    ("FeatureVectorizer", [np.array([1, 2, 3], np.int64)], dict(inputdimensions=[3]), [TP.FLOAT], 1),
    ("ArrayFeatureExtractor", [np.arange(6, dtype=np.float32), np.array([[1, 3]], np.int64)], {}, [TP.FLOAT], 1),
    ("ArrayFeatureExtractor", [np.arange(24, dtype=np.int64).reshape(2, 3, 4), np.array([3, 1], np.int64)], {},
     [TP.INT64], 1),
    ("OneHotEncoder", [np.array([[1, 4], [3, 9]], np.int64)], dict(cats_int64s=[1, 2, 3, 4]), [TP.FLOAT], 1),
    ("OneHotEncoder", [np.array([-1.2, 0.5, -0.5], np.float64)], dict(cats_int64s=[-1, 0]), [TP.FLOAT], 1),
    ("OneHotEncoder", [np.array([["a", "b", "z"]], object)], dict(cats_strings=["b", "a"]), [TP.FLOAT], 1),
    ("CategoryMapper", [np.array([["a", "b", "zz"]], object)],
     dict(cats_strings=["a", "b"], cats_int64s=[5, 6], default_int64=42), [TP.INT64], 1),
    ("CategoryMapper", [np.array([5, 6, 0], np.int64)], dict(cats_strings=["a", "b"], cats_int64s=[5, 6]),
     [TP.STRING], 1),
    ("LabelEncoder", [np.array(["a", "q", "c"], object)], dict(classes_strings=["a", "b", "c"]), [TP.INT64], 1),
    ("LabelEncoder", [np.array([0, 2, 7, -1], np.int64)], dict(classes_strings=["a", "b", "c"], default_string="zz"),
     [TP.STRING], 1),
    ("LabelEncoder", [np.array([1, 2, 3], np.int64)], dict(keys_int64s=[1, 2], values_floats=[0.5, 0.25]),
     [TP.FLOAT], 2),
    ("LabelEncoder", [np.array([1, 2, 3, 2], np.int64)], dict(keys_int64s=[2, 1], values_strings=["x", "y"]),
     [TP.STRING], 2),
    ("LabelEncoder", [np.array([1.5, np.nan, 2.0], np.float32)],
     dict(keys_floats=[1.5, float("nan")], values_int64s=[3, 4]), [TP.INT64], 4),
    ("LabelEncoder", [np.array(["a", "d", "c"], object)],
     dict(keys_tensor=helper.make_tensor("k", TP.STRING, (3,), ["a", "b", "c"]),
          values_tensor=helper.make_tensor("v", TP.INT64, (3,), [7, 8, 9]),
          default_tensor=helper.make_tensor("d", TP.INT64, (1,), [-5])), [TP.INT64], 4),
]


@pytest.mark.parametrize("op, inputs, attrs, outs, ml", SIMPLE, ids=[f"{c[0]}-{i}" for i, c in enumerate(SIMPLE)])
def test_simple(op, inputs, attrs, outs, ml):
    check(op, inputs, attrs, outs, ml)


# --------------------------------------------------------------------------- maps


MAPS = [
    ("CastMap", {3: 1.5, 1: 2.25, 7: -1.0}, dict(), TP.FLOAT, _map_type(TP.INT64, TP.FLOAT)),
    ("CastMap", {3: 1.5, 1: 2.25, 7: -1.0}, dict(cast_to="TO_STRING"), TP.STRING, _map_type(TP.INT64, TP.FLOAT)),
    ("CastMap", {3: 1.5, 1: 2.75, 7: -1.5}, dict(cast_to="TO_INT64", map_form="SPARSE", max_map=9), TP.INT64,
     _map_type(TP.INT64, TP.FLOAT)),
    ("CastMap", {3: 1.5, 1: 2.25}, dict(cast_to="TO_STRING", map_form="SPARSE", max_map=5), TP.STRING,
     _map_type(TP.INT64, TP.FLOAT)),
    ("DictVectorizer", {"a": 4.0, "c": 8.0, "q": 1.0}, dict(string_vocabulary=["a", "c", "b", "z"]), TP.FLOAT,
     _map_type(TP.STRING, TP.FLOAT)),
    ("DictVectorizer", {5: 1.5, 1: 2.5}, dict(int64_vocabulary=[5, 2, 1]), TP.FLOAT, _map_type(TP.INT64, TP.FLOAT)),
]


@pytest.mark.parametrize("op, value, attrs, out, in_type", MAPS, ids=[f"{c[0]}-{i}" for i, c in enumerate(MAPS)])
def test_maps(op, value, attrs, out, in_type):
    check(op, [value], attrs, [out], 1, in_types=[in_type])


@pytest.mark.parametrize("labels", [dict(classlabels_strings=["a", "b", "c"]), dict(classlabels_int64s=[5, 6, 7])])
@pytest.mark.parametrize("x", [X, X[0]])
def test_zipmap(labels, x):
    key = TP.STRING if "classlabels_strings" in labels else TP.INT64
    seq = helper.make_sequence_type_proto(_map_type(key, TP.FLOAT))
    check("ZipMap", [x], labels, [seq], 1)


# --------------------------------------------------------------------------- linear models

TRANSFORMS = ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"]
XL = np.array([[1, 2], [-3, 0.5], [0, 0], [2, -5], [0.3, 0.1]], np.float32)


@pytest.mark.parametrize("pt", TRANSFORMS)
def test_linear_classifier_multiclass(pt):
    attrs = dict(coefficients=[0.2, -0.1, 0.3, 0.3, -1, 0], intercepts=[0.05, 0, 0.1], post_transform=pt,
                 classlabels_ints=[4, 5, 6])
    check("LinearClassifier", [XL], attrs, [TP.INT64, TP.FLOAT], rtol=1e-3)


@pytest.mark.parametrize("pt", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize("labels", [dict(classlabels_ints=[3, 7]), dict(classlabels_strings=["n", "p"])])
def test_linear_classifier_binary(pt, labels):
    attrs = dict(coefficients=[0.2, -0.1], intercepts=[0.05], post_transform=pt, **labels)
    out = TP.STRING if "classlabels_strings" in labels else TP.INT64
    check("LinearClassifier", [XL], attrs, [out, TP.FLOAT])


@pytest.mark.parametrize("pt", TRANSFORMS)
def test_linear_regressor(pt):
    attrs = dict(coefficients=[0.2, -0.1, 0.3, 0.3], intercepts=[0.05, 0], targets=2, post_transform=pt)
    check("LinearRegressor", [XL], attrs, [TP.FLOAT], rtol=1e-3)


# --------------------------------------------------------------------------- SVMs


def _svc(rs, n_classes, vpc, proba=False, kernel="RBF", pt="NONE", n_features=2):
    n_sv = sum(vpc)
    n_pairs = n_classes * (n_classes - 1) // 2
    attrs = dict(kernel_type=kernel, kernel_params=[0.5, 0.1, 2.0], vectors_per_class=vpc,
                 support_vectors=rs.randn(n_sv * n_features).round(2).tolist(),
                 coefficients=rs.randn((n_classes - 1) * n_sv).round(2).tolist(),
                 rho=rs.randn(n_pairs).round(2).tolist(), classlabels_ints=list(range(10, 10 + n_classes)),
                 post_transform=pt)
    if proba:
        attrs.update(prob_a=(-rs.rand(n_pairs) * 2).round(2).tolist(), prob_b=(rs.randn(n_pairs) * 0.2).round(2).tolist())
    return attrs


SVC_CASES = [
    (3, [2, 2, 1], False, "RBF", "NONE"), (2, [2, 3], False, "RBF", "NONE"), (3, [2, 2, 1], True, "RBF", "NONE"),
    (2, [2, 3], True, "RBF", "NONE"), (3, [1, 2, 2], False, "LINEAR", "NONE"), (4, [1, 1, 2, 1], False, "POLY", "NONE"),
    (3, [2, 1, 2], False, "SIGMOID", "NONE"), (3, [2, 2, 1], False, "RBF", "SOFTMAX"),
    (2, [2, 3], False, "RBF", "LOGISTIC"), (3, [2, 2, 1], True, "RBF", "LOGISTIC"), (5, [1, 2, 1, 1, 2], True, "RBF", "NONE"),
]


@pytest.mark.parametrize("case", SVC_CASES, ids=[f"svc{i}" for i in range(len(SVC_CASES))])
def test_svm_classifier(case):
    rs = np.random.RandomState(len(case[1]) * 7 + int(case[2]))
    x = rs.randn(12, 2).astype(np.float32)
    check("SVMClassifier", [x], _svc(rs, *case), [TP.INT64, TP.FLOAT], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("n_classes", [3, 4])
def test_svm_classifier_linear_mode(n_classes):
    rs = np.random.RandomState(3)
    x = rs.randn(8, 3).astype(np.float32)
    attrs = dict(kernel_type="LINEAR", kernel_params=[0.0, 0.0, 1.0], coefficients=rs.randn(n_classes * 3).round(2).tolist(),
                 rho=rs.randn(n_classes).round(2).tolist(), classlabels_strings=[f"c{i}" for i in range(n_classes)])
    check("SVMClassifier", [x], attrs, [TP.STRING, TP.FLOAT], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("kernel", ["LINEAR", "RBF", "POLY", "SIGMOID"])
@pytest.mark.parametrize("one_class", [0, 1])
def test_svm_regressor(kernel, one_class):
    rs = np.random.RandomState(5)
    x = rs.randn(8, 3).astype(np.float32)
    attrs = dict(kernel_type=kernel, kernel_params=[0.3, 0.2, 3.0], n_supports=4, one_class=one_class,
                 support_vectors=rs.randn(12).round(2).tolist(), coefficients=rs.randn(4).round(2).tolist(), rho=[0.1])
    check("SVMRegressor", [x], attrs, [TP.FLOAT], rtol=1e-3, atol=1e-4)


def test_svm_regressor_linear_mode():
    x = np.random.RandomState(6).randn(5, 3).astype(np.float32)
    check("SVMRegressor", [x], dict(coefficients=[0.5, -1.0, 2.0], rho=[0.25], kernel_params=[0.0, 0.0, 1.0]), [TP.FLOAT])


# --------------------------------------------------------------------------- tree ensembles



def _forest(rs, n_trees, n_features, depth=3):
    """Random trees with every branch mode and missing-value direction, and their leaves."""
    return random_forest(rs, n_trees, n_features, depth, MODES, missing=True)


def _tree_input(rs):
    x = rs.randn(40, 3).round(1).astype(np.float32)
    x[3, 1] = x[7, 0] = np.nan
    return x


@pytest.mark.parametrize("agg", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("pt", ["NONE", "LOGISTIC", "SOFTMAX"])
def test_tree_ensemble_regressor(agg, pt):
    rs = np.random.RandomState(11)
    x = _tree_input(rs)
    a, leaves = _forest(rs, 4, 3)
    tgt = dict(target_treeids=[], target_nodeids=[], target_ids=[], target_weights=[])
    for t, n in leaves:
        for k in range(2):
            tgt["target_treeids"].append(t)
            tgt["target_nodeids"].append(n)
            tgt["target_ids"].append(k)
            tgt["target_weights"].append(round(float(rs.randn()), 2))
    attrs = dict(a, **tgt, n_targets=2, aggregate_function=agg, post_transform=pt, base_values=[0.5, -0.25])
    check("TreeEnsembleRegressor", [x], attrs, [TP.FLOAT])


def test_tree_ensemble_regressor_v3_double():
    rs = np.random.RandomState(12)
    x = _tree_input(rs).astype(np.float64) + 0.03
    a, leaves = _forest(rs, 3, 3)
    a["nodes_values_as_tensor"] = helper.make_tensor("v", TP.DOUBLE, [len(a["nodes_values"])], a.pop("nodes_values"))
    w = rs.randn(len(leaves)).round(3).tolist()
    attrs = dict(a, target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                 target_ids=[0] * len(leaves), target_weights_as_tensor=helper.make_tensor("w", TP.DOUBLE, [len(w)], w),
                 n_targets=1)
    check("TreeEnsembleRegressor", [x], attrs, [TP.FLOAT])


def _classifier(rs, class_ids, signed, n_classes, strings=False, base=None, pt="NONE"):
    a, leaves = _forest(rs, 3, 3)
    c = class_weights(rs, leaves, class_ids, signed)
    labels = (dict(classlabels_strings=[f"c{i}" for i in range(n_classes)]) if strings
              else dict(classlabels_int64s=list(range(5, 5 + n_classes))))
    attrs = dict(a, **c, **labels, post_transform=pt)
    if base is not None:
        attrs["base_values"] = base
    return attrs, (TP.STRING if strings else TP.INT64)


CLASSIFIERS = [
    ("3 classes", dict(class_ids=[0, 1, 2], signed=True, n_classes=3), TRANSFORMS[:4]),
    ("3 classes + base", dict(class_ids=[0, 1, 2], signed=True, n_classes=3, base=[0.1, 0.2, 0.3]), TRANSFORMS[:4]),
    ("binary, class 0 scored, probabilities", dict(class_ids=[0], signed=False, n_classes=2),
     ["NONE", "LOGISTIC", "SOFTMAX"]),
    ("binary, class 0 scored, margins", dict(class_ids=[0], signed=True, n_classes=2, strings=True),
     ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"]),
    ("binary, class 0 scored + base", dict(class_ids=[0], signed=True, n_classes=2, base=[0.1]),
     ["NONE", "LOGISTIC"]),
    ("binary, class 1 scored", dict(class_ids=[1], signed=False, n_classes=2), TRANSFORMS),
    ("binary, class 1 scored, margins", dict(class_ids=[1], signed=True, n_classes=2), TRANSFORMS),
]


@pytest.mark.parametrize("desc, kw, transforms", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_tree_ensemble_classifier(desc, kw, transforms):
    for seed, pt in enumerate(transforms):
        rs = np.random.RandomState(100 + seed)
        x = _tree_input(rs)
        attrs, label_type = _classifier(rs, pt=pt, **kw)
        check("TreeEnsembleClassifier", [x], attrs, [label_type, TP.FLOAT], rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("agg", [0, 1, 2, 3])
@pytest.mark.parametrize("pt", [0])
def test_tree_ensemble_v5(agg, pt):
    """TreeEnsemble (ml opset 5) against onnxruntime, with a BRANCH_MEMBER node and NaN handling.

    Only post_transform NONE: onnxruntime reads the enum with its own numbering
    (1 = LOGISTIC, 2 = SOFTMAX), the swap of the spec's 1 = SOFTMAX, 2 = LOGISTIC.
    """
    x = np.array([[1.2, 0.5], [3.4, -1.0], [np.nan, 2.0], [12, 7], [7, 3], [8.0, np.nan]], np.float32)
    attrs = v5_member_forest(agg, pt)
    check("TreeEnsemble", [x], attrs, [TP.FLOAT], ml=5)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 16])
def test_tree_walk_chunks(monkeypatch, chunk):
    """Deep trees walked in chunks of (sample, tree) pairs, finished pairs dropped on the way:
    the same leaves, and the same float32 sums, whatever the chunk size."""
    from nnex.ops.ml import trees

    monkeypatch.setattr(trees, "_CHUNK", chunk)
    monkeypatch.setattr(trees, "_SMALL_WALK", 0)  # 40 rows would otherwise take the small-batch walk
    rs = np.random.RandomState(21)
    x = _tree_input(rs)
    a, leaves = _forest(rs, 5, 3, depth=9)
    attrs = dict(a, target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                 target_ids=[0] * len(leaves), target_weights=rs.randn(len(leaves)).round(3).tolist(), n_targets=1)
    expected, got = run_both("TreeEnsembleRegressor", [x], attrs, [TP.FLOAT])
    np.testing.assert_array_equal(got[0], expected[0])


# --------------------------------------------------------------------------- com.microsoft ops the converters emit


def run_ms(op, x, attrs, out_type):
    """(onnxruntime's output, the nnex kernel's output) for a one-node com.microsoft model."""
    node = helper.make_node(op, ["x"], ["y"], domain="com.microsoft", **attrs)
    graph = helper.make_graph([node], "g", [helper.make_value_info("x", _type(_NP2ONNX[x.dtype]))],
                              [helper.make_value_info("y", _type(out_type))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = lookup("com.microsoft", op, 1).fn(xp, x, **{a.name: _decoded(a) for a in node.attribute})
    return expected, np.asarray(got)


_KEYS = {
    "strings": np.array([["", "a", "ab", "abc"], ["abcd", "abcde", "hello world", "Été à Noël ✓"]], dtype=object),
    "int32": np.array([0, 1, -1, 2**31 - 1, -(2**31), 123456], np.int32),
    "uint32": np.array([0, 1, 2**32 - 1, 77], np.uint32),
}


@pytest.mark.parametrize("keys", list(_KEYS))
@pytest.mark.parametrize("positive, seed", [(1, 0), (0, 0), (1, 42), (0, -7)])
def test_murmur_hash3(keys, positive, seed):
    x = _KEYS[keys]
    expected, got = run_ms("MurmurHash3", x, dict(positive=positive, seed=seed), TP.UINT32 if positive else TP.INT32)
    assert got.dtype == expected.dtype and got.tolist() == expected.tolist()


_TEXT = np.array([["the quick, brown fox"], ["été à noël l'été"], [""]], dtype=object)
TOKENIZER_CASES = [
    (_TEXT, dict(tokenexp="[a-zA-Z0-9_]+")),
    (_TEXT, dict(tokenexp=r"\w+")),  # RE2's \w is ASCII-only
    (_TEXT, dict(tokenexp=r"\w\w+", mincharnum=3)),
    (_TEXT, dict(tokenexp=r"\w+", mark=1)),
    (np.array(["!!", ""], dtype=object), dict(tokenexp=r"\w+", mark=1)),  # no token anywhere
    (np.array(["hello world"], dtype=object), dict(tokenexp=r"(\w)(\w+)")),
    (np.array(["a b  c", "dd;e"], dtype=object), dict(separators=[" ", ";"])),
    (np.array(["a b  c", "dd;e"], dtype=object), dict(separators=[" +", ";"], mincharnum=2)),
    (np.array(["abé", "d"], dtype=object), dict(separators=[""])),
    (np.array(["abé", "d"], dtype=object), dict(separators=[""], mark=1)),
]


@pytest.mark.parametrize("x, attrs", TOKENIZER_CASES, ids=[f"tok{i}" for i in range(len(TOKENIZER_CASES))])
def test_tokenizer(x, attrs):
    attrs = dict(dict(mark=0, mincharnum=1, pad_value="#"), **attrs)
    expected, got = run_ms("Tokenizer", x, attrs, TP.STRING)
    assert got.shape == expected.shape and got.tolist() == expected.tolist()


@pytest.mark.parametrize("locale", ["C", "C.UTF-8", ""])
@pytest.mark.parametrize("action", ["LOWER", "UPPER"])
def test_string_normalizer_case(locale, action):
    """Case changes as the text converters use them: one character for one, ASCII only in "C"."""
    x = np.array(["AbC", "ÉTé", "straße", "İx", "ﬁ", "ǅ", "Noël ✓"], dtype=object)
    node = helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action=action, locale=locale)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TP.STRING, [None])],
                              [helper.make_tensor_value_info("y", TP.STRING, [None])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    got = lookup("", "StringNormalizer", 17).fn(xp, x, case_change_action=action, locale=locale)
    assert got.tolist() == expected.tolist()
