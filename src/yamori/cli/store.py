"""`yamori store`: the event store's statistics, retention and compaction."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from yamori.cli.search import Format, StoreOption, store_root

app = typer.Typer(help="The event and alert store of `yamori serve`.", no_args_is_help=True)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
               "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}


def parse_size(text: str) -> int:
    """``10GB``, ``500MB``, ``1.5TB`` (powers of 1000), ``8GiB`` (powers of 1024), or bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise typer.BadParameter(f"not a size: {text!r} (use e.g. 500MB, 10GB, 8GiB)")
    unit = (match.group(2) or "").lower().removesuffix("b")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} TB"


def _emit(console: Console, data: dict[str, Any], output_format: Format, title: str) -> None:
    if output_format is Format.json:
        typer.echo(orjson.dumps(data, default=str).decode())
        return
    table = Table(title=title, show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, value if isinstance(value, str) else f"{value:,}" if isinstance(value, int) else
                      str(value))
    console.print(table)


@app.command()
def stats(store: StoreOption = None,
          output_format: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """Events, alerts, files, partitions, bytes on disk and the time span of the store."""
    from yamori.store.stats import store_stats

    figures = store_stats(store_root(store))
    data = figures.to_dict()
    if output_format is Format.json:
        _emit(Console(), data, output_format, "")
        return
    _emit(Console(), {
        "store": figures.root, "events": figures.events, "alerts": figures.alerts,
        "files": f"{figures.files:,} ({figures.event_files:,} event, {figures.alert_files:,} alert)",
        "partitions (hours)": figures.partitions, "bytes on disk": human_bytes(figures.bytes),
        "bytes per event": f"{figures.bytes_per_event:,.1f}", "oldest event": data["oldest"] or "",
        "newest event": data["newest"] or "", "committed seq": figures.committed_seq,
    }, output_format, "Event store")


@app.command()
def retention(
    max_age: Annotated[str | None, typer.Option("--max-age", help="Drop hours older than this (30d, 12h, 2w)")]
    = None,
    max_size: Annotated[str | None, typer.Option("--max-size", help="Then drop the oldest hours until the store "
                                                 "is at most this big (10GB, 500MB, 8GiB)")] = None,
    store: StoreOption = None,
    output_format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Drop whole hour partitions by age and by total size."""
    from yamori.exceptions import QueryError
    from yamori.store.query import parse_duration
    from yamori.store.retention import apply_retention

    if max_age is None and max_size is None:
        raise typer.BadParameter("give --max-age, --max-size or both")
    try:
        age = parse_duration(max_age).total_seconds() if max_age is not None else None
    except QueryError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-age") from None
    size = parse_size(max_size) if max_size is not None else None
    with _exclusive(store_root(store)):
        result = apply_retention(store_root(store), max_age_seconds=age, max_bytes=size)
    console = Console()
    if output_format is Format.json:
        typer.echo(orjson.dumps({
            "dropped": [{"hour": part.start.strftime("%Y-%m-%dT%H:00:00Z"), "bytes": part.bytes,
                         "files": part.files, "reason": part.reason} for part in result.dropped],
            "bytes_before": result.bytes_before, "bytes_after": result.bytes_after, "errors": result.errors,
        }).decode())
        return
    if result.dropped:
        table = Table(title="Dropped partitions")
        for column in ("Hour (UTC)", "Files", "Bytes", "Reason"):
            table.add_column(column, justify="right" if column in ("Files", "Bytes") else "left")
        for part in result.dropped:
            table.add_row(part.start.strftime("%Y-%m-%d %H:00"), str(part.files), human_bytes(part.bytes),
                          part.reason)
        console.print(table)
    console.print(f"Dropped {len(result.dropped)} partitions ({human_bytes(result.bytes_dropped)}); the store "
                  f"holds {human_bytes(result.bytes_after)}.")
    for error in result.errors:
        console.print(f"[yellow]{error}[/yellow]", markup=False)


@app.command()
def compact(store: StoreOption = None,
            output_format: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """Merge the small files of every partition now (`yamori serve` also does it as partitions settle)."""
    from yamori.store.compact import compact as compact_store

    with _exclusive(store_root(store)):
        result = compact_store(store_root(store), idle_seconds=0)
    _emit(Console(), {"partitions checked": result.partitions_checked, "merges": result.merges,
                      "files merged": result.files_merged, "rows": result.rows,
                      "bytes before": result.bytes_before, "bytes after": result.bytes_after,
                      "seconds": round(result.seconds, 2), "errors": len(result.errors)},
          output_format, "Compaction")


@contextlib.contextmanager
def _exclusive(root: Path) -> Iterator[None]:
    """The store without a running pipeline, or exit 1 saying why."""
    from yamori.store.events import StoreBusy, without_pipelines

    try:
        with without_pipelines(root):
            yield
    except StoreBusy as error:
        typer.echo(f"yamori store: {error}", err=True)
        raise typer.Exit(1) from None
