"""Tokens and roles: every endpoint but ``/healthz`` needs a token, and each route names the role it needs.

Roles are ordered by what they may do: ``reader`` (search, alerts, status, metrics) < ``admin``; ``ingest``
(send events) is separate from reading; ``admin`` may do everything, raw SQL included. Tokens come from
environment variables (:mod:`yamori.secrets`); a configured variable that is unset is skipped with a warning, so a
server with no token set answers 401 everywhere but ``/healthz``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from yamori.config import Role, TokenConfig
from yamori.secrets import Secret, SecretError, read_secret

log = logging.getLogger(__name__)

ALLOWED: dict[Role, frozenset[Role]] = {
    "reader": frozenset({"reader", "admin"}),
    "ingest": frozenset({"ingest", "admin"}),
    "admin": frozenset({"admin"}),
}
"""For each role a route requires, the token roles that satisfy it."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


class Authenticator:
    def __init__(self, tokens: list[tuple[str, Role, Secret]]) -> None:
        self._tokens = tokens

    @classmethod
    def from_config(cls, configured: list[TokenConfig]) -> Authenticator:
        tokens = []
        for token in configured:
            try:
                secret = read_secret(token.token_env, required=False)
            except SecretError as error:
                log.warning("token %s not loaded: %s", token.name, error)
                continue
            if secret is None:
                continue
            tokens.append((token.name, token.role, secret))
        return cls(tokens)

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self._tokens]

    def identify(self, offered: str) -> Principal | None:
        found = None
        for name, role, secret in self._tokens:  # compare with every token: timing does not tell which matched
            if secret.equals(offered) and found is None:
                found = Principal(name, role)
        return found


def offered_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <t>`` or ``Authorization: Splunk <t>`` header."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() in ("bearer", "splunk") and value.strip():
        return value.strip()
    return None


def require(role: Role) -> Callable[[Request], Principal]:
    """A route dependency admitting tokens that may act as ``role``, with the server's authenticator and audit log
    (``app.state.yamori``): refusals are audited and answered 401 (unknown token) or 403 (role), as everywhere."""
    def check(request: Request) -> Principal:
        state = request.app.state.yamori
        token = offered_token(request.headers.get("authorization"))
        found: Principal | None = state.authenticator.identify(token) if token else None
        if found is None or found.role not in ALLOWED[role]:
            status = 401 if found is None else 403
            state.audit.write(found.name if found else None, request, status,
                              "missing token" if token is None else "refused", found.role if found else None)
            raise HTTPException(status, detail="a valid token is required" if status == 401
                                else f"role {role} required")
        request.state.principal = found
        return found
    return check
