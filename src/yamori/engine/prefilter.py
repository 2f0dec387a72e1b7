"""Literal prefilter: the strings each rule needs, and a multi-pattern scanner over an event's values.

For every rule we derive a set of lower-cased literals such that the rule can only match an event whose
*haystack* (all its values' string forms, lower-cased, each wrapped in SEPARATOR) contains at least one of them.
Equality, prefix and suffix values carry the separator on their anchored sides, so ``EventID: 4688`` needs
``\\x1e4688\\x1e`` rather than any ``4688``: one mechanism gives both the exact-value index and the substring
index. Rules without such a set are evaluated for every event of their logsource.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Protocol

from yamori.engine.runtime import SEPARATOR
from yamori.rules.model import And, Const, Leaf, Node, Or, Regex, StrMatch

MIN_STRENGTH = 3.0  # sets weaker than this do not filter (a literal's strength is about its length)

# Fields whose values repeat across most events of a logsource (routing and classification fields): a literal
# taken from them selects little, so it counts for less when a rule offers several literal sets.
LOW_SELECTIVITY_FIELDS = frozenset({
    "Channel", "Provider_Name", "Provider_Guid", "EventID", "EventType", "Level", "Task", "Opcode", "Keywords",
    "Version", "LogonType", "Computer", "event.category", "event.type", "event.outcome",
})
LOW_SELECTIVITY_WEIGHT = 0.4


@dataclass(frozen=True, slots=True)
class LiteralSet:
    """Literals one of which every matching event's haystack contains.

    ``strength`` (the weakest literal's length) decides whether the set filters at all; ``rank`` (the same with
    field discounts) decides which of a rule's sets to use.
    """

    literals: frozenset[str]
    strength: float
    rank: float

    def better_than(self, other: LiteralSet) -> bool:
        if usable(self) != usable(other):
            return usable(self)
        return self.rank > other.rank or (self.rank == other.rank and len(self.literals) < len(other.literals))


NEVER = LiteralSet(frozenset(), float("inf"), float("inf"))


def literal_strength(literal: str) -> float:
    """Length, with non-ASCII characters (rare in logs) counting three."""
    return float(sum(1 if ord(c) < 128 else 3 for c in literal))


def required_literals(node: Node) -> LiteralSet | None:
    """The strongest literal set the condition implies, or None if it implies none."""
    if isinstance(node, Leaf):
        return _leaf_literals(node)
    if isinstance(node, And):
        best: LiteralSet | None = None
        for item in node.items:
            candidate = required_literals(item)
            if candidate is not None and (best is None or candidate.better_than(best)):
                best = candidate
        return best
    if isinstance(node, Or):
        union: set[str] = set()
        weakest = lowest = float("inf")
        for item in node.items:
            candidate = required_literals(item)
            if candidate is None:
                return None
            union |= candidate.literals
            weakest = min(weakest, candidate.strength)
            lowest = min(lowest, candidate.rank)
        return LiteralSet(frozenset(union), weakest, lowest)
    if isinstance(node, Const):
        return None if node.value else NEVER
    return None  # Not: a negation requires nothing


MAX_ALTERNATIVES = 4


def literal_alternatives(node: Node) -> list[LiteralSet]:
    """Usable literal sets the condition implies, best first by static rank; each alone is a valid prefilter.

    An ``and`` offers the sets of each of its items; the engine picks among them by measured hit rates.
    """
    found: list[LiteralSet] = []
    if isinstance(node, And):
        for item in node.items:
            found.extend(literal_alternatives(item))
    elif isinstance(node, Or):
        # one set per combination of the items' two best sets: ``1 of sel_*`` over two selections can then be
        # reached through the event ids as well as through the provider names
        combinations: list[LiteralSet] = [NEVER]
        for item in node.items:
            options = literal_alternatives(item)[:2]
            if not options:
                return []
            combinations = [_union(a, b) for a in combinations for b in options][:MAX_ALTERNATIVES * 2]
        found.extend(combinations)
    else:
        required = required_literals(node)
        if required is not None and usable(required):
            found.append(required)
    unique = {alt.literals: alt for alt in found}
    ranked = sorted(unique.values(), key=lambda a: (-a.rank, len(a.literals), sorted(a.literals)))
    return ranked[:MAX_ALTERNATIVES]


def _union(a: LiteralSet, b: LiteralSet) -> LiteralSet:
    return LiteralSet(a.literals | b.literals, min(a.strength, b.strength), min(a.rank, b.rank))


def usable(literals: LiteralSet | None) -> bool:
    return literals is not None and literals.strength >= MIN_STRENGTH


def _leaf_literals(leaf: Leaf) -> LiteralSet | None:
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
        return _weighed(out, leaf.field)
    if isinstance(pred, Regex):
        literal = regex_literal(pred.pattern, pred.flags, anchored=False)
        return None if literal is None else _weighed({literal}, leaf.field)
    return None


def _weighed(literals: set[str], field: str | None) -> LiteralSet:
    weakest = min((literal_strength(x) for x in literals), default=float("inf"))
    weight = LOW_SELECTIVITY_WEIGHT if field in LOW_SELECTIVITY_FIELDS else 1.0
    return LiteralSet(frozenset(literals), weakest, weakest * weight)


def regex_literal(pattern: str, flags: int, anchored: bool, lower: bool = True) -> str | None:
    """The longest literal every match of ``pattern`` contains (lower-cased), or None.

    With ``anchored`` (a glob matched as a whole) a literal at the very start or end gets the separator.
    With ``lower=False`` the literal keeps its case, so that it can be looked for in the original value; then
    None when the pattern ignores case and the literal has cased characters.
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
    if not best:
        return None
    if lower:
        return best.lower()
    if parsed.state.flags & re.IGNORECASE and best.lower() != best.upper():
        return None
    return best


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
    """Finds which of a fixed list of literals occur in a haystack.

    A scanner whose ``caseless`` attribute is true ignores ASCII case itself, so that the engine lower-cases
    only haystacks with non-ASCII characters (without the attribute, every haystack is lower-cased).
    """

    def scan(self, haystack: str) -> Iterable[int]: ...


