"""Compile rule conditions into one generated Python module: one function per rule.

Each function takes an event's fields and a per-event memo and returns whether the rule matches. ``and``/``or``
short-circuit; equality lists become frozensets, prefix/suffix lists tuples for ``str.startswith``/``endswith``,
regular expressions are compiled lazily. The module is cached on disk as marshalled code (``yamori.rules.cache``).
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from yamori.engine import runtime
from yamori.engine.prefilter import regex_literal
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

RuleFunction = Callable[[dict[str, Any], runtime.Memo], bool]

_RUNTIME_NAMES = ("lw", "cs", "al", "alc", "sw", "ew", "ct", "gl", "rx", "rxl", "cidr", "isnull", "allraw", "cta",
                  "seq", "cmp", "fr", "tp")


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
        if isinstance(value, runtime.LazyPattern):
            key: Any = ("re", value.source, value.flags)
        elif isinstance(value, runtime.LazyAutomaton):
            key = ("ac", value.needles)
        else:
            key = (type(value).__name__, value)
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
        if cased:
            key = runtime.CASED + leaf.field
            return f"(m[{key!r}] if {key!r} in m else cs(e, m, {leaf.field!r}))"
        return _lowered(leaf.field)

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
            if pred.kind == "contains" and len(pred.values) > MANY_NEEDLES:
                return f"cta({vals}, {self.constant(runtime.LazyAutomaton(tuple(pred.values)))})"
            helper = {"prefix": "sw", "suffix": "ew", "contains": "ct"}[pred.kind]
            return f"{helper}({vals}, {self.constant(tuple(pred.values))})"
        raw = "allraw(e)" if f is None else f"e.get({f!r})"
        cased = self.values(leaf, True)
        if isinstance(pred, Regex):
            segments = literal_sequence(pred.pattern, pred.flags)
            if segments is not None:
                folded = pred.flags & re.IGNORECASE
                values = self.values(leaf, cased=not folded)
                parts = tuple(p.lower() for p in segments) if folded else segments
                return f"seq({values}, {self.constant(parts)}, {bool(pred.flags & re.DOTALL)})"
            pattern = self.constant(runtime.LazyPattern(pred.pattern, pred.flags))
            literal = regex_literal(pred.pattern, pred.flags, anchored=False, lower=False)
            if literal is not None and not pred.flags & re.IGNORECASE:
                return f"rxl({cased}, {pattern}, {literal!r})"
            return f"rx({cased}, {pattern})"
        if isinstance(pred, Cidr):
            return f"cidr({cased}, {self.constant(runtime.cidr_ranges(pred.networks))})"
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
            return f"fr({_lowered(f)}, {_lowered(pred.other)}, {pred.mode!r})"
        raise ValueError(f"unknown predicate {pred!r}")


def _lowered(f: str) -> str:
    """Code for the memoized lower-cased forms of field ``f``: a dict hit costs two specialized dict operations."""
    return f"(m[{f!r}] if {f!r} in m else lw(e, m, {f!r}))"


def literal_sequence(pattern: str, flags: int) -> tuple[str, ...] | None:
    """The literal segments of a regex of the form ``a.*b.*c`` (no anchors, no inline flags), else None."""
    if flags & ~(re.IGNORECASE | re.DOTALL):
        return None
    try:
        parsed = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    if parsed.state.flags & ~(re.IGNORECASE | re.DOTALL | re.UNICODE) or \
            (parsed.state.flags & re.IGNORECASE) != (flags & re.IGNORECASE):
        return None
    segments: list[str] = []
    current: list[str] = []
    for op, arg in parsed:
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] == 0 and \
                arg[1] == sre_constants.MAXREPEAT and list(arg[2]) == [(sre_constants.ANY, None)]:
            if current:
                segments.append("".join(current))
                current = []
        else:
            return None
    if current:
        segments.append("".join(current))
    if len(segments) < 2 or (flags & re.IGNORECASE and not all(s.isascii() for s in segments)):
        return None  # a single literal is cheap for re already; case folding beyond ASCII differs from lower()
    return tuple(segments)


MANY_NEEDLES = 6  # above this many ``contains`` values an automaton beats a loop (measured: 1.6 vs 25 µs at 150)
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
