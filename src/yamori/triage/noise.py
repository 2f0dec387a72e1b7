"""Noise control, the alert-handling stage after context: global exceptions, suppressions, then deduplication.

``NoiseControl.apply(session, alert)`` tries, in this order, and the first that applies wins:

1. an active global exception (:mod:`yamori.triage.exceptions`): ``suppressed_by = "exception:<id>"``;
2. an active suppression: ``suppressed_by = "suppression:<id>"``;
3. deduplication: an alert of the same rule and the same entity key as an earlier alert, less than the window
   apart in event time, gets ``suppressed_by = "duplicate:<first alert id>"``.

Deduplication windows are fixed, opened by the first alert of a key and measured in event time
(``alert.timestamp``; an alert without a readable one uses the time Yamori received it). An alert exactly one
window after the first is *not* a duplicate: it opens the next window (intervals are half-open, as
``query_alerts``' ``until``). A late alert older than the open window is let through and leaves the window as
it is. The key is the rule id and the values of the key attributes (default ``user``, ``host``, ``ip``; any
attribute of :data:`yamori.triage.exceptions.ATTRIBUTES` or ``fields.<name>``), compared case-insensitively;
missing values compare equal, so two alerts of a rule without any entity are one key.

Dedup state lives in the table ``noise_dedup``, one row per open key: the first alert's id and time, the end of
its window and the number of duplicates it had (``duplicate_count`` reads it). It survives a restart and is
bounded: rows whose window ended more than the longest window before the newest event time seen are deleted,
and beyond ``max_dedup_keys`` the rows with the oldest windows go first.

Configuration (the ``[noise]`` TOML table)::

    [noise]
    dedup_window = "10m"                 # "off" disables deduplication
    dedup_key = ["user", "host", "ip"]
    max_dedup_keys = 100000

    [noise.rules."5f7a2c1e-brute-force"]
    dedup_window = "1h"
    dedup_key = ["user"]

``apply`` writes through the session (hit counters, dedup rows) and flushes; the caller commits.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from yamori.triage.db import Base
from yamori.triage.exceptions import (
    AlertException,
    Clock,
    NoiseError,
    Suppression,
    attribute_values,
    check_attribute,
    count_hit,
    deleted_rows,
    first_matching,
    parse_duration,
    utc_now,
)
from yamori.triage.model import TriageAlert
from yamori.triage.records import AlertRecord, iso

log = logging.getLogger(__name__)
Active = tuple[list["AlertException"], list["Suppression"]]

DEFAULT_WINDOW = timedelta(minutes=10)
DEFAULT_KEY = ("user", "host", "ip")
DEFAULT_MAX_KEYS = 100_000
PRUNE_EVERY = 256
"""Alerts between two prunings of the dedup table."""
FUTURE_SLACK = timedelta(minutes=15)
"""Event times further ahead of the wall clock than this (clock skew) do not move the pruning horizon further: a
bogus year-2099 timestamp must not erase every open window."""


class DedupState(Base):
    """One open deduplication window: the rule, the entity key, the first alert and its duplicate count."""

    __tablename__ = "noise_dedup"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 of the rule id and the key values."""
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    entity: Mapped[str] = mapped_column(String(500))
    """The key values as text, for people reading the table."""
    first_alert_id: Mapped[str] = mapped_column(String(200), index=True)
    first_time: Mapped[str] = mapped_column(String(40))
    window_end: Mapped[str] = mapped_column(String(40), index=True)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    last_time: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    window: timedelta | None
    """None: no deduplication."""
    key: tuple[str, ...]


@dataclass(slots=True)
class NoiseStats:
    exceptions: int = 0
    suppressions: int = 0
    duplicates: int = 0
    passed: int = 0
    undated: int = 0
    """Alerts with neither event time nor receive time: not deduplicated."""
    bad_entries: int = 0
    """Stored exceptions/suppressions that no longer parse (skipped)."""
    pruned: int = 0


