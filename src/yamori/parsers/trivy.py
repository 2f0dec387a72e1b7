"""Aqua Security Trivy JSON reports (``trivy image|fs|rootfs|repo|vm --format json``): one event per finding.

The report: ``SchemaVersion``, ``CreatedAt`` (Trivy 0.48 and later), ``ArtifactName``, ``ArtifactType``
(``container_image``, ``filesystem``, ``repository``, ``vm``...), ``Metadata`` (``OS``, ``ImageID``,
``RepoTags``, ``RepoDigests``, ``DiffIDs``, ``ImageConfig``), and ``Results``: one per scanned target
(``Target``, ``Class`` such as ``os-pkgs``/``lang-pkgs``/``config``/``secret``, ``Type`` such as ``debian``,
``npm``, ``dockerfile``) with up to three lists of findings:

* ``Vulnerabilities``: ``VulnerabilityID``, ``PkgName``, ``PkgPath``, ``InstalledVersion``, ``FixedVersion``,
  ``Status``, ``Severity``, ``SeveritySource``, ``Title``, ``Description``, ``CVSS.<source>.V3Score`` /
  ``V3Vector`` / ``V2Score`` / ``V40Score``, ``VendorSeverity``, ``CweIDs``, ``References``, ``PrimaryURL``,
  ``PublishedDate``, ``LastModifiedDate``, ``Layer``, ``DataSource``: event ``trivy.vulnerability``;
* ``Misconfigurations`` (IaC and Dockerfile checks): ``ID``, ``AVDID``, ``Title``, ``Description``, ``Message``,
  ``Resolution``, ``Severity``, ``Status``, ``CauseMetadata``...: event ``trivy.misconfiguration``; checks
  that passed (``Status: PASS``, written with ``--include-non-failures``) are not findings and give no event;
* ``Secrets``: ``RuleID``, ``Category``, ``Title``, ``Severity``, ``StartLine``, ``EndLine``, ``Match``
  (already redacted by Trivy), ``Code``: event ``trivy.secret``.

A report without findings (a clean image, ``Results`` absent or without these lists) gives no event and no
error. License findings and the Kubernetes report (``ClusterName``/``Resources``) are not read.

Fields of an event: the report's top-level fields (``SchemaVersion``, ``CreatedAt``, ``ArtifactName``,
``ArtifactType``, ``Metadata.OS.Family``, ``Metadata.ImageID``, ``Metadata.RepoTags``, ...; not
``Metadata.ImageConfig`` and ``Metadata.Layers``, the image's whole configuration and history), the result's
``Target``, ``Class``, ``Type``, and the finding's own fields under their own names, nested ones flattened with
dots (``CVSS.nvd.V3Score``, ``DataSource.ID``, ``PkgIdentifier.PURL``, ``CauseMetadata.Provider``). A
misconfiguration's own ``Type`` (the check family) gives way to the result's ``Type`` and is kept as
``rule.category``.

ECS (the shared finding schema of :mod:`yamori.parsers._vulnerability`), vulnerabilities:
``vulnerability.id`` (``[VulnerabilityID]``), ``vulnerability.severity`` (``Severity``; ``UNKNOWN`` takes the
band of the CVSS score when there is one), ``vulnerability.score.base``/``version`` (V3 score of the
``SeveritySource``, else of ``nvd``, else of any source; else V4.0, else V2), ``vulnerability.description``
(``Description``, else ``Title``), ``vulnerability.reference`` (``PrimaryURL``, else the first of
``References``), ``vulnerability.category`` (``[Type]``: the ecosystem, e.g. ``debian``),
``vulnerability.scanner.vendor: Aqua Security``; ``package.name`` (``PkgName``), ``package.version``
(``InstalledVersion``), ``package.fixed_version`` (``FixedVersion``), ``package.path`` (``PkgPath``).
Misconfigurations: ``rule.id`` (``AVDID``, else ``ID``), ``rule.name``, ``rule.description``,
``rule.reference``, ``rule.category``, ``message`` (``Message``). Secrets: ``rule.id`` (``RuleID``),
``rule.name``, ``rule.category`` (``Category``), ``file.path`` (``Target``). Every event of a container image:
``container.image.name`` and ``container.image.tag`` (from ``ArtifactName``). ``@timestamp`` is ``CreatedAt``
(older reports have no scan time: their events have none).

Logsource: ``product: trivy, category: vulnerability`` (see :mod:`yamori.parsers._vulnerability`).
Position of an event: ``<record position>/Results[<r>].Vulnerabilities[<i>]`` (or ``Misconfigurations``,
``Secrets``; indexes from 0, as in the JSON). The event's raw record is the report cut down to that one finding
(a valid Trivy report itself), not the whole report. Unreadable entries (not objects, a vulnerability without
``VulnerabilityID``) are reported together in one BadRecord after the readable ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from yamori.parsers._vulnerability import (
    as_float,
    as_text,
    cvss_version,
    iso_time,
    set_configuration,
    set_finding,
    severity_from_name,
    split_image,
)
from yamori.parsers.base import Family, Malformed, ParseContext, Parsed, RecordParser, logsource
from yamori.parsers.generic import flatten_into

__all__ = ["TRIVY", "TrivyParser"]

TRIVY = logsource("trivy", "vulnerability")

_SECTIONS = ("Vulnerabilities", "Misconfigurations", "Secrets")
_RESULT_FIELDS = ("Target", "Class", "Type")
_METADATA_SKIPPED = frozenset({"ImageConfig", "Layers"})
_SCORES = (("V3Score", "V3Vector", "3.0"), ("V40Score", "V40Vector", "4.0"), ("V2Score", "V2Vector", "2.0"))
_MAX_REPORTED = 5
_ECS = {"PkgName": "package.name", "InstalledVersion": "package.version", "FixedVersion": "package.fixed_version",
        "PkgPath": "package.path"}


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class TrivyParser(RecordParser):
    """Trivy JSON reports: vulnerabilities, misconfigurations and secrets, one event each."""

    name = "trivy"
    family = Family.VULNERABILITY
    description = ("Aqua Security Trivy JSON reports (SchemaVersion 2): vulnerabilities, misconfigurations and "
                   "secrets of images, file systems, repositories")
    logsources = (TRIVY,)
    ecs = _ECS
    priority = 20

    def accepts(self, record: Mapping[str, Any], context: ParseContext) -> bool:
        return "SchemaVersion" in record and "ArtifactName" in record

    def parse(self, record: dict[str, Any], context: ParseContext) -> Iterator[Parsed]:
        results = record.get("Results")
        if results is None:
            return
        if type(results) is not list:
            raise Malformed(f"Results is {_kind(results)}, not an array")
        base: dict[str, Any] = {}
        raw_base: dict[str, Any] = {}
        for key, value in record.items():
            if key == "Results":
                continue
            if key == "Metadata" and type(value) is dict:
                value = {name: item for name, item in value.items() if name not in _METADATA_SKIPPED}
            raw_base[key] = value
            flatten_into(value, key, base)
        timestamp = iso_time(record.get("CreatedAt"))
        artifact = as_text(record.get("ArtifactName"))
        if artifact and record.get("ArtifactType") == "container_image":
            image, tag = split_image(artifact)
            base["container.image.name"] = image
            if tag:
                base["container.image.tag"] = [tag]

        bad: list[str] = []
        total = 0
        for index, result in enumerate(results):
            if type(result) is not dict:
                bad.append(f"Results[{index}] is {_kind(result)}, not an object")
                continue
            scalars = {name: result[name] for name in _RESULT_FIELDS
                       if name in result and type(result[name]) is not dict and type(result[name]) is not list}
            for section in _SECTIONS:
                entries = result.get(section)
                if entries is None:
                    continue
                if type(entries) is not list:
                    bad.append(f"Results[{index}].{section} is {_kind(entries)}, not an array")
                    continue
                for number, entry in enumerate(entries):
                    where = f"Results[{index}].{section}[{number}]"
                    total += 1
                    if type(entry) is not dict:
                        bad.append(f"{where} is {_kind(entry)}, not an object")
                        continue
                    if section == "Misconfigurations" and entry.get("Status") == "PASS":
                        continue
                    fields = dict(base)
                    flatten_into(entry, "", fields)
                    fields.update(scalars)
                    try:
                        if section == "Vulnerabilities":
                            _vulnerability(fields, entry, scalars)
                        elif section == "Misconfigurations":
                            _misconfiguration(fields, entry)
                        else:
                            _secret(fields, entry, scalars)
                    except Malformed as error:
                        bad.append(f"{where}: {error}")
                        continue
                    raw = dict(raw_base)
                    raw["Results"] = [{**scalars, section: [entry]}]
                    yield Parsed(fields, TRIVY, timestamp, where, raw)
        if bad:
            more = f" (and {len(bad) - _MAX_REPORTED} more)" if len(bad) > _MAX_REPORTED else ""
            raise Malformed(f"{len(bad)} unreadable of {total or len(results)} entries: "
                            + "; ".join(bad[:_MAX_REPORTED]) + more)


def _vulnerability(fields: dict[str, Any], entry: dict[str, Any], result: dict[str, Any]) -> None:
    identifier = as_text(entry.get("VulnerabilityID"))
    if identifier is None:
        raise Malformed("no VulnerabilityID")
    score, version = _score(entry)
    references = entry.get("References")
    reference = as_text(entry.get("PrimaryURL"))
    if reference is None and type(references) is list and references:
        reference = as_text(references[0])
    set_finding(fields, ids=[identifier], scheme="Trivy", vendor="Aqua Security",
                severity=severity_from_name(entry.get("Severity")), score=score, score_version=version,
                description=as_text(entry.get("Description")) or as_text(entry.get("Title")),
                reference=reference, category=as_text(result.get("Type")))
    fields["event.dataset"] = "trivy.vulnerability"


def _score(entry: dict[str, Any]) -> tuple[float | None, str | None]:
    """The CVSS score to report: V3 of the severity's source, else of NVD, else of any source; then V4, V2."""
    cvss = entry.get("CVSS")
    if type(cvss) is not dict or not cvss:
        return None, None
    sources: list[str] = []
    for preferred in (entry.get("SeveritySource"), "nvd"):
        if type(preferred) is str and preferred in cvss and preferred not in sources:
            sources.append(preferred)
    sources.extend(name for name in cvss if name not in sources)
    for score_name, vector_name, default in _SCORES:
        for source in sources:
            data = cvss[source]
            if type(data) is dict:
                score = as_float(data.get(score_name))
                if score is not None:
                    return score, cvss_version(data.get(vector_name), default)
    return None, None


def _misconfiguration(fields: dict[str, Any], entry: dict[str, Any]) -> None:
    set_configuration(fields, rule_id=as_text(entry.get("AVDID")) or as_text(entry.get("ID")),
                      rule_name=as_text(entry.get("Title")), description=as_text(entry.get("Description")),
                      reference=as_text(entry.get("PrimaryURL")), category=as_text(entry.get("Type")))
    message = as_text(entry.get("Message"))
    if message:
        fields["message"] = message
    fields["event.dataset"] = "trivy.misconfiguration"


def _secret(fields: dict[str, Any], entry: dict[str, Any], result: dict[str, Any]) -> None:
    set_configuration(fields, rule_id=as_text(entry.get("RuleID")), rule_name=as_text(entry.get("Title")),
                      category=as_text(entry.get("Category")))
    target = as_text(result.get("Target"))
    if target:
        fields["file.path"] = target
    fields["event.dataset"] = "trivy.secret"


PARSERS = (TrivyParser(),)
