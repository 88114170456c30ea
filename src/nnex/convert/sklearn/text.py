"""CountVectorizer, TfidfVectorizer (word analyzer) and TfidfTransformer.

ONNX has no regex tokenizer, so the word tokens of the default token_pattern
(runs of two or more word characters) are rebuilt from standard ops: split on
each ASCII character that is not a word character (StringSplit), keep the pieces
that are runs of word characters (RegexFullMatch), drop single characters and stop
words, and move the kept tokens to the front in order (TopK + GatherElements) so that
n-grams see them adjacent. TfIdfVectorizer counts the vocabulary's n-grams.

This is exact for texts of ASCII characters (NUL excepted). A text holding anything else (an accented letter, a typographic
quote) could be tokenized differently, so its output row is NaN rather than wrong.

The char and char_wb analyzers split each text into characters (com.microsoft Tokenizer
with an empty separator: one token per code point, as Python's str) and count the
character n-grams with TfIdfVectorizer. Lowercasing is a table lookup per character built
from Python's own str.lower, so it holds for any text; the two characters whose lowercase
is not one character on its own (U+0130, and U+03A3 whose lowercase depends on the next
letter) make their row NaN.
"""

from __future__ import annotations

import re
import string
import sys

import numpy as np
import onnx

from ._context import FLOAT, STR, Ctx, Data, Table
from ._registry import transformer, unsupported

_WORD = "[0-9A-Za-z_]"
# every ASCII character but the word characters separates tokens; StringSplit's default
# (whitespace) splits on " " alone in onnxruntime but on every whitespace in the ONNX
# reference, so each separator is split on explicitly (NUL cannot be an attribute value:
# a text holding one is NaN)
_SEPARATORS = [chr(c) for c in range(1, 32)] + ["\x7f"] + [c for c in string.punctuation if c != "_"]
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
    """(N, T) tokens of each document ("" padded) and (N, 1) "not exactly tokenizable" (or None)."""
    if callable(est.analyzer) or est.analyzer not in ("word", "char", "char_wb"):
        raise unsupported(est, f"analyzer={est.analyzer!r}")
    if est.preprocessor is not None:
        raise unsupported(est, "a custom preprocessor")
    if est.strip_accents is not None:
        raise unsupported(est, f"strip_accents={est.strip_accents!r}")
    if est.analyzer != "word":
        return _char_tokens(ctx, est, docs)
    if est.tokenizer is not None:
        raise unsupported(est, "a custom tokenizer")
    if est.token_pattern not in _PATTERNS:
        raise unsupported(est, f"token_pattern={est.token_pattern!r} (supported: {sorted(_PATTERNS)})")
    word, droppable = _PATTERNS[est.token_pattern]
    if est.lowercase:
        # the C locale lowers ASCII letters, all a kept row has, and exists everywhere
        # (onnxruntime's default en_US.UTF-8 is missing from minimal images)
        docs = ctx.op.StringNormalizer(docs, case_change_action="LOWER", locale=ctx.options.get("locale") or "C")
    pieces, _ = ctx.op.StringSplit(docs, delimiter=" ", _outputs=2)
    empty = ctx.b.const(np.array([[""]], dtype=object))
    for i, c in enumerate(_SEPARATORS):
        split, _ = ctx.op.StringSplit(pieces, delimiter=c, _outputs=2)
        pieces = ctx.op.Reshape(split, ctx.op.Concat(ctx.op.Shape(split, start=0, end=1), ctx.i64([-1]), axis=0))
        if i % 4 == 3 or i == len(_SEPARATORS) - 1:
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
    split = (lambda g: g.split(" ")) if est.analyzer == "word" else list
    lo, hi = est.ngram_range
    if vocab:
        # char_wb keeps a word shorter than the shortest n-gram whole: a shorter feature
        # (" a " for n >= 4) that only a whole padded word can match
        lo = min(lo, min(len(split(g)) for g in vocab))
        hi = max(hi, max(len(split(g)) for g in vocab))
    grams = sorted(vocab.items(), key=lambda kv: (len(split(kv[0])), kv[1]))
    pool, counts, indexes = [], [], []
    for n in range(1, hi + 1):
        counts.append(len(pool))
        for g, col in grams:
            parts = split(g)
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


