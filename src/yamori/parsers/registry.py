"""Which Sigma logsources Yamori's parsers can produce, so rules that can never fire are reported, not hidden."""

from __future__ import annotations

from collections.abc import Callable

from yamori.parsers import windows

LogsourceCheck = Callable[[str | None, str | None, str | None], bool]

PRODUCERS: tuple[LogsourceCheck, ...] = (windows.can_produce,)


def logsource_supported(product: str | None, category: str | None, service: str | None) -> bool:
    """True when some parser emits events a rule with this logsource applies to."""
    return any(check(product, category, service) for check in PRODUCERS)
