"""The `yamori` command line."""

from __future__ import annotations

import typer

from yamori import __version__
from yamori.cli import hunt, rules, search, serve, store

app = typer.Typer(name="yamori", help="Yamori (家守): an open-source SIEM with a fast, complete Sigma engine.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
app.command(name="hunt")(hunt.hunt_command)
app.add_typer(rules.app, name="rules")
app.command(name="serve")(serve.serve_command)
app.command(name="search")(search.search_command)
app.add_typer(store.app, name="store")
app.command(name="status")(serve.status_command)


@app.command()
def version() -> None:
    """Print Yamori's version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
