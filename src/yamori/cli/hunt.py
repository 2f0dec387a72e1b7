"""`yamori hunt PATH...`: which Sigma rules fire on which events, mapped to ATT&CK.

`yamori hunt --store [--from T] [--to T] [--query Q]` hunts the events stored by `yamori serve` instead of files.

Exit codes: 0 the hunt completed; 1 detections were found and ``--fail-on-detection`` was given; 2 usage error;
3 the hunt completed but some input could not be read (see the bad-record report); 4 no rule could be loaded.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from yamori import paths as paths_module
from yamori.alerts.detection import LEVELS, Detection, level_rank
from yamori.alerts.output import FORMATS, Renderer
from yamori.cli.options import read_placeholders, rule_paths
from yamori.correlation.correlator import Observation, correlate
from yamori.correlation.offline import correlation_set
from yamori.correlation.ruleset import CorrelationSet
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.events import BadRecord
from yamori.exceptions import QueryError
from yamori.hunt import FileResult, HuntOptions, HuntSummary, iter_results, make_engine

EXIT_DETECTIONS = 1
EXIT_BAD_INPUT = 3
EXIT_NO_RULES = 4
TABLE_ROWS = 200
BAD_SHOWN = 10
SUMMARY_RULES = 40


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


class Level(StrEnum):
    informational = "informational"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "informational": "dim"}


def hunt_command(
    paths: Annotated[list[Path] | None, typer.Argument(
        help="Log files or folders in any supported format (EVTX, JSON, syslog, web, firewall, IDS, cloud, "
             "scanner reports), also inside .gz/.zip/.tar archives")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", "-r", help="Sigma rule files, folders or zips")]
    = None,
    min_level: Annotated[Level, typer.Option("--min-level", help="Ignore rules below this level")]
    = Level.informational,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write detections here")] = None,
    placeholders: Annotated[Path | None, typer.Option(help="YAML map of placeholder values (expand)")] = None,
    dead_letter: Annotated[Path | None, typer.Option(help="Write unreadable records here (JSON lines)")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (0: one per core)")] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the compiled-rule cache")] = False,
    fail_on_detection: Annotated[bool, typer.Option(help="Exit 1 when something is detected")] = False,
    store: Annotated[bool, typer.Option("--store", help="Hunt the events stored by `yamori serve` instead of "
                                        "files (see --store-dir, --from, --to, --query)")] = False,
    store_dir: Annotated[Path | None, typer.Option("--store-dir", help="The event store (default: the one "
                                                   "`yamori serve` writes)")] = None,
    start: Annotated[str | None, typer.Option("--from", help="With --store: from this time (ISO 8601, or "
                                              "relative: -7d, -1h, now)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="With --store: up to this time (excluded)")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="With --store: only the stored events "
                                              "matching this search query")] = None,
) -> None:
    """Run Sigma rules over log files (or the event store) and report the detections."""
    if store == bool(paths):
        raise typer.BadParameter("give log files or folders to hunt, or --store to hunt the event store")
    if not store and (start or end or query or store_dir):
        raise typer.BadParameter("--from, --to, --query and --store-dir go with --store")
    root = store_dir or paths_module.store_dir()
    if store:
        from yamori.store.query import parse_query, parse_time  # the store (DuckDB) only when hunting it

        try:
            for moment in (start, end):
                if moment:
                    parse_time(moment)
            parse_query(query or "")
        except QueryError as exc:
            raise typer.BadParameter(str(exc)) from None
        if not root.is_dir():
            raise typer.BadParameter(f"there is no event store at {root}")
    to_stdout = output is None and output_format is not OutputFormat.table
    console = Console(stderr=to_stdout)
    started = time.perf_counter()
    with console.status("Loading rules…"):
        ruleset = load_ruleset(rule_paths(rules), read_placeholders(placeholders), use_cache=not no_cache)
    load_seconds = time.perf_counter() - started
    if not ruleset.infos:
        console.print("[red]No rule could be loaded.[/red] Try `yamori rules check` on the rule path.")
        raise typer.Exit(EXIT_NO_RULES)
    correlations = correlation_set(ruleset)
    problems = [p for p in ruleset.problems + correlations.problems if p.kind != "unmapped"]
    console.print(f"Loaded [bold]{len(ruleset.infos)}[/bold] rules"
                  + (f" and {len(correlations.correlations)} correlation rules" if correlations else "")
                  + f" in {load_seconds:.2f} s"
                  f"{' (cached)' if ruleset.from_cache else ''}"
                  + (f"; {len(problems)} not evaluable (see `yamori rules check`)" if problems else ""))
    engine = make_engine(ruleset, min_level.value, correlations)
    file_format = output_format.value if output_format is not OutputFormat.table else "jsonl"
    header, renderer = FORMATS[file_format]
    writes = output is not None or output_format is not OutputFormat.table
    options = HuntOptions(workers=workers, render=renderer if writes else None,
                          correlations=correlations if correlations else None)
    observations: list[Observation] = []
    summary = HuntSummary()
    shown: list[Detection] = []
    bad_shown: list[BadRecord] = []
    hunt_started = time.perf_counter()
    with _open_sink(output, writes, header) as sink, _open_sink(dead_letter, dead_letter is not None, b"") as dead:
        progress = Progress(TextColumn("[bold]Hunting[/bold]"), BarColumn(), TextColumn("{task.completed} events"),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console,
                            transient=True)
        with progress:
            task = progress.add_task("hunt", total=None, rate="")

            def advance(count: int) -> None:
                progress.advance(task, count)
                elapsed = time.perf_counter() - hunt_started
                done = progress.tasks[0].completed
                progress.update(task, rate=f"{done / elapsed:,.0f} events/s" if elapsed > 0 else "")

            results = _store_results(root, engine, options, start, end, query, advance) if store \
                else iter_results(paths or [], engine, options, advance)
            for result in results:
                observations.extend(result.observations)
                result.observations = []
                summary.add(result)
                _emit(result, sink, dead, shown, bad_shown)
            if observations:
                correlated = _correlated(correlations, observations, min_level.value, renderer if writes else None)
                summary.add(correlated, is_file=False)
                _emit(correlated, sink, dead, shown, bad_shown)
    summary.seconds = time.perf_counter() - hunt_started
    if output_format is OutputFormat.table:
        _print_timeline(console, shown, summary.detections)
    _print_summary(console, summary, bad_shown)
    if summary.bad_records:
        raise typer.Exit(EXIT_BAD_INPUT)
    if fail_on_detection and summary.detections:
        raise typer.Exit(EXIT_DETECTIONS)


def _correlated(correlations: CorrelationSet, observations: list[Observation], min_level: str,
                render: Renderer | None) -> FileResult:
    """The correlation alerts of the whole hunt: every file's observations, in event-time order."""
    result = FileResult("correlation")
    threshold = level_rank(min_level)
    for alert in correlate(correlations, observations):
        detection = alert.detection()
        if level_rank(detection.rule.level) < threshold:
            continue
        if render is not None:
            result.rendered.append(render(detection))
        result.detections.append(detection)
    return result


