"""SigmaHQ's own regression data: each info.yml names a rule that must match its EVTX file match_count times."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import shared_dir
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import CompiledRuleSet
from yamori.events import BadRecord
from yamori.sources.files import read_file

REGRESSION = shared_dir() / "datasets" / "SigmaHQ_sigma"


def _cases() -> list[Any]:
    cases = []
    for info_path in sorted(REGRESSION.glob("regression_data/**/info.yml")):
        info = yaml.safe_load(info_path.read_text())
        rule_id = info["rule_metadata"][0]["id"]
        for test in info.get("regression_tests_info") or []:
            if test.get("type") == "evtx":
                case_id = info_path.parent.name
                cases.append(pytest.param(rule_id, test["path"], int(test.get("match_count", 1)), id=case_id))
    return cases


CASES = _cases()


def test_the_regression_set_is_complete(shared: Path) -> None:
    assert len(CASES) == 202


@pytest.fixture(scope="module")
def engine(sigmahq_rules: CompiledRuleSet) -> Engine:
    return Engine(sigmahq_rules)


@pytest.mark.parametrize(("rule_id", "path", "match_count"), CASES)
def test_rule_fires_on_its_regression_evtx(engine: Engine, rule_id: str, path: str, match_count: int) -> None:
    index = next((i for i, info in enumerate(engine.infos) if info.id == rule_id), None)
    assert index is not None, f"rule {rule_id} was not loaded"
    fired: Counter[int] = Counter()
    events = 0
    for item in read_file(REGRESSION / path):
        assert not isinstance(item, BadRecord), item
        events += 1
        fired.update(engine.match(item))
    assert events > 0
    assert fired[index] >= match_count, (
        f"{engine.infos[index].title} fired {fired[index]} times on {events} events, expected ≥ {match_count}")
