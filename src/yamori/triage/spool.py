"""The triage spool: the pipeline hands each stored batch's alerts to the alert manager as one JSON-lines file.

The pipeline writes ``<first seq>-<last seq>.s<stripe>.jsonl`` (atomically, by rename) before it commits the
batch to the store, so that no stored alert is missed after a crash; a replay may write a batch's alerts again,
under another name, and the alert manager skips alert ids it has handled. The manager deletes a file once it
has committed what the file held.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from yamori.triage.model import TriageAlert

SUFFIX = ".jsonl"


def write_spool(folder: Path, stripe: int, first_seq: int, last_seq: int, documents: Sequence[dict[str, Any]]) -> None:
    if not documents:
        return
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{first_seq:020d}-{last_seq:020d}.s{stripe}{SUFFIX}"
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(b"".join(orjson.dumps(doc, default=str) + b"\n" for doc in documents))
    os.replace(temporary, folder / name)


def spooled_files(folder: Path) -> list[Path]:
    """The files waiting, oldest batch first."""
    try:
        return sorted(path for path in folder.iterdir() if path.name.endswith(SUFFIX) and not path.name.startswith("."))
    except FileNotFoundError:
        return []


def read_spool(path: Path) -> Iterator[TriageAlert | str]:
    """The alerts of one file; a line that cannot be read yields its reason instead (counted by the caller)."""
    for number, line in enumerate(path.read_bytes().splitlines(), 1):
        try:
            data = orjson.loads(line)
            yield TriageAlert(
                alert_id=data["alert_id"], rule_id=data["rule_id"], title=data["title"], level=data["level"],
                timestamp=data.get("timestamp"), received_ns=int(data.get("received_ns", 0)),
                tags=tuple(data.get("tags", ())), event_ids=tuple(data.get("event_ids", ())),
                fields=dict(data.get("fields") or {}), correlation=bool(data.get("correlation")),
                input=str(data.get("input", "")))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            yield f"{path.name}:{number}: {type(error).__name__}: {error}"
