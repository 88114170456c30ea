"""Errors raised by the runtime; each names what it is about (the node, the input)."""

from __future__ import annotations


class NnexError(Exception):
    """Base class of nnex's errors."""


class InvalidInputError(NnexError, ValueError):
    """A feed that does not fit the model's declared inputs."""


class InvalidModelError(NnexError, ValueError):
    """A model nnex cannot run as given."""


class UnsupportedOpError(NnexError, NotImplementedError):
    def __init__(self, pn):
        dom = pn.domain or "ai.onnx"
        opset = pn.opsets.get(pn.domain)
        where = f"node {pn.name!r}" if pn.name else "a node"
        super().__init__(f"{where}: operator {dom}::{pn.op_type} (opset {opset}) is not implemented by nnex")
        self.op_type = pn.op_type
        self.domain = pn.domain


class NodeRunError(NnexError, RuntimeError):
    """An error inside a kernel, with the node that raised it."""

    node_named = True

    def __init__(self, name: str, op_type: str, cause: Exception, scope=()):
        where = " in ".join([f"node {name!r} ({op_type})"] + [f"function call {s!r}" for s in reversed(scope) if s])
        msg = str(cause) if not isinstance(cause, NodeRunError) else str(cause)
        super().__init__(f"while running {where}: {type(cause).__name__}: {msg}")
        self.node_name = name
        self.op_type = op_type
