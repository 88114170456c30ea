"""Graph edits keep Node/Value consistent (producer, uses), in subgraphs too; edited models stay valid."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import nnex
from nnex.ir import Graph, Model, Node, Value, model_to_proto
from nnex.ir.types import tensor_type

F = TensorProto.FLOAT
OPSET = [helper.make_opsetid("", 21)]


def check_consistent(g: Graph) -> None:
    """Independently recompute every value's uses and producer from the node lists."""
    expected: dict[int, list] = {}
    values: dict[int, Value] = {}

    def walk(graph):
        for n in graph.nodes:
            assert n.graph is graph
            for v in n.outputs:
                assert v.producer is n, (v, n)
            for i, v in enumerate(n.inputs):
                if v is not None:
                    expected.setdefault(id(v), []).append((id(n), i))
                    values[id(v)] = v
            for sub in n.subgraphs():
                walk(sub)
            for v in n.outputs:
                values[id(v)] = v

    walk(g)
    for v in list(g.inputs) + list(g.initializers.values()):
        values[id(v)] = v
    for k, v in values.items():
        got = sorted((id(n), i) for n, i in v.uses)
        assert got == sorted(expected.get(k, [])), f"uses of {v.name!r}: {v.uses}"


def run_ort(model: Model | onnx.ModelProto, feeds):
    proto = model if isinstance(model, onnx.ModelProto) else model_to_proto(model)
    onnx.checker.check_model(proto, full_check=True)
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _chain_model() -> Model:
    """x -> Relu -> a -> Neg -> b ; y = Add(a, b)"""
    x = Value("x", tensor_type(F, [3]))
    relu = Node("Relu", [x], [Value("a")])
    a = relu.outputs[0]
    neg = Node("Neg", [a], [Value("b")])
    b = neg.outputs[0]
    add = Node("Add", [a, b], [Value("y", tensor_type(F, [3]))])
    g = Graph("g")
    g.inputs.append(x)
    for n in (relu, neg, add):
        g.append(n)
    g.outputs.append(add.outputs[0])
    return Model(g, opset_imports={"": 21})


def test_producer_and_uses_on_construction():
    m = _chain_model()
    relu, neg, add = m.graph.nodes
    x, a, b = m.graph.inputs[0], relu.outputs[0], neg.outputs[0]
    assert x.producer is None and x.uses == ((relu, 0),)
    assert a.producer is relu and a.uses == ((neg, 0), (add, 0))
    assert b.producer is neg and b.uses == ((add, 1),)
    check_consistent(m.graph)
    x_val = np.array([-1.0, 0.5, 2.0], np.float32)
    np.testing.assert_array_equal(run_ort(m, {"x": x_val})[0], np.zeros(3, np.float32))


def test_append_input_and_set_input():
    m = _chain_model()
    relu, neg, add = m.graph.nodes
    x, a, b = m.graph.inputs[0], relu.outputs[0], neg.outputs[0]
    add.set_input(1, x)  # y = a + x
    assert b.uses == () and x.uses == ((relu, 0), (add, 1))
    add.set_input(0, x)  # the same value read twice
    assert sorted(i for _, i in x.uses if _ is add) == [0, 1]
    assert a.uses == ((neg, 0),)
    add.set_input(0, None)
    assert x.uses == ((relu, 0), (add, 1))
    add.set_input(0, a)
    s = Node("Sum", [a], [Value("s", tensor_type(F, [3]))])
    m.graph.append(s)
    s.append_input(b)
    s.append_input(x)
    assert s.inputs == (a, b, x) and b.uses == ((s, 1),) and (s, 2) in x.uses
    m.graph.outputs.append(s.outputs[0])
    check_consistent(m.graph)
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    y, s_out = run_ort(m, {"x": xv})
    r = np.maximum(xv, 0)
    np.testing.assert_allclose(y, r + xv)
    np.testing.assert_allclose(s_out, r - r + xv)


def test_output_produced_twice_is_refused():
    m = _chain_model()
    relu = m.graph.nodes[0]
    with pytest.raises(ValueError):
        Node("Identity", [m.graph.inputs[0]], [relu.outputs[0]])


def test_remove_used_node_raises():
    m = _chain_model()
    relu, neg, add = m.graph.nodes
    with pytest.raises(ValueError):
        m.graph.remove(relu)  # a is read by neg and add
    with pytest.raises(ValueError):
        m.graph.remove(add)  # y is a graph output
    assert m.graph.nodes == (relu, neg, add)
    check_consistent(m.graph)


