"""Addresses as logs write them, in one canonical form (no ``PARSERS``: a helper of the format modules)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

__all__ = ["canonical_ip"]


@lru_cache(maxsize=8192)
def canonical_ip(text: str) -> str | None:
    """``text`` in canonical form (``2001:db8::1``) when it is exactly an IPv4 or IPv6 address, else None."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
