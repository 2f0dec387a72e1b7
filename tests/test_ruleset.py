"""The compiled-rule cache: warm starts reuse it, any content change is seen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from yamori.engine.ruleset import load_ruleset

RULE = """
title: {title}
id: 0b7e1d2c-1111-4a4a-9b9b-{suffix}
logsource: {{product: windows, category: process_creation}}
detection:
    selection:
        CommandLine|contains: '{needle}'
    condition: selection
level: medium
"""


@pytest.fixture()
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "rules"
    folder.mkdir()
    for n in range(3):
        (folder / f"r{n}.yml").write_text(RULE.format(title=f"Rule {n}", suffix=f"{n:012d}", needle=f"x{n}"))
    return folder


def _age(path: Path, seconds: float = 60.0) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


def test_second_load_comes_from_the_cache(rules: Path) -> None:
    first = load_ruleset([rules])
    assert not first.from_cache and len(first.infos) == 3
    second = load_ruleset([rules])
    assert second.from_cache and [i.title for i in second.infos] == [i.title for i in first.infos]


def test_a_changed_rule_is_reloaded(rules: Path) -> None:
    for path in rules.iterdir():
        _age(path)
    load_ruleset([rules])
    target = rules / "r1.yml"
    target.write_text(RULE.format(title="Rule 1 renamed", suffix=f"{1:012d}", needle="x1"))
    reloaded = load_ruleset([rules])
    assert not reloaded.from_cache
    assert "Rule 1 renamed" in [i.title for i in reloaded.infos]


def test_same_size_and_time_but_new_content_is_still_seen(rules: Path) -> None:
    # the racy case: a rewrite that keeps size and modification time is only trusted once old enough
    load_ruleset([rules])
    target = rules / "r2.yml"
    stat = target.stat()
    target.write_text(RULE.format(title="Rule 9", suffix=f"{2:012d}", needle="x2"))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert target.stat().st_size == stat.st_size
    assert "Rule 9" in [i.title for i in load_ruleset([rules]).infos]


def test_no_cache_parses_again(rules: Path) -> None:
    load_ruleset([rules])
    assert not load_ruleset([rules], use_cache=False).from_cache


def test_unreadable_and_missing_paths_are_problems(rules: Path, tmp_path: Path) -> None:
    loaded = load_ruleset([rules, tmp_path / "missing"])
    assert any("no such file" in p.reason for p in loaded.problems)
    assert len(loaded.infos) == 3
