"""ai.onnx.ml encoders: CastMap, CategoryMapper, DictVectorizer, LabelEncoder, OneHotEncoder, ZipMap.

Maps arrive as Python dicts and ZipMap returns a list of dicts (a sequence of maps),
wrapped in a one-entry tuple so that the list is never mistaken for several outputs.
Lookups are vectorized with sorted keys and ``searchsorted`` for numeric keys; string
keys go through a dict, since NumPy has no fast path for Python strings anyway.
Where the spec leaves a detail open (string formatting, shapes), onnxruntime's
behaviour is followed.
"""

from __future__ import annotations

import numpy as np

from ..registry import ML_DOMAIN, op


def _decode(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


def _values(v) -> np.ndarray:
    """An attribute list or TENSOR attribute as a 1-D array (strings as object arrays of str)."""
    a = np.asarray(v)
    if a.dtype.kind in "OSU" or (a.size and isinstance(a.flat[0], (str, bytes))):
        return np.array([_decode(s) for s in a.reshape(-1)], dtype=object)
    return a.reshape(-1)


def _map_lookup(x: np.ndarray, keys: np.ndarray, values: np.ndarray, default) -> np.ndarray:
    """values[i] where x == keys[i], ``default`` where x is no key; the last duplicate key wins."""
    if keys.dtype == object or x.dtype == object:
        table = dict(zip(keys.tolist(), values.tolist()))
        flat = [table.get(_decode(v), default) for v in x.reshape(-1).tolist()]
        out = np.empty(len(flat), dtype=values.dtype)
        out[:] = flat
        return out.reshape(x.shape)
    keys = keys.astype(x.dtype) if x.dtype.kind == "f" else keys
    # keep the last occurrence of each key, then sort for searchsorted
    _, last_rev = np.unique(keys[::-1], return_index=True)
    keep = np.sort(len(keys) - 1 - last_rev)
    keys, values = keys[keep], values[keep]
    nan_value = None
    if keys.dtype.kind == "f" and np.isnan(keys).any():
        # any NaN key matches any NaN input, whatever its bits
        nan_value = values[np.isnan(keys)][-1]
        keys, values = keys[~np.isnan(keys)], values[~np.isnan(keys)]
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    out = np.full(x.shape, default, dtype=values.dtype)
    if keys.size:
        pos = np.clip(np.searchsorted(keys, x), 0, keys.size - 1)
        hit = keys[pos] == x
        out[hit] = values[pos[hit]]
    if nan_value is not None:
        out[np.isnan(x)] = nan_value
    return out


# --------------------------------------------------------------------------- LabelEncoder


@op("LabelEncoder", since=1, domain=ML_DOMAIN)
def label_encoder_v1(xp, x, *, classes_strings=None, default_int64=-1, default_string="_Unused"):
    a = np.asarray(x)
    classes = list(classes_strings or [])
    if a.dtype == object:
        # string -> its index in classes_strings
        index = {s: i for i, s in enumerate(classes)}
        out = np.fromiter((index.get(_decode(s), default_int64) for s in a.flat), np.int64, count=a.size)
        return xp.asarray(out.reshape(a.shape))
    # integer -> classes_strings[i]
    table = np.array(classes + [default_string], dtype=object)
    idx = a.astype(np.int64)
    idx = np.where((idx >= 0) & (idx < len(classes)), idx, len(classes))
    return table[idx]


def _first(*candidates):
    for c in candidates:
        if c is not None and (not isinstance(c, (list, tuple)) or len(c)):
            return c
    return None


@op("LabelEncoder", since=(2, 4), domain=ML_DOMAIN)
def label_encoder(
    xp,
    x,
    *,
    keys_floats=None,
    keys_int64s=None,
    keys_strings=None,
    keys_tensor=None,
    values_floats=None,
    values_int64s=None,
    values_strings=None,
    values_tensor=None,
    default_float=-0.0,
    default_int64=-1,
    default_string="_Unused",
    default_tensor=None,
):
    a = np.asarray(x)
    if a.dtype.kind in "SU":
        a = a.astype(object)
    keys = _first(keys_tensor, keys_strings, keys_int64s, keys_floats)
    vals = _first(values_tensor, values_strings, values_int64s, values_floats)
    if keys is None or vals is None:
        raise ValueError("LabelEncoder needs one keys_* and one values_* attribute")
    k, v = _values(keys), _values(vals)
    if values_floats is not None and vals is values_floats:
        v = v.astype(np.float32)
    if len(k) != len(v):
        raise ValueError(f"LabelEncoder: {len(k)} keys but {len(v)} values")
    if default_tensor is not None:
        default = _values(default_tensor)[0]
    elif v.dtype == object:
        default = default_string
    elif v.dtype.kind in "iu":
        default = default_int64
    else:
        default = default_float
    return _map_lookup(a, k, v, default) if v.dtype == object else xp.asarray(_map_lookup(a, k, v, default))


# --------------------------------------------------------------------------- CategoryMapper


@op("CategoryMapper", since=1, domain=ML_DOMAIN)
def category_mapper(xp, x, *, cats_int64s=None, cats_strings=None, default_int64=-1, default_string="_Unused"):
    a = np.asarray(x)
    ints = np.asarray(cats_int64s or [], dtype=np.int64)
    strs = np.array(list(cats_strings or []), dtype=object)
    if len(ints) != len(strs):
        raise ValueError("CategoryMapper: cats_int64s and cats_strings differ in length")
    if a.dtype == object or a.dtype.kind in "SU":
        return xp.asarray(_map_lookup(a.astype(object), strs, ints, default_int64))
    return _map_lookup(a.astype(np.int64), ints, strs, default_string)


# --------------------------------------------------------------------------- OneHotEncoder


@op("OneHotEncoder", since=1, domain=ML_DOMAIN)
def one_hot_encoder(xp, x, *, cats_int64s=None, cats_strings=None, zeros=1):
    a = np.asarray(x)
    if cats_strings:
        cats = np.array(list(cats_strings), dtype=object)
        a = a.astype(object)
    elif cats_int64s:
        cats = np.asarray(cats_int64s, dtype=np.int64)
        a = a.astype(np.int64)  # float categories truncate toward zero, like a C cast
    else:
        raise ValueError("OneHotEncoder needs cats_int64s or cats_strings")
    pos = _map_lookup(a, cats, np.arange(len(cats), dtype=np.int64), -1)
    if not zeros and (pos < 0).any():
        raise ValueError("OneHotEncoder: unknown category and zeros=0")
    out = (pos[..., None] == np.arange(len(cats))).astype(np.float32)
    return xp.asarray(out)


# --------------------------------------------------------------------------- maps


def _cast_values(values: list, cast_to: str) -> np.ndarray:
    """Map values converted as CastMap's cast_to asks (strings parsed, numbers formatted)."""
    if cast_to == "TO_FLOAT":
        return np.array([float(v) for v in values], dtype=np.float32)
    if cast_to == "TO_INT64":
        # numbers truncate toward zero, numeric strings are parsed the same way
        return np.array([int(float(v)) if isinstance(v, str) else int(v) for v in values], dtype=np.int64)
    if cast_to == "TO_STRING":
        # fixed notation with six decimals, as C's "%f" (onnxruntime's std::to_string)
        return np.array([v if isinstance(v, str) else f"{v:f}" for v in values], dtype=object)
    raise ValueError(f"CastMap: unknown cast_to {cast_to!r}")


@op("CastMap", since=1, domain=ML_DOMAIN)
def cast_map(xp, x, *, cast_to="TO_FLOAT", map_form="DENSE", max_map=1):
    keys = sorted(int(k) for k in x)
    vals = _cast_values([x[k] for k in keys], cast_to)
    if map_form == "DENSE":
        out = vals
    elif map_form == "SPARSE":
        if keys and (keys[0] < 0 or keys[-1] >= max_map):
            raise ValueError(f"CastMap: key out of range [0, {max_map}) for SPARSE packing")
        # the filler onnxruntime writes for an absent key ("0.f" for strings, sic)
        fill = "0.f" if vals.dtype == object else 0
        out = np.full(int(max_map), fill, dtype=vals.dtype)
        out[keys] = vals
    else:
        raise ValueError(f"CastMap: unknown map_form {map_form!r}")
    out = out.reshape(1, -1)
    return out if out.dtype == object else xp.asarray(out)


@op("DictVectorizer", since=1, domain=ML_DOMAIN)
def dict_vectorizer(xp, x, *, int64_vocabulary=None, string_vocabulary=None):
    vocab = list(string_vocabulary) if string_vocabulary else [int(v) for v in (int64_vocabulary or [])]
    index = {k: i for i, k in enumerate(vocab)}
    sample = next(iter(x.values()), 0.0)
    if isinstance(sample, str):
        out = np.full(len(vocab), "", dtype=object)
    else:
        out = np.zeros(len(vocab), dtype=np.asarray(sample).dtype if isinstance(sample, np.generic) else
                       (np.int64 if isinstance(sample, (int, np.integer)) else np.float32))
    for k, v in x.items():
        i = index.get(_decode(k) if string_vocabulary else int(k))
        if i is not None:  # keys outside the vocabulary have no column
            out[i] = v
    out = out.reshape(1, -1)
    return out if out.dtype == object else xp.asarray(out)


@op("ZipMap", since=1, domain=ML_DOMAIN)
def zip_map(xp, x, *, classlabels_int64s=None, classlabels_strings=None):
    labels = list(classlabels_strings) if classlabels_strings else [int(v) for v in classlabels_int64s or []]
    m = np.asarray(x, dtype=np.float32)
    m = m.reshape(1, -1) if m.ndim == 1 else m
    if m.shape[1] != len(labels):
        raise ValueError(f"ZipMap: {m.shape[1]} columns for {len(labels)} labels")
    rows = [dict(zip(labels, row)) for row in m.tolist()]
    return (rows,)
