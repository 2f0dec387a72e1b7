"""Reading the files alert context uses: assets and identities from CSV or YAML (by extension), vulnerability
findings from scanner reports through Yamori's own parsers (:func:`yamori.sources.files.read_paths`).

A bad row never stops a read: it is skipped and described in ``problems`` (``file:line: reason``). A file that
cannot be read or parsed as a whole raises :class:`~yamori.triage.inventory.ContextConfigError`. CSV lists
(``addresses``, ``tags``, ``aliases``) are ``;``-separated; YAML takes lists or such strings; a YAML file is a
list of entries or a mapping holding one (``assets:``/``hosts:``, ``identities:``/``users:``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from yamori.events import BadRecord
from yamori.sources.files import read_paths
from yamori.triage.inventory import (
    CRITICALITIES,
    VULNERABILITY_SEVERITIES,
    Asset,
    ContextConfigError,
    Finding,
    Identity,
    Vulnerability,
)

ASSET_COLUMNS = ("host", "addresses", "owner", "criticality", "tags", "site")
IDENTITY_COLUMNS = ("user", "aliases", "department", "privileged", "site")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_rows(path: Path, list_keys: tuple[str, ...], problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    """The entries of a CSV or YAML file with their line numbers; keys lower-cased. Entries that are not
    mappings are reported and skipped. Raises ContextConfigError when the file cannot be read or parsed."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise ContextConfigError(f"{path}: unknown format (the name must end in .csv, .yaml or .yml)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeError) as error:
        raise ContextConfigError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}") from error
    if suffix == ".csv":
        return _csv_rows(path, text, problems)
    return _yaml_rows(path, text, list_keys, problems)


