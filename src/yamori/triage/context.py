"""The context stage of alert handling: who and what an alert is about, when it happened, and how much it matters.

:class:`ContextEnricher` is built from the ``[context]`` configuration table; :meth:`ContextEnricher.enrich`
fills ``alert.context`` (the inventory asset with its known vulnerabilities, the identity, the site, whether the
event happened off hours) and raises ``alert.severity`` above the rule's level for a critical asset, a privileged
user and off-hours activity, saying why in ``alert.severity_reasons``. The files are re-read when they change,
so operators update inventories without a restart. Reading the files is :mod:`.loaders`' job, matching
:mod:`.inventory`'s, business hours :mod:`.hours`'.

Severity rules (each step configurable under ``[context.severity]``; a step of 0 turns a factor off):

* ``critical_asset`` (+1), ``high_asset`` (0 by default: high-criticality hosts are many, and the risk stage
  already weighs them through :func:`criticality_weight`), ``privileged_user`` (+1), ``off_hours`` (+1);
* the raise is at most ``max_raise`` (2) levels, never above ``critical`` and never below the rule's level;
* re-enriching an alert (a preview over stored alerts) starts again from the severity it had before the
  previous enrichment, so the result is the same, not raised twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from yamori.alerts.detection import LEVELS
from yamori.sources.files import expand_paths
from yamori.triage.hours import DEFAULT_HOURS, BusinessHours, parse_time
from yamori.triage.inventory import CRITICALITIES, Asset, ContextConfigError, Identity, Inventory
from yamori.triage.loaders import load_assets, load_findings, load_identities
from yamori.triage.model import TriageAlert

__all__ = ["DEFAULT_WEIGHTS", "ContextConfigError", "ContextEnricher", "SeveritySteps", "criticality_weight",
           "raised_severity"]

log = logging.getLogger(__name__)

CONTEXT_KEYS = {"assets", "identities", "vulnerability_reports", "sites", "default_site", "severity", "weights",
                "reload_interval", "max_vulnerabilities"}
DEFAULT_WEIGHTS: Mapping[str, float] = {"low": 0.5, "medium": 1.0, "high": 1.5, "critical": 2.0, "unknown": 1.0}
"""Criticality -> risk weight; ``unknown``: a host outside the inventory, or one the inventory does not rate."""


@dataclass(frozen=True, slots=True)
class SeveritySteps:
    critical_asset: int = 1
    high_asset: int = 0
    privileged_user: int = 1
    off_hours: int = 1
    max_raise: int = 2

    @classmethod
    def from_config(cls, table: Any) -> SeveritySteps:
        if not isinstance(table, dict):
            raise ContextConfigError("context.severity must be a table")
        known = set(cls.__dataclass_fields__)
        _no_unknown(table, known, "context.severity.")
        values = {key: _integer(table[key], f"context.severity.{key}", minimum=0) for key in known if key in table}
        return cls(**values)


def raised_severity(level: str, steps: Iterable[int], max_raise: int) -> str:
    """``level`` raised by the sum of positive ``steps``, at most ``max_raise`` levels, at most critical;
    a level Yamori does not know is returned unchanged."""
    rank = _rank(level)
    if rank is None:
        return level
    raise_by = min(sum(step for step in steps if step > 0), max(max_raise, 0))
    return LEVELS[min(rank + raise_by, len(LEVELS) - 1)]


def criticality_weight(alert: TriageAlert, weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> float:
    """The risk weight of an enriched alert's asset (``weights["unknown"]`` when it has none or it is unrated)."""
    asset = alert.context.get("asset")
    criticality = asset.get("criticality") if isinstance(asset, dict) else None
    return weights.get(criticality or "unknown", weights.get("unknown", 1.0))


