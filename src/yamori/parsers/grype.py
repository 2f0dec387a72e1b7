"""Anchore Grype JSON reports (``grype <image|dir:path|sbom:file> -o json``): one event per match.

The report: ``matches`` (each: ``vulnerability`` with ``id``, ``dataSource``, ``namespace``, ``severity``,
``urls``, ``description``, ``cvss[]`` (``version``, ``vector``, ``type``, ``metrics.baseScore``), ``fix``
(``versions``, ``state``); ``relatedVulnerabilities[]`` (the CVE record behind a GHSA or distribution advisory,
with its own ``cvss``); ``matchDetails[]``; ``artifact`` with ``name``, ``version``, ``type``, ``purl``,
``locations[].path``, ``language``, ``cpes``), ``source`` (``type`` image/directory/file, ``target``: the image's
``userInput``, ``imageID``, ``tags``, ... or a path), ``distro`` (``name``, ``version``), ``descriptor``
(``name: grype``, ``version``, ``timestamp``, ``db``). Recognised by ``descriptor.name == "grype"``.

Fields of an event: the match flattened below ``matches`` (``matches.vulnerability.id``,
``matches.vulnerability.severity``, ``matches.vulnerability.cvss.metrics.baseScore``,
``matches.artifact.name``, ``matches.artifact.version``, ``matches.artifact.purl``,
``matches.relatedVulnerabilities.id``, ``matches.matchDetails.type``, ...: the path of the value in the
report, the array index left out, as :func:`yamori.parsers.generic.flatten_json` names values in arrays), and
the report's ``source.*``, ``distro.*``, ``descriptor.*`` under their own names (``source.target.userInput``;
not ``source.target.manifest`` and ``source.target.config``, the image's base64 manifest and configuration, nor
``descriptor.configuration``, the scanner's settings). The ``matches.`` prefix keeps Grype's own
``vulnerability.id`` (a string) and ``vulnerability.severity`` (``Negligible``...) apart from the ECS fields of
the same names, which hold the normalised values. Grype's ``source.*`` describes the scanned artifact, not a
network source as ECS ``source.*`` does; the names are Grype's.

ECS (the shared finding schema of :mod:`yamori.parsers._vulnerability`): ``vulnerability.id`` (the CVEs among
the match's id and its related vulnerabilities' ids, else the match's id, e.g. ``GHSA-...``),
``vulnerability.severity`` (``severity`` normalised; ``Negligible`` is Low, ``Unknown`` takes the band of the
CVSS score), ``vulnerability.score.base``/``version`` (the match's CVSS v3 of type Primary first, then other
v3, v4, v2; the related vulnerabilities' when the match has none), ``vulnerability.description``,
``vulnerability.reference`` (``dataSource``, else the first URL), ``vulnerability.category``
(``[artifact.type]``), ``vulnerability.scanner.vendor: Anchore``; ``package.name``, ``package.version``,
``package.type``, ``package.path`` (the first location), ``package.fixed_version`` (``fix.versions`` joined with
``, ``); ``container.image.name``/``container.image.tag`` for image sources (from ``userInput``).
``@timestamp`` is ``descriptor.timestamp`` (when the scan ran). ``event.dataset`` is ``grype.vulnerability``.

Logsource: ``product: grype, category: vulnerability`` (see :mod:`yamori.parsers._vulnerability`).
Position of an event: ``<record position>/matches[<i>]`` (from 0). A report without matches gives no event. The
event's raw record is the report cut down to that one match. Unreadable matches (not objects, no
vulnerability id) are reported together in one BadRecord after the readable ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from yamori.parsers._vulnerability import (
    as_float,
    as_text,
    cve_ids,
    cvss_version,
    iso_time,
    set_finding,
    severity_from_name,
    split_image,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_into

__all__ = ["GRYPE", "GrypeParser"]

GRYPE = logsource("grype", "vulnerability")

_CONTEXT = ("source", "distro", "descriptor")
_SKIPPED = {"source": frozenset({"manifest", "config"}), "descriptor": frozenset({"configuration"})}
_MAX_REPORTED = 5


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class GrypeParser(RecordParser):
    """Grype JSON reports, one event per match."""

    name = "grype"
    family = Family.VULNERABILITY
    description = "Anchore Grype JSON reports (descriptor.name grype): one finding per match"
    logsources = (GRYPE,)
    priority = 20

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        descriptor = record.get("descriptor")
        return "matches" in record and type(descriptor) is dict and descriptor.get("name") == "grype"

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        matches = record.get("matches")
        if matches is None:
            return
        if type(matches) is not list:
            raise Malformed(f"matches is {_kind(matches)}, not an array")
        base: dict[str, Any] = {}
        raw_base: dict[str, Any] = {}
        for key in _CONTEXT:
            value = record.get(key)
            if value is None:
                continue
            if type(value) is dict:
                value = _trimmed(value, key)
            raw_base[key] = value
            flatten_into(value, key, base)
        descriptor = record.get("descriptor")
        timestamp = iso_time(descriptor.get("timestamp")) if type(descriptor) is dict else None
        source = record.get("source")
        if type(source) is dict and source.get("type") == "image":
            target = source.get("target")
            reference = as_text(target.get("userInput")) if type(target) is dict else as_text(target)
            if reference:
                image, tag = split_image(reference)
                base["container.image.name"] = image
                if tag:
                    base["container.image.tag"] = [tag]

        bad: list[str] = []
        for index, match in enumerate(matches):
            where = f"matches[{index}]"
            if type(match) is not dict:
                bad.append(f"{where} is {_kind(match)}, not an object")
                continue
            fields = dict(base)
            flatten_into(match, "matches", fields)
            try:
                _finding(fields, match)
            except Malformed as error:
                bad.append(f"{where}: {error}")
                continue
            raw = dict(raw_base)
            raw["matches"] = [match]
            yield Parsed(fields, GRYPE, timestamp, where, raw)
        if bad:
            more = f" (and {len(bad) - _MAX_REPORTED} more)" if len(bad) > _MAX_REPORTED else ""
            raise Malformed(f"{len(bad)} unreadable of {len(matches)} matches: "
                            + "; ".join(bad[:_MAX_REPORTED]) + more)


def _trimmed(value: dict[str, Any], key: str) -> dict[str, Any]:
    """``source``/``descriptor`` without their bulky parts (image manifest and config, scanner settings)."""
    skipped = _SKIPPED.get(key)
    if not skipped:
        return value
    if key == "source":
        target = value.get("target")
        if type(target) is dict and skipped.intersection(target):
            return {**value, "target": {name: item for name, item in target.items() if name not in skipped}}
        return value
    return {name: item for name, item in value.items() if name not in skipped}


def _finding(fields: dict[str, Any], match: dict[str, Any]) -> None:
    vulnerability = match.get("vulnerability")
    if type(vulnerability) is not dict:
        raise Malformed(f"vulnerability is {_kind(vulnerability)}, not an object")
    identifier = as_text(vulnerability.get("id"))
    if identifier is None:
        raise Malformed("no vulnerability id")
    related_value = match.get("relatedVulnerabilities")
    related = [item for item in related_value if type(item) is dict] if type(related_value) is list else []
    ids = cve_ids([identifier, *(item.get("id") for item in related)]) or [identifier]

    score, version = _score(vulnerability.get("cvss"))
    if score is None:
        for item in related:
            score, version = _score(item.get("cvss"))
            if score is not None:
                break
    description = as_text(vulnerability.get("description"))
    if description is None:
        description = next((text for item in related if (text := as_text(item.get("description")))), None)
    reference = as_text(vulnerability.get("dataSource"))
    urls = vulnerability.get("urls")
    if reference is None and type(urls) is list and urls:
        reference = as_text(urls[0])

    artifact = match.get("artifact")
    artifact = artifact if type(artifact) is dict else {}
    package_type = as_text(artifact.get("type"))
    set_finding(fields, ids=ids, scheme="Grype", vendor="Anchore",
                severity=severity_from_name(vulnerability.get("severity")), score=score, score_version=version,
                description=description, reference=reference, category=package_type)
    for name, value in (("package.name", as_text(artifact.get("name"))),
                        ("package.version", as_text(artifact.get("version"))),
                        ("package.type", package_type)):
        if value is not None:
            fields[name] = value
    locations = artifact.get("locations")
    if type(locations) is list and locations and type(locations[0]) is dict:
        path = as_text(locations[0].get("path"))
        if path:
            fields["package.path"] = path
    fix = vulnerability.get("fix")
    if type(fix) is dict and type(fix.get("versions")) is list:
        versions = [version for version in fix["versions"] if type(version) is str and version]
        if versions:
            fields["package.fixed_version"] = ", ".join(versions)
    fields["event.dataset"] = "grype.vulnerability"


def _score(entries: Any) -> tuple[float | None, str | None]:
    """The CVSS score to report from a Grype ``cvss`` list: v3 Primary first, then other v3, v4, v2."""
    if type(entries) is not list:
        return None, None
    best: tuple[int, int, float, str] | None = None
    for entry in entries:
        if type(entry) is not dict:
            continue
        metrics = entry.get("metrics")
        score = as_float(metrics.get("baseScore")) if type(metrics) is dict else None
        if score is None:
            continue
        version = as_text(entry.get("version")) or cvss_version(entry.get("vector"), "")
        major = version.split(".", 1)[0] if version else ""
        rank = (0 if major == "3" else 1 if major == "4" else 2, 0 if entry.get("type") == "Primary" else 1)
        if best is None or rank < best[:2]:
            best = (rank[0], rank[1], score, version or "")
    if best is None:
        return None, None
    return best[2], best[3] or None


PARSERS = (GrypeParser(),)
