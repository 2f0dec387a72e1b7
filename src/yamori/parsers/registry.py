"""The one registry of parsers: every module of :mod:`yamori.parsers` with a ``PARSERS`` tuple is a format.

Also answers which Sigma logsources some parser can produce (so rules that can never fire are reported, not
hidden), and finishes every parsed event the same way (:func:`finish`: ECS mapping, ``@timestamp``,
``event.module``/``event.dataset``).
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from typing import Any, TypeVar

from yamori import parsers as _package
from yamori.events import Event
from yamori.parsers import windows
from yamori.parsers.base import (
    DocumentParser,
    MessageParser,
    ParseContext,
    Parsed,
    Parser,
    RecordParser,
    TextParser,
    finish,
)

__all__ = [
    "all_parsers",
    "document_parsers",
    "finish",
    "logsource_supported",
    "message_parsers",
    "record_parsers",
    "text_parsers",
    "to_event",
]

P = TypeVar("P", bound=Parser)


@cache
def all_parsers() -> tuple[Parser, ...]:
    """Every parser of every format module, in priority order (lower first), then by name."""
    found: list[Parser] = []
    for module_info in pkgutil.iter_modules(_package.__path__):
        module = importlib.import_module(f"{_package.__name__}.{module_info.name}")
        found.extend(getattr(module, "PARSERS", ()))
    names = [parser.name for parser in found]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise RuntimeError(f"parser names must be unique: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda parser: (parser.priority, parser.name)))


def _of_kind(kind: type[P]) -> tuple[P, ...]:
    return tuple(parser for parser in all_parsers() if isinstance(parser, kind))


@cache
def record_parsers() -> tuple[RecordParser, ...]:
    return _of_kind(RecordParser)


@cache
def text_parsers() -> tuple[TextParser, ...]:
    return _of_kind(TextParser)


@cache
def document_parsers() -> tuple[DocumentParser, ...]:
    return _of_kind(DocumentParser)


@cache
def message_parsers() -> tuple[MessageParser, ...]:
    return _of_kind(MessageParser)


def logsource_supported(product: str | None, category: str | None, service: str | None) -> bool:
    """True when some parser emits events a rule with this logsource applies to."""
    if windows.can_produce(product, category, service):
        return True
    return any(produced.covers(product, category, service)
               for parser in all_parsers() for produced in parser.logsources)


def to_event(parsed: Parsed, parser: Parser, context: ParseContext, position: str, raw: Any) -> Event:
    """The Event a reader hands on: finished fields, source and position (``position/sub`` for expanded records)."""
    finish(parsed, parser)
    where = position if parsed.position is None else f"{position}/{parsed.position}"
    return Event(parsed.fields, parsed.logsource, context.source, where, parsed.timestamp,
                 raw if parsed.raw is None else parsed.raw, parsed.parser)
