"""OpenVAS / Greenbone (GVM) XML reports: one event per ``<result>`` (one NVT's finding on one host and port).

Variants read:

* the GMP ``get_reports`` response: ``<get_reports_response status="200">`` > ``<report id=...>`` (the report
  resource) > ``<report id=...>`` (its content) > ``<results>`` > ``<result>``; a response whose status is not
  2xx is reported as a BadRecord;
* the plain report export (the XML report format downloaded from GSA, ``<report id=... format_id=...>`` at the
  root, with or without the inner ``<report>``);
* the GMP ``get_results`` response (``<get_results_response>`` > ``<result>``).

A result: ``<result id>`` > ``name``, ``host`` (the address as text, with ``<hostname>`` and ``<asset>``
inside in GVM 9 and later), ``port`` (``443/tcp``, ``general/tcp``, ``general/icmp``, ``package``), ``nvt oid``
(``name``, ``family``, ``cvss_base``, ``severities``, ``tags`` as ``key=value|key=value``, ``solution``,
``refs`` of ``<ref type="cve" id="CVE-..."/>``; OpenVAS 8/9 wrote ``<cve>CVE-1, CVE-2</cve>``, ``<bid>`` and
``<xref>`` instead), ``threat`` (High/Medium/Low/Log/False Positive), ``severity`` (the CVSS score, -1 for a
false positive), ``qod`` (``value``, ``type``), ``description`` (what the NVT found), ``creation_time``.

Read streaming with defusedxml (see :mod:`yamori.parsers._vulnerability`): each result is turned into an event,
then cleared and detached, and so is every other child of a ``<report>`` once it ends (port lists, the host
details that follow the results, ...), so memory stays flat for reports of hundreds of megabytes.

Fields: the result flattened with dots, element names as in the XML: ``id``, ``name``, ``host``,
``host.hostname``, ``host.asset.asset_id``, ``port``, ``nvt.oid``, ``nvt.name``, ``nvt.family``,
``nvt.cvss_base``, ``nvt.tags`` (the whole string) and each tag as ``nvt.tags.<key>`` (``nvt.tags.summary``,
``nvt.tags.cvss_base_vector``, ...), ``nvt.refs.<type>`` (a list of ids per ref type: ``nvt.refs.cve``,
``nvt.refs.url``, ``nvt.refs.cert-bund``), ``nvt.solution``, ``nvt.solution.type``, ``threat``, ``severity``,
``qod.value``, ``qod.type``, ``description``, ``creation_time``, ... (attributes as ``<element>.<attribute>``,
an element that repeats becomes a list; values are the XML text, stripped). From the report:
``report.id`` (the report's id), ``report.task.id``, ``report.task.name``, ``report.scan_start``.

ECS (the shared finding schema of :mod:`yamori.parsers._vulnerability`): ``vulnerability.id`` (the NVT's CVEs,
else ``[nvt.oid]`` with ``vulnerability.enumeration: OpenVAS NVT``), ``vulnerability.severity`` from the CVSS
band of the result's ``severity`` (the score GVM shows, overrides applied), else from ``threat``;
``vulnerability.score.base`` (``severity``, else ``nvt.severities.score``, else ``nvt.cvss_base``; not for
negative scores) with its version from the CVSS vector of the NVT (``nvt.severities.severity.value`` or the
``cvss_base_vector`` tag: ``CVSS:3.1/...`` is 3.1, a vector without prefix is 2.0);
``vulnerability.category`` (``[nvt.family]``), ``vulnerability.description`` (the ``summary`` tag, else
``insight``, else the result's ``description``), ``vulnerability.reference`` (the first ``url`` ref),
``vulnerability.report_id``, ``vulnerability.scanner.vendor: Greenbone``; ``host.ip`` / ``host.name`` (the
result's host address and ``hostname``); for a finding on a port: ``destination.ip``, ``destination.port``,
``network.transport`` (also ``network.transport`` for ``general/tcp``). ``@timestamp`` is the result's
``creation_time`` (when the scan found it), else its ``modification_time``, else the report's ``scan_start``.
``host.os.full`` is not set: GVM writes the host details (operating system) after all results, and this
reader does not hold results back to wait for them. ``event.dataset`` is ``openvas.vulnerability``.

Logsource: ``product: openvas, category: vulnerability`` (see :mod:`yamori.parsers._vulnerability` for the
choice). Position of an event: ``result[<n>]`` (counted from 1 in the document). Broken XML gives the results
before the break, then one BadRecord at the line of the error; entity declarations are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element

from yamori.events import BadRecord
from yamori.parsers._vulnerability import (
    XML_ERRORS,
    as_float,
    cve_ids,
    cvss_version,
    detach,
    ip_address,
    iso_time,
    iter_xml,
    set_finding,
    severity_from_name,
    severity_from_score,
    xml_error,
    xml_root,
)
from yamori.parsers.base import DocumentParser, Family, ParseContext, Parsed, logsource

__all__ = ["OPENVAS", "OpenVASParser"]

OPENVAS = logsource("openvas", "vulnerability")

_RESPONSES = frozenset({b"get_reports_response", b"get_results_response"})
_REPORT_MARKERS = re.compile(rb"format_id=|<gmp>|<omp>|<scan_run_status>|<results[\s>]|<result[\s>]"
                             rb"|1\.3\.6\.1\.4\.1\.25623\.")
_RESULT_PARENTS = frozenset({"results", "get_results_response"})
_PORT = re.compile(r"(\d{1,5})/(tcp|udp|sctp)\b", re.IGNORECASE)
_TRANSPORT = re.compile(r"/(tcp|udp|sctp|icmp)\b", re.IGNORECASE)
_LEGACY_REF_TYPES = {"cve": "cve", "bid": "bid", "xref": "xref"}


class OpenVASParser(DocumentParser):
    """OpenVAS/Greenbone XML reports (GMP responses and report exports), one event per result."""

    name = "openvas"
    family = Family.VULNERABILITY
    description = ("OpenVAS/Greenbone XML reports: GMP get_reports/get_results responses and report exports; "
                   "one finding per result")
    logsources = (OPENVAS,)
    priority = 20

    def sniff(self, head: bytes, context: ParseContext) -> bool:
        root = xml_root(head)
        if root in _RESPONSES:
            return True
        return root == b"report" and _REPORT_MARKERS.search(head) is not None

    def parse(self, stream: IO[bytes], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        stack: list[Element] = []
        report: dict[str, Any] = {}
        found = 0
        try:
            for kind, element in iter_xml(stream):
                tag = element.tag
                if kind == "start":
                    if not stack and tag in ("get_reports_response", "get_results_response"):
                        status = element.get("status", "200")
                        if not status.startswith("2"):
                            yield context.bad("file", f"GMP {tag} status {status}: "
                                              f"{element.get('status_text', '')}".rstrip(": "))
                    elif tag == "report":
                        report_id = element.get("id")
                        if report_id:
                            report["report.id"] = report_id
                    stack.append(element)
                    continue
                stack.pop()
                parent = stack[-1] if stack else None
                if parent is None:
                    detach(element, None)
                    continue
                parent_tag = parent.tag
                if tag == "result" and parent_tag in _RESULT_PARENTS:
                    found += 1
                    yield _finding(element, report, f"result[{found}]")
                    detach(element, parent)
                elif parent_tag == "report":
                    _report_context(element, report)
                    detach(element, parent)
                elif tag == "report" or parent_tag in _RESULT_PARENTS:
                    detach(element, parent)
        except XML_ERRORS as error:
            yield xml_error(error, context, found)


def _report_context(element: Element, report: dict[str, Any]) -> None:
    """The parts of a ``<report>`` that every finding carries: its task and scan start."""
    tag = element.tag
    if tag == "task":
        task_id = element.get("id")
        if task_id:
            report["report.task.id"] = task_id
        name = element.findtext("name")
        if name and name.strip():
            report["report.task.name"] = name.strip()
    elif tag == "scan_start":
        text = element.text
        if text and text.strip():
            report["report.scan_start"] = text.strip()


def _put(fields: dict[str, Any], name: str, value: str) -> None:
    existing = fields.get(name)
    if existing is None:
        fields[name] = value
    elif type(existing) is list:
        existing.append(value)
    else:
        fields[name] = [existing, value]


def _flatten(element: Element, prefix: str, fields: dict[str, Any]) -> None:
    """An element's attributes, text and children as dotted fields below ``prefix``."""
    for key, value in element.attrib.items():
        _put(fields, f"{prefix}.{key}" if prefix else key, value)
    if prefix:
        text = element.text.strip() if element.text else ""
        if text or not (len(element) or element.attrib):
            _put(fields, prefix, text)
    for child in element:
        tag = child.tag
        if type(tag) is not str:
            continue  # a comment or processing instruction
        if tag[0] == "{":
            tag = tag.rsplit("}", 1)[-1]
        name = f"{prefix}.{tag}" if prefix else tag
        if tag == "ref" and prefix.endswith("refs"):
            ref_type, ref_id = child.get("type"), child.get("id")
            if ref_type and ref_id:
                key = f"{prefix}.{ref_type.lower()}"
                existing = fields.get(key)
                if type(existing) is list:
                    existing.append(ref_id)
                else:
                    fields[key] = [ref_id]
                continue
        if tag == "tags" and prefix == "nvt" and child.text and not len(child):
            _put(fields, name, child.text.strip())
            _tags(child.text, name, fields)
            continue
        _flatten(child, name, fields)