# ------------------------------------------------------------------ char analyzers

_PAD = "<pad>"  # never a single character, so no n-gram crosses it
# what Python's re calls \s in a str pattern (and str.split() splits on)
_SPACES = sorted({chr(c) for c in range(sys.maxunicode + 1)
                  if not 0xD800 <= c <= 0xDFFF and re.match(r"\s", chr(c))})
_UPPER, _LOWER, _ODD_CASE = [], [], []
for _c in range(sys.maxunicode + 1):
    if 0xD800 <= _c <= 0xDFFF:
        continue
    _l = chr(_c).lower()
    if _l != chr(_c):
        if len(_l) == 1 and _c != 0x3A3:
            _UPPER.append(chr(_c))
            _LOWER.append(_l)
        else:
            _ODD_CASE.append(chr(_c))


def _is_any(ctx: Ctx, tokens, chars: list[str]):
    """(N, T) bool: the token is one of ``chars``."""
    table = ctx.b.const(np.array(chars, dtype=object)[None, None])
    hit = ctx.op.Cast(ctx.op.Equal(ctx.op.Unsqueeze(tokens, ctx.i64([2])), table), to=onnx.TensorProto.INT32)
    return ctx.op.Greater(ctx.reduce("ReduceMax", hit, axis=2, keepdims=0), ctx.b.const(np.array(0, dtype=np.int32)))


def _shift(ctx: Ctx, mask, right: bool):
    """A bool (N, T) moved one column right (the previous token's flag) or left (the next one's)."""
    n_rows = ctx.op.Shape(mask, start=0, end=1)
    false = ctx.op.Expand(ctx.b.const(np.zeros((1, 1), dtype=bool)), ctx.op.Concat(n_rows, ctx.i64([1]), axis=0))
    width = ctx.op.Shape(mask, start=1, end=2)
    if right:
        body = ctx.op.Slice(mask, ctx.i64([0]), ctx.op.Sub(width, ctx.i64([1])), ctx.i64([1]))
        return ctx.op.Concat(false, body, axis=1)
    body = ctx.op.Slice(mask, ctx.i64([1]), width, ctx.i64([1]))
    return ctx.op.Concat(body, false, axis=1)


def _char_tokens(ctx: Ctx, est, docs):
    """(N, T) characters of each document, rearranged so that TfIdfVectorizer's contiguous
    n-grams are the analyzer's: runs of whitespace made one space (char), or each
    whitespace-separated word as " word " with a pad between words (char_wb)."""
    if est.tokenizer is not None:
        raise unsupported(est, "a custom tokenizer")
    hi = max(est.ngram_range)
    chars = ctx.op.Tokenizer(docs, mark=0, mincharnum=1, pad_value=_PAD, separators=[""], _domain="com.microsoft")
    ctx.annotate(chars, onnx.TensorProto.STRING, ["N", None])
    # a batch of empty texts has no column at all: pad every row to at least one n-gram's width
    n_rows = ctx.op.Shape(docs, start=0, end=1)
    pad = ctx.op.Expand(ctx.b.const(np.full((1, hi + 1), _PAD, dtype=object)),
                        ctx.op.Concat(n_rows, ctx.i64([hi + 1]), axis=0))
    chars = ctx.op.Concat(chars, pad, axis=1)
    bad_row = None
    if est.lowercase:
        lowered = ctx.ml.LabelEncoder(chars, keys_strings=_UPPER, values_strings=_LOWER, default_string=_PAD)
        chars = ctx.op.Where(ctx.op.Equal(lowered, ctx.b.const(np.array(_PAD, dtype=object))), chars, lowered)
        bad_row = ctx.op.Greater(ctx.reduce("ReduceMax", ctx.op.Cast(_is_any(ctx, chars, _ODD_CASE),
                                                                       to=onnx.TensorProto.INT32)),
                                 ctx.b.const(np.array(0, dtype=np.int32)))
    space = _is_any(ctx, chars, _SPACES)
    prev_space, next_space = _shift(ctx, space, True), _shift(ctx, space, False)
    if est.analyzer == "char":
        # "\s\s+" -> " ": the first of a run of two or more becomes a space, the others go
        run_start = ctx.op.And(ctx.op.And(space, next_space), ctx.op.Not(prev_space))
        chars = ctx.op.Where(run_start, ctx.b.const(np.array(" ", dtype=object)), chars)
        tokens = _compact(ctx, chars, ctx.op.Not(ctx.op.And(space, prev_space)))
    else:
        is_pad = ctx.op.Equal(chars, ctx.b.const(np.array(_PAD, dtype=object)))
        letter = ctx.op.Not(ctx.op.Or(space, is_pad))
        prev_letter, next_letter = _shift(ctx, letter, True), _shift(ctx, letter, False)
        start = ctx.op.And(letter, ctx.op.Not(prev_letter))
        end = ctx.op.And(letter, ctx.op.Not(next_letter))
        # four slots per character: [pad, " "] before a word's first letter, the letter,
        # " " after its last
        shape = ctx.op.Shape(chars)
        const = (lambda v: ctx.op.Expand(ctx.b.const(np.array([[v]], dtype=object)), shape))
        slots = [ctx.op.Unsqueeze(v, ctx.i64([2])) for v in (const(_PAD), const(" "), chars, const(" "))]
        keeps = [ctx.op.Unsqueeze(v, ctx.i64([2])) for v in (start, start, letter, end)]
        flat = ctx.op.Concat(ctx.op.Shape(chars, start=0, end=1), ctx.i64([-1]), axis=0)
        slots = ctx.op.Reshape(ctx.op.Concat(*slots, axis=2), flat)
        keeps = ctx.op.Reshape(ctx.op.Concat(*keeps, axis=2), flat)
        tokens = _compact(ctx, slots, keeps)
    return tokens, bad_row


