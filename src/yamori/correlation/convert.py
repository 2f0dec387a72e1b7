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


def new_terms_rule(info: RuleInfo, spec: Any) -> CorrelationRule:
    """The ``new_terms`` correlation of a detection rule carrying Yamori's ``new_terms`` attribute::

        new_terms:
            fields: [TargetUserName, IpAddress]   # the combination that must be new
            history: 30d                          # new: not seen within this long before
            learning: 7d                          # from the first event: learn only (default: history)
    """
    if not isinstance(spec, dict):
        raise UnsupportedRuleError("new_terms must be a mapping with fields and history")
    unknown = set(spec) - {"fields", "history", "learning"}
    if unknown:
        raise UnsupportedRuleError(f"new_terms: unknown keys {', '.join(sorted(unknown))}")
    fields = spec.get("fields")
    if isinstance(fields, str):
        fields = [fields]
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
        raise UnsupportedRuleError("new_terms.fields must name one or more fields")
    history = _seconds(spec.get("history"), "history")
    learning = _seconds(spec.get("learning", spec.get("history")), "learning")
    return CorrelationRule(info=info, type="new_terms", rules=(info.id,), group_by=tuple(fields), timespan=history,
                           thresholds=(), learning=learning)


def _seconds(value: Any, name: str) -> float:
    from sigma.correlations import SigmaCorrelationTimespan
    from sigma.exceptions import SigmaError

    if not isinstance(value, str):
        raise UnsupportedRuleError(f"new_terms.{name} must be a duration such as 30d")
    try:
        return float(SigmaCorrelationTimespan(value).seconds)
    except (SigmaError, ValueError) as exc:
        raise UnsupportedRuleError(f"new_terms.{name}: {exc}") from None
