"""The alert-handling database: one SQLAlchemy declarative base, and opening it (SQLite file by default).

Each stage declares its own tables on ``Base`` in its own module; ``open_database`` creates every table of the
modules imported so far. PostgreSQL works the same way through its URL.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    pass


def database_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'triage.sqlite3'}"


def open_database(url: str) -> tuple[Engine, sessionmaker]:  # type: ignore[type-arg]
    """An engine and a session factory for ``url``, with every declared table created."""
    engine = create_engine(url, future=True)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):  # type: ignore[no-untyped-def]
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers (the API) do not block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    Base.metadata.create_all(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