def _store_results(root: Path, engine: Engine, options: HuntOptions, start: str | None, end: str | None,
                   query: str | None, advance: Callable[[int], None]) -> Iterator[FileResult]:
    from yamori.store.hunt import iter_store_results

    yield from iter_store_results(root, engine, options, start, end, query, advance)


def _emit(result: FileResult, sink: IO[bytes] | None, dead: IO[bytes] | None,
          shown: list[Detection], bad_shown: list[BadRecord]) -> None:
    if sink is not None and result.rendered:
        sink.write(b"".join(result.rendered))
    shown.extend(result.detections[: TABLE_ROWS - len(shown)])
    for bad in result.bad:
        if dead is not None:
            dead.write(orjson.dumps({"source": bad.source, "position": bad.position, "reason": bad.reason,
                                     "data": bad.data}, option=orjson.OPT_APPEND_NEWLINE))
        if len(bad_shown) < BAD_SHOWN:
            bad_shown.append(bad)


@contextlib.contextmanager
def _open_sink(path: Path | None, wanted: bool, header: bytes) -> Iterator[IO[bytes] | None]:
    """The byte stream detections (or bad records) go to: the file, standard output, or nothing."""
    if not wanted:
        yield None
        return
    with path.open("wb") if path is not None else contextlib.nullcontext(sys.stdout.buffer) as stream:
        stream.write(header)
        yield stream
        stream.flush()


def _print_timeline(console: Console, shown: list[Detection], total: int) -> None:
    if not shown:
        return
    table = Table(title="Detections", show_lines=False, expand=False)
    for column in ("Time", "Level", "Rule", "ATT&CK", "Computer", "Source"):
        table.add_column(column, overflow="fold")
    for d in sorted(shown, key=lambda d: d.timestamp or ""):
        table.add_row(d.timestamp or "", f"[{LEVEL_STYLE.get(d.rule.level, '')}]{d.rule.level}",
                      d.rule.title, " ".join(d.techniques), d.computer or "", f"{Path(d.source).name}:{d.position}")
    console.print(table)
    if total > len(shown):
        console.print(f"[dim]… {total - len(shown)} more; use --format jsonl or csv for all of them[/dim]")


def _print_summary(console: Console, summary: HuntSummary, bad: list[BadRecord]) -> None:
    if summary.by_rule:
        table = Table(title="Detections by rule")
        table.add_column("Count", justify="right")
        table.add_column("Level")
        table.add_column("Rule")
        table.add_column("Tactics")
        ranked = sorted(summary.by_rule.items(), key=lambda item: (-level_rank(summary.rule_titles[item[0]][1]),
                                                                    -item[1]))
        for rule_id, count in ranked[:SUMMARY_RULES]:
            title, level, tactics = summary.rule_titles[rule_id]
            table.add_row(str(count), f"[{LEVEL_STYLE.get(level, '')}]{level}", title, tactics)
        console.print(table)
        if len(ranked) > SUMMARY_RULES:
            console.print(f"[dim]… and {len(ranked) - SUMMARY_RULES} more rules (highest levels shown first)[/dim]")
        levels = ", ".join(f"{lvl}: {summary.by_level[lvl]}" for lvl in reversed(LEVELS) if summary.by_level[lvl])
        console.print(f"By level: {levels}")
        if summary.by_tactic:
            console.print("By tactic: " + ", ".join(f"{t}: {c}" for t, c in summary.by_tactic.most_common()))
    rate = summary.events / summary.seconds if summary.seconds > 0 else 0.0
    console.print(f"[bold]{summary.detections}[/bold] detections, {summary.events:,} events in {summary.files} "
                  f"files, {summary.seconds:.2f} s ({rate:,.0f} events/s)")
    if summary.rule_errors:
        console.print(f"[yellow]{summary.rule_errors} rule evaluations failed on unexpected values[/yellow]")
    if summary.bad_records:
        console.print(f"[yellow]{summary.bad_records} records could not be read[/yellow] (first {len(bad)}):")
        for record in bad:
            console.print(f"  {record.source} @ {record.position}: {record.reason}", markup=False)
