"""Literal prefilter: the strings each rule needs, and a multi-pattern scanner over an event's values.

For every rule we derive a set of lower-cased literals such that the rule can only match an event whose
*haystack* (all its values' string forms, lower-cased, each wrapped in SEPARATOR) contains at least one of them.
Equality, prefix and suffix values carry the separator on their anchored sides, so ``EventID: 4688`` needs
``\\x1e4688\\x1e`` rather than any ``4688``: one mechanism gives both the exact-value index and the substring
index. Rules without such a set are evaluated for every event of their logsource.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Protocol

from yamori.engine.runtime import SEPARATOR
from yamori.rules.model import And, Const, Leaf, Node, Not, Or, Regex, StrMatch

MIN_STRENGTH = 3  # literals weaker than this (counting each anchor as one character) do not filter

Literals = frozenset[str]


def required_literals(node: Node) -> Literals | None:
    """A set of literals one of which every matching event's haystack contains, or None if there is none."""
    if isinstance(node, Leaf):
        return _leaf_literals(node)
    if isinstance(node, And):
        best: Literals | None = None
        for item in node.items:
            candidate = required_literals(item)
            if candidate is not None and (best is None or _better(candidate, best)):
                best = candidate
        return best
    if isinstance(node, Or):
        union: set[str] = set()
        for item in node.items:
            candidate = required_literals(item)
            if candidate is None:
                return None
            union |= candidate
        return frozenset(union)
    if isinstance(node, Const):
        return None if node.value else frozenset()
    if isinstance(node, Not):
        return None
    return None


def strength(literals: Literals) -> float:
    """How selective a set is: its weakest literal's length; an empty set (never matches) is strongest."""
    return min((len(x) for x in literals), default=float("inf"))


def _better(a: Literals, b: Literals) -> bool:
    sa, sb = strength(a), strength(b)
    return sa > sb or (sa == sb and len(a) < len(b))


def usable(literals: Literals | None) -> bool:
    return literals is not None and strength(literals) >= MIN_STRENGTH


def _leaf_literals(leaf: Leaf) -> Literals | None:
    pred = leaf.pred
    if isinstance(pred, StrMatch):
        out: set[str] = set()
        for value in pred.values:
            text = value.lower()
            if pred.kind == "eq":
                out.add(SEPARATOR + text + SEPARATOR)
            elif pred.kind == "prefix":
                out.add(SEPARATOR + text)
            elif pred.kind == "suffix":
                out.add(text + SEPARATOR)
            elif pred.kind == "contains":
                out.add(text)
            elif pred.kind == "glob":
                literal = regex_literal(value, 0 if pred.cased else re.IGNORECASE, anchored=True)
                if literal is None:
                    return None
                out.add(literal)
            else:
                return None
        return frozenset(out)
    if isinstance(pred, Regex):
        literal = regex_literal(pred.pattern, pred.flags, anchored=False)
        return None if literal is None else frozenset((literal,))
    return None


def regex_literal(pattern: str, flags: int, anchored: bool) -> str | None:
    """The longest literal every match of ``pattern`` contains (lower-cased), or None.

    With ``anchored`` (a glob matched as a whole) a literal at the very start or end gets the separator.
    """
    try:
        parsed = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    runs: list[str] = []
    current: list[str] = []
    items = list(parsed)
    for index, (op, arg) in enumerate(items):
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
            continue
        if op is sre_constants.SUBPATTERN and _only_literals(arg[-1]):
            current.extend(chr(a) for _, a in arg[-1])
            continue
        if op is sre_constants.AT:
            continue
        if current:
            runs.append(_anchor(current, anchored, index - len(current) == 0, False))
            current = []
    if current:
        runs.append(_anchor(current, anchored, len(items) == len(current), True))
    best = max(runs, key=len, default="")
    return best.lower() if best else None


def _only_literals(sub: Any) -> bool:
    return bool(list(sub)) and all(op is sre_constants.LITERAL for op, _ in sub)


def _anchor(chars: list[str], anchored: bool, at_start: bool, at_end: bool) -> str:
    text = "".join(chars)
    if anchored and at_start:
        text = SEPARATOR + text
    if anchored and at_end:
        text = text + SEPARATOR
    return text


class Scanner(Protocol):
    """Finds which of a fixed list of literals occur in a haystack."""

    def scan(self, haystack: str) -> Iterable[int]: ...


class AhoCorasickScanner:
    """Portable scanner (Rust aho-corasick), used where Hyperscan is not available."""

    def __init__(self, literals: Sequence[str]) -> None:
        import ahocorasick_rs

        self._count = len(literals)
        self._automaton = ahocorasick_rs.AhoCorasick(
            list(literals) or ["\x00never\x00"], implementation=ahocorasick_rs.Implementation.DFA)

    def scan(self, haystack: str) -> Iterable[int]:
        if not self._count:
            return ()
        return {i for i, _, _ in self._automaton.find_matches_as_indexes(haystack, overlapping=True)}


def _on_match(literal: int, start: int, end: int, flags: int, found: object) -> None:
    found.append(literal)  # type: ignore[attr-defined]


class HyperscanScanner:
    """Hyperscan (SIMD) literal scanner; its database is serializable for the warm cache."""

    def __init__(self, literals: Sequence[str], serialized: bytes | None = None) -> None:
        import hyperscan

        self._count = len(literals)
        if not literals:
            self._db = None
            self.serialized = b""
            return
        if serialized:
            self._db = hyperscan.loadb(serialized, hyperscan.HS_MODE_BLOCK)
        else:
            encoded = [lit.encode("utf-8") for lit in literals]
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._db.compile(expressions=encoded, ids=list(range(len(encoded))), elements=len(encoded),
                             flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(encoded), literal=True)
        self.serialized = serialized or hyperscan.dumpb(self._db)
        self._scratch = hyperscan.Scratch(self._db)
        self._db.scratch = self._scratch

    def scan(self, haystack: str) -> Iterable[int]:
        found: list[int] = []
        if self._db is not None:
            self._db.scan(haystack.encode("utf-8", "surrogatepass"), match_event_handler=_on_match,
                          context=found)
        return found


def hyperscan_available() -> bool:
    if os.environ.get("YAMORI_PREFILTER", "").lower() == "aho-corasick":
        return False
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
