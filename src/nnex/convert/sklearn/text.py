"""CountVectorizer, TfidfVectorizer (word analyzer) and TfidfTransformer.

ONNX has no regex tokenizer, so the word tokens of the default token_pattern
(runs of two or more word characters) are rebuilt from standard ops: split on
whitespace (StringSplit), then on each ASCII punctuation character, keep the pieces
that are runs of word characters (RegexFullMatch), drop single characters and stop
words, and move the kept tokens to the front in order (TopK + GatherElements) so that
n-grams see them adjacent. TfIdfVectorizer counts the vocabulary's n-grams.

This is exact for texts whose characters are ASCII word characters, whitespace and
ASCII punctuation. A text holding anything else (an accented letter, a typographic
quote) could be tokenized differently, so its output row is NaN rather than wrong.
The char and char_wb analyzers need substrings, which no ONNX op gives: they are refused.
"""

from __future__ import annotations

import string

import numpy as np
import onnx

from ._context import FLOAT, STR, Ctx, Data, Table
from ._registry import transformer, unsupported

_WORD = "[0-9A-Za-z_]"
_PUNCT = [c for c in string.punctuation if c != "_"]
# token_pattern -> (pattern a kept piece fully matches, pattern of droppable pieces)
_PATTERNS = {
    r"(?u)\b\w\w+\b": (f"{_WORD}{{2,}}", f"{_WORD}?"),
    r"\b\w\w+\b": (f"{_WORD}{{2,}}", f"{_WORD}?"),
    r"(?u)\b\w+\b": (f"{_WORD}+", ""),
    r"\b\w+\b": (f"{_WORD}+", ""),
}


def _text_input(ctx: Ctx, x) -> object:
    """The documents as a 1-D string tensor (N,)."""
    if isinstance(x, Table):
        x = ctx.matrix(x)
    if x.kind != STR:
        raise unsupported_input()
    return x.v if x.ndim == 1 else ctx.flat(x.v)


def unsupported_input():
    from .. import ConversionError

    return ConversionError("a text vectorizer needs string input (one document per row)")


def _compact(ctx: Ctx, tokens, keep):
    """Kept tokens moved to the front of each row, in order; the rest become "" at the end."""
    n_cols = ctx.op.Shape(tokens, start=1, end=2)
    pos = ctx.op.Cast(ctx.op.Range(ctx.i64(0), ctx.op.Squeeze(n_cols, ctx.i64([0])), ctx.i64(1)),
                      to=onnx.TensorProto.FLOAT)
    pos = ctx.op.Unsqueeze(pos, ctx.i64([0]))
    big = ctx.op.Cast(n_cols, to=onnx.TensorProto.FLOAT)
    key = ctx.op.Where(keep, pos, ctx.op.Add(pos, big))
    _, order = ctx.op.TopK(key, n_cols, axis=1, largest=0, sorted=1, _outputs=2)
    moved = ctx.op.GatherElements(tokens, order, axis=1)
    kept = ctx.op.GatherElements(keep, order, axis=1)
    moved = ctx.op.Where(kept, moved, ctx.b.const(np.array([[""]], dtype=object)))
    # trim to the longest row (at least one column), so that splits do not compound widths
    count = ctx.reduce("ReduceSum", ctx.op.Cast(keep, to=onnx.TensorProto.INT64))
    width = ctx.op.Max(ctx.reduce("ReduceMax", count, axis=0, keepdims=0), ctx.i64([1]))
    return ctx.op.Slice(moved, ctx.i64([0]), width, ctx.i64([1]))