@dataclass(slots=True)
class _Source:
    """One configured file or folder, with what its last good read produced."""

    kind: Literal["assets", "identities", "vulnerabilities"]
    path: Path
    signature: object = None
    data: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class ContextEnricher:
    """The context stage: ``enrich(alert)``; see the module docstring for what it does and ``from_config``."""

    def __init__(self, *, assets: Path | None = None, identities: Path | None = None,
                 vulnerability_reports: Iterable[Path] = (), sites: Mapping[str, BusinessHours] | None = None,
                 default_site: BusinessHours = DEFAULT_HOURS, steps: SeveritySteps = SeveritySteps(),
                 weights: Mapping[str, float] = DEFAULT_WEIGHTS, reload_interval: float = 30.0,
                 max_vulnerabilities: int = 20) -> None:
        """Reads every file now; raises ContextConfigError when one is missing or unreadable as a whole."""
        self.sites: dict[str, BusinessHours] = dict(sites or {})
        self.default_site = default_site
        self.steps = steps
        self.weights = dict(weights)
        self.reload_interval = reload_interval
        self.max_vulnerabilities = max_vulnerabilities
        self._sources: list[_Source] = []
        if assets is not None:
            self._sources.append(_Source("assets", assets))
        if identities is not None:
            self._sources.append(_Source("identities", identities))
        self._sources.extend(_Source("vulnerabilities", path) for path in vulnerability_reports)
        self.problems: list[str] = []
        """Why rows or findings were skipped in the current version of the files: ``file:line: reason``."""
        self.counters: dict[str, int] = {"enriched": 0, "raised": 0, "unreadable_time": 0, "unknown_level": 0,
                                         "reloads": 0}
        self._inventory = Inventory((), (), (), [])
        self._errors: list[str] = []
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self.reload(force=True, strict=True)

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any], base_dir: Path) -> ContextEnricher:
        """From the ``[context]`` table; relative paths are relative to ``base_dir`` (the config file's folder)."""
        table = dict(mapping)
        _no_unknown(table, CONTEXT_KEYS, "context.")
        reports = table.get("vulnerability_reports", [])
        if isinstance(reports, str):
            reports = [reports]
        if not isinstance(reports, list) or not all(isinstance(item, str) for item in reports):
            raise ContextConfigError("context.vulnerability_reports must be a list of file or folder paths")
        sites_table = table.get("sites", {})
        if not isinstance(sites_table, dict):
            raise ContextConfigError("context.sites must be a table of sites ([context.sites.NAME])")
        sites = {str(name): BusinessHours.from_config(str(name), value) for name, value in sites_table.items()}
        default_name = table.get("default_site")
        if default_name is not None and default_name not in sites:
            raise ContextConfigError(f"context.default_site: no site {default_name!r} in context.sites")
        default = sites.get(str(default_name or "default"), DEFAULT_HOURS)
        weights_table = table.get("weights", {})
        if not isinstance(weights_table, dict):
            raise ContextConfigError("context.weights must be a table")
        _no_unknown(weights_table, {*CRITICALITIES, "unknown"}, "context.weights.")
        weights = dict(DEFAULT_WEIGHTS)
        for key, value in weights_table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ContextConfigError(f"context.weights.{key} must be a number >= 0, not {value!r}")
            weights[key] = float(value)
        interval = table.get("reload_interval", 30)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
            raise ContextConfigError(f"context.reload_interval must be seconds >= 0 (0: never), not {interval!r}")
        return cls(assets=_path(table.get("assets"), base_dir, "context.assets"),
                   identities=_path(table.get("identities"), base_dir, "context.identities"),
                   vulnerability_reports=[_file(item, base_dir) for item in reports], sites=sites,
                   default_site=default, steps=SeveritySteps.from_config(table.get("severity", {})),
                   weights=weights, reload_interval=float(interval),
                   max_vulnerabilities=_integer(table.get("max_vulnerabilities", 20), "context.max_vulnerabilities",
                                                minimum=0))

    # --- loading -------------------------------------------------------------------------------------------

    def reload(self, *, force: bool = False, strict: bool = False) -> bool:
        """Re-read the files that changed since the last read (all with ``force``); True when anything did.

        A file that cannot be read keeps its previous version (reported in ``problems``); with ``strict`` (at
        start) it raises ContextConfigError instead.
        """
        with self._lock:
            self._checked = time.monotonic()
            changed = False
            errors: list[str] = []
            for source in self._sources:
                try:
                    signature = _signature(source.path)
                    if force or signature != source.signature:
                        problems: list[str] = []
                        source.data = _read(source, problems)
                        source.signature, source.problems, changed = signature, problems, True
                except (OSError, ContextConfigError) as error:
                    reason = str(error) if isinstance(error, ContextConfigError) else \
                        f"{source.path}: cannot read: {error.strerror or error}"
                    if strict:
                        raise ContextConfigError(reason) from error
                    errors.append(f"{reason}; the previous version is kept")
            if changed or errors != self._errors:
                self._errors = errors
                self._rebuild()
                self.counters["reloads"] += 1
            return changed

    def _rebuild(self) -> None:
        problems = [problem for source in self._sources for problem in source.problems] + self._errors
        data = {kind: [item for source in self._sources if source.kind == kind for item in source.data]
                for kind in ("assets", "identities", "vulnerabilities")}
        inventory = Inventory(data["assets"], data["identities"], data["vulnerabilities"], problems)
        entries: list[Asset | Identity] = [*inventory.assets, *inventory.identities]
        for entry in entries:
            if entry.site is not None and entry.site not in self.sites:
                problems.append(f"{entry.origin}: unknown site {entry.site!r}: the default site's hours apply")
        self._inventory, self.problems = inventory, problems
        if problems:
            log.warning("context: %d problem(s) in the inventories, first: %s", len(problems), problems[0])

    def _maybe_reload(self) -> None:
        if self.reload_interval > 0 and time.monotonic() - self._checked >= self.reload_interval:
            self.reload()

    # --- enrichment ----------------------------------------------------------------------------------------

    def enrich(self, alert: TriageAlert) -> TriageAlert:
        """Fill ``alert.context`` and adjust ``alert.severity``/``severity_reasons``; returns the same alert."""
        self._maybe_reload()
        inventory = self._inventory
        asset = inventory.asset(alert.host) or inventory.asset(alert.ip)
        identity = inventory.identity(alert.user)
        site = self.site_for(asset, identity)
        moment = parse_time(alert.timestamp)
        local = site.local(moment) if moment is not None else None
        off_hours = None if moment is None else not site.is_open(moment)
        if moment is None:
            self.counters["unreadable_time"] += 1
        alert.context["asset"] = self._asset_context(alert, asset)
        alert.context["identity"] = None if identity is None else {
            "user": identity.user, "department": identity.department, "privileged": identity.privileged,
            "site": identity.site}
        alert.context["site"] = site.name
        alert.context["timezone"] = site.timezone
        alert.context["local_time"] = local.isoformat(timespec="seconds") if local is not None else None
        alert.context["off_hours"] = off_hours
        factors: list[tuple[str, int]] = []
        if asset is not None and asset.criticality == "critical":
            factors.append((f"critical asset {asset.host}", self.steps.critical_asset))
        elif asset is not None and asset.criticality == "high":
            factors.append((f"high-criticality asset {asset.host}", self.steps.high_asset))
        if identity is not None and identity.privileged:
            factors.append((f"privileged user {identity.user}", self.steps.privileged_user))
        if off_hours and local is not None:
            factors.append((f"outside business hours ({site.timezone}, {local:%a %H:%M})", self.steps.off_hours))
        self._adjust(alert, [(reason, step) for reason, step in factors if step > 0])
        self.counters["enriched"] += 1
        return alert

    def _asset_context(self, alert: TriageAlert, asset: Asset | None) -> dict[str, Any] | None:
        name, vulnerabilities = None, []
        for name in ([asset.host] if asset is not None else [alert.host, alert.ip]):
            vulnerabilities = self._inventory.vulnerabilities(name)
            if vulnerabilities:
                break
        if asset is None and not vulnerabilities:
            return None
        return {"host": name, "owner": asset.owner if asset else None,
                "criticality": asset.criticality if asset else None, "tags": list(asset.tags) if asset else [],
                "site": asset.site if asset else None, "in_inventory": asset is not None,
                "vulnerabilities": [item.to_dict() for item in vulnerabilities[:self.max_vulnerabilities]],
                "vulnerability_count": len(vulnerabilities)}

    def _adjust(self, alert: TriageAlert, factors: list[tuple[str, int]]) -> None:
        previous = alert.context.get("severity_adjustment")
        base = alert.severity or alert.level
        if isinstance(previous, dict):  # enriched before: start again from where that enrichment started
            base = str(previous.get("base", base))
            earlier = previous.get("reasons", [])
            alert.severity_reasons[:] = [reason for reason in alert.severity_reasons if reason not in earlier]
        level_rank, base_rank = _rank(alert.level), _rank(base)
        if base_rank is None:
            self.counters["unknown_level"] += 1
            alert.context["severity_adjustment"] = {"base": base, "steps": 0, "reasons": []}
            return
        start = max(base_rank, level_rank if level_rank is not None else 0)
        wanted = sum(step for _reason, step in factors)
        steps = min(wanted, self.steps.max_raise, len(LEVELS) - 1 - start)
        reasons = [reason for reason, _step in factors]
        if steps < wanted:
            reasons.append(f"severity raise capped at +{steps} of +{wanted}")
        alert.severity = LEVELS[start + steps]
        alert.severity_reasons.extend(reasons)
        alert.context["severity_adjustment"] = {"base": base, "steps": steps, "reasons": reasons}
        if steps:
            self.counters["raised"] += 1

    def site_for(self, asset: Asset | None, identity: Identity | None) -> BusinessHours:
        """The host's site, else the user's, else the default site."""
        for named in (asset.site if asset else None, identity.site if identity else None):
            if named is not None and named in self.sites:
                return self.sites[named]
        return self.default_site

    def criticality_weight(self, alert: TriageAlert) -> float:
        """The risk weight of the alert's asset (enriched or not) with the configured weights."""
        if "asset" in alert.context:
            return criticality_weight(alert, self.weights)
        asset = self._inventory.asset(alert.host) or self._inventory.asset(alert.ip)
        criticality = asset.criticality if asset is not None else None
        return self.weights.get(criticality or "unknown", self.weights.get("unknown", 1.0))

    def asset(self, name: str | None) -> Asset | None:
        return self._inventory.asset(name)

    def identity(self, user: str | None) -> Identity | None:
        return self._inventory.identity(user)

    def summary(self) -> dict[str, Any]:
        """Counts for a status page: what is loaded, how many problems, what enrichment did."""
        inventory = self._inventory
        return {"assets": len(inventory.assets), "identities": len(inventory.identities),
                "vulnerabilities": inventory.finding_count, "problems": len(self.problems),
                "sites": sorted(self.sites), **self.counters}


def _read(source: _Source, problems: list[str]) -> list[Any]:
    if source.kind == "assets":
        return load_assets(source.path, problems)
    if source.kind == "identities":
        return load_identities(source.path, problems)
    if not source.path.exists():
        raise ContextConfigError(f"{source.path}: no such file or folder")
    return load_findings(source.path, problems)


def _signature(path: Path) -> object:
    """What changes when a file (or a file in a folder) is edited, replaced, added or removed."""
    files = list(expand_paths([path])) if path.is_dir() else [path]
    return tuple((str(file), *_stat(file)) for file in files)


def _stat(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _rank(level: str | None) -> int | None:
    normalised = (level or "").strip().lower()
    return LEVELS.index(normalised) if normalised in LEVELS else None


def _no_unknown(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise ContextConfigError(f"unknown key(s): {', '.join(prefix + key for key in sorted(unknown))}")


def _integer(value: Any, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ContextConfigError(f"{where} must be a whole number >= {minimum}, not {value!r}")
    return value


def _file(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _path(value: Any, base: Path, where: str) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ContextConfigError(f"{where} must be a file path")
    return _file(value, base)
