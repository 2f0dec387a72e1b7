"""Test helpers: build an Engine from Sigma YAML text, and events with a logsource."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet, build_ruleset
from yamori.events import BadRecord, Event, LogSource
from yamori.rules.loader import RuleFile, load_rule_files

PROCESS_CREATION = LogSource(product=("windows",), category=("process_creation",), service=("sysmon",))


def ruleset_from_yaml(*documents: str, placeholders: dict[str, list[str]] | None = None) -> CompiledRuleSet:
    files = [RuleFile(f"rule{i}.yml", text.encode()) for i, text in enumerate(documents)]
    loaded, _ = load_rule_files(files, placeholders)
    return build_ruleset(loaded)


def engine_from_yaml(*documents: str, placeholders: dict[str, list[str]] | None = None) -> Engine:
    return Engine(ruleset_from_yaml(*documents, placeholders=placeholders))


def event(fields: dict[str, Any], logsource: LogSource = PROCESS_CREATION) -> Event:
    return Event(fields=fields, logsource=logsource, source="test", position="1")


def titles(engine: Engine, fields: dict[str, Any], logsource: LogSource = PROCESS_CREATION) -> list[str]:
    return [engine.infos[i].title for i in engine.match(event(fields, logsource))]


def fired_rule_ids(ruleset: CompiledRuleSet, events: Iterable[Event | BadRecord]) -> set[str]:
    """The ids of every rule of ``ruleset`` that fires on some of ``events`` (BadRecords are skipped)."""
    engine = Engine(ruleset)
    fired: set[str] = set()
    for item in events:
        if isinstance(item, Event):
            fired.update(engine.infos[index].id for index in engine.match(item))
    return fired