class AhoCorasickScanner:
    """Portable scanner (Rust aho-corasick), used where Hyperscan is not available."""

    caseless = False

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
    """Hyperscan (SIMD) literal scanner; its database is serializable for the warm cache.

    Literals are lower-case and matched ignoring ASCII case: on an ASCII haystack that is the same as matching
    its lower-cased copy, which the engine then need not make (``str.lower`` cost as much as the scan).
    """

    caseless = True

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
                             flags=[hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_CASELESS] * len(encoded),
                             literal=True)
        self.serialized = serialized or hyperscan.dumpb(self._db)
        self._scratch = hyperscan.Scratch(self._db)
        self._db.scratch = self._scratch

    def scan(self, haystack: str) -> Iterable[int]:
        found: list[int] = []
        if self._db is not None:
            # positional arguments: parsing keywords cost a tenth of a small scan
            self._db.scan(haystack.encode("utf-8", "surrogatepass"), _on_match, 0, found)
        return found


def build_scanner(literals: Sequence[str], cache: Path | None = None) -> Scanner:
    """A scanner over ``literals`` (ids are positions in the list): Hyperscan where available, its compiled
    database cached under ``cache`` (keyed by the literals), else Aho-Corasick."""
    if not hyperscan_available():
        return AhoCorasickScanner(literals)
    if cache is None or len(literals) < 64:  # small sets compile in microseconds
        return HyperscanScanner(literals)
    text = "caseless\x00" + "\x00".join(literals)  # the flags are part of the compiled database
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    path = cache / f"hs-{key}.db"
    try:
        return HyperscanScanner(literals, path.read_bytes())
    except (OSError, ValueError, RuntimeError, TypeError):
        pass
    scanner = HyperscanScanner(literals)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_bytes(scanner.serialized)
        os.replace(temporary, path)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return scanner


def hyperscan_available() -> bool:
    if os.environ.get("YAMORI_PREFILTER", "").lower() == "aho-corasick":
        return False
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
