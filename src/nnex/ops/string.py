"""String operators: StringConcat, StringNormalizer, StringSplit, RegexFullMatch, TfIdfVectorizer.

String tensors are NumPy object arrays of Python ``str``; these kernels run on the host
(NumPy) whatever the backend, since no array library has a string dtype.  Numeric
results are handed back through ``xp.asarray``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .registry import op


def _as_str_array(x) -> np.ndarray:
    """An object array of ``str`` (bytes are decoded, so that callers may pass either)."""
    a = np.asarray(x, dtype=object)
    if a.size and any(isinstance(v, bytes) for v in a.flat):
        a = np.vectorize(lambda v: v.decode("utf-8") if isinstance(v, bytes) else v, otypes=[object])(a)
    return a


def _obj(values, shape) -> np.ndarray:
    """An object array of the given shape holding ``values`` (a flat iterable)."""
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=object)
    out[:] = list(values)
    return out.reshape(shape)


@op("StringConcat", since=20)
def string_concat(xp, x, y):
    a, b = _as_str_array(x), _as_str_array(y)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    return _obj((p + q for p, q in zip(a.flat, b.flat)), shape)


@op("StringNormalizer", since=10)
def string_normalizer(xp, x, *, case_change_action="NONE", is_case_sensitive=0, locale="", stopwords=None):
    a = _as_str_array(x)
    if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[0] != 1):
        raise ValueError(f"StringNormalizer takes a [C] or [1, C] tensor, got shape {a.shape}")
    words = list(a.reshape(-1))
    if stopwords:
        if is_case_sensitive:
            stop = set(stopwords)
            words = [w for w in words if w not in stop]
        else:
            stop = {s.casefold() for s in stopwords}
            words = [w for w in words if w.casefold() not in stop]
    if case_change_action == "LOWER":
        words = [w.lower() for w in words]
    elif case_change_action == "UPPER":
        words = [w.upper() for w in words]
    elif case_change_action != "NONE":
        raise ValueError(f"StringNormalizer: unknown case_change_action {case_change_action!r}")
    if not words:
        # the spec's "empty value": one empty string, keeping the input's rank
        words = [""]
    shape = (len(words),) if a.ndim == 1 else (1, len(words))
    return _obj(words, shape)


@op("StringSplit", since=20)
def string_split(xp, x, *, delimiter=None, maxsplit=None):
    a = _as_str_array(x)
    # an empty or absent delimiter means "runs of whitespace", which is str.split(None)
    sep = delimiter or None
    limit = -1 if maxsplit is None else int(maxsplit)
    parts = [s.split(sep, limit) for s in a.flat]
    counts = np.array([len(p) for p in parts], dtype=np.int64).reshape(a.shape)
    width = int(counts.max()) if counts.size else 0
    padded = (p + [""] * (width - len(p)) for p in parts)
    subs = _obj((s for row in padded for s in row), a.shape + (width,))
    return subs, xp.asarray(counts)


@lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@op("RegexFullMatch", since=20)
def regex_full_match(xp, x, *, pattern=None):
    if pattern is None:
        raise ValueError("RegexFullMatch needs a pattern")
    rx = _compile(pattern)
    a = _as_str_array(x)
    hits = np.fromiter((rx.fullmatch(s) is not None for s in a.flat), dtype=bool, count=a.size)
    return xp.asarray(hits.reshape(a.shape))


# --------------------------------------------------------------------------- TfIdfVectorizer


class _NgramPool:
    """The pool of n-grams as a trie over token ids, walked level by level with NumPy.

    Tokens are mapped to ids 0..V-1 (V = distinct pool tokens, unknown = -1).  Level k
    holds every distinct k-prefix of a pool n-gram, keyed by ``parent * V + token`` and
    kept sorted so that a whole batch of positions advances one level with a single
    ``searchsorted``.  ``ends[n]`` maps a level-n node to its pool n-gram number (or -1).
    """

    def __init__(self, pool, ngram_counts):
        pool = list(pool)
        starts = list(ngram_counts) + [len(pool)]
        self.vocab = sorted(set(pool))
        self.V = max(len(self.vocab), 1)
        tok_id = {t: i for i, t in enumerate(self.vocab)}
        grams = []  # (n, ids) in pool order: pool n-gram number = position here
        for n in range(1, len(ngram_counts) + 1):
            lo, hi = starts[n - 1], starts[n]
            for p in range(lo, hi - n + 1, n):
                grams.append((n, [tok_id[t] for t in pool[p:p + n]]))
        self.n_grams = len(grams)
        self.max_n = max((n for n, _ in grams), default=0)
        self.levels: list[np.ndarray] = []
        node_of = [0] * len(grams)  # current trie node of each gram while building
        self.ends: dict[int, np.ndarray] = {}
        for k in range(1, self.max_n + 1):
            live = [g for g, (n, _) in enumerate(grams) if n >= k]
            keys = np.array([node_of[g] * self.V + grams[g][1][k - 1] for g in live], dtype=np.int64)
            uniq = np.unique(keys)
            self.levels.append(uniq)
            ends = np.full(len(uniq), -1, dtype=np.int64)
            for g, key in zip(live, keys):
                node_of[g] = int(np.searchsorted(uniq, key))
                if grams[g][0] == k:
                    ends[node_of[g]] = g
            self.ends[k] = ends

    def token_ids(self, x: np.ndarray) -> np.ndarray:
        """Pool-token id of each input element, -1 for a token not in the pool."""
        if x.dtype == object:
            tok_id = {t: i for i, t in enumerate(self.vocab)}
            return np.fromiter((tok_id.get(t, -1) for t in x.flat), dtype=np.int64, count=x.size).reshape(x.shape)
        vocab = np.asarray(self.vocab, dtype=np.int64)
        if vocab.size == 0:
            return np.full(x.shape, -1, dtype=np.int64)
        pos = np.clip(np.searchsorted(vocab, x), 0, vocab.size - 1)
        return np.where(vocab[pos] == x, pos, -1)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Pool n-gram number of each row of ``ids`` ([..., n] token ids), -1 when absent."""
        n = ids.shape[-1]
        node = np.zeros(ids.shape[:-1], dtype=np.int64)
        ok = np.ones(ids.shape[:-1], dtype=bool)
        for k in range(n):
            level = self.levels[k]
            tok = ids[..., k]
            ok &= tok >= 0
            key = node * self.V + tok
            pos = np.clip(np.searchsorted(level, key), 0, max(level.size - 1, 0))
            ok &= level[pos] == key if level.size else False
            node = np.where(ok, pos, 0)
        return np.where(ok, self.ends[n][node], -1)


