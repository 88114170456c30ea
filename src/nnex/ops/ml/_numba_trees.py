"""The tree-ensemble walk as one compiled loop (numba; see nnex/_jit.py).

Each (sample, tree) pair goes down its tree one comparison at a time, over the flat
numbering of trees._Forest: internal nodes numbered 2 * i, leaves negative (indexing the
tables from their end, each leaf its own child), a node's children at ``child[node]``
(false) and ``child[node + 1]`` (true).  NumPy needs several whole-array calls per level;
here a level is a few instructions.

A step is a chain of dependent loads (node -> feature -> value -> next node), so one walk
at a time waits on memory; ``_LANES`` trees are walked side by side, their chains
overlapping, every pair taking exactly ``depth`` steps (a leaf stays where it is), so
there is no branch on data to mispredict.
"""

from __future__ import annotations

import numba
import numpy as np

# node modes, as trees.py numbers them (BRANCH_MEMBER is not handled here)
_LEQ, _LT, _GTE, _GT, _EQ = 0, 1, 2, 3, 4
_LANES = 16


@numba.njit(cache=True, nogil=True)
def walk(x, roots, feature, split, child, modes, same_mode, missing_true, depth, out):
    """out[t, s] = the leaf number sample ``s`` (row of ``x``) reaches in tree ``t``.

    ``same_mode`` >= 0: every node compares that way, else ``modes[node]`` says how;
    ``missing_true`` (empty: none) sends a NaN feature to the true side where it is set.
    """
    if same_mode == _LEQ and missing_true.shape[0] == 0:
        _walk_leq(x, roots, feature, split, child, depth, out)
        return
    n_trees = roots.shape[0]
    has_missing = missing_true.shape[0] > 0
    nodes = np.empty(_LANES, dtype=np.intp)
    for s in range(x.shape[0]):
        xs = x[s]
        for t0 in range(0, n_trees, _LANES):
            lanes = min(_LANES, n_trees - t0)
            for j in range(lanes):
                nodes[j] = roots[t0 + j]
            for _ in range(depth):
                for j in range(lanes):
                    node = nodes[j]
                    v = xs[feature[node]]
                    th = split[node]
                    m = same_mode if same_mode >= 0 else modes[node]
                    if m == _LEQ:
                        go = v <= th
                    elif m == _LT:
                        go = v < th
                    elif m == _GTE:
                        go = v >= th
                    elif m == _GT:
                        go = v > th
                    elif m == _EQ:
                        go = v == th
                    else:
                        go = v != th
                    if has_missing:
                        go = go or (np.isnan(v) and missing_true[node])
                    nodes[j] = child[node + np.intp(go)]
            for j in range(lanes):
                out[t0 + j, s] = nodes[j]


@numba.njit(cache=True, nogil=True)
def _walk_leq(x, roots, feature, split, child, depth, out):
    """``walk`` where every node is BRANCH_LEQ and no NaN goes to the true side (scikit-learn's forests)."""
    n_trees = roots.shape[0]
    nodes = np.empty(_LANES, dtype=np.intp)
    for s in range(x.shape[0]):
        xs = x[s]
        for t0 in range(0, n_trees, _LANES):
            lanes = min(_LANES, n_trees - t0)
            for j in range(lanes):
                nodes[j] = roots[t0 + j]
            for _ in range(depth):
                for j in range(lanes):
                    node = nodes[j]
                    nodes[j] = child[node + np.intp(xs[feature[node]] <= split[node])]
            for j in range(lanes):
                out[t0 + j, s] = nodes[j]


@numba.njit(cache=True, nogil=True)
def leaf_sums(ends, values, out):
    """out[s] = values[ends[0, s]] + values[ends[1, s]] + ..., added tree after tree in the
    output type (the running sum onnxruntime makes), starting from 0."""
    n_trees, n = ends.shape
    targets = values.shape[1]
    for s in range(n):
        for k in range(targets):
            out[s, k] = 0
        for t in range(n_trees):
            leaf = ends[t, s]
            for k in range(targets):
                out[s, k] += values[leaf, k]
