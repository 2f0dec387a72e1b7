"""`yamori serve` and `yamori status`: run Yamori continuously, and ask a running server how it is doing."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from yamori.config import ConfigError, load_config
from yamori.exceptions import YamoriError


def serve_command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration (default: safe "
                                                "defaults, loopback only; see docs/serve.md)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Override the configuration's data_dir")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at debug level")] = False,
) -> None:
    """Receive logs (syslog, HTTP/HEC, file tails, watched folders), detect with Sigma rules, store, serve."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        settings = load_config(config)
        if data_dir is not None:
            settings.data_dir = data_dir
        from yamori.server import Server

        server = Server(settings)
    except (ConfigError, YamoriError) as error:
        typer.echo(f"yamori serve: {error}", err=True)
        raise typer.Exit(2) from error
    asyncio.run(server.run())


def status_command(
    url: Annotated[str, typer.Option(help="The server's API address")] = "http://127.0.0.1:8088",
    token_env: Annotated[str, typer.Option(help="Environment variable holding a reader token")] =
        "YAMORI_READER_TOKEN",
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Show a running server's inputs, queue, throughput, store and pipeline health."""
    token = os.environ.get(token_env) or os.environ.get("YAMORI_ADMIN_TOKEN")
    if not token:
        typer.echo(f"yamori status: set ${token_env} to a reader token", err=True)
        raise typer.Exit(2)
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/v1/status", headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
    except httpx.HTTPError as error:
        typer.echo(f"yamori status: cannot reach {url}: {error}", err=True)
        raise typer.Exit(1) from error
    if response.status_code != 200:
        typer.echo(f"yamori status: {url} answered {response.status_code}: {response.text[:200]}", err=True)
        raise typer.Exit(1)
    document = response.json()
    if output == "json":
        typer.echo(response.text)
        return
    _print_status(document)


def _print_status(document: dict[str, Any]) -> None:
    console = Console()
    state = "[green]running[/]" if document["pipeline_alive"] else "[red]pipeline down[/]"
    console.print(f"Yamori {document['version']}: {state}, up {document['uptime_seconds']:.0f} s, "
                  f"data in {document['data_dir']}")
    log = document["log"]
    overview = Table(show_header=False, box=None)
    for label, value in (
        ("events/s", f"{document['events_per_second']:,.1f}"),
        ("stored events", f"{document['stored_events']:,}"),
        ("alerts", f"{document['alerts']:,}"),
        ("queue (records / bytes)", f"{log['backlog_records']:,} / {log['backlog_bytes']:,}"
                                    + (" [red]overloaded[/]" if log["overloaded"] else "")),
        ("store bytes", f"{document['store_bytes']:,}"),
    ):
        overview.add_row(label, value)
    console.print(overview)
    inputs = Table("input", "kind", "events", "parse errors")
    kinds = {item["name"]: item["kind"] for item in document["inputs"]}
    for name in sorted({*kinds, *document["events_in"], *document["parse_errors"]}):
        inputs.add_row(name, kinds.get(name, "http"), f"{document['events_in'].get(name, 0):,}",
                       f"{document['parse_errors'].get(name, 0):,}")
    console.print(inputs)
    if document["filtered"] or document["sampled_out"]:
        filters = Table("filter rule", "dropped", "sampled out")
        for name in sorted({*document["filtered"], *document["sampled_out"]}):
            filters.add_row(name, str(document["filtered"].get(name, "")), str(document["sampled_out"].get(name, "")))
        console.print(filters)
