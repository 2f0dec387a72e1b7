"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import typer
import yaml

from yamori.paths import default_rules_dirs


def rule_paths(given: list[Path] | None) -> list[Path]:
    """The rule paths named on the command line, or the downloaded SigmaHQ rules plus the bundled ones."""
    return list(given) if given else default_rules_dirs()


def read_placeholders(path: Path | None) -> Mapping[str, Sequence[str]] | None:
    """A YAML map of placeholder name to value (or list of values) for rules using the ``expand`` modifier."""
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"cannot read placeholders file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise typer.BadParameter(f"{path}: expected a map of placeholder name to values")
    return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()}
