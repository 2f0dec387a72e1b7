"""The reference evaluator ("oracle"): slow, plain, obviously correct Sigma matching for differential tests.

The fast engine (``yamori.engine.compiler``) is checked against this module: for any rule and any event both
must give the same answer. Everything here is written for clarity, never for speed: each call re-reads the
rule's condition tree from pySigma and walks it by straight recursion, one rule on one event.

The semantics are those of ``docs/semantics.md``. Where this module decides something that page leaves open,
the docstring of the function that decides it says so. The logsource is *not* checked here: the caller checks
``event.logsource.covers(...)`` first.

Two rules of the walk keep the oracle's errors independent of the event:

* the walk never short-circuits (every branch of ``and``/``or`` is evaluated), and
* every value is turned into its matcher *before* the event is looked at,

so a rule that cannot be evaluated (a placeholder without values, a regular expression Python cannot
compile, an unknown value type...) raises :class:`~yamori.exceptions.UnsupportedRuleError` for every event,
exactly as a compiling engine rejects it once, up front.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
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
    SigmaStringPartType,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from yamori.exceptions import RuleError, UnsupportedRuleError

__all__ = ["oracle_match", "sigma_string_to_regex", "string_form"]

Placeholders = Mapping[str, Sequence[str]]
ConditionNode = ConditionItem | ConditionFieldEqualsValueExpression | ConditionValueExpression | None
# A matcher answers "does this one scalar event value satisfy the rule value?" (callers unpack lists).
Matcher = Callable[[Any], bool]


# ----------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------


def oracle_match(
    rule: SigmaRule,
    fields: Mapping[str, Any],
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    """True when the rule's detection matches the event ``fields`` (the logsource is not checked).

    ``placeholders`` maps a placeholder name (``%name%`` under ``expand``) to its values; each value is a
    literal string (no wildcards) and the values are OR-linked. A rule with several conditions matches when
    any of them does.

    Raises :class:`UnsupportedRuleError` when the rule uses something that cannot be evaluated, and
    :class:`RuleError` when pySigma cannot build the condition tree (for example an unknown identifier).
    """
    context = _Context(fields=fields, placeholders=placeholders or {})
    trees = [_condition_tree(condition) for condition in rule.detection.parsed_condition]
    results = [_evaluate(tree, context) for tree in trees]
    return any(results)


def _condition_tree(condition: Any) -> ConditionNode:
    """The postprocessed condition tree pySigma builds for one condition string.

    ``SigmaCondition.parsed`` parses anew on every access (a deep copy of a cached parse, then identifiers and
    ``x of`` selectors are resolved into the detections' trees). It does not change what the rule means; it
    only re-points the ``parent`` attribute of the rule's detections and detection items. The leaf values in
    the tree are the rule's own value objects, so this module never mutates them.
    """
    cached = _TREES.get(id(condition))
    if cached is not None and cached[0] is condition:
        return cached[1]
    try:
        tree: ConditionNode = condition.parsed
    except SigmaError as error:
        raise RuleError(f"condition {condition.condition!r} cannot be parsed: {error}") from error
    _TREES[id(condition)] = (condition, tree)  # keeps the condition alive, so its id is not reused
    return tree


# pySigma re-parses a condition on every access; the tree depends only on the rule, so it is parsed once.
_TREES: dict[int, tuple[Any, ConditionNode]] = {}


class _Context:
    """What the walk needs besides the tree: the event's fields and the placeholder values."""

    def __init__(self, fields: Mapping[str, Any], placeholders: Placeholders) -> None:
        self.fields = fields
        self.placeholders = placeholders


# ----------------------------------------------------------------------------------------------------
# The condition tree
# ----------------------------------------------------------------------------------------------------


def _evaluate(node: ConditionNode, context: _Context) -> bool:
    """Evaluate one node of the condition tree; every child is evaluated (no short-circuit)."""
    if isinstance(node, ConditionAND):
        results = [_evaluate(child, context) for child in node.args]
        return all(results)
    if isinstance(node, ConditionOR):
        results = [_evaluate(child, context) for child in node.args]
        return any(results)
    if isinstance(node, ConditionNOT):
        if len(node.args) != 1:
            raise UnsupportedRuleError(f"'not' with {len(node.args)} operands")
        return not _evaluate(node.args[0], context)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _match_field_item(node.field, node.value, context)
    if isinstance(node, ConditionValueExpression):
        return _match_keyword(node.value, context)
    if node is None:
        raise UnsupportedRuleError("condition is empty (every detection in it was dropped)")
    raise UnsupportedRuleError(f"unexpected condition element {type(node).__name__}")


# ----------------------------------------------------------------------------------------------------
# Detection items bound to a field
# ----------------------------------------------------------------------------------------------------


def _match_field_item(field: str, value: SigmaType, context: _Context) -> bool:
    """``field`` compared with one rule value.

    Field names are looked up exactly (case-sensitive). For value comparisons, an absent field makes the item
    false, and a list value (multi-valued field) makes it true when any element satisfies it.
    """
    fields = context.fields
    present = field in fields

    if isinstance(value, SigmaExpansion):  # windash, base64offset: OR of the expanded values, always
        results = [_match_field_item(field, expanded, context) for expanded in value.values]
        return any(results)

    if isinstance(value, SigmaExists):
        # Sigma specification: `exists` "only verifies the presence of a field, not its value, be it empty or
        # null". (docs/semantics.md said "present with a non-None value"; see the report / proposed wording.)
        return present == value.exists

    if isinstance(value, SigmaNull):
        # `null`: absent, or None (for a list: an element that is None).
        return not present or any(element is None for element in _elements(fields[field]))

    if isinstance(value, SigmaFieldReference):
        return _match_field_reference(field, value, context)

    matcher = _value_matcher(value, context)  # built first: errors must not depend on the event
    if not present:
        return False
    return any(matcher(element) for element in _elements(fields[field]))


def _match_field_reference(field: str, reference: SigmaFieldReference, context: _Context) -> bool:
    """``fieldref``: the first field's string form equals the referenced field's, ignoring case.

    With ``startswith``/``endswith``/``contains`` (pySigma sets ``starts_with``/``ends_with`` on the
    reference) the first field starts with / ends with / contains the second. False when either field is
    absent; with lists, true when any pair of elements satisfies it.
    """
    fields = context.fields
    if field not in fields or reference.field not in fields:
        return False
    for left in _elements(fields[field]):
        for right in _elements(fields[reference.field]):
            left_text, right_text = string_form(left), string_form(right)
            if left_text is None or right_text is None:
                continue
            parts: list[SigmaStringPartType] = [right_text]
            if reference.ends_with:
                parts.insert(0, SpecialChars.WILDCARD_MULTI)
            if reference.starts_with:
                parts.append(SpecialChars.WILDCARD_MULTI)
            if _parts_to_regex(parts, cased=False, placeholders=None).fullmatch(left_text):
                return True
    return False


# ----------------------------------------------------------------------------------------------------
# Keyword (field-less) detection items
# ----------------------------------------------------------------------------------------------------


def _match_keyword(value: SigmaType, context: _Context) -> bool:
    """A keyword value: true when any value of any field of the event satisfies it.

    Plain keywords (strings, numbers, booleans) are substring searches: the value is matched as the pattern
    pySigma's ``contains`` would write (a ``*`` added on each side that lacks one), ignoring case unless
    ``cased``; numbers and booleans are searched as their string form. So ``|startswith``/``|endswith`` on a
    keyword search the whole value like ``contains`` does. Other keyword values (``re``, ``cidr``, ``gt``...,
    timestamp parts) are matched against every field value as they would be against one field.
    ``null``, ``exists`` and ``fieldref`` need a field and are not supported as keywords.
    """
    if isinstance(value, SigmaExpansion):
        results = [_match_keyword(expanded, context) for expanded in value.values]
        return any(results)
    if isinstance(value, (SigmaNull, SigmaExists, SigmaFieldReference)):
        raise UnsupportedRuleError(f"{type(value).__name__} value without a field (keyword)")

    matcher = _value_matcher(_keyword_as_pattern(value), context)
    return any(matcher(element) for field_value in context.fields.values() for element in _elements(field_value))


def _keyword_as_pattern(value: SigmaType) -> SigmaType:
    """A plain keyword value as the ``*value*`` string it is searched as; other values are unchanged."""
    if isinstance(value, SigmaString):
        parts = list(value.s)  # a new list: the rule's value is not touched
        cased = isinstance(value, SigmaCasedString)
    elif isinstance(value, (SigmaBool, SigmaNumber)) and not isinstance(value, SigmaTimestampPart):
        text = string_form(value.boolean if isinstance(value, SigmaBool) else value.number)
        parts = [text] if text else []
        cased = False
    else:
        return value
    if not parts or parts[0] != SpecialChars.WILDCARD_MULTI:
        parts.insert(0, SpecialChars.WILDCARD_MULTI)
    if parts[-1] != SpecialChars.WILDCARD_MULTI:
        parts.append(SpecialChars.WILDCARD_MULTI)
    pattern = SigmaCasedString() if cased else SigmaString()
    pattern.s = parts
    return pattern


# ----------------------------------------------------------------------------------------------------
# Values: one matcher per rule value, applied to one scalar event value
# ----------------------------------------------------------------------------------------------------


def _value_matcher(value: SigmaType, context: _Context) -> Matcher:
    """The test one scalar event value must pass to satisfy ``value`` (a value that needs no field context).

    Order matters: SigmaCasedString is a SigmaString and SigmaTimestampPart is a SigmaNumber.
    """
    if isinstance(value, SigmaString):
        return _string_matcher(value, context)
    if isinstance(value, SigmaTimestampPart):
        return _timestamp_part_matcher(value)
    if isinstance(value, SigmaNumber):
        return _number_matcher(value)
    if isinstance(value, SigmaBool):
        return _bool_matcher(value)
    if isinstance(value, SigmaRegularExpression):
        return _regex_matcher(value, context)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_matcher(value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_matcher(value)
    raise UnsupportedRuleError(f"value type {type(value).__name__} ({value!r}) is not supported")


def _string_matcher(value: SigmaString, context: _Context) -> Matcher:
    """A Sigma string: the whole string form matches the pattern (``*``, ``?``),
    ignoring case unless cased."""
    cased = isinstance(value, SigmaCasedString)
    regex = sigma_string_to_regex(value, cased, placeholders=context.placeholders)

    def matches(event_value: Any) -> bool:
        text = string_form(event_value)
        return text is not None and regex.fullmatch(text) is not None

    return matches


def _number_matcher(value: SigmaNumber) -> Matcher:
    """A number: the event value is that number (``4688 == 4688.0``; a boolean is not a number), or its
    string form equals the number's decimal form (``"4688"``, not ``"4688.0"`` nor ``"04688"``)."""
    number = value.number
    decimal_form = string_form(number)

    def matches(event_value: Any) -> bool:
        if _is_number(event_value) and event_value == number:
            return True
        return string_form(event_value) == decimal_form

    return matches


def _bool_matcher(value: SigmaBool) -> Matcher:
    """A boolean: the event value is that boolean, or its string form is ``true``/``false`` ignoring case."""
    wanted = value.boolean
    regex = _parts_to_regex(["true" if wanted else "false"], cased=False, placeholders=None)

    def matches(event_value: Any) -> bool:
        if isinstance(event_value, bool):
            return event_value == wanted
        text = string_form(event_value)
        return text is not None and regex.fullmatch(text) is not None

    return matches


_PYTHON_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def _regex_matcher(value: SigmaRegularExpression, context: _Context) -> Matcher:
    """``re``: Python ``re.search`` (unanchored) on the string form; case-sensitive unless ``i``."""
    flags = 0
    for flag in value.flags:
        flags |= _PYTHON_REGEX_FLAGS[flag]
    pattern = _regex_text(value.regexp, context.placeholders)
    try:
        regex = _compile(pattern, flags)
    except re.error as error:
        message = f"regular expression {pattern!r} is invalid for Python re: {error}"
        raise UnsupportedRuleError(message) from error

    def matches(event_value: Any) -> bool:
        text = string_form(event_value)
        return text is not None and regex.search(text) is not None

    return matches


def _regex_text(regexp: SigmaString, placeholders: Placeholders) -> str:
    """The regular expression text of a ``re`` value, as ``SigmaString.to_plain()`` writes it.

    pySigma keeps the expression in a SigmaString parsed without escaping, so ``*``/``?`` become wildcard
    parts that stand for themselves here. With ``expand``, each placeholder becomes an alternation of its
    values, each escaped to match literally.
    """
    text = []
    for part in regexp.s:
        if isinstance(part, str):
            # escaped as to_plain() does (pySigma never leaves a * or ? in a plain part of a regexp)
            text.append(part.replace("*", "\\*").replace("?", "\\?"))
        elif part == SpecialChars.WILDCARD_MULTI:
            text.append("*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            text.append("?")
        elif isinstance(part, Placeholder):
            text.append(_placeholder_regex(part, placeholders))
        else:
            raise UnsupportedRuleError(f"unexpected part {part!r} in regular expression")
    return "".join(text)


def _cidr_matcher(value: SigmaCIDRExpression) -> Matcher:
    """``cidr``: the string form is an IP address inside the network; IPv4 never matches an IPv6 network
    (nor the reverse, even for IPv4-mapped IPv6 addresses)."""
    network = value.network

    def matches(event_value: Any) -> bool:
        text = string_form(event_value)
        if text is None:
            return False
        try:
            # parse the string form: an int event value must not be read as a packed address
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return address.version == network.version and address in network

    return matches


def _compare_matcher(value: SigmaCompareExpression) -> Matcher:
    """``gt``/``gte``/``lt``/``lte``: the event value is a number, or a string in decimal-number syntax; any
    other value (booleans included) is false. (``NEQ`` cannot be written in YAML: pySigma's ``neq`` negates
    the item. It is handled like the others for completeness.)"""
    limit = value.number.number
    operator = value.op

    def matches(event_value: Any) -> bool:
        number = _as_number(event_value)
        if number is None:
            return False
        if operator == CompareOperators.GT:
            return number > limit
        if operator == CompareOperators.GTE:
            return number >= limit
        if operator == CompareOperators.LT:
            return number < limit
        if operator == CompareOperators.LTE:
            return number <= limit
        if operator == CompareOperators.NEQ:
            return number != limit
        raise UnsupportedRuleError(f"comparison operator {operator} is not supported")

    return matches


def _timestamp_part_matcher(value: SigmaTimestampPart) -> Matcher:
    """``minute``/``hour``/``day``/``week``/``month``/``year``: the value read as a time (see
    :func:`_as_datetime`), converted to UTC; that part equals the number. ``week`` is the ISO week (1-53),
    ``day`` the day of the month."""
    part = value.timestamp_part
    wanted = value.number

    def matches(event_value: Any) -> bool:
        moment = _as_datetime(event_value)
        return moment is not None and _timestamp_part(moment, part) == wanted

    return matches


def _timestamp_part(moment: datetime, part: TimestampPart) -> int:
    if part == TimestampPart.MINUTE:
        return moment.minute
    if part == TimestampPart.HOUR:
        return moment.hour
    if part == TimestampPart.DAY:
        return moment.day
    if part == TimestampPart.WEEK:
        return moment.isocalendar().week
    if part == TimestampPart.MONTH:
        return moment.month
    if part == TimestampPart.YEAR:
        return moment.year
    raise UnsupportedRuleError(f"timestamp part {part} is not supported")


# ----------------------------------------------------------------------------------------------------
# Sigma strings to Python regular expressions
# ----------------------------------------------------------------------------------------------------


def sigma_string_to_regex(
    s: SigmaString, cased: bool, *, placeholders: Mapping[str, Sequence[str]] | None = None
) -> re.Pattern[str]:
    """The Python regular expression of a Sigma string; use it with ``.fullmatch()``.

    ``*`` matches any run of characters and ``?`` exactly one, newlines included (``DOTALL``); everything
    else is literal (pySigma has already resolved the ``\\*``, ``\\?``, ``\\\\`` escapes into plain text).
    Matching ignores case (``re.IGNORECASE``) unless ``cased``. A placeholder part becomes an alternation of
    its literal values from ``placeholders``; a placeholder without values raises UnsupportedRuleError.
    """
    return _parts_to_regex(s.s, cased=cased, placeholders=placeholders)


def _parts_to_regex(
    parts: Sequence[SigmaStringPartType], cased: bool, placeholders: Placeholders | None
) -> re.Pattern[str]:
    text = []
    for part in parts:
        if isinstance(part, str):
            text.append(re.escape(part))
        elif part == SpecialChars.WILDCARD_MULTI:
            text.append(".*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            text.append(".")
        elif isinstance(part, Placeholder):
            text.append(_placeholder_regex(part, placeholders))
        else:
            raise UnsupportedRuleError(f"unexpected part {part!r} in a Sigma string")
    flags = re.DOTALL if cased else re.DOTALL | re.IGNORECASE
    return _compile("".join(text), flags)


@functools.lru_cache(maxsize=1 << 17)
def _compile(pattern: str, flags: int) -> re.Pattern[str]:
    """``re.compile`` with a memo large enough for a whole rule set (``re``'s own cache holds only 512)."""
    return re.compile(pattern, flags)


def _placeholder_regex(placeholder: Placeholder, placeholders: Placeholders | None) -> str:
    """A non-capturing group matching any one of the placeholder's values, each literally."""
    values = _placeholder_values(placeholder, placeholders)
    return "(?:" + "|".join(re.escape(value) for value in values) + ")"


def _placeholder_values(placeholder: Placeholder, placeholders: Placeholders | None) -> list[str]:
    name = placeholder.name
    configured = None if placeholders is None else placeholders.get(name)
    if isinstance(configured, str):  # a single string given where a list was expected
        configured = [configured]
    values = [str(value) for value in configured or ()]
    if not values:
        raise UnsupportedRuleError(f"placeholder %{name}% has no values configured")
    return values


# ----------------------------------------------------------------------------------------------------
# Event values
# ----------------------------------------------------------------------------------------------------


def _elements(field_value: Any) -> Iterator[Any]:
    """The scalar values of a field: the value itself, or each element of a list (nested lists flattened)."""
    if isinstance(field_value, (list, tuple)):
        for element in field_value:
            yield from _elements(element)
    else:
        yield field_value


def string_form(value: Any) -> str | None:
    """The string an event value is compared as; None when it has none (``None`` and non-scalar values).

    ``str`` as is; ``bool`` as ``true``/``false``; ``int`` in decimal; ``float`` as Python's ``repr``
    except that a finite integral float is written as the integer (``4.0`` -> ``4``, ``1e20`` ->
    ``100000000000000000000``).
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():  # False for nan and infinities
            return str(int(value))
        return repr(value)
    return None


def _is_number(value: Any) -> bool:
    """int or float, but not bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# Decimal-number syntax accepted in strings: optional sign, digits with an optional fraction, optional
# exponent. ASCII digits only; no surrounding spaces, no underscores, no inf/nan, no hex.
_INTEGER_SYNTAX = re.compile(r"[+-]?[0-9]+")
_NUMBER_SYNTAX = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _as_number(value: Any) -> int | float | None:
    """The number an event value stands for in a comparison, or None."""
    if _is_number(value):
        number: int | float = value
        return number
    if isinstance(value, str):
        if _INTEGER_SYNTAX.fullmatch(value):
            return int(value)
        if _NUMBER_SYNTAX.fullmatch(value):
            return float(value)
    return None


def _as_datetime(value: Any) -> datetime | None:
    """The UTC time an event value stands for, or None.

    A string is read with ``datetime.fromisoformat`` (Python 3.11: ISO 8601 dates and times, ``Z`` allowed,
    any fraction length); a time without offset is taken as UTC. A number, or a string in decimal-number
    syntax that is not an ISO time, is epoch seconds.
    """
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                return moment.replace(tzinfo=UTC)
            try:
                return moment.astimezone(UTC)
            except OverflowError:
                return None
    number = _as_number(value)
    if number is None:
        return None
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
