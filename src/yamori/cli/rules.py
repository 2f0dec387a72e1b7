"""`yamori rules check|update`: what can be evaluated, and fetching SigmaHQ's rule release."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from yamori.cli.options import read_placeholders
from yamori.engine.ruleset import load_ruleset

app = typer.Typer(help="Check and update Sigma rules.", no_args_is_help=True)


@app.command("check")
def check_command(
    paths: Annotated[list[Path], typer.Argument(help="Rule files, folders or zip files")],
    placeholders: Annotated[Path | None, typer.Option(help="YAML map of placeholder values")] = None,
) -> None:
    """List every rule that cannot be loaded or evaluated, with file and reason. Exit 1 if there is one."""
    console = Console()
    ruleset = load_ruleset(paths, read_placeholders(placeholders), use_cache=False)
    problems = sorted(ruleset.problems, key=lambda p: (p.kind, p.path))
    blocking = [p for p in problems if p.kind in ("error", "unsupported")]
    if problems:
        table = Table(title="Rules that cannot be evaluated as they are")
        for column in ("Kind", "File", "Rule", "Reason"):
            table.add_column(column, overflow="fold")
        for p in problems:
            table.add_row(p.kind, p.path, p.title or p.rule_id, p.reason)
        console.print(table)
    kinds = Counter(p.kind for p in problems)
    console.print(f"{ruleset.files} files: [bold]{len(ruleset.infos)}[/bold] rules evaluable"
                  + "".join(f", {count} {kind}" for kind, count in sorted(kinds.items())))
    if blocking:
        raise typer.Exit(1)
