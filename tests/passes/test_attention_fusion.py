"""Scaled-dot-product attention in elementary ops -> Attention-23 (opset >= 23 only).

The oracle is onnxruntime running the original model (check_optimized): the optimized model must
give the same outputs in onnxruntime and in nnex, NaN rows included (a fully-masked row is NaN
after Softmax, 0 in Attention: the pass either proves there is none, finds the model's own NaN
guard, or adds one). Rows filled with finfo.min are uniform after Softmax and in the spec's
Attention, but onnxruntime's Attention zeroes them: the pass lifts that value one step.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from .helpers import F, check_optimized, make_model, op_counts, rand

B, H, S, D = 2, 3, 5, 4
RTOL, ATOL = 1e-5, 1e-6
BOOL = TensorProto.BOOL
FMIN = float(np.finfo(np.float32).min)


def _c(name, value, dtype=np.float32):
    return (name, np.array(value, dtype))


def _scores(scale: str, *, k_layout: str = "bhsd"):
    """Nodes computing "s" (the scaled scores) from q and k, and their initializers."""
    nodes, inits = [], []
    if k_layout == "bhsd":
        nodes.append(helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]))
    elif k_layout == "bshd":  # BERT: heads split off the hidden axis, transposed once to [B, H, D, S]
        nodes.append(helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 3, 1]))
    else:  # "bhds": K arrives already transposed
        nodes.append(helper.make_node("Identity", ["k"], ["kt"]))
    if scale == "sqrt_each":  # torch's export of scaled_dot_product_attention
        nodes += [helper.make_node("Mul", ["q", "r"], ["qs"]), helper.make_node("Mul", ["kt", "r"], ["kts"]),
                  helper.make_node("MatMul", ["qs", "kts"], ["s"])]
        inits.append(_c("r", D ** -0.25))
    elif scale == "none":
        nodes.append(helper.make_node("MatMul", ["q", "kt"], ["s"]))
    else:
        nodes.append(helper.make_node("MatMul", ["q", "kt"], ["qk"]))
        if scale == "div":
            nodes.append(helper.make_node("Div", ["qk", "c"], ["s"]))
            inits.append(_c("c", math.sqrt(D)))
        else:
            nodes.append(helper.make_node("Mul", ["c", "qk"], ["s"]))
            inits.append(_c("c", 1 / math.sqrt(D)))
    return nodes, inits


def _tail(src: str, *, nan_to_zero: bool = False, dropout: bool = False):
    nodes = [helper.make_node("Softmax", [src], ["p"], axis=-1)]
    p = "p"
    if nan_to_zero:  # what torch writes after the Softmax of a boolean-masked attention
        nodes += [helper.make_node("IsNaN", ["p"], ["isnan"]),
                  helper.make_node("Where", ["isnan", "zero", "p"], ["pz"])]
        p = "pz"
    if dropout:
        nodes.append(helper.make_node("Dropout", [p], ["pd"]))
        p = "pd"
    nodes.append(helper.make_node("MatMul", [p, "v"], ["y"]))
    return nodes, ([_c("zero", 0.0)] if nan_to_zero else [])


def _model(nodes, inits, extra_inputs=(), *, sq=S, skv=S, k_layout="bhsd", opset=23, batch=B):
    kshape = {"bhsd": [batch, H, skv, D], "bshd": [batch, skv, H, D], "bhds": [batch, H, D, skv]}[k_layout]
    inputs = [("q", F, [batch, H, sq, D]), ("k", F, kshape), ("v", F, [batch, H, skv, D]), *extra_inputs]
    return make_model(nodes, inputs, [("y", F, [batch, H, sq, D])], inits, opset=opset)


def _feeds(*, sq=S, skv=S, k_layout="bhsd", batch=B, **extra):
    kshape = {"bhsd": (batch, H, skv, D), "bshd": (batch, skv, H, D), "bhds": (batch, H, D, skv)}[k_layout]
    q, k, v = rand(batch, H, sq, D, seed=1), rand(*kshape, seed=2), rand(batch, H, skv, D, seed=3)
    return {"q": q, "k": k, "v": v, **extra}


def _attention(model) -> onnx.NodeProto:
    (node,) = [n for n in model.graph.node if n.op_type == "Attention"]
    return node


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _check(model, feeds):
    return check_optimized(model, feeds, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------------ no mask


@pytest.mark.parametrize("scale", ["div", "mul", "sqrt_each", "none"])
def test_scaled_dot_product_becomes_one_attention(scale):
    nodes, inits = _scores(scale)
    tail, more = _tail("s")
    opt = _check(_model(nodes + tail, inits + more), _feeds())
    assert op_counts(opt) == {"Attention": 1}
    want = 1.0 if scale == "none" else 1 / math.sqrt(D)
    assert _attr(_attention(opt), "scale") == pytest.approx(want, rel=1e-6)
    assert _attr(_attention(opt), "is_causal", 0) == 0


@pytest.mark.parametrize("k_layout", ["bshd", "bhds"])
def test_key_in_other_layouts_gets_one_transpose(k_layout):
    nodes, inits = _scores("div", k_layout=k_layout)
    tail, more = _tail("s", dropout=True)
    opt = _check(_model(nodes + tail, inits + more, k_layout=k_layout), _feeds(k_layout=k_layout))
    assert op_counts(opt) == {"Attention": 1, "Transpose": 1}
    (t,) = [n for n in opt.graph.node if n.op_type == "Transpose"]
    assert _attr(t, "perm") == ([0, 2, 1, 3] if k_layout == "bshd" else [0, 1, 3, 2])


def test_cross_attention_with_other_key_length():
    nodes, inits = _scores("mul")
    tail, more = _tail("s")
    opt = _check(_model(nodes + tail, inits + more, sq=3, skv=7), _feeds(sq=3, skv=7))
    assert op_counts(opt) == {"Attention": 1}


# ------------------------------------------------------------------------------------ additive masks


def _add_mask(mask_name, **kw):
    nodes, inits = _scores("div")
    tail, more = _tail("sm", **kw)
    return nodes + [helper.make_node("Add", [mask_name, "s"], ["sm"])] + tail, inits + more


def test_constant_float_mask_with_masked_entries_but_no_empty_row():
    rng = np.random.default_rng(5)
    mask = np.where(rng.random((1, H, S, S)) < 0.4, -np.inf, 0).astype(np.float32)
    mask[..., 0] = 0.5  # every row keeps a key: no NaN row, no guard needed
    nodes, inits = _add_mask("mask")
    opt = _check(_model(nodes, inits + [("mask", mask)]), _feeds())
    assert op_counts(opt) == {"Attention": 1}
    assert len(_attention(opt).input) == 4


def test_bert_style_mask_from_a_boolean_input_needs_no_guard():
    # Where(keep, 0, finfo.min): every value is finite, so no row can be all -inf
    nodes, inits = _add_mask("bias")
    nodes = [helper.make_node("Where", ["keep", "zero_f", "fmin"], ["bias"])] + nodes
    inits += [_c("zero_f", 0.0), _c("fmin", FMIN)]
    keep = np.ones((B, 1, 1, S), bool)
    keep[0, ..., 3:] = False
    keep[1, ...] = False  # a fully padded sequence: rows of finfo.min, uniform after Softmax
    model = _model(nodes, inits, [("keep", BOOL, [B, 1, 1, S])])
    opt = _check(model, _feeds(keep=keep))
    # finfo.min lifted one step (Max), the [B, 1, 1, S] mask expanded to [.., S, S] as onnxruntime requires
    assert op_counts(opt) == {"Where": 1, "Max": 1, "Expand": 1, "Attention": 1}


def test_padding_mask_from_integer_input_in_old_bert_style():
    # (1 - Cast(mask)) * -10000: bounded for any int32 input, so no guard either
    nodes, inits = _add_mask("bias")
    nodes = [helper.make_node("Unsqueeze", ["m", "axes12"], ["m4"]),
             helper.make_node("Cast", ["m4"], ["mf"], to=F),
             helper.make_node("Sub", ["one", "mf"], ["inv"]),
             helper.make_node("Mul", ["inv", "big"], ["bias"])] + nodes
    inits += [_c("one", 1.0), _c("big", -10000.0), ("axes12", np.array([1, 2], np.int64))]
    m = np.ones((B, S), np.int32)
    m[0, 2:] = 0
    opt = _check(_model(nodes, inits, [("m", TensorProto.INT32, [B, S])]), _feeds(m=m))
    assert op_counts(opt)["Attention"] == 1 and "ReduceMax" not in op_counts(opt)


def test_float_mask_input_gets_a_guard_that_keeps_nan_rows():
    nodes, inits = _add_mask("mask")
    mask = np.zeros((B, 1, S, S), np.float32)
    mask[0, 0, 1, :] = -np.inf  # a fully masked row: NaN in the original graph
    mask[1, 0, :, 2] = -np.inf
    mask[1, 0, 3, :] = FMIN  # uniform after Softmax
    mask[1, 0, 4, :3] = FMIN
    mask[1, 0, 4, 3:] = -np.inf  # the finfo.min keys share everything
    opt = _check(_model(nodes, inits, [("mask", F, [B, 1, S, S])]), _feeds(mask=mask))
    # Equal + Where lift finfo.min, ReduceMax + Greater + Where put NaN back in the rows with no key
    assert op_counts(opt) == {"Attention": 1, "Equal": 1, "ReduceMax": 1, "Greater": 1, "Where": 2}


def test_layers_share_the_nodes_made_from_one_mask():
    # two attentions reading the same BERT-style mask: one Max, one Expand between them
    nodes, inits = _add_mask("bias")
    nodes = [helper.make_node("Where", ["keep", "zero_f", "fmin"], ["bias"])] + nodes
    second = [helper.make_node("Transpose", ["y"], ["kt2"], perm=[0, 1, 3, 2]),
              helper.make_node("MatMul", ["y", "kt2"], ["qk2"]),
              helper.make_node("Div", ["qk2", "c"], ["s2"]),
              helper.make_node("Add", ["s2", "bias"], ["sm2"]), helper.make_node("Softmax", ["sm2"], ["p2"]),
              helper.make_node("MatMul", ["p2", "v"], ["y2"])]
    inits += [_c("zero_f", 0.0), _c("fmin", FMIN)]
    inputs = [("q", F, [B, H, S, D]), ("k", F, [B, H, S, D]), ("v", F, [B, H, S, D]),
              ("keep", BOOL, [B, 1, 1, S])]
    model = make_model(nodes + second, inputs, [("y2", F, [B, H, S, D])], inits, opset=23)
    keep = np.ones((B, 1, 1, S), bool)
    keep[1, ..., 2:] = False
    opt = _check(model, _feeds(keep=keep))
    assert op_counts(opt) == {"Where": 1, "Max": 1, "Expand": 1, "Attention": 2}


def test_constant_mask_with_a_row_of_lowest_floats_is_lifted():
    mask = np.zeros((S, S), np.float32)
    mask[2] = FMIN
    mask[3, 1:] = FMIN
    nodes, inits = _add_mask("mask")
    opt = _check(_model(nodes, inits + [("mask", mask)]), _feeds())
    assert op_counts(opt) == {"Attention": 1}
    (lifted,) = [i for i in opt.graph.initializer if i.name == _attention(opt).input[3]]
    assert onnx.numpy_helper.to_array(lifted).min() > FMIN


def test_nan_to_zero_guard_of_torch_bool_mask_is_absorbed():
    # Where(keep, 0, -inf) added to the scores, then Where(IsNaN(p), 0, p): Attention's zero rows exactly
    nodes, inits = _add_mask("bias", nan_to_zero=True)
    nodes = [helper.make_node("Where", ["keep", "zero", "ninf"], ["bias"])] + nodes
    inits += [_c("ninf", -np.inf)]
    keep = np.random.default_rng(1).random((S, S)) > 0.4
    keep[2] = False
    opt = _check(_model(nodes, inits, [("keep", BOOL, [S, S])]), _feeds(keep=keep))
    assert op_counts(opt) == {"Attention": 1}
    assert _attention(opt).input[3] == "keep"  # the boolean mask itself


def test_bool_mask_without_nan_guard_keeps_nan_rows():
    nodes, inits = _add_mask("bias")
    nodes = [helper.make_node("Where", ["keep", "zero_f", "ninf"], ["bias"])] + nodes
    inits += [_c("zero_f", 0.0), _c("ninf", -np.inf)]
    keep = np.random.default_rng(2).random((B, 1, S, S)) > 0.4
    keep[1, 0, 0] = False
    opt = _check(_model(nodes, inits, [("keep", BOOL, [B, 1, S, S])]), _feeds(keep=keep))
    assert op_counts(opt) == {"Attention": 1, "ReduceMax": 1, "Where": 1}


# ------------------------------------------------------------------------------------ causal masks


def test_causal_float_constant_becomes_is_causal():
    causal = np.triu(np.full((S, S), -np.inf, np.float32), 1)
    nodes, inits = _add_mask("causal")
    opt = _check(_model(nodes, inits + [("causal", causal)]), _feeds())
    assert op_counts(opt) == {"Attention": 1}
    node = _attention(opt)
    assert _attr(node, "is_causal") == 1 and len(node.input) == 3


def test_gpt2_select_with_causal_constant_and_padding_mask():
    # GPT-2: Where(causal, w, finfo.min) then + attention_mask
    nodes, inits = _scores("div")
    tail, more = _tail("sm")
    nodes += [helper.make_node("Where", ["causal", "s", "fmin"], ["sel"]),
              helper.make_node("Add", ["sel", "pad"], ["sm"])] + tail
    inits += more + [("causal", np.tril(np.ones((1, 1, S, S), bool))), _c("fmin", FMIN),
                     ("pad", np.where(np.arange(S) < 3, 0, FMIN).astype(np.float32).reshape(1, 1, 1, S))]
    opt = _check(_model(nodes, inits), _feeds())
    node = _attention(opt)
    assert _attr(node, "is_causal") == 1 and len(node.input) == 4


def test_select_against_a_constant_that_is_not_the_triangle_keeps_a_mask():
    keep = np.tril(np.ones((S, S), bool), 1)  # one key past the diagonal: not causal
    nodes, inits = _scores("mul")
    tail, more = _tail("sel")
    nodes += [helper.make_node("Where", ["keep", "s", "fmin"], ["sel"])] + tail
    opt = _check(_model(nodes, inits + more + [("keep", keep), _c("fmin", FMIN)]), _feeds())
    assert op_counts(opt) == {"Attention": 1}
    assert _attr(_attention(opt), "is_causal", 0) == 0 and len(_attention(opt).input) == 4


def test_sliced_causal_buffer_with_dynamic_lengths_stays_a_mask():
    # GPT-2 before transformers 5: bias[:, :, kv - q : kv, :kv] of a constant lower triangle
    nodes, inits = _scores("div")
    tail, more = _tail("sel")
    nodes += [helper.make_node("Shape", ["q"], ["q_len"], start=2, end=3),
              helper.make_node("Shape", ["k"], ["kv_len"], start=2, end=3),
              helper.make_node("Sub", ["kv_len", "q_len"], ["start"]),
              helper.make_node("Slice", ["tril", "start", "kv_len", "ax2"], ["rows"]),
              helper.make_node("Slice", ["rows", "zero_i", "kv_len", "ax3"], ["causal"]),
              helper.make_node("Where", ["causal", "s", "fmin"], ["sel"])] + tail
    inits += more + [("tril", np.tril(np.ones((1, 1, 16, 16), bool))), _c("fmin", FMIN),
                     ("ax2", np.array([2], np.int64)), ("ax3", np.array([3], np.int64)),
                     ("zero_i", np.array([0], np.int64))]
    model = make_model(nodes, [("q", F, ["b", H, "sq", D]), ("k", F, ["b", H, "skv", D]),
                               ("v", F, ["b", H, "skv", D])], [("y", F, ["b", H, "sq", D])], inits, opset=23)
    opt = _check(model, _feeds(sq=3, skv=6))
    counts = op_counts(opt)
    # every row keeps its first key: no guard; the mask is expanded to [q_len, kv_len] at run time
    assert counts["Attention"] == 1 and counts["Expand"] == 1 and "Softmax" not in counts
    assert "ReduceMax" not in counts and _attr(_attention(opt), "is_causal", 0) == 0


def test_bottom_right_causal_constant_for_cross_lengths_stays_a_mask():
    sq, skv = 3, 6
    allowed = np.arange(skv)[None, :] <= np.arange(sq)[:, None] + skv - sq
    mask = np.where(allowed, 0, -np.inf).astype(np.float32)
    nodes, inits = _add_mask("mask")
    opt = _check(_model(nodes, inits + [("mask", mask)], sq=sq, skv=skv), _feeds(sq=sq, skv=skv))
    assert op_counts(opt) == {"Attention": 1}
    assert _attr(_attention(opt), "is_causal", 0) == 0


# ------------------------------------------------------------------------------------ selects on inputs


def test_masked_fill_with_neg_inf_on_a_padding_input_is_fused_with_guard():
    # torch's masked_fill(pad, -inf): Where(pad, -inf, scores); True means "masked"
    nodes, inits = _scores("div")
    tail, more = _tail("sel")
    nodes += [helper.make_node("Where", ["pad", "ninf", "s"], ["sel"])] + tail
    pad = np.zeros((B, 1, 1, S), bool)
    pad[0, ..., 2:] = True
    pad[1] = True  # a row with no key
    model = _model(nodes, inits + more + [_c("ninf", -np.inf)], [("pad", BOOL, [B, 1, 1, S])])
    opt = _check(model, _feeds(pad=pad))
    assert op_counts(opt) == {"Not": 1, "ReduceMax": 1, "Expand": 1, "Attention": 1, "Where": 1}


def test_finite_fill_on_a_mask_that_may_empty_a_row_is_not_fused():
    # a fully filled row softmaxes to a uniform row there; Attention would give zeros
    nodes, inits = _scores("div")
    tail, more = _tail("sel")
    nodes += [helper.make_node("Where", ["keep", "s", "fmin"], ["sel"])] + tail
    keep = np.ones((B, 1, S, S), bool)
    keep[0, 0, 1] = False
    model = _model(nodes, inits + more + [_c("fmin", FMIN)], [("keep", BOOL, [B, 1, S, S])])
    opt = _check(model, _feeds(keep=keep))
    assert "Attention" not in op_counts(opt) and op_counts(opt)["Softmax"] == 1


# ------------------------------------------------------------------------------------ what stays as it is


def test_opset_below_23_is_left_alone():
    for opset in (17, 22):
        nodes, inits = _scores("div")
        tail, more = _tail("s")
        opt = _check(_model(nodes + tail, inits + more, opset=opset), _feeds())
        assert op_counts(opt) == {"Transpose": 1, "MatMul": 2, "Div": 1, "Softmax": 1}
        assert [o.version for o in opt.opset_import if o.domain == ""] == [opset]


def test_broadcast_batch_and_other_softmax_axis_and_read_probabilities_are_not_fused():
    nodes, inits = _scores("div")
    tail, more = _tail("s")
    # queries shared over the batch (Perceiver latents): MatMul broadcasts, Attention would not
    model = make_model(nodes + tail, [("q", F, [1, H, S, D]), ("k", F, [B, H, S, D]), ("v", F, [B, H, S, D])],
                       [("y", F, [B, H, S, D])], inits + more, opset=23)
    feeds = _feeds()
    feeds["q"] = feeds["q"][:1]
    assert "Attention" not in op_counts(_check(model, feeds))
    # softmax over the query axis
    other_axis = [helper.make_node("Softmax", ["s"], ["p"], axis=2),
                  helper.make_node("MatMul", ["p", "v"], ["y"])]
    assert "Attention" not in op_counts(_check(_model(nodes + other_axis, inits), _feeds()))
    # the probabilities are a graph output too
    model = _model(nodes + tail, inits + more)
    model.graph.output.append(helper.make_tensor_value_info("p", F, [B, H, S, S]))
    assert "Attention" not in op_counts(_check(model, _feeds()))


def test_mask_dims_unknown_to_shape_inference_fit_and_static_enlarging_dims_do_not():
    # static batch-1 exports often lose the mask's leading dims: an unknown mask dim is taken to fit
    nodes, inits = _add_mask("mask")
    feeds = _feeds(batch=1, mask=np.where(rand(1, 1, S, S, seed=4) > 1, FMIN, 0).astype(np.float32))
    model = _model(nodes, inits, [("mask", F, ["b", 1, S, S])], batch=1)
    assert op_counts(_check(model, feeds))["Attention"] == 1
    # a mask with 2 batches would make 2 outputs of 1 batch of queries: Attention refuses that
    model = make_model(nodes, [("q", F, [1, H, S, D]), ("k", F, [1, H, S, D]), ("v", F, [1, H, S, D]),
                               ("mask", F, [2, 1, S, S])], [("y", F, [2, H, S, D])], inits, opset=23)
    feeds["mask"] = np.concatenate([feeds["mask"]] * 2)
    assert "Attention" not in op_counts(_check(model, feeds))


def test_negative_scale_is_not_fused():
    nodes, inits = _scores("mul")
    tail, more = _tail("s")
    inits = [_c("c", -0.5)]
    assert "Attention" not in op_counts(_check(_model(nodes + tail, inits + more), _feeds()))


def test_float16_attention():
    nodes, inits = _scores("div")
    tail, more = _tail("s")
    inits = [_c("c", math.sqrt(D), np.float16)]
    h = TensorProto.FLOAT16
    model = make_model(nodes + tail, [("q", h, [B, H, S, D]), ("k", h, [B, H, S, D]), ("v", h, [B, H, S, D])],
                       [("y", h, [B, H, S, D])], inits + more, opset=23)
    feeds = {k: v.astype(np.float16) for k, v in _feeds().items()}
    opt = check_optimized(model, feeds, rtol=2e-3, atol=2e-3)
    assert op_counts(opt) == {"Attention": 1}
