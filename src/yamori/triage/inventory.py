"""What alert context knows about hosts and people: assets, identities and scanner findings, and matching them.

Owns the records (:class:`Asset`, :class:`Identity`, :class:`Vulnerability`) and one indexed snapshot of them
(:class:`Inventory`), and how an alert's host or user is matched (reading the files is :mod:`.loaders`' job):

* hosts match case-insensitively, a FQDN matches an inventory short name and a short name an inventory FQDN
  (``web01.corp.local`` <-> ``web01``; two FQDNs with different domains never match each other), and any
  address (IP, alias, container image name) listed for the host matches it;
* users match on the bare, lower-cased account name: ``CORP\\alice``, ``alice@corp.com`` and ``Alice`` are
  ``alice`` (an AWS ARN is its last path element).

Conflicts found while indexing (a host listed twice, an address or alias claimed by two entries, an ambiguous
short name) are reported in the problem list, never fatal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from yamori.exceptions import YamoriError
from yamori.parsers._addresses import canonical_ip

CRITICALITIES = ("low", "medium", "high", "critical")
VULNERABILITY_SEVERITIES = ("Unknown", "Low", "Medium", "High", "Critical")
"""Ratings kept as known vulnerabilities, least severe first; ``None`` (informational findings) is not kept."""

_HOSTNAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")

T = TypeVar("T")


class ContextConfigError(YamoriError, ValueError):
    """The ``[context]`` configuration or a file it names cannot be used (the message names which and why)."""


@dataclass(frozen=True, slots=True)
class Vulnerability:
    id: str
    """A CVE id, else the scanner's own id (Nessus plugin, OpenVAS NVT, GHSA...)."""
    severity: str
    """``Critical``, ``High``, ``Medium``, ``Low`` or ``Unknown`` (the parsers' normalised rating)."""
    cvss: float | None
    scanner: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "severity": self.severity, "cvss": self.cvss}