def _tokens(ctx: Ctx, est, docs):
    """(N, T) word tokens of each document ("" padded) and (N, 1) "not exactly tokenizable"."""
    if callable(est.analyzer) or est.analyzer != "word":
        raise unsupported(est, f"analyzer={est.analyzer!r} (ONNX has no substring operator)")
    if est.preprocessor is not None or est.tokenizer is not None:
        raise unsupported(est, "a custom preprocessor or tokenizer")
    if est.strip_accents is not None:
        raise unsupported(est, f"strip_accents={est.strip_accents!r}")
    if est.token_pattern not in _PATTERNS:
        raise unsupported(est, f"token_pattern={est.token_pattern!r} (supported: {sorted(_PATTERNS)})")
    word, droppable = _PATTERNS[est.token_pattern]
    if est.lowercase:
        attrs = {"locale": ctx.options["locale"]} if ctx.options.get("locale") else {}
        docs = ctx.op.StringNormalizer(docs, case_change_action="LOWER", **attrs)
    pieces, _ = ctx.op.StringSplit(docs, _outputs=2)
    empty = ctx.b.const(np.array([[""]], dtype=object))
    for i, c in enumerate(_PUNCT):
        split, _ = ctx.op.StringSplit(pieces, delimiter=c, _outputs=2)
        pieces = ctx.op.Reshape(split, ctx.op.Concat(ctx.op.Shape(split, start=0, end=1), ctx.i64([-1]), axis=0))
        if i % 4 == 3 or i == len(_PUNCT) - 1:
            # drop the empty pieces now and then, before the widths compound
            pieces = _compact(ctx, pieces, ctx.op.Not(ctx.op.Equal(pieces, empty)))
    is_word = ctx.op.RegexFullMatch(pieces, pattern=word)
    is_drop = ctx.op.RegexFullMatch(pieces, pattern=droppable) if droppable else \
        ctx.op.Equal(pieces, ctx.b.const(np.array([[""]], dtype=object)))
    bad = ctx.op.Not(ctx.op.Or(is_word, is_drop))
    bad_row = ctx.op.Greater(ctx.reduce("ReduceMax", ctx.op.Cast(bad, to=onnx.TensorProto.INT32)),
                             ctx.b.const(np.array(0, dtype=np.int32)))
    keep = is_word
    stop = est.get_stop_words()
    if stop:
        words = np.array(sorted(stop), dtype=object).reshape(1, 1, -1)
        is_stop = ctx.op.Cast(ctx.op.Equal(ctx.op.Unsqueeze(pieces, ctx.i64([2])), ctx.b.const(words)),
                              to=onnx.TensorProto.INT32)
        is_stop = ctx.op.Greater(ctx.reduce("ReduceMax", is_stop, axis=2, keepdims=0),
                                 ctx.b.const(np.array(0, dtype=np.int32)))
        keep = ctx.op.And(keep, ctx.op.Not(is_stop))
    return _compact(ctx, pieces, keep), bad_row


def _counts(ctx: Ctx, est, tokens):
    """(N, V) n-gram counts in vocabulary order (float)."""
    vocab = est.vocabulary_
    lo, hi = est.ngram_range
    grams = sorted(vocab.items(), key=lambda kv: (len(kv[0].split(" ")), kv[1]))
    pool, counts, indexes = [], [], []
    for n in range(1, hi + 1):
        counts.append(len(pool))
        for g, col in grams:
            parts = g.split(" ")
            if len(parts) == n:
                pool.extend(parts)
                indexes.append(col)
    # pad the tokens so that a row is never shorter than the longest n-gram
    pad = ctx.b.const(np.full((1, hi), "", dtype=object))
    n_rows = ctx.op.Shape(tokens, start=0, end=1)
    tokens = ctx.op.Concat(tokens, ctx.op.Expand(pad, ctx.op.Concat(n_rows, ctx.i64([hi]), axis=0)), axis=1)
    tf = ctx.op.TfIdfVectorizer(tokens, max_gram_length=hi, min_gram_length=lo, max_skip_count=0, mode="TF",
                                ngram_counts=counts, ngram_indexes=indexes, pool_strings=pool)
    return ctx.op.Cast(tf, to=ctx.elem)


def _tfidf_weights(ctx: Ctx, t, counts):
    """TfidfTransformer.transform on (N, V) counts."""
    v = counts
    if t.sublinear_tf:
        pos = ctx.op.Greater(v, ctx.scalar(0.0))
        v = ctx.op.Where(pos, ctx.op.Add(ctx.op.Log(ctx.op.Where(pos, v, ctx.scalar(1.0))), ctx.scalar(1.0)), v)
    if getattr(t, "use_idf", False) and hasattr(t, "idf_"):
        v = ctx.op.Mul(v, ctx.const(np.asarray(t.idf_, np.float64)[None]))
    if t.norm is not None:
        if t.norm == "l2":
            n = ctx.op.Sqrt(ctx.sum(ctx.op.Mul(v, v)))
        elif t.norm == "l1":
            n = ctx.sum(ctx.op.Abs(v))
        else:
            raise unsupported(t, f"norm={t.norm!r}")
        v = ctx.op.Div(v, ctx.op.Where(ctx.op.Equal(n, ctx.scalar(0.0)), ctx.scalar(1.0), n))
    return v


def _vectorize(ctx: Ctx, est, x, tfidf):
    docs = _text_input(ctx, x)
    tokens, bad_row = _tokens(ctx, est, docs)
    v = _counts(ctx, est, tokens)
    if est.binary:
        v = ctx.op.Cast(ctx.op.Greater(v, ctx.scalar(0.0)), to=ctx.elem)
    if tfidf is not None:
        v = _tfidf_weights(ctx, tfidf, v)
    v = ctx.op.Where(bad_row, ctx.scalar(np.nan), v)
    return Data(v, FLOAT, len(est.vocabulary_))


@transformer("CountVectorizer")
def _count_vectorizer(ctx, est, x):
    return _vectorize(ctx, est, x, None)


@transformer("TfidfVectorizer")
def _tfidf_vectorizer(ctx, est, x):
    return _vectorize(ctx, est, x, est._tfidf)


@transformer("TfidfTransformer")
def _tfidf_transformer(ctx, est, x):
    x = ctx.float(ctx.matrix(x))
    return Data(_tfidf_weights(ctx, est, x.v), FLOAT, x.width)
