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
from yamori.exceptions import RulesUpdateError, YamoriError
from yamori.parsers.registry import logsource_supported
from yamori.rules.model import RuleProblem
from yamori.rules.update import DEFAULT_PACKAGE, PACKAGES, update_rules

app = typer.Typer(help="Check and update Sigma rules.", no_args_is_help=True)


@app.command("check")
def check_command(
    paths: Annotated[list[Path], typer.Argument(help="Rule files, folders or zip files")],
    placeholders: Annotated[Path | None, typer.Option(help="YAML map of placeholder values")] = None,
) -> None:
    """List every rule that cannot be loaded or evaluated, with file and reason. Exit 1 if there is one."""
    console = Console()
    ruleset = load_ruleset(paths, read_placeholders(placeholders), use_cache=False)
    unmapped = [RuleProblem(info.path, f"no parser produces logsource {_logsource(info)} (the rule never fires)",
                            info.id, info.title, "unmapped")
                for info in ruleset.infos if not logsource_supported(info.product, info.category, info.service)]
    problems = sorted(ruleset.problems + unmapped, key=lambda p: (p.kind, p.path))
    blocking = [p for p in problems if p.kind in ("error", "unsupported")]
    style = {"error": "red", "unsupported": "yellow", "unmapped": "cyan", "skipped": "dim"}
    for p in problems:
        rule = f" [{p.title or p.rule_id}]" if (p.title or p.rule_id) else ""
        console.print(f"[{style.get(p.kind, '')}]{p.kind:<11}[/] {p.path}{rule}: {p.reason}",
                      highlight=False, soft_wrap=True)
    kinds = Counter(p.kind for p in problems)
    console.print(f"{ruleset.files} files: [bold]{len(ruleset.infos)}[/bold] rules evaluable"
                  + "".join(f", {count} {kind}" for kind, count in sorted(kinds.items())))
    if blocking:
        raise typer.Exit(1)


def _logsource(info: object) -> str:
    parts = [f"{name}={getattr(info, name)}" for name in ("product", "category", "service") if getattr(info, name)]
    return ", ".join(parts) or "(none)"


@app.command("update")
def update_command(
    package: Annotated[str, typer.Option(help=f"SigmaHQ package: {', '.join(PACKAGES)}")] = DEFAULT_PACKAGE,
    url: Annotated[str | None, typer.Option(help="Release JSON or .zip URL (default: latest SigmaHQ release; "
                                            "or $YAMORI_RULES_URL)")] = None,
    sha256: Annotated[str | None, typer.Option(help="SHA-256 the downloaded zip must have")] = None,
) -> None:
    """Download SigmaHQ's current release rule package into the data folder, verify it and compile it."""
    console = Console()
    try:
        with console.status("Downloading and verifying…"):
            result = update_rules(url, package, sha256=sha256)
    except RulesUpdateError as exc:
        console.print(f"[red]Update failed:[/red] {exc}", markup=True)
        raise typer.Exit(1) from exc
    verified = ", ".join(result.sha256_verified_by) or "no published digest"
    console.print(f"Installed [bold]{result.rule_count}[/bold] rules ({result.release or result.asset}) "
                  f"into {result.path}; sha256 {result.sha256[:16]}… checked against {verified}")
    if result.invalid_files:
        console.print(f"[yellow]{len(result.invalid_files)} files of the package are not valid YAML[/yellow]")
    with console.status("Compiling rules…"):
        ruleset = load_ruleset([result.path])
    console.print(f"Compiled {len(ruleset.infos)} rules; `yamori hunt` now uses them by default.")


@app.command("backtest")
def backtest_command(
    rule: Annotated[Path, typer.Argument(help="The rule (single or correlation) file or folder to backtest")],
    start: Annotated[str | None, typer.Option("--from", help="From this time (ISO 8601 or -30d, now)")] = "-7d",
    end: Annotated[str | None, typer.Option("--to", help="Up to this time (excluded)")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", "-r", help="Where the rules a correlation "
                                                     "reads are (default: the default rule folders)")] = None,
    store_dir: Annotated[Path | None, typer.Option("--store-dir", help="The event store (default: the one "
                                                   "`yamori serve` writes)")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """How often a rule would have fired over stored history: alerts, per day, top entities, a sample."""
    import orjson

    from yamori import paths
    from yamori.correlation.backtest import backtest, default_reference_paths
    from yamori.store.query import parse_time

    root = store_dir or paths.store_dir()
    if not root.is_dir():
        raise typer.BadParameter(f"there is no event store at {root}")
    try:
        for moment in (start, end):
            if moment:
                parse_time(moment)
        report = backtest(rule, rules or default_reference_paths(), root, start, end)
    except YamoriError as error:
        typer.echo(f"yamori rules backtest: {error}", err=True)
        raise typer.Exit(2) from error
    if output == "json":
        typer.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    console.print(f"[bold]{', '.join(report.rules)}[/bold]: {report.alerts} alerts over {report.events:,} events")
    if report.per_day:
        days = Table(title="Alerts per day")
        days.add_column("Day")
        days.add_column("Alerts", justify="right")
        for day, count in sorted(report.per_day.items()):
            days.add_row(day, str(count))
        console.print(days)
    if report.entities:
        top = Table(title="Top entities")
        for column in ("Kind", "Value", "Alerts"):
            top.add_column(column)
        for (kind, value), count in report.entities.most_common(10):
            top.add_row(kind, value, str(count))
        console.print(top)
    for sample in report.sample:
        console.print(f"  {sample['timestamp']}  {sample['computer'] or ''}  {sample['matched']}", markup=False)
