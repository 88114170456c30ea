"""PassManager: runs a list of passes over a model (every graph in it) until nothing changes."""

from __future__ import annotations

import time
from collections import Counter

from ..ir.model import Model
from .base import GraphPass
from .context import PassContext, walk_graphs


class PassManager:
    """Runs ``passes`` in order, over the main graph and every subgraph, repeating the whole list until
    an iteration changes nothing or ``max_iterations`` is reached (fusions expose folding and vice versa)."""

    def __init__(self, passes: list[GraphPass], *, max_iterations: int = 5):
        self.passes = list(passes)
        self.max_iterations = max_iterations

    def run(self, model: Model, ctx: PassContext | None = None) -> Counter:
        """Rewrite ``model`` in place; return the number of changes per pass name (and ``iterations``)."""
        ctx = ctx or PassContext(model)
        t0 = time.perf_counter()
        for it in range(self.max_iterations):
            changed = 0
            for p in self.passes:
                n = 0
                graphs = list(walk_graphs(model.graph)) if ctx.nested else [model.graph]
                for graph in graphs:
                    n += p.run(graph, ctx)
                ctx.stats[p.name] += n
                changed += n
            ctx.stats["iterations"] = it + 1
            if not changed:
                break
        ctx.stats["milliseconds"] = round((time.perf_counter() - t0) * 1000)
        return ctx.stats
