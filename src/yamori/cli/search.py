"""`yamori search QUERY`: search the event (or alert) store; count-by, time histogram and raw SQL.

Exit codes: 0 done (also when nothing matched); 2 usage error (malformed query or time, no store).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from yamori import paths
from yamori.exceptions import QueryError

EXIT_USAGE = 2
CELL = 160


class Format(StrEnum):
    table = "table"
    json = "json"


class Dataset(StrEnum):
    events = "events"
    alerts = "alerts"


class Order(StrEnum):
    desc = "desc"
    asc = "asc"


StoreOption = Annotated[Path | None, typer.Option("--store", help="The event store folder (default: the one "
                                                  "`yamori serve` writes)")]


def store_root(given: Path | None) -> Path:
    """The store named by ``--store``, or the default one; a usage error when it does not exist."""
    root = given or paths.store_dir()
    if not root.is_dir():
        raise typer.BadParameter(f"there is no event store at {root} (`yamori serve` creates it; or use --store)",
                                 param_hint="--store")
    return root


def search_command(
    query: Annotated[str, typer.Argument(help="Lucene/KQL-style query: user:alice AND event_code:4625, "
                                         "-host:web01, dst_port:[1 TO 1023], \"free text\", * for everything")]
    = "*",
    start: Annotated[str | None, typer.Option("--from", help="From this time: ISO 8601, or relative (-15m, -1h, "
                                              "-7d, now)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Up to this time (excluded)")] = None,
    count_by_field: Annotated[str | None, typer.Option("--count-by", help="Count the matches by this field's "
                                                       "values, most frequent first")] = None,
    histogram_interval: Annotated[str | None, typer.Option("--histogram", help="Count the matches per time "
                                                           "bucket of this width (30s, 15m, 1h, 1d)")] = None,
    sql_statement: Annotated[str | None, typer.Option("--sql", help="Run this read-only SQL SELECT over the views "
                                                      "`events` and `alerts` instead (QUERY is ignored)")] = None,
    limit: Annotated[int | None, typer.Option("--limit", "-n", min=0, help="At most this many rows (default: 50 "
                                              "events, 10 count-by values, 10,000 SQL rows)")] = None,
    alerts: Annotated[bool, typer.Option("--alerts", help="Search the stored alerts instead of the events")]
    = False,
    order: Annotated[Order, typer.Option("--order", help="desc: newest first; asc: oldest first")] = Order.desc,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="table, or json (one JSON object per "
                                                  "line)")] = Format.table,
    store: StoreOption = None,
) -> None:
    """Search the stored events with a query language analysts know, or with SQL."""
    from yamori.store import search  # DuckDB is imported only by the commands that use it

    root = store_root(store)
    dataset = Dataset.alerts if alerts else Dataset.events
    modes = [mode for mode in (count_by_field, histogram_interval, sql_statement) if mode is not None]
    if len(modes) > 1:
        raise typer.BadParameter("choose one of --count-by, --histogram and --sql")
    console = Console()
    try:
        if sql_statement is not None:
            rows = search.sql(root, sql_statement, start, end, max_rows=search.SQL_MAX_ROWS if limit is None else limit)
            title = "SQL"
        elif count_by_field is not None:
            rows = search.count_by(root, count_by_field, query, start, end, 10 if limit is None else limit,
                                   dataset.value)
            title = f"Count by {count_by_field}"
        elif histogram_interval is not None:
            rows = search.histogram(root, histogram_interval, query, start, end, dataset.value)
            title = f"Histogram ({histogram_interval})"
        else:
            rows = search.search(root, query, start, end, 50 if limit is None else limit, order.value, dataset.value)
            title = f"{dataset.value.capitalize()} matching {query}"
    except QueryError as exc:
        _print_query_error(console, exc, query if sql_statement is None else None)
        raise typer.Exit(EXIT_USAGE) from None
    if output_format is Format.json:
        for row in rows:
            typer.echo(orjson.dumps(row, default=str).decode())
        return
    if sql_statement is None and count_by_field is None and histogram_interval is None:
        _print_matches(console, rows, dataset, title)
    else:
        _print_rows(console, rows, title, bars=histogram_interval is not None or count_by_field is not None)


def _print_query_error(console: Console, error: QueryError, query: str | None) -> None:
    console.print(f"[red]Error:[/red] {escape(error.reason)}")
    if query is not None and error.position is not None:
        console.print(f"  {escape(query)}", highlight=False)
        console.print("  " + " " * error.position + "^", highlight=False)


def _print_rows(console: Console, rows: list[dict[str, Any]], title: str, bars: bool) -> None:
    if not rows:
        console.print("[dim]No results.[/dim]")
        return
    table = Table(title=title)
    names = list(rows[0])
    for name in names:
        table.add_column(name, justify="right" if name == "count" else "left", overflow="fold")
    top = max((row.get("count") or 0 for row in rows), default=0) if bars else 0
    if top:
        table.add_column("")
    for row in rows:
        cells = [_cell(row.get(name)) for name in names]
        if top:
            cells.append("█" * max(1, round(30 * (row.get("count") or 0) / top)))
        table.add_row(*cells)
    console.print(table)


def _print_matches(console: Console, rows: list[dict[str, Any]], dataset: Dataset, title: str) -> None:
    if not rows:
        console.print("[dim]No results.[/dim]")
        return
    table = Table(title=escape(title), expand=True)
    if dataset is Dataset.alerts:
        table.add_column("Time", no_wrap=True)
        table.add_column("Level", no_wrap=True)
        table.add_column("Rule", ratio=2, overflow="fold")
        table.add_column("Computer", max_width=24, overflow="fold")
        table.add_column("Event", ratio=1, overflow="fold")
        for row in rows:
            table.add_row(_cell(row.get("timestamp")), _cell(row.get("level")), _cell(row.get("title")),
                          _cell(row.get("computer")), _cell(f"{row.get('event_id')} {row.get('source')}:"
                                                            f"{row.get('position')}"))
    else:
        table.add_column("Time", no_wrap=True)
        table.add_column("Host", max_width=20, overflow="fold")
        table.add_column("User", max_width=16, overflow="fold")
        table.add_column("Code", max_width=8, overflow="fold")
        table.add_column("Action / outcome", max_width=20, overflow="fold")
        table.add_column("Event", ratio=1, min_width=30, overflow="fold")
        for row in rows:
            outcome = " / ".join(str(row[key]) for key in ("action", "outcome") if row.get(key))
            table.add_row(_cell(row.get("timestamp")), _cell(row.get("host")), _cell(row.get("user")),
                          _cell(row.get("event_code")), _cell(outcome), _cell(_summary(row)))
    console.print(table)
    console.print(f"[dim]{len(rows)} shown (newest first unless --order asc); --format json for every field[/dim]")


def _summary(row: dict[str, Any]) -> str:
    if row.get("message"):
        return str(row["message"])
    fields = row.get("fields")
    if isinstance(fields, dict):
        return " ".join(f"{key}={value}" for key, value in fields.items() if not key.startswith("@"))
    return ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = text if len(text) <= CELL else text[: CELL - 1] + "…"
    return escape(text)
