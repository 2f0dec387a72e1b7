"""Tenable Nessus reports: ``.nessus`` files (format v2, ``<NessusClientData_v2>``), as Nessus, Tenable.sc and
Tenable.io export them. One event per ``ReportItem`` (one plugin's finding on one host and port).

The document: ``NessusClientData_v2`` > ``Policy`` (``policyName``, preferences) and ``Report name=...`` >
``ReportHost name=...`` > ``HostProperties`` (``<tag name="host-ip">``...) then ``ReportItem`` elements
(attributes ``port``, ``svc_name``, ``protocol``, ``severity`` 0-4, ``pluginID``, ``pluginName``,
``pluginFamily``; child elements ``synopsis``, ``description``, ``solution``, ``plugin_output``,
``risk_factor``, ``cve`` (repeated), ``cvss_base_score``, ``cvss3_base_score``, ``cvss3_vector``,
``exploit_available``, ``see_also``, ``xref`` (repeated), ...). Compliance checks carry elements of the
``http://www.nessus.org/cm`` namespace (``cm:compliance-check-name``, ``cm:compliance-result``, ...).

Read streaming with defusedxml (see :mod:`yamori.parsers._vulnerability`): each ``ReportItem`` is turned into an
event, then cleared and detached, and so are ``HostProperties``, ``ReportHost`` and ``Policy`` once read, so a
report of hundreds of megabytes is read in constant memory. ``HostProperties`` come before the items of their
host in every Nessus version; items of a host without them get the ``ReportHost name`` only.

Fields (values are the XML text, stripped; XML has no numbers, and Sigma's number matching accepts ``"4"``):

* the ``ReportItem`` attributes under their own names (``port``, ``svc_name``, ``protocol``, ``severity``,
  ``pluginID``, ``pluginName``, ``pluginFamily``);
* each child element under its tag name (``synopsis``, ``plugin_output``, ``cvss3_base_score``, ...);
  ``cve``, ``bid``, ``xref``, ``cwe``, ``cpe``, ``iava``, ``iavb``, ``iavt``, ``msft``, ``mskb``, ``cert``,
  ``edb-id`` are always lists, any other element that repeats becomes a list; elements of the compliance
  namespace are named ``cm:<tag>``;
* the host: ``HostProperties.<tag name>`` (``HostProperties.host-ip``, ``HostProperties.operating-system``,
  ``HostProperties.HOST_END``, ...; prefixed because host property names and item element names overlap,
  e.g. ``cpe``), ``ReportHost.name``; the report: ``Report.name``, ``Policy.policyName``.

ECS (the shared finding schema of :mod:`yamori.parsers._vulnerability`): ``vulnerability.id`` (the item's CVEs,
else ``[pluginID]`` with ``vulnerability.enumeration: Nessus plugin``), ``vulnerability.severity`` from
``severity`` 4/3/2/1/0 (Critical/High/Medium/Low/None; ``risk_factor`` when ``severity`` is unreadable),
``vulnerability.score.base``/``version`` (``cvss3_base_score``, else ``cvss4_base_score``, else
``cvss_base_score``), ``vulnerability.category`` (``[pluginFamily]``), ``vulnerability.description``
(``description``, else ``synopsis``), ``vulnerability.reference`` (the first ``see_also`` URL),
``vulnerability.report_id`` (``Report.name``), ``vulnerability.scanner.vendor: Tenable``; ``host.ip``
(``host-ip``, else the ``ReportHost name`` when it is an address), ``host.name`` (``host-fqdn``, else
``hostname``, else ``netbios-name``, else a ``ReportHost name`` that is not an address), ``host.os.full``
(the first line of ``operating-system``), ``host.mac`` (``mac-address``, upper case with hyphens, a list);
for a finding on a port (``port`` > 0): ``destination.ip`` (the host's address), ``destination.port`` (int),
``network.transport`` (``protocol``). ``@timestamp`` is the end of the host's scan (``HOST_END_TIMESTAMP``,
else ``HOST_END``, written in the scanner's local time without a zone and taken as UTC, else the start);
``event.start``/``event.end`` are the host's scan start and end. ``event.dataset`` is
``nessus.vulnerability``; compliance checks are ``nessus.compliance`` configuration findings (``rule.id``,
``rule.name``, ``rule.description`` from the ``cm:compliance-check-*`` elements; no ``vulnerability.*``).

Logsource: ``product: nessus, category: vulnerability`` (the Sigma taxonomy has no vulnerability category and
SigmaHQ no rule for scanner reports: the choice is explained in :mod:`yamori.parsers._vulnerability`).

Position of an event: ``ReportHost[<n>]/ReportItem[<m>]`` (both counted from 1). Broken XML (a truncated
file) gives the findings before the break, then one BadRecord at the line of the error; a document that
declares entities (entity expansion, "billion laughs") or refers to external ones is refused as one BadRecord.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any
from xml.etree.ElementTree import Element

from yamori.events import BadRecord
from yamori.parsers._vulnerability import (
    SEVERITY_LEVELS,
    XML_ERRORS,
    as_float,
    cve_ids,
    cvss_version,
    detach,
    ip_address,
    iter_xml,
    set_configuration,
    set_finding,
    severity_from_name,
    xml_error,
    xml_root,
)
from yamori.parsers.base import DocumentParser, Family, ParseContext, Parsed, logsource
from yamori.parsers.timestamps import from_epoch, parse_month_day, utc_iso

__all__ = ["NESSUS", "NessusParser"]

NESSUS = logsource("nessus", "vulnerability")

_LIST_ELEMENTS = frozenset({"cve", "bid", "xref", "cwe", "cpe", "iava", "iavb", "iavt", "msft", "mskb", "cert",
                            "edb-id"})
_COMPLIANCE_NS = "{http://www.nessus.org/cm}"
_SCORES = (("cvss3_base_score", "cvss3_vector", "3.0"), ("cvss4_base_score", "cvss4_vector", "4.0"),
           ("cvss_base_score", "cvss_vector", "2.0"))
_CTIME = re.compile(r"\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}:\d{2}:\d{2})\s+(\d{4})$")
_MAC_SPLIT = re.compile(r"[\s,]+")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # any reference: HOST_END always has its year


class _Host:
    """What every finding of one ReportHost shares."""

    __slots__ = ("address", "fields", "timestamp")

    def __init__(self, fields: dict[str, Any], address: str | None, timestamp: str | None) -> None:
        self.fields = fields
        self.address = address
        self.timestamp = timestamp


class NessusParser(DocumentParser):
    """Nessus ``.nessus`` v2 reports, one event per ReportItem."""

    name = "nessus"
    family = Family.VULNERABILITY
    description = "Tenable Nessus .nessus v2 XML reports (NessusClientData_v2): one finding per ReportItem"
    logsources = (NESSUS,)
    priority = 20

    def sniff(self, head: bytes, context: ParseContext) -> bool:
        return xml_root(head) == b"NessusClientData_v2"

    def parse(self, stream: IO[bytes], context: ParseContext) -> Iterator[Parsed | BadRecord]:
        stack: list[Element] = []
        report: dict[str, Any] = {}
        host = _Host({}, None, None)
        hosts = items = found = 0
        try:
            for kind, element in iter_xml(stream):
                tag = element.tag
                if kind == "start":
                    stack.append(element)
                    if tag == "ReportHost":
                        hosts += 1
                        items = 0
                        host = _host(report, element.get("name"), {})
                    elif tag == "Report":
                        name = element.get("name")
                        if name:
                            report["Report.name"] = name
                    continue
                stack.pop()
                parent = stack[-1] if stack else None
                if tag == "ReportItem":
                    items += 1
                    found += 1
                    yield _finding(element, host, f"ReportHost[{hosts}]/ReportItem[{items}]")
                    detach(element, parent)
                elif tag == "HostProperties":
                    host = _host(report, host.fields.get("ReportHost.name"), _properties(element))
                    detach(element, parent)
                elif tag == "policyName" and parent is not None and parent.tag == "Policy":
                    if element.text and element.text.strip():
                        report["Policy.policyName"] = element.text.strip()
                elif tag == "ReportHost" or len(stack) <= 2:
                    detach(element, parent)  # a host, a Report, the Policy, anything else at the top
        except XML_ERRORS as error:
            yield xml_error(error, context, found)


def _properties(element: Element) -> dict[str, str]:
    properties: dict[str, str] = {}
    for tag in element:
        name = tag.get("name")
        if name:
            text = tag.text
            properties[name] = text.strip() if text else ""
    return properties


def _host(report: dict[str, Any], name: str | None, properties: dict[str, str]) -> _Host:
    """The fields one host's findings share: report, host name and properties, host ECS fields."""
    fields = dict(report)
    if name:
        fields["ReportHost.name"] = name
    for key, value in properties.items():
        fields["HostProperties." + key] = value
    name_address = ip_address(name) if name else None
    address = ip_address(properties["host-ip"]) if properties.get("host-ip") else None
    address = address or name_address
    if address:
        fields["host.ip"] = address
    host_name = (properties.get("host-fqdn") or properties.get("hostname") or properties.get("netbios-name")
                 or (name if name and not name_address else None))
    if host_name:
        fields["host.name"] = host_name
    system = properties.get("operating-system")
    if system:
        fields["host.os.full"] = system.splitlines()[0].strip()
    macs = properties.get("mac-address")
    if macs:
        normalised = [mac.replace(":", "-").upper() for mac in _MAC_SPLIT.split(macs) if _MAC.match(mac)]
        if normalised:
            fields["host.mac"] = normalised
    start = _time(properties, "HOST_START")
    end = _time(properties, "HOST_END")
    if start:
        fields["event.start"] = start
    if end:
        fields["event.end"] = end
    return _Host(fields, address, end or start)