def _vectorize(ctx: Ctx, est, x, tfidf):
    docs = _text_input(ctx, x)
    tokens, bad_row = _tokens(ctx, est, docs)
    v = _counts(ctx, est, tokens)
    if est.binary:
        v = ctx.op.Cast(ctx.op.Greater(v, ctx.scalar(0.0)), to=ctx.elem)
    if tfidf is not None:
        v = _tfidf_weights(ctx, tfidf, v)
    if bad_row is not None:
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


# ------------------------------------------------------------------ feature hashing


@transformer("FeatureHasher")
def _feature_hasher(ctx, est, x):
    """input_type="string": each row's strings hashed with signed 32-bit MurmurHash3 (seed 0,
    com.microsoft MurmurHash3) to column |h| mod n_features, counting +1 (-1 for a negative h
    with alternate_sign)."""
    if est.input_type != "string":
        raise unsupported(est, f"input_type={est.input_type!r} (only rows of strings are tensors)")
    if isinstance(x, Table):
        x = ctx.matrix(x)
    if x.kind != STR or x.ndim != 2:
        raise unsupported(est, "an input other than a 2-D array of strings (one row of tokens per sample)")
    n = int(est.n_features)
    h = ctx.op.MurmurHash3(x.v, seed=0, positive=0, _domain="com.microsoft")
    ctx.annotate(h, onnx.TensorProto.INT32, ["N", x.width])
    h = ctx.op.Cast(h, to=onnx.TensorProto.INT64)
    # |h| in int64: |-2**31| mod n is what scikit-learn special-cases to
    index = ctx.op.Mod(ctx.op.Abs(h), ctx.i64(n))
    one = ctx.scalar(1.0)
    value = ctx.op.Where(ctx.op.GreaterOrEqual(h, ctx.i64(0)), one, ctx.scalar(-1.0)) if est.alternate_sign else \
        ctx.op.Add(ctx.op.Mul(ctx.op.Cast(index, to=ctx.elem), ctx.scalar(0.0)), one)
    shape = ctx.op.Concat(ctx.op.Shape(x.v, start=0, end=1), ctx.i64([n]), axis=0)
    zeros = ctx.op.Expand(ctx.const(np.zeros((1, 1))), shape)
    return Data(ctx.op.ScatterElements(zeros, index, value, axis=1, reduction="add"), FLOAT, n)

