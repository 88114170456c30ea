"""String operators: StringConcat, StringNormalizer, StringSplit, RegexFullMatch, TfIdfVectorizer,
and onnxruntime's com.microsoft MurmurHash3 (what converters emit for feature hashing).

String tensors are NumPy object arrays of Python ``str``; these kernels run on the host
(NumPy) whatever the backend, since no array library has a string dtype.  Numeric
results are handed back through ``xp.asarray``.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .registry import op

MS_DOMAIN = "com.microsoft"


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


def _simple_case(c: str, upper: bool) -> str:
    """One character's case mapping, one character for one (the C library's towupper/towlower):
    'ß' stays 'ß' in upper case, 'İ' lowers to 'i'."""
    m = c.upper() if upper else c.lower()
    if len(m) == 1:
        return m
    return c if upper else m[0]


def _change_case(s: str, upper: bool, locale: str) -> str:
    """Case change as onnxruntime makes it: character by character, ASCII only in the C locale."""
    if s.isascii():
        return s.upper() if upper else s.lower()
    if locale in ("C", "POSIX"):
        table = _ASCII_UPPER if upper else _ASCII_LOWER
        return s.translate(table)
    return "".join(_simple_case(c, upper) for c in s)


_ASCII_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


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
    if case_change_action in ("LOWER", "UPPER"):
        words = [_change_case(w, case_change_action == "UPPER", locale) for w in words]
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


# --------------------------------------------------------------------------- MurmurHash3 (com.microsoft)

_M1, _M2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)


def _rotl(v: np.ndarray, r: int) -> np.ndarray:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def _mix_block(k: np.ndarray) -> np.ndarray:
    return _rotl(k * _M1, 15) * _M2


def _fmix(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def murmurhash3_32(data: np.ndarray, lengths: np.ndarray, seed: int) -> np.ndarray:
    """MurmurHash3 x86_32 of each row of ``data`` [N, W] (bytes, zero-padded, W % 4 == 0)
    over its first ``lengths[i]`` bytes; vectorized over rows, looping over 4-byte blocks."""
    n = data.shape[0]
    blocks = np.ascontiguousarray(data).view("<u4").astype(np.uint32)  # [N, W / 4]
    n_full = lengths // 4
    h = np.full(n, np.uint32(seed & 0xFFFFFFFF), dtype=np.uint32)
    with np.errstate(over="ignore"):
        for j in range(blocks.shape[1]):
            full = j < n_full
            if not full.any():
                break
            mixed = _rotl(h ^ _mix_block(blocks[:, j]), 13) * np.uint32(5) + np.uint32(0xE6546B64)
            h = np.where(full, mixed, h)
        # the tail: the 1-3 bytes after the last full block (the padding is zeros)
        rest = lengths % 4
        has_tail = rest > 0
        if has_tail.any():
            col = np.minimum(n_full, blocks.shape[1] - 1)
            tail = blocks[np.arange(n), col]
            h = np.where(has_tail, h ^ _mix_block(tail), h)
        h = _fmix(h ^ lengths.astype(np.uint32))
    return h


@op("MurmurHash3", since=1, domain=MS_DOMAIN)
def murmur_hash3(xp, x, *, positive=1, seed=0):
    a = np.asarray(x)
    if a.dtype == object or a.dtype.kind in "SU":
        encoded = [s.encode("utf-8") if isinstance(s, str) else bytes(s) for s in _as_str_array(a).flat]
        lengths = np.array([len(b) for b in encoded], dtype=np.int64)
        width = max(4, -(-int(lengths.max(initial=0)) // 4) * 4)
        data = np.zeros((len(encoded), width), dtype=np.uint8)
        for i, b in enumerate(encoded):
            data[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    elif a.dtype in (np.int32, np.uint32):
        # a 32-bit key hashes its own four bytes, as onnxruntime does (no other numeric type is taken)
        data = np.ascontiguousarray(a.reshape(-1)).astype(a.dtype.newbyteorder("<")).view(np.uint8).reshape(-1, 4)
        lengths = np.full(data.shape[0], 4, dtype=np.int64)
    else:
        raise TypeError(f"MurmurHash3 hashes int32, uint32 or string keys, not {a.dtype}")
    h = murmurhash3_32(data, lengths, int(seed)).reshape(a.shape)
    return xp.asarray(h if positive else h.view(np.int32))


# --------------------------------------------------------------------------- Tokenizer (com.microsoft)

_START_TEXT, _END_TEXT = "\x02", "\x03"


@lru_cache(maxsize=64)
def _compile_re2_like(pattern: str) -> re.Pattern:
    # onnxruntime matches with RE2, whose \w, \d, \s and \b are ASCII-only
    return re.compile(pattern, re.ASCII)


def _split_on(rx: re.Pattern, s: str) -> list[str]:
    """The pieces of ``s`` between the (non-empty) matches of ``rx``."""
    pieces, start = [], 0
    for m in rx.finditer(s):
        if m.end() > m.start():
            pieces.append(s[start:m.start()])
            start = m.end()
    pieces.append(s[start:])
    return pieces


@op("Tokenizer", since=1, domain=MS_DOMAIN)
def tokenizer(xp, x, *, mark, mincharnum, pad_value, separators=None, tokenexp=None):
    a = _as_str_array(x)
    if a.ndim not in (1, 2):
        raise ValueError(f"Tokenizer takes a [C] or [N, C] string tensor, got shape {a.shape}")
    seps = list(separators or [])
    if seps and tokenexp:
        raise ValueError("Tokenizer takes separators or tokenexp, not both")
    mincharnum = int(mincharnum)
    if seps == [""]:
        # one empty separator: every character is a token
        if mincharnum > 1:
            raise ValueError("Tokenizer: mincharnum > 1 leaves nothing of a character tokenization")
        rows = [list(s) for s in a.flat]
    elif tokenexp:
        rx = _compile_re2_like(tokenexp)
        rows = [[t for t in (m.group(0) for m in rx.finditer(s)) if t and len(t) >= mincharnum] for s in a.flat]
    elif seps:
        if any(not s for s in seps):
            raise ValueError("Tokenizer: an empty separator must be the only one")
        rx = _compile_re2_like("|".join(f"(?:{s})" for s in seps))
        rows = [[t for t in _split_on(rx, s) if t and len(t) >= mincharnum] for s in a.flat]
    else:
        raise ValueError("Tokenizer needs separators or tokenexp")
    width = max((len(r) for r in rows), default=0)
    if width == 0:
        # nothing but separators (or empty strings): no token column at all, markers included
        return _obj([], a.shape + (0,))
    marks = 2 if mark else 0
    cells = []
    for r in rows:
        tokens = [_START_TEXT, *r, _END_TEXT] if mark else r
        cells.extend(tokens + [pad_value] * (width + marks - len(tokens)))
    return _obj(cells, a.shape + (width + marks,))