def test_remove_unused_node_detaches_it():
    m = _chain_model()
    relu, neg, add = m.graph.nodes
    a, b = relu.outputs[0], neg.outputs[0]
    add.set_input(1, a)  # b now unused
    m.graph.remove(neg)
    assert neg.graph is None and b.producer is None and neg.inputs == ()
    assert a.uses == ((add, 0), (add, 1))
    assert m.graph.nodes == (relu, add)
    check_consistent(m.graph)
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    np.testing.assert_allclose(run_ort(m, {"x": xv})[0], 2 * np.maximum(xv, 0))


def test_replace_all_uses_includes_graph_outputs():
    m = _chain_model()
    relu, neg, add = m.graph.nodes
    x = m.graph.inputs[0]
    y = add.outputs[0]
    ab = Node("Abs", [x], [Value("abs_out", tensor_type(F, [3]))])
    m.graph.insert(0, ab)
    m.graph.replace_all_uses(relu.outputs[0], ab.outputs[0])  # a -> |x|
    assert relu.outputs[0].uses == ()
    assert ab.outputs[0].uses == ((neg, 0), (add, 0))
    m.graph.remove(relu)
    m.graph.replace_all_uses(y, ab.outputs[0])
    assert m.graph.outputs == [ab.outputs[0]]
    check_consistent(m.graph)
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    np.testing.assert_allclose(run_ort(m, {"x": xv})[0], np.abs(xv))


# ----------------------------------------------------------------------------- subgraphs
def _if_model() -> onnx.ModelProto:
    """r = Relu(x); n = Neg(x); y = If(c) then r * 2 else n + r (the branches read r and n from outside)."""
    two = numpy_helper.from_array(np.array(2.0, np.float32), "two")
    then_g = helper.make_graph([helper.make_node("Mul", ["r", "two"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [3])])
    else_g = helper.make_graph([helper.make_node("Add", ["n", "r"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [3])])
    g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Neg", ["x"], ["n"]),
         helper.make_node("If", ["c"], ["y"], then_branch=then_g, else_branch=else_g)],
        "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []), helper.make_tensor_value_info("x", F, [3])],
        [helper.make_tensor_value_info("y", F, [3])], [two])
    return helper.make_model(g, opset_imports=OPSET)


def test_uses_from_inside_subgraphs_after_load():
    m = nnex.load(_if_model())
    relu, neg, if_node = m.graph.nodes
    then_g, else_g = if_node.attributes["then_branch"].value, if_node.attributes["else_branch"].value
    mul, = then_g.nodes
    add, = else_g.nodes
    r = relu.outputs[0]
    assert set(r.uses) == {(mul, 0), (add, 1)}
    assert mul.inputs[0] is r and add.inputs[1] is r  # the same object, not a copy by name
    assert mul.inputs[1] is m.graph.initializers["two"]
    assert neg.outputs[0].uses == ((add, 0),)
    check_consistent(m.graph)
    with pytest.raises(ValueError):
        m.graph.remove(relu)  # read only from inside the branches, still used
    with pytest.raises(ValueError):
        m.graph.remove(neg)


def test_replace_all_uses_reaches_into_subgraphs():
    proto = _if_model()
    m = nnex.load(proto)
    relu, neg, if_node = m.graph.nodes
    x = m.graph.inputs[1]
    sig = Node("Sigmoid", [x], [Value("s")])
    m.graph.insert(2, sig)
    m.graph.replace_all_uses(relu.outputs[0], sig.outputs[0])
    assert relu.outputs[0].uses == ()
    m.graph.remove(relu)
    check_consistent(m.graph)
    saved = model_to_proto(m)
    then_g = next(a.g for a in saved.graph.node[-1].attribute if a.name == "then_branch")
    else_g = next(a.g for a in saved.graph.node[-1].attribute if a.name == "else_branch")
    assert list(then_g.node[0].input) == ["s", "two"] and list(else_g.node[0].input) == ["n", "s"]
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    sg = 1 / (1 + np.exp(-xv))
    for c, want in ((True, sg * 2), (False, -xv + sg)):
        feeds = {"c": np.array(c), "x": xv}
        got = run_ort(saved, feeds)[0]
        np.testing.assert_allclose(got, want, rtol=1e-6)
        np.testing.assert_allclose(nnex.InferenceSession(saved.SerializeToString()).run(None, feeds)[0], want,
                                   rtol=1e-6)


def test_set_input_inside_subgraph_updates_outer_uses():
    m = nnex.load(_if_model())
    relu, neg, if_node = m.graph.nodes
    mul, = if_node.attributes["then_branch"].value.nodes
    r, n = relu.outputs[0], neg.outputs[0]
    mul.set_input(0, n)
    assert (mul, 0) not in r.uses and (mul, 0) in n.uses
    check_consistent(m.graph)
    xv = np.array([-1.0, 0.5, 2.0], np.float32)
    np.testing.assert_allclose(run_ort(m, {"c": np.array(True), "x": xv})[0], -2 * xv)