def _tags(text: str, prefix: str, fields: dict[str, Any]) -> None:
    """``cvss_base_vector=AV:N/...|summary=...|solution_type=VendorFix`` as ``nvt.tags.<key>`` fields; a piece
    without ``=`` belongs to the value before it (a ``|`` inside a value)."""
    last: str | None = None
    for piece in text.split("|"):
        key, equals, value = piece.partition("=")
        key = key.strip()
        if equals and key and " " not in key:
            last = f"{prefix}.{key}"
            fields[last] = value.strip()
        elif last is not None:
            fields[last] = f"{fields[last]}|{piece}".strip()


def _first(value: Any) -> str | None:
    if type(value) is list:
        value = value[0] if value else None
    if type(value) is str and value:
        return value
    return None


def _cvss_version(fields: dict[str, Any]) -> str | None:
    """From the NVT's vector (``CVSS:3.1/...``; a vector without that prefix is v2), else its severity type."""
    vector = _first(fields.get("nvt.severities.severity.value")) or _first(fields.get("nvt.tags.cvss_base_vector"))
    if vector:
        return cvss_version(vector, "2.0")
    kind = _first(fields.get("nvt.severities.severity.type")) or ""
    if kind.endswith("_v3"):
        return "3.0"
    if kind.endswith("_v2"):
        return "2.0"
    return None