def _ngram_counts(pool: _NgramPool, ids: np.ndarray, min_n: int, max_n: int, max_skip: int) -> np.ndarray:
    """Counts [N, n_grams] of every pool n-gram in each row of ``ids`` [N, C]."""
    N, C = ids.shape
    counts = np.zeros((N, pool.n_grams), dtype=np.int64)
    rows = np.arange(N)[:, None]
    for n in range(max(min_n, 1), min(max_n, pool.max_n) + 1):
        # a unigram is the same whatever the skip: count it once
        for skip in range(max_skip + 1 if n > 1 else 1):
            span = (n - 1) * (skip + 1)
            if span >= C:
                break
            starts = np.arange(C - span)
            positions = starts[:, None] + np.arange(n) * (skip + 1)  # [S, n]
            found = pool.lookup(ids[:, positions])  # [N, S]
            hit = found >= 0
            np.add.at(counts, (np.broadcast_to(rows, found.shape)[hit], found[hit]), 1)
    return counts


@op("TfIdfVectorizer", since=9)
def tfidf_vectorizer(
    xp,
    x,
    *,
    max_gram_length,
    max_skip_count,
    min_gram_length,
    mode,
    ngram_counts,
    ngram_indexes,
    pool_int64s=None,
    pool_strings=None,
    weights=None,
):
    if (pool_int64s is None) == (pool_strings is None):
        raise ValueError("TfIdfVectorizer needs exactly one of pool_int64s and pool_strings")
    a = np.asarray(x)
    pool_values = pool_strings if pool_strings is not None else [int(v) for v in pool_int64s]
    pool = _NgramPool(pool_values, [int(c) for c in ngram_counts])
    rows = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
    if pool_strings is not None:
        rows = _as_str_array(rows)
    ids = pool.token_ids(rows)
    counts = _ngram_counts(pool, ids, int(min_gram_length), int(max_gram_length), int(max_skip_count))
    indexes = np.asarray(ngram_indexes, dtype=np.int64)[: pool.n_grams]
    w = np.ones(pool.n_grams) if weights is None or len(weights) == 0 else np.asarray(weights, np.float64)
    if mode == "TF":
        vals = counts.astype(np.float64)
    elif mode == "IDF":
        vals = np.minimum(counts, 1) * w[: pool.n_grams]
    elif mode == "TFIDF":
        vals = counts * w[: pool.n_grams]
    else:
        raise ValueError(f"TfIdfVectorizer: unknown mode {mode!r}")
    width = int(np.max(ngram_indexes)) + 1 if len(ngram_indexes) else 0
    out = np.zeros((rows.shape[0], width), dtype=np.float32)
    # two pool n-grams may share one output slot: accumulate, don't overwrite
    np.add.at(out, (slice(None), indexes), vals.astype(np.float32))
    return xp.asarray(out[0] if a.ndim <= 1 else out)