@dataclass(frozen=True, slots=True)
class Asset:
    host: str
    addresses: tuple[str, ...] = ()
    owner: str | None = None
    criticality: str | None = None
    """One of :data:`CRITICALITIES`, or None when the inventory does not rate the host."""
    tags: tuple[str, ...] = ()
    site: str | None = None
    origin: str = ""
    """``file:line`` of the row, for problem reports."""


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    aliases: tuple[str, ...] = ()
    department: str | None = None
    privileged: bool = False
    site: str | None = None
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One scanner finding reduced to what context needs: the names of the scanned host and its ids."""

    hosts: tuple[str, ...]
    vulnerabilities: tuple[Vulnerability, ...]


def host_key(name: str) -> str | None:
    """The form hosts are compared in: a canonical IP, else the lower-cased name without a trailing dot."""
    text = name.strip().strip("[]")
    address = canonical_ip(text)
    if address is not None:
        return address
    text = text.rstrip(".").lower()
    return text or None


def _short_name(key: str) -> str | None:
    """``web01`` for ``web01.corp.local``; None for IPs, short names and what is not a host name."""
    if canonical_ip(key) is None and _HOSTNAME.fullmatch(key):
        return key.split(".", 1)[0]
    return None


def account_name(user: str) -> str | None:
    """The bare account name users are compared by (``CORP\\Alice``, ``alice@corp.com`` -> ``alice``)."""
    text = user.strip()
    if text.lower().startswith("arn:"):
        text = text.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    text = text.rsplit("\\", 1)[-1].split("@", 1)[0].strip().lower()
    return text or None


class HostIndex(Generic[T]):
    """Items found by any of their host names or addresses, with the FQDN/short-name rule of the module."""

    def __init__(self) -> None:
        self._exact: dict[str, T] = {}
        self._by_short: dict[str, T | None] = {}
        """Short name -> the item of the one FQDN having it; None when several FQDNs do (ambiguous)."""
        self.ambiguous: dict[str, list[str]] = {}

    def owner(self, name: str) -> T | None:
        """The item registered under exactly ``name`` (no short-name rule)."""
        key = host_key(name)
        return None if key is None else self._exact.get(key)

    def add(self, names: Iterable[str], item: T) -> list[str]:
        """Register ``item`` under ``names``; returns the names already registered for another item."""
        taken: list[str] = []
        for name in names:
            key = host_key(name)
            if key is None:
                continue
            current = self._exact.get(key)
            if current is not None and current is not item:
                taken.append(name)
                continue
            self._exact[key] = item
            short = _short_name(key)
            if short is None:
                continue
            if short not in self._by_short:
                self._by_short[short] = item
            elif self._by_short[short] is not item:
                self._by_short[short] = None
                self.ambiguous.setdefault(short, []).append(key)
        return taken

    def items(self) -> list[T]:
        """Every item once, in the order they were added."""
        unique: dict[int, T] = {}
        for item in self._exact.values():
            unique.setdefault(id(item), item)
        return list(unique.values())

    def find(self, name: str | None) -> T | None:
        if not name:
            return None
        key = host_key(name)
        if key is None:
            return None
        found = self._exact.get(key)
        if found is None:
            short = _short_name(key)
            if short is not None:
                found = self._exact.get(short)  # FQDN in the alert, short name in the inventory
            elif "." not in key and ":" not in key:
                found = self._by_short.get(key)  # short name in the alert, FQDN in the inventory
        return found


def merge_vulnerabilities(vulnerabilities: Iterable[Vulnerability]) -> list[Vulnerability]:
    """One entry per id (the highest-scored report of it), most severe first."""
    best: dict[str, Vulnerability] = {}
    for vulnerability in vulnerabilities:
        current = best.get(vulnerability.id)
        if current is None or _rank(vulnerability) > _rank(current):
            best[vulnerability.id] = vulnerability
    return sorted(best.values(), key=lambda item: (-_rank(item)[0], -_rank(item)[1], item.id))


def _rank(vulnerability: Vulnerability) -> tuple[int, float]:
    return (VULNERABILITY_SEVERITIES.index(vulnerability.severity),
            vulnerability.cvss if vulnerability.cvss is not None else -1.0)


def iter_names(asset: Asset) -> Iterator[str]:
    yield asset.host
    yield from asset.addresses


class Inventory:
    """One consistent snapshot of assets, identities and findings, indexed for lookups (rebuilt on reload)."""

    def __init__(self, assets: Iterable[Asset], identities: Iterable[Identity], findings: Iterable[Finding],
                 problems: list[str]) -> None:
        self.assets: list[Asset] = []
        self.identities: list[Identity] = []
        self._hosts: HostIndex[Asset] = HostIndex()
        self._users: dict[str, Identity] = {}
        for asset in assets:
            first = self._hosts.owner(asset.host)
            if first is not None:
                problems.append(f"{asset.origin}: host {asset.host} already listed at {first.origin}: skipped")
                continue
            self.assets.append(asset)
            for taken in self._hosts.add(iter_names(asset), asset):
                owner = self._hosts.owner(taken)
                problems.append(f"{asset.origin}: address {taken} already belongs to "
                                f"{owner.host if owner else '?'}: ignored for {asset.host}")
        for short, names in self._hosts.ambiguous.items():
            problems.append(f"inventory: short name {short!r} is ambiguous ({', '.join(names)} and another): "
                            f"an alert naming only {short} matches no asset")
        for identity in identities:
            self._add_identity(identity, problems)
        self._vulnerabilities: dict[str, list[Vulnerability]] = {}
        self._scanned: HostIndex[list[Vulnerability]] = HostIndex()
        for finding in findings:
            self._attach(finding)
        for key, found in self._vulnerabilities.items():
            self._vulnerabilities[key] = merge_vulnerabilities(found)
        for found in self._scanned.items():
            found[:] = merge_vulnerabilities(found)
        self.finding_count = sum(len(found) for found in self._vulnerabilities.values())

    def _add_identity(self, identity: Identity, problems: list[str]) -> None:
        key = account_name(identity.user)
        first = self._users.get(key) if key else None
        if key is None or first is not None:
            where = f" already listed at {first.origin}" if first else " has no account name"
            problems.append(f"{identity.origin}: user {identity.user}{where}: skipped")
            return
        self.identities.append(identity)
        self._users[key] = identity
        for alias in identity.aliases:
            alias_key = account_name(alias)
            owner = self._users.get(alias_key) if alias_key else None
            if alias_key is None or (owner is not None and owner is not identity):
                problems.append(f"{identity.origin}: alias {alias} already belongs to "
                                f"{owner.user if owner else '?'}: ignored for {identity.user}")
            else:
                self._users[alias_key] = identity

    def _attach(self, finding: Finding) -> None:
        for name in finding.hosts:
            asset = self._hosts.find(name)
            if asset is not None:
                key = host_key(asset.host) or asset.host
                self._vulnerabilities.setdefault(key, []).extend(finding.vulnerabilities)
                return
        found: list[Vulnerability] | None = None
        for name in finding.hosts:
            found = self._scanned.owner(name)
            if found is not None:
                break
        if found is None:
            found = []
        self._scanned.add(finding.hosts, found)
        found.extend(finding.vulnerabilities)

    def asset(self, name: str | None) -> Asset | None:
        return self._hosts.find(name)

    def identity(self, user: str | None) -> Identity | None:
        key = account_name(user) if user else None
        return self._users.get(key) if key else None

    def vulnerabilities(self, name: str | None) -> list[Vulnerability]:
        """The known vulnerabilities of a host: of its inventory asset, else of the scanned host of that name."""
        asset = self._hosts.find(name)
        if asset is not None:
            return self._vulnerabilities.get(host_key(asset.host) or asset.host, [])
        return self._scanned.find(name) or []