def _finding(element: Element, report: dict[str, Any], position: str) -> Parsed:
    fields: dict[str, Any] = dict(report)
    _flatten(element, "", fields)

    cves = fields.get("nvt.refs.cve")
    ids = cve_ids(cves) if type(cves) is list else []
    if not ids:
        legacy = fields.get("nvt.cve")
        if legacy is not None:
            ids = cve_ids(legacy if type(legacy) is list else [legacy])
    if not ids:
        oid = _first(fields.get("nvt.oid"))
        if oid:
            ids = [oid]

    score = as_float(_first(fields.get("severity")))
    if score is None:
        score = as_float(_first(fields.get("nvt.severities.score")))
    if score is None:
        score = as_float(_first(fields.get("nvt.cvss_base")))
    severity = severity_from_score(score) if score is not None else severity_from_name(_first(fields.get("threat")))
    if score is not None and score < 0:
        score = None  # -1 false positive, -2/-3 debug/error: no CVSS score
    version = _cvss_version(fields) if score is not None else None

    host = _first(fields.get("host"))
    address = ip_address(host) if host else None
    if address:
        fields["host.ip"] = address
    host_name = _first(fields.get("host.hostname")) or (host if host and not address else None)
    if host_name:
        fields["host.name"] = host_name
    port = _first(fields.get("port"))
    if port:
        match = _PORT.search(port)
        if match and 0 < int(match.group(1)) < 65536:
            fields["destination.port"] = int(match.group(1))
            if address:
                fields["destination.ip"] = address
        transport = _TRANSPORT.search(port)
        if transport:
            fields["network.transport"] = transport.group(1).lower()

    reference = _first(fields.get("nvt.refs.url"))
    if reference is None:
        xref = fields.get("nvt.xref")
        if type(xref) is str:
            for part in xref.split(","):
                part = part.strip()
                if part.upper().startswith("URL:"):
                    reference = part[4:].strip() or None
                    break
    set_finding(fields, ids=ids, scheme="OpenVAS NVT", vendor="Greenbone", severity=severity, score=score,
                score_version=version,
                description=(_first(fields.get("nvt.tags.summary")) or _first(fields.get("nvt.tags.insight"))
                             or _first(fields.get("description"))),
                reference=reference, category=_first(fields.get("nvt.family")),
                report_id=report.get("report.id"))
    fields["event.dataset"] = "openvas.vulnerability"

    timestamp = None
    for name in ("creation_time", "modification_time", "report.scan_start"):
        timestamp = iso_time(_first(fields.get(name)))
        if timestamp is not None:
            break
    return Parsed(fields, OPENVAS, timestamp, position)


PARSERS = (OpenVASParser(),)
