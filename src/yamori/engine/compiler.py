"""Compile rule conditions into one generated Python module: one function per rule.

Each function takes an event's fields and a per-event memo and returns whether the rule matches. ``and``/``or``
short-circuit; equality lists become frozensets, prefix/suffix lists tuples for ``str.startswith``/``endswith``,
regular expressions are compiled lazily. The module is cached on disk as marshalled code (``yamori.rules.cache``).
"""

from __future__ import annotations

import ipaddress
import marshal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from yamori.engine import runtime
from yamori.rules.model import (
    And,
    Cidr,
    Compare,
    Const,
    Exists,
    FieldRef,
    IsNull,
    Leaf,
    Node,
    Not,
    Or,
    Regex,
    Rule,
    StrMatch,
    TimePart,
)

RuleFunction = Callable[[dict[str, Any], dict[str, tuple[str, ...]]], bool]

_RUNTIME_NAMES = ("lo", "cs", "al", "alc", "sw", "ew", "ct", "gl", "rx", "cidr", "isnull", "allraw", "cmp", "fr", "tp")


@dataclass(slots=True)
class CompiledModule:
    """Generated code (marshalled) and the constants it refers to; picklable."""

    code: bytes
    constants: dict[str, Any] = field(default_factory=dict)
    count: int = 0

    def functions(self) -> list[RuleFunction]:
        namespace: dict[str, Any] = {name: getattr(runtime, name) for name in _RUNTIME_NAMES}
        namespace.update(self.constants)
        exec(marshal.loads(self.code), namespace)
        return list(namespace["RULES"])


class _Generator:
    def __init__(self) -> None:
        self.constants: dict[str, Any] = {}
        self._interned: dict[Any, str] = {}

    def constant(self, value: Any) -> str:
        key = (type(value).__name__, value) if not isinstance(value, runtime.LazyPattern) else \
            ("re", value.source, value.flags)
        name = self._interned.get(key)
        if name is None:
            name = f"K{len(self.constants)}"
            self.constants[name] = value
            self._interned[key] = name
        return name

    def expr(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.expr(i) for i in node.items) + ")"
        if isinstance(node, Not):
            return f"(not {self.expr(node.item)})"
        if isinstance(node, Const):
            return "True" if node.value else "False"
        return self.leaf(node)

    def values(self, leaf: Leaf, cased: bool) -> str:
        if leaf.field is None:
            return "alc(e, m)" if cased else "al(e, m)"
        return f"{'cs' if cased else 'lo'}(e, m, {leaf.field!r})"

    def leaf(self, leaf: Leaf) -> str:
        pred = leaf.pred
        f = leaf.field
        if isinstance(pred, StrMatch):
            vals = self.values(leaf, pred.cased)
            if pred.kind == "any":
                return f"(len({vals}) > 0)"
            if pred.kind == "eq":
                if len(pred.values) == 1:
                    return f"({pred.values[0]!r} in {vals})"
                return f"(not {self.constant(frozenset(pred.values))}.isdisjoint({vals}))"
            if pred.kind == "glob":
                source = "|".join(f"(?:{v})" for v in pred.values)
                return f"gl({vals}, {self.constant(runtime.LazyPattern(source, _DOTALL))})"
            helper = {"prefix": "sw", "suffix": "ew", "contains": "ct"}[pred.kind]
            return f"{helper}({vals}, {self.constant(tuple(pred.values))})"
        raw = "allraw(e)" if f is None else f"e.get({f!r})"
        cased = self.values(leaf, True)
        if isinstance(pred, Regex):
            return f"rx({cased}, {self.constant(runtime.LazyPattern(pred.pattern, pred.flags))})"
        if isinstance(pred, Cidr):
            nets = tuple(ipaddress.ip_network(n, strict=False) for n in pred.networks)
            return f"cidr({cased}, {self.constant(nets)})"
        if isinstance(pred, Compare):
            return f"cmp({raw}, {pred.op!r}, {pred.number!r})"
        if isinstance(pred, TimePart):
            return f"tp({raw}, {pred.part!r}, {pred.number!r})"
        if f is None:
            raise ValueError(f"keyword predicate {pred!r} needs a field")
        if isinstance(pred, IsNull):
            return f"isnull(e.get({f!r}))"
        if isinstance(pred, Exists):
            return f"({f!r} {'in' if pred.present else 'not in'} e)"
        if isinstance(pred, FieldRef):
            return f"fr(lo(e, m, {f!r}), lo(e, m, {pred.other!r}), {pred.mode!r})"
        raise ValueError(f"unknown predicate {pred!r}")


_DOTALL = 16  # re.DOTALL, spelled out so the generated constant is a plain int


def compile_rules(rules: Sequence[Rule]) -> CompiledModule:
    """Generate and compile the module for ``rules`` (function i evaluates rule i)."""
    gen = _Generator()
    lines: list[str] = []
    for index, rule in enumerate(rules):
        lines.append(f"def r{index}(e, m):\n    return {gen.expr(rule.condition)}\n")
    lines.append("RULES = (" + "".join(f"r{i}, " for i in range(len(rules))) + ")\n")
    code = compile("".join(lines), "<yamori-rules>", "exec")
    return CompiledModule(marshal.dumps(code), gen.constants, len(rules))
