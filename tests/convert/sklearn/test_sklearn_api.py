"""The converter's contract: outputs, options, input kinds, and refusals."""

import numpy as np
import onnx
import pytest
from skl_check import check_classifier, classification, convert_and_run, fitted, regression

pytest.importorskip("sklearn")
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import StandardScaler

import nnex
from nnex.convert import ConversionError


def test_output_names_and_types():
    X, y = classification(n=100)
    proto = nnex.convert(fitted(LogisticRegression(), X, y), X[:5])
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    assert [i.name for i in proto.graph.input] == ["X"]
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    proto = nnex.convert(fitted(LinearRegression(), *regression(n=50)), X[:5, :5], dtype=np.float64)
    assert [o.name for o in proto.graph.output] == ["prediction"]
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    proto = nnex.convert(fitted(StandardScaler(), X), X[:5])
    assert [o.name for o in proto.graph.output] == ["output"]
    opsets = {o.domain: o.version for o in proto.opset_import}
    assert opsets[""] >= 21


@pytest.mark.parametrize("labels", ["strings", "integers", "booleans", "floats"])
def test_label_types(labels):
    X, y = classification(n=120)
    target = {"strings": np.array(["cat", "dog", "eel"], dtype=object)[y], "integers": y * 10 - 7,
              "booleans": y == 1, "floats": y * 2.0}[labels]
    check_classifier(fitted(LogisticRegression(), X, target), X)


@pytest.mark.parametrize("labels", ["strings", "integers"])
def test_zipmap(labels):
    X, y = classification(n=120)
    target = np.array(["cat", "dog", "eel"], dtype=object)[y] if labels == "strings" else y
    model = fitted(LogisticRegression(), X, target)
    _, outs = convert_and_run(model, X, zipmap=True)
    expected = model.predict_proba(X)
    for label, maps in outs.values():
        np.testing.assert_array_equal(label, model.predict(X))
        got = np.array([[m[c] for c in model.classes_] for m in maps])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_string_matrix_input():
    from sklearn.preprocessing import OneHotEncoder

    S = np.array([["a", "x"], ["b", "y"], ["a", "y"]], dtype=object)
    proto = nnex.convert(fitted(OneHotEncoder(), S), S)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.STRING


def test_dataframe_inputs_are_named_after_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    proto = nnex.convert(fitted(StandardScaler(), df), df)
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    sess = nnex.InferenceSession(proto)
    out = sess.run(None, {"a": df[["a"]].to_numpy(np.float32), "b": df[["b"]].to_numpy(np.float32)})[0]
    np.testing.assert_allclose(out, StandardScaler().fit(df).transform(df), rtol=1e-5)


def test_refusals_name_the_problem():
    from sklearn.cluster import DBSCAN
    from sklearn.svm import SVC

    X, y = classification(n=60)
    with pytest.raises(ConversionError, match="not fitted"):
        nnex.convert(LogisticRegression(), X[:5])
    with pytest.raises(ConversionError, match="DBSCAN"):
        nnex.convert(fitted(DBSCAN(), X), X[:5])

    class MyLogistic(LogisticRegression):
        pass

    with pytest.raises(ConversionError, match="subclasses"):
        nnex.convert(fitted(MyLogistic(), X, y), X[:5])
    with pytest.raises(ConversionError, match="precomputed"):
        nnex.convert(fitted(SVC(kernel="precomputed"), X @ X.T, y), X[:5] @ X.T)
    with pytest.raises(ConversionError, match="unknown option"):
        nnex.convert(fitted(LogisticRegression(), X, y), X[:5], zip_map=True)
    with pytest.raises(ConversionError, match="dtype"):
        nnex.convert(fitted(LogisticRegression(), X, y), X[:5], dtype=np.int32)


def test_unconvertible_settings_are_refused():
    from sklearn.decomposition import NMF, DictionaryLearning
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import FunctionTransformer

    X, y = classification(n=60)
    cases = [
        (fitted(DummyClassifier(strategy="stratified"), X, y), X, "stratified"),
        (fitted(FunctionTransformer(lambda a: a * 2), X), X, "cannot be converted"),
        (fitted(DictionaryLearning(2, max_iter=5, random_state=0), X), X, "DictionaryLearning"),
        # a coordinate order drawn afresh at every transform
        (fitted(NMF(2, max_iter=50, shuffle=True), np.abs(X)), np.abs(X), "random_state"),
        (fitted(CountVectorizer(analyzer=str.split), ["ab cd", "ef"]), np.array(["ab"], dtype=object), "analyzer"),
        (fitted(CountVectorizer(analyzer="char", strip_accents="unicode"), ["ab cd", "ef"]),
         np.array(["ab"], dtype=object), "strip_accents"),
    ]
    for model, sample, message in cases:
        with pytest.raises(ConversionError, match=message):
            nnex.convert(model, sample[:5])