def _csv_rows(path: Path, text: str, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    rows: list[tuple[int, dict[str, Any]]] = []
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    try:
        for record in reader:
            if not any(cell.strip() for cell in record) or record[0].lstrip().startswith("#"):
                continue  # blank lines and comments
            if header is None:
                header = [cell.strip().lower() for cell in record]
                continue
            if len(record) > len(header):
                problems.append(f"{path}:{reader.line_num}: {len(record)} cells for {len(header)} columns: skipped")
                continue
            rows.append((reader.line_num, {name: cell for name, cell in zip(header, record, strict=False)}))
    except csv.Error as error:
        problems.append(f"{path}:{reader.line_num}: broken CSV ({error}): rest of the file skipped")
    return rows


def _yaml_rows(path: Path, text: str, list_keys: tuple[str, ...],
               problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    loader = _YAML_LOADER(text)
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        root = loader.get_single_node()
        if root is None:
            return rows
        if isinstance(root, yaml.MappingNode):
            # {assets: [...]}: the list under one of the expected keys
            lists = [value for key, value in root.value
                     if isinstance(key, yaml.ScalarNode) and key.value.lower() in list_keys]
            root = lists[0] if lists else root
        if not isinstance(root, yaml.SequenceNode):
            raise ContextConfigError(f"{path}: expected a list of entries (or a mapping with "
                                     f"{' or '.join(list_keys)}: a list)")
        for node in root.value:
            line = node.start_mark.line + 1
            entry = loader.construct_document(node)
            if isinstance(entry, dict):
                rows.append((line, {str(key).strip().lower(): value for key, value in entry.items()}))
            else:
                problems.append(f"{path}:{line}: entry is not a mapping: skipped")
    except yaml.YAMLError as error:
        raise ContextConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from error
    finally:
        loader.dispose()
    return rows


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _items(value: Any) -> tuple[str, ...]:
    """A list cell: a YAML list, or a string of ``;``-separated items."""
    values = value if isinstance(value, list) else str(value).split(";") if value is not None else []
    return tuple(text for text in (_text(item) for item in values) if text)


def _unknown_keys(path: Path, rows: list[tuple[int, dict[str, Any]]], known: tuple[str, ...],
                  problems: list[str]) -> None:
    reported: set[str] = set()
    for line, row in rows:
        for key in row:
            if key not in known and key not in reported:
                reported.add(key)
                problems.append(f"{path}:{line}: unknown column {key!r} ignored (known: {', '.join(known)})")


# --- the three kinds of file ----------------------------------------------------------------------------------


def load_assets(path: Path, problems: list[str]) -> list[Asset]:
    """The hosts of an inventory file; rows without a host or with an unknown criticality are skipped."""
    rows = read_rows(path, ("assets", "hosts"), problems)
    _unknown_keys(path, rows, ASSET_COLUMNS, problems)
    assets: list[Asset] = []
    for line, row in rows:
        host = _text(row.get("host"))
        if host is None:
            problems.append(f"{path}:{line}: no host: skipped")
            continue
        criticality = _text(row.get("criticality"))
        if criticality is not None:
            criticality = criticality.lower()
            if criticality not in CRITICALITIES:
                problems.append(f"{path}:{line}: unknown criticality {criticality!r} for {host} (one of "
                                f"{', '.join(CRITICALITIES)}): skipped")
                continue
        assets.append(Asset(host=host, addresses=_items(row.get("addresses")), owner=_text(row.get("owner")),
                            criticality=criticality, tags=_items(row.get("tags")), site=_text(row.get("site")),
                            origin=f"{path}:{line}"))
    return assets


def load_identities(path: Path, problems: list[str]) -> list[Identity]:
    """The people of an identity file; rows without a user or with an unreadable privileged flag are skipped."""
    rows = read_rows(path, ("identities", "users"), problems)
    _unknown_keys(path, rows, IDENTITY_COLUMNS, problems)
    identities: list[Identity] = []
    for line, row in rows:
        user = _text(row.get("user"))
        if user is None:
            problems.append(f"{path}:{line}: no user: skipped")
            continue
        flag = row.get("privileged")
        if isinstance(flag, bool):
            privileged = flag
        elif (word := (_text(flag) or "").lower()) in _TRUE | _FALSE:
            privileged = word in _TRUE
        else:
            problems.append(f"{path}:{line}: privileged must be true or false, not {flag!r}, for {user}: skipped")
            continue
        identities.append(Identity(user=user, aliases=_items(row.get("aliases")),
                                   department=_text(row.get("department")), privileged=privileged,
                                   site=_text(row.get("site")), origin=f"{path}:{line}"))
    return identities


def load_findings(path: Path, problems: list[str]) -> list[Finding]:
    """The vulnerability findings of a scanner report (or every report in a folder), read by Yamori's parsers.

    Informational findings (severity ``None``) and configuration findings are not vulnerabilities; findings
    that name no host (a scan of a source folder) cannot be attached and are counted in one problem line.
    """
    findings: list[Finding] = []
    hostless = 0
    events = 0
    for item in read_paths([path]):
        if isinstance(item, BadRecord):
            problems.append(_bad_record(item))
            continue
        events += 1
        fields = item.fields
        ids = fields.get("vulnerability.id")
        severity = fields.get("vulnerability.severity") or "Unknown"
        if not isinstance(ids, list) or not ids or severity not in VULNERABILITY_SEVERITIES:
            continue
        hosts = _finding_hosts(fields)
        if not hosts:
            hostless += 1
            continue
        cvss = fields.get("vulnerability.score.base")
        score = float(cvss) if isinstance(cvss, (int, float)) and not isinstance(cvss, bool) else None
        scanner = _text(fields.get("vulnerability.scanner.vendor"))
        findings.append(Finding(hosts, tuple(Vulnerability(str(identifier), severity, score, scanner)
                                             for identifier in ids)))
    if hostless:
        problems.append(f"{path}: {hostless} finding(s) name no host or image: not attached to any asset")
    if events and not findings and not hostless:
        problems.append(f"{path}: {events} event(s) but no vulnerability finding: is it a scanner report?")
    return findings


def _finding_hosts(fields: dict[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    for name in ("host.name", "host.hostname", "host", "host.ip", "container.image.name"):
        value = fields.get(name)
        for text in (value if isinstance(value, list) else [value]):
            if isinstance(text, str) and text.strip() and text not in names:
                names.append(text)
    return tuple(names)


def _bad_record(record: BadRecord) -> str:
    position = record.position.removeprefix("line ")
    return f"{record.source}: {record.reason}" if position in ("", "file") else \
        f"{record.source}:{position}: {record.reason}"
