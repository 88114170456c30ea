"""The operator library: one module per op family, registered by (domain, op_type, since)."""

from .registry import OpKernel, lookup, op, registered

__all__ = ["OpKernel", "lookup", "op", "registered"]
