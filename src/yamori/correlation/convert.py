"""Build Yamori's CorrelationRule from pySigma's SigmaCorrelationRule.

pySigma accepts one comparison per condition; the specification allows a range (``gt: 100`` and ``lte: 200``).
``split_range_conditions`` takes the extra comparisons out of the YAML before pySigma parses it and
``convert_correlation`` puts them back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from yamori.correlation.model import (
    AllOf,
    AnyOf,
    BoolExpr,
    CorrelationRule,
    CorrelationType,
    NoneOf,
    Op,
    RuleRef,
    Threshold,
)
from yamori.exceptions import UnsupportedRuleError
from yamori.rules.model import RuleInfo

if TYPE_CHECKING:
    from sigma.correlations import SigmaCorrelationRule

OPS = ("gt", "gte", "lt", "lte", "eq", "neq")
ExtraThresholds = dict[str, tuple[Threshold, ...]]
"""Extra comparisons of range conditions, by the rule's id (or title when it has none)."""


def split_range_conditions(documents: list[Any]) -> ExtraThresholds:
    """Keep one comparison per correlation condition in ``documents`` (edited in place); return the others."""
    extra: ExtraThresholds = {}
    for document in documents:
        if not isinstance(document, dict):
            continue
        correlation = document.get("correlation")
        condition = correlation.get("condition") if isinstance(correlation, dict) else None
        if not isinstance(condition, dict):
            continue
        ops = [op for op in OPS if op in condition]
        if len(ops) < 2:
            continue
        key = str(document.get("id") or document.get("title") or "")
        kept: list[Threshold] = []
        for op in ops[1:]:
            value = condition.pop(op)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UnsupportedRuleError(f"correlation condition {op}: {value!r} is not a number")
            kept.append(Threshold(cast(Op, op), float(value)))
        extra[key] = tuple(kept)
    return extra


def convert_correlation(rule: SigmaCorrelationRule, path: str, extra: ExtraThresholds | None = None) -> CorrelationRule:
    from sigma.correlations import SigmaCorrelationCondition, SigmaExtendedCorrelationCondition

    kind = cast(CorrelationType, rule.type.name.lower())
    references = tuple(ref.reference for ref in rule.rules or ())
    thresholds: tuple[Threshold, ...] = ()
    field_name: str | None = None
    percentile: float | None = None
    expression: BoolExpr | None = None
    condition = rule.condition
    if isinstance(condition, SigmaExtendedCorrelationCondition):
        expression = _expression(condition.parsed)
        if not references:
            references = tuple(condition.get_referenced_rules())
    elif isinstance(condition, SigmaCorrelationCondition):
        thresholds = (Threshold(cast(Op, condition.op.name.lower()), float(condition.count)),)
        key = str(rule.id or rule.title or "")
        thresholds += (extra or {}).get(key, ())
        if isinstance(condition.fieldref, list):
            raise UnsupportedRuleError("correlation condition with several fields")
        field_name = condition.fieldref
        if condition.percentile is not None:
            percentile = float(condition.percentile)
    if kind == "value_percentile":
        if percentile is None:
            raise UnsupportedRuleError("value_percentile correlation without a percentile")
        if not 0 <= percentile <= 100:
            raise UnsupportedRuleError(f"percentile {percentile} is not between 0 and 100")
    if not references:
        raise UnsupportedRuleError("correlation rule without rules")
    aliases = tuple(
        (alias.alias, tuple((ref.reference, field) for ref, field in alias.mapping.items()))
        for alias in rule.aliases)
    level = rule.level.name.lower() if rule.level else ""
    status = rule.status.name.lower() if rule.status else ""
    info = RuleInfo(
        id=str(rule.id or rule.name or rule.title), title=rule.title or "", level=level, status=status, path=path,
        description=(rule.description or "").strip(), author=rule.author or "",
        tags=tuple(f"{t.namespace}.{t.name}" for t in rule.tags), references=tuple(rule.references or ()),
        falsepositives=tuple(rule.falsepositives or ()), fields=tuple(rule.group_by or ()), name=rule.name)
    return CorrelationRule(
        info=info, type=kind, rules=references, group_by=tuple(rule.group_by or ()),
        timespan=float(rule.timespan.seconds), thresholds=thresholds, field=field_name, percentile=percentile,
        generate=bool(rule.generate), aliases=aliases, expression=expression)


def _expression(node: Any) -> BoolExpr:
    from sigma.correlations import (
        CorrelationConditionAND,
        CorrelationConditionNOT,
        CorrelationConditionOR,
        SigmaRuleReference,
    )

    if isinstance(node, SigmaRuleReference):
        return RuleRef(node.reference)
    if isinstance(node, CorrelationConditionNOT):
        return NoneOf(_expression(node.args[0]))
    if isinstance(node, CorrelationConditionAND):
        return AllOf(tuple(_expression(arg) for arg in node.args))
    if isinstance(node, CorrelationConditionOR):
        return AnyOf(tuple(_expression(arg) for arg in node.args))
    raise UnsupportedRuleError(f"unknown correlation condition item {type(node).__name__}")