def _window(value: Any, where: str) -> timedelta | None:
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "0", "none")) or value == 0:
        return None
    if isinstance(value, bool):
        raise NoiseError(f"{where}: a duration such as \"10m\", or \"off\", not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise NoiseError(f"{where}: a duration must be positive, not {value!r}")
        return timedelta(seconds=value)
    if isinstance(value, str):
        return parse_duration(value, where)
    raise NoiseError(f"{where}: a duration such as \"10m\", or \"off\", not {value!r}")


def _key(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise NoiseError(f"{where}: a non-empty list of attributes such as [\"user\", \"host\"], not {value!r}")
    return tuple(check_attribute(item, where) for item in value)


def _no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise NoiseError(f"unknown key(s) in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")




def duplicate_count(session: Session, first_alert_id: str) -> int:
    """How many duplicates ``first_alert_id`` had: from its open window, else from the saved alerts that name
    it (the alert manager saves suppressed alerts too)."""
    state = session.scalars(select(DedupState).where(DedupState.first_alert_id == first_alert_id)).first()
    if state is not None:
        return state.duplicates
    return int(session.scalar(select(func.count()).select_from(AlertRecord)
                              .where(AlertRecord.suppressed_by == f"duplicate:{first_alert_id}")) or 0)


@dataclass
class NoiseControl:
    """The noise-control stage; see the module docstring. Build it with :meth:`from_config`."""

    default: DedupPolicy = field(default_factory=lambda: DedupPolicy(DEFAULT_WINDOW, DEFAULT_KEY))
    per_rule: dict[str, DedupPolicy] = field(default_factory=dict)
    max_dedup_keys: int = DEFAULT_MAX_KEYS
    clock: Clock = utc_now
    stats: NoiseStats = field(default_factory=NoiseStats)
    _newest: datetime | None = None
    _since_prune: int = PRUNE_EVERY

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None, clock: Clock = utc_now) -> NoiseControl:
        """From the ``[noise]`` table (None or empty: the defaults). Raises NoiseError naming the bad key."""
        table = dict(mapping or {})
        _no_unknown(table, {"dedup_window", "dedup_key", "max_dedup_keys", "rules"}, "[noise]")
        window = _window(table.get("dedup_window", "10m"), "noise.dedup_window")
        key = _key(table["dedup_key"], "noise.dedup_key") if "dedup_key" in table else DEFAULT_KEY
        default = DedupPolicy(window, key)
        limit = table.get("max_dedup_keys", DEFAULT_MAX_KEYS)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise NoiseError(f"noise.max_dedup_keys: a whole number of 1 or more, not {limit!r}")
        rules = table.get("rules", {})
        if not isinstance(rules, Mapping):
            raise NoiseError("noise.rules: a table of rule ids ([noise.rules.\"<rule id>\"])")
        per_rule = {}
        for rule_id, override in rules.items():
            where = f'noise.rules."{rule_id}"'
            if not isinstance(override, Mapping):
                raise NoiseError(f"{where}: a table with dedup_window and/or dedup_key")
            _no_unknown(override, {"dedup_window", "dedup_key"}, where)
            per_rule[str(rule_id)] = DedupPolicy(
                _window(override["dedup_window"], f"{where}.dedup_window") if "dedup_window" in override
                else default.window,
                _key(override["dedup_key"], f"{where}.dedup_key") if "dedup_key" in override else default.key)
        return cls(default, per_rule, limit, clock)

    def policy(self, rule_id: str) -> DedupPolicy:
        return self.per_rule.get(rule_id, self.default)

    def apply(self, session: Session, alert: TriageAlert, active: Active | None = None) -> TriageAlert:
        """Exceptions, then suppressions, then deduplication; the first that applies sets ``suppressed_by``.
        An alert already suppressed upstream is returned as it is. ``active``: what :meth:`active` returned for
        a batch of alerts (read once for all of them), else read now."""
        if alert.suppressed_by is not None:
            return alert
        now = self.clock()
        exceptions, suppressions = active if active is not None else self.active(session, now)
        hit = first_matching(exceptions, alert, self._bad_entry)
        if hit is not None:
            alert.suppressed_by = f"exception:{hit.id}"
            self.stats.exceptions += 1
            count_hit(session, hit, now)
            return alert
        hit = first_matching(suppressions, alert, self._bad_entry)
        if hit is not None:
            alert.suppressed_by = f"suppression:{hit.id}"
            self.stats.suppressions += 1
            count_hit(session, hit, now)
            return alert
        self._deduplicate(session, alert, now)
        if alert.suppressed_by is None:
            self.stats.passed += 1
        return alert

    def active(self, session: Session, now: datetime | None = None) -> Active:
        """The exceptions and suppressions in force now."""
        now = now or self.clock()
        exceptions = list(session.scalars(select(AlertException).where(AlertException.expires > iso(now))
                                          .order_by(AlertException.id)))
        suppressions = list(session.scalars(select(Suppression).where(Suppression.until.is_(None)
                                                                       | (Suppression.until > iso(now)))
                                            .order_by(Suppression.id)))
        return exceptions, suppressions

    def _bad_entry(self, record: AlertException | Suppression, error: NoiseError) -> None:
        self.stats.bad_entries += 1
        log.warning("%s %s skipped: %s", type(record).__name__, record.id, error)

    def dedup_key(self, alert: TriageAlert, key: tuple[str, ...]) -> tuple[str, str]:
        """(hash, readable text) of the alert's rule and key values."""
        parts = [",".join(sorted(value.lower() for value in attribute_values(alert, name))) for name in key]
        entity = "|".join(f"{name}={part}" for name, part in zip(key, parts, strict=True))
        digest = hashlib.sha256("\x1f".join([alert.rule_id, *parts]).encode()).hexdigest()
        return digest, entity

    def _deduplicate(self, session: Session, alert: TriageAlert, now: datetime) -> None:
        policy = self.policy(alert.rule_id)
        if policy.window is None:
            return
        moment = alert.moment()
        if moment is None:
            self.stats.undated += 1
            return
        self._advance(session, moment, now)
        digest, entity = self.dedup_key(alert, policy.key)
        state = session.get(DedupState, digest)
        stamp = iso(moment)
        if state is not None:
            if state.first_alert_id == alert.alert_id:
                return  # the same alert handled again (a replay after a crash): not a duplicate of itself
            first = datetime.fromisoformat(state.first_time.replace("Z", "+00:00"))
            if abs(moment - first) < policy.window:
                alert.suppressed_by = f"duplicate:{state.first_alert_id}"
                state.duplicates += 1
                state.last_time = max(state.last_time, stamp)
                self.stats.duplicates += 1
                session.flush()
                return
            if moment < first:
                return  # late, and older than the open window: let through, keep the window
            state.first_alert_id, state.first_time, state.duplicates = alert.alert_id, stamp, 0
            state.window_end, state.last_time, state.entity = iso(moment + policy.window), stamp, entity[:500]
        else:
            session.add(DedupState(key=digest, rule_id=alert.rule_id, entity=entity[:500],
                                   first_alert_id=alert.alert_id, first_time=stamp,
                                   window_end=iso(moment + policy.window), duplicates=0, last_time=stamp))
        session.flush()

    def _advance(self, session: Session, moment: datetime, now: datetime) -> None:
        """Track the newest event time and prune the dedup table every ``PRUNE_EVERY`` alerts."""
        bounded = min(moment, now + FUTURE_SLACK)
        if self._newest is None or bounded > self._newest:
            self._newest = bounded
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._since_prune = 0
            self.prune(session)

    def longest_window(self) -> timedelta:
        windows = [policy.window for policy in (self.default, *self.per_rule.values()) if policy.window]
        return max(windows, default=DEFAULT_WINDOW)

    def prune(self, session: Session) -> int:
        """Delete windows that ended more than the longest window before the newest event time seen, then the
        oldest windows beyond ``max_dedup_keys``; the number of rows deleted."""
        removed = 0
        if self._newest is not None:
            horizon = iso(self._newest - self.longest_window())
            removed += deleted_rows(session, DedupState, delete(DedupState).where(DedupState.window_end < horizon))
        rows = int(session.scalar(select(func.count()).select_from(DedupState)) or 0)
        if rows > self.max_dedup_keys:
            oldest = select(DedupState.key).order_by(DedupState.window_end).limit(rows - self.max_dedup_keys)
            removed += deleted_rows(session, DedupState, delete(DedupState).where(DedupState.key.in_(oldest)))
        self.stats.pruned += removed
        return removed
