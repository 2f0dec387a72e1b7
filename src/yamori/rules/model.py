"""Yamori's rule model: rule metadata and a small, picklable condition tree that the engine compiles.

The tree is what pySigma's parsed condition becomes once modifiers are applied and values are classified
(see docs/semantics.md). String values of case-insensitive matches are stored lower-cased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from yamori.correlation.model import CorrelationRule

StrKind = Literal["eq", "prefix", "suffix", "contains", "glob", "any"]


@dataclass(frozen=True, slots=True)
class StrMatch:
    """String comparison on a value's string form; ``glob`` values are regex sources matched with fullmatch.

    ``any`` matches every present, non-null value (the pattern ``*``).
    """

    kind: StrKind
    values: tuple[str, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class IsNull:
    """The field is absent or null."""


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str
    flags: int


@dataclass(frozen=True, slots=True)
class Cidr:
    networks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: Literal["lt", "lte", "gt", "gte"]
    number: int | float


@dataclass(frozen=True, slots=True)
class FieldRef:
    other: str
    mode: Literal["eq", "prefix", "suffix", "contains"]


@dataclass(frozen=True, slots=True)
class TimePart:
    part: Literal["minute", "hour", "day", "week", "month", "year"]
    number: int


Predicate = StrMatch | IsNull | Exists | Regex | Cidr | Compare | FieldRef | TimePart


@dataclass(frozen=True, slots=True)
class Leaf:
    """A predicate on one field, or on every field value when ``field`` is None (a keyword)."""

    field: str | None
    pred: Predicate


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


Node = Leaf | And | Or | Not | Const


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a detection reports about the rule that fired."""

    id: str
    title: str
    level: str
    status: str
    path: str
    product: str | None = None
    category: str | None = None
    service: str | None = None
    description: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    keywords: bool = False
    """The rule has field-less (keyword) items, which search every field."""
    name: str | None = None
    """The rule's Sigma ``name``, by which correlation rules may refer to it."""

    def __reduce__(self) -> tuple[type[RuleInfo], tuple[object, ...]]:
        # positional arguments: twice as fast to unpickle as the dataclass's per-field state (warm start)
        return (RuleInfo, tuple(getattr(self, name) for name in self.__slots__))  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Rule:
    """A loaded rule: its metadata and its condition (the OR of the rule's conditions)."""

    info: RuleInfo
    condition: Node


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule (or file) that cannot be loaded or evaluated, and why."""

    path: str
    reason: str
    rule_id: str = ""
    title: str = ""
    kind: Literal["error", "unsupported", "unmapped", "skipped"] = "error"


@dataclass(slots=True)
class LoadedRules:
    rules: list[Rule] = field(default_factory=list)
    correlations: list[CorrelationRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