def _time(properties: dict[str, str], name: str) -> str | None:
    """``HOST_END_TIMESTAMP`` (epoch seconds), else ``HOST_END`` (``Thu Nov 26 12:34:56 2026``) as ISO UTC."""
    epoch = properties.get(name + "_TIMESTAMP")
    if epoch and epoch.strip().isdigit():
        moment = from_epoch(epoch)
        if moment:
            return moment
    text = properties.get(name)
    if not text:
        return None
    match = _CTIME.match(text.strip())
    if not match:
        return None
    month, day, clock, year = match.groups()
    try:
        parsed = parse_month_day(month, int(day), clock, _EPOCH, year=int(year))
    except (ValueError, OverflowError):
        return None
    return utc_iso(parsed) if parsed else None


def _finding(element: Element, host: _Host, position: str) -> Parsed:
    fields = dict(host.fields)
    attributes = element.attrib
    fields.update(attributes)
    compliance = False
    for child in element:
        tag = child.tag
        if type(tag) is not str:
            continue  # a comment or processing instruction
        if tag[0] == "{":
            if tag.startswith(_COMPLIANCE_NS):
                tag = "cm:" + tag[len(_COMPLIANCE_NS):]
                compliance = True
            else:
                tag = tag.rsplit("}", 1)[-1]
        text = child.text
        value = text.strip() if text else ""
        if tag in _LIST_ELEMENTS:
            existing = fields.get(tag)
            if type(existing) is list:
                existing.append(value)
            else:
                fields[tag] = [value]
        elif tag in fields and tag not in attributes:
            existing = fields[tag]
            if type(existing) is list:
                existing.append(value)
            else:
                fields[tag] = [existing, value]
        else:
            fields[tag] = value

    port_text = attributes.get("port", "")
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else 0
    if 0 < port < 65536:
        fields["destination.port"] = port
        if host.address:
            fields["destination.ip"] = host.address
        protocol = attributes.get("protocol")
        if protocol:
            fields["network.transport"] = protocol.lower()

    if compliance:
        set_configuration(fields, rule_id=_text(fields.get("cm:compliance-check-id")),
                          rule_name=_text(fields.get("cm:compliance-check-name")),
                          description=_text(fields.get("cm:compliance-info")),
                          category=_text(fields.get("pluginFamily")))
        fields["event.dataset"] = "nessus.compliance"
        return Parsed(fields, NESSUS, host.timestamp, position)

    severity_text = attributes.get("severity", "")
    if severity_text.isdigit() and int(severity_text) < len(SEVERITY_LEVELS):
        severity: str | None = SEVERITY_LEVELS[int(severity_text)]
    else:
        severity = severity_from_name(fields.get("risk_factor"))
    score = version = None
    for score_name, vector_name, default in _SCORES:
        score = as_float(fields.get(score_name))
        if score is not None:
            version = cvss_version(fields.get(vector_name), default)
            break
    cve = fields.get("cve")
    ids = cve_ids(cve) if type(cve) is list else []
    plugin = attributes.get("pluginID")
    if not ids and plugin:
        ids = [plugin]
    see_also = _text(fields.get("see_also"))
    set_finding(fields, ids=ids, scheme="Nessus plugin", vendor="Tenable", severity=severity, score=score,
                score_version=version,
                description=_text(fields.get("description")) or _text(fields.get("synopsis")),
                reference=see_also.split()[0] if see_also else None,
                category=attributes.get("pluginFamily") or None,
                report_id=fields.get("Report.name"))
    fields["event.dataset"] = "nessus.vulnerability"
    return Parsed(fields, NESSUS, host.timestamp, position)


def _text(value: Any) -> str | None:
    if type(value) is list:
        value = value[0] if value else None
    if type(value) is str and value:
        return value
    return None


PARSERS = (NessusParser(),)