# ----------------------------------------------------------------------------- topological sort
def _diamond_model() -> onnx.ModelProto:
    """A model with fan-out, fan-in, an unused branch and an If reading a value produced by a node."""
    then_g = helper.make_graph([helper.make_node("Add", ["d", "e"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [4])])
    else_g = helper.make_graph([helper.make_node("Sub", ["d", "e"], ["u"])], "else", [],
                               [helper.make_tensor_value_info("u", F, [4])])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="n0"),
        helper.make_node("Neg", ["x"], ["b"], name="n1"),
        helper.make_node("Mul", ["a", "b"], ["c"], name="n2"),
        helper.make_node("Exp", ["b"], ["d"], name="n3"),
        helper.make_node("Add", ["c", "w"], ["e"], name="n4"),
        helper.make_node("ReduceSum", ["e"], ["s"], name="n5", keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["cond"], name="n6"),
        helper.make_node("If", ["cond"], ["y"], name="n7", then_branch=then_g, else_branch=else_g),
        helper.make_node("Sin", ["c"], ["z"], name="n8"),
        helper.make_node("Sqrt", ["z"], ["unused"], name="n9"),
    ]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [4])],
                          [helper.make_tensor_value_info("y", F, [4]), helper.make_tensor_value_info("z", F, [4])],
                          [numpy_helper.from_array(np.array([1.0, -2.0, 3.0, 0.5], np.float32), "w"),
                           numpy_helper.from_array(np.array(0.0, np.float32), "zero")])
    return helper.make_model(g, opset_imports=OPSET)


def _is_topological(nodes) -> bool:
    seen: set[int] = set()
    for n in nodes:
        reads = list(n.inputs)
        for sub in n.subgraphs():
            reads += [v for s in sub.all_nodes() for v in s.inputs]
        for v in reads:
            if v is not None and v.producer is not None and v.producer.graph is n.graph and id(v.producer) not in seen:
                return False
        seen.add(id(n))
    return True


def test_topological_sort_keeps_a_sorted_graph_unchanged():
    m = nnex.load(_diamond_model())
    before = m.graph.nodes
    m.graph.topological_sort()
    assert m.graph.nodes == before


@pytest.mark.parametrize("seed", range(8))
def test_topological_sort_restores_a_shuffled_graph(seed):
    proto = _diamond_model()
    xv = np.array([-1.0, 0.5, 2.0, -3.0], np.float32)
    want = run_ort(proto, {"x": xv})
    m = nnex.load(proto)
    rng = np.random.default_rng(seed)
    nodes = list(m.graph.nodes)
    shuffled = [nodes[i] for i in rng.permutation(len(nodes))]
    while _is_topological(shuffled):
        shuffled = [nodes[i] for i in rng.permutation(len(nodes))]
    m.graph._nodes = shuffled
    # the shuffled graph is one that onnx rejects
    with pytest.raises(onnx.checker.ValidationError):
        onnx.checker.check_model(model_to_proto(m))
    m.graph.topological_sort()
    assert sorted(map(id, m.graph.nodes)) == sorted(map(id, nodes))
    assert _is_topological(m.graph.nodes)
    check_consistent(m.graph)
    got = run_ort(m, {"x": xv})  # checks the model (topological order included), then runs it
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_topological_sort_of_loaded_unsorted_model():
    proto = _diamond_model()
    order = [7, 3, 0, 9, 2, 8, 6, 1, 5, 4]
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(nodes[i] for i in order)
    m = nnex.load(proto)  # names resolve though producers come later
    check_consistent(m.graph)
    m.graph.topological_sort()
    names = [n.name for n in m.graph.nodes]
    assert _is_topological(m.graph.nodes)
    assert names.index("n3") < names.index("n7") and names.index("n4") < names.index("n7")  # If reads d, e inside
    onnx.checker.check_model(model_to_proto(m), full_check=True)


def test_topological_sort_refuses_a_cycle():
    x = Value("x", tensor_type(F, [2]))
    n1 = Node("Relu", [x], [Value("a")])
    n2 = Node("Neg", [n1.outputs[0]], [Value("b")])
    n1.set_input(0, n2.outputs[0])
    g = Graph("cyc")
    g.inputs.append(x)
    g.append(n1)
    g.append(n2)
    with pytest.raises(ValueError, match="cycle"):
        g.topological_sort()
