"""Convert a pySigma rule into Yamori's rule model (docs/semantics.md says what each value means)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from yamori.exceptions import UnsupportedRuleError
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
    RuleInfo,
    StrMatch,
    TimePart,
)

Placeholders = Mapping[str, Sequence[str]]

_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_COMPARE_OPS = {
    CompareOperators.LT: "lt",
    CompareOperators.LTE: "lte",
    CompareOperators.GT: "gt",
    CompareOperators.GTE: "gte",
}


def number_form(number: int | float) -> str:
    """The string form of a number (docs/semantics.md): integral values without a fraction."""
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number) if isinstance(number, int) else repr(number)


def convert_rule(rule: SigmaRule, path: str, placeholders: Placeholders | None = None) -> Rule:
    """Build the Rule for a parsed pySigma rule; raises UnsupportedRuleError for what Yamori cannot evaluate."""
    expansion = _Expansion(placeholders or {})
    conditions = [_convert_node(cond.parsed, expansion) for cond in rule.detection.parsed_condition]
    if expansion.missing:
        names = ", ".join(f"%{name}%" for name in sorted(expansion.missing))
        raise UnsupportedRuleError(f"placeholder {names} has no values (see --placeholders)")
    condition = simplify(conditions[0] if len(conditions) == 1 else Or(tuple(conditions)))
    return Rule(info=rule_info(rule, path, condition), condition=condition)


def rule_info(rule: SigmaRule, path: str, condition: Node) -> RuleInfo:
    ls = rule.logsource
    return RuleInfo(
        id=str(rule.id or ""),
        title=rule.title or "",
        level=rule.level.name.lower() if rule.level else "",
        status=rule.status.name.lower() if rule.status else "",
        path=path,
        product=ls.product,
        category=ls.category,
        service=ls.service,
        description=(rule.description or "").strip(),
        author=rule.author or "",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags),
        references=tuple(rule.references or ()),
        falsepositives=tuple(rule.falsepositives or ()),
        fields=tuple(dict.fromkeys(f for f in referenced_fields(condition) if f is not None)),
        keywords=None in set(referenced_fields(condition)),
        name=rule.name,
    )


def referenced_fields(node: Node) -> Iterator[str | None]:
    """Field names the condition reads; None stands for keyword items (every field)."""
    if isinstance(node, Leaf):
        yield node.field
        if isinstance(node.pred, FieldRef):
            yield node.pred.other
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from referenced_fields(item)
    elif isinstance(node, Not):
        yield from referenced_fields(node.item)


class _Expansion:
    """Placeholder values for ``expand``, and the names found without values (all reported at once)."""

    def __init__(self, values: Placeholders) -> None:
        self.values = values
        self.missing: set[str] = set()

    def __call__(self, placeholder: Placeholder) -> Iterator[str]:
        values = self.values.get(placeholder.name)
        if not values:
            self.missing.add(placeholder.name)
            yield ""
            return
        yield from values


def _convert_node(node: Any, placeholders: _Expansion) -> Node:
    if isinstance(node, ConditionAND):
        return And(tuple(_convert_node(arg, placeholders) for arg in node.args))
    if isinstance(node, ConditionOR):
        return Or(tuple(_convert_node(arg, placeholders) for arg in node.args))
    if isinstance(node, ConditionNOT):
        return Not(_convert_node(node.args[0], placeholders))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _convert_value(node.field, node.value, placeholders)
    if isinstance(node, ConditionValueExpression):
        return _convert_value(None, node.value, placeholders)
    if isinstance(node, ConditionItem):  # pragma: no cover - pySigma grew a new condition type
        raise UnsupportedRuleError(f"unknown condition item {type(node).__name__}")
    raise UnsupportedRuleError(f"unknown condition element {node!r}")


def _convert_value(field: str | None, value: SigmaType, placeholders: _Expansion) -> Node:
    if isinstance(value, SigmaExpansion):
        return Or(tuple(_convert_value(field, v, placeholders) for v in value.values))
    if isinstance(value, SigmaString):
        return _convert_string(field, value, placeholders)
    if isinstance(value, SigmaTimestampPart):
        part = value.timestamp_part.name.lower()
        return Leaf(field, TimePart(part, int(value.number)))  # type: ignore[arg-type]
    if isinstance(value, SigmaBool):
        return _keyword_or_field(field, StrMatch("eq", ("true" if value.boolean else "false",)))
    if isinstance(value, SigmaNumber):
        return _keyword_or_field(field, StrMatch("eq", (number_form(value.number),)))
    if field is None and isinstance(value, SigmaNull | SigmaExists | SigmaFieldReference):
        raise UnsupportedRuleError(f"a keyword cannot be {type(value).__name__}")
    if isinstance(value, SigmaNull):
        return Leaf(field, IsNull())
    if isinstance(value, SigmaExists):
        return Leaf(field, Exists(bool(value.exists)))
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise UnsupportedRuleError("placeholders inside a regular expression are not supported")
        flags = 0
        for flag in value.flags:
            flags |= _REGEX_FLAGS[flag]
        try:
            re.compile(str(value.regexp), flags)
        except re.error as exc:
            raise UnsupportedRuleError(
                f"regular expression {str(value.regexp)!r} is not valid in Python: {exc}") from exc
        return Leaf(field, Regex(str(value.regexp), flags))
    if isinstance(value, SigmaCIDRExpression):
        return Leaf(field, Cidr((str(value.network),)))
    if isinstance(value, SigmaCompareExpression):
        number = value.number.number
        if value.op is CompareOperators.NEQ:
            return Not(Leaf(field, StrMatch("eq", (number_form(number),))))
        return Leaf(field, Compare(_COMPARE_OPS[value.op], number))  # type: ignore[arg-type]
    if isinstance(value, SigmaFieldReference):
        mode = ("contains" if value.starts_with and value.ends_with else
                "prefix" if value.starts_with else "suffix" if value.ends_with else "eq")
        return Leaf(field, FieldRef(value.field, mode))  # type: ignore[arg-type]
    raise UnsupportedRuleError(f"value type {type(value).__name__} is not supported")


def _keyword_or_field(field: str | None, pred: StrMatch) -> Leaf:
    if field is None:  # keywords are contained in any value (docs/semantics.md)
        return Leaf(None, StrMatch("contains", pred.values))
    return Leaf(field, pred)


def _convert_string(field: str | None, value: SigmaString, placeholders: _Expansion) -> Node:
    cased = isinstance(value, SigmaCasedString)
    if value.contains_placeholder():
        alternatives = value.replace_placeholders(placeholders)
        return Or(tuple(_string_leaf(field, alt.s, cased) for alt in alternatives))
    return _string_leaf(field, value.s, cased)


def _string_leaf(field: str | None, parts: Sequence[Any], cased: bool) -> Leaf:
    merged: list[str | SpecialChars] = []
    for part in parts:
        if isinstance(part, Placeholder):
            raise UnsupportedRuleError(f"unresolved placeholder %{part.name}%")
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part is SpecialChars.WILDCARD_MULTI and merged and merged[-1] is SpecialChars.WILDCARD_MULTI:
            continue
        elif part != "":
            merged.append(part)
    if field is None:
        if not merged or merged[0] is not SpecialChars.WILDCARD_MULTI:
            merged.insert(0, SpecialChars.WILDCARD_MULTI)
        if merged[-1] is not SpecialChars.WILDCARD_MULTI:
            merged.append(SpecialChars.WILDCARD_MULTI)
    return Leaf(field, classify_pattern(merged, cased))


def classify_pattern(parts: Sequence[str | SpecialChars], cased: bool) -> StrMatch:
    """Turn a sequence of literal parts and wildcards into the cheapest equivalent string comparison."""
    multi = SpecialChars.WILDCARD_MULTI

    def norm(text: str) -> str:
        return text if cased else text.lower()

    literals = [p for p in parts if isinstance(p, str)]
    has_single = any(p is SpecialChars.WILDCARD_SINGLE for p in parts)
    if not has_single:
        shape = tuple("s" if isinstance(p, str) else "*" for p in parts)
        text = norm(literals[0]) if literals else ""
        simple: dict[tuple[str, ...], str] = {
            (): "eq", ("s",): "eq", ("*",): "any", ("s", "*"): "prefix",
            ("*", "s"): "suffix", ("*", "s", "*"): "contains",
        }
        kind = simple.get(shape)
        if kind is not None:
            return StrMatch(kind, ("",) if kind == "any" else (text,), cased)  # type: ignore[arg-type]
    regex = "".join(
        re.escape(norm(p)) if isinstance(p, str) else (".*" if p is multi else ".") for p in parts
    )
    return StrMatch("glob", (regex,), cased)


def simplify(node: Node) -> Node:
    """Flatten nested and/or, and merge sibling string leaves of one field into one leaf with several values."""
    if isinstance(node, Not):
        inner = simplify(node.item)
        if isinstance(inner, Const):
            return Const(not inner.value)
        return Not(inner)
    if not isinstance(node, And | Or):
        return node
    kind = type(node)
    items: list[Node] = []
    for item in (simplify(i) for i in node.items):
        if isinstance(item, kind):
            items.extend(item.items)
        elif isinstance(item, Const):
            if item.value == (kind is Or):
                return item  # true in an or, false in an and
        else:
            items.append(item)
    if kind is Or:
        items = _merge_string_leaves(items)
    if not items:
        return Const(kind is And)
    if len(items) == 1:
        return items[0]
    return kind(tuple(items))


def _merge_key(item: Node) -> tuple[str | None, str, bool] | None:
    """Leaves that can share one predicate when or-ed: string matches of one kind, or CIDR sets, on one field."""
    if isinstance(item, Leaf):
        if isinstance(item.pred, StrMatch) and item.pred.kind != "any":
            return (item.field, item.pred.kind, item.pred.cased)
        if isinstance(item.pred, Cidr):
            return (item.field, "cidr", True)
    return None


def _merge_string_leaves(items: list[Node]) -> list[Node]:
    groups: dict[tuple[str | None, str, bool], list[str]] = {}
    for item in items:
        key = _merge_key(item)
        if key is not None:
            assert isinstance(item, Leaf) and isinstance(item.pred, StrMatch | Cidr)
            groups.setdefault(key, []).extend(
                item.pred.values if isinstance(item.pred, StrMatch) else item.pred.networks)
    result: list[Node] = []
    for item in items:
        key = _merge_key(item)
        if key is None:
            result.append(item)
            continue
        values = groups.pop(key, None)
        if values is None:
            continue  # merged into the first leaf of its group
        assert isinstance(item, Leaf) and isinstance(item.pred, StrMatch | Cidr)
        merged = tuple(dict.fromkeys(values))
        pred = Cidr(merged) if isinstance(item.pred, Cidr) else StrMatch(item.pred.kind, merged, item.pred.cased)
        result.append(Leaf(item.field, pred))
    return result
