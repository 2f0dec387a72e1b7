"""Yamori's own secrets (API and HEC tokens, TLS keys): only from environment variables or files they name.

A configuration names a variable (``token_env = "YAMORI_HEC_TOKEN"``), never a value. The secret is that
variable's value, or, when it is unset and ``<NAME>_FILE`` is set, the content of the file it names (the
convention of container secrets). A :class:`Secret` never shows its value in ``repr``/``str``, so it cannot leak
into logs by accident.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from yamori.exceptions import YamoriError


class SecretError(YamoriError):
    """A secret the configuration names is not set, or its file cannot be read."""


@dataclass(frozen=True, slots=True)
class Secret:
    source: str
    """Where it came from (``$NAME`` or ``$NAME_FILE=/path``): safe to show."""
    value: str = field(repr=False)

    def __str__(self) -> str:
        return f"<secret from {self.source}>"

    def digest(self) -> bytes:
        return hashlib.sha256(self.value.encode()).digest()

    def equals(self, offered: str) -> bool:
        """Constant-time comparison with what a client offered."""
        return hmac.compare_digest(self.digest(), hashlib.sha256(offered.encode()).digest())


def read_secret(env_name: str, *, required: bool = True) -> Secret | None:
    """The secret named by ``env_name`` (or the file named by ``<env_name>_FILE``)."""
    value = os.environ.get(env_name)
    if value:
        return Secret(f"${env_name}", value.strip())
    file_variable = f"{env_name}_FILE"
    path = os.environ.get(file_variable)
    if path:
        return Secret(f"${file_variable}={path}", read_secret_file(Path(path)))
    if required:
        raise SecretError(f"${env_name} (or ${file_variable}) is not set")
    return None


def read_secret_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SecretError(f"cannot read secret file {path}: {error.strerror}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and os.environ.get("YAMORI_ALLOW_SHARED_SECRET_FILES") != "1":
        raise SecretError(f"secret file {path} is readable by other users (chmod 600 it)")
    if not text:
        raise SecretError(f"secret file {path} is empty")
    return text


def secret_file_path(env_name: str) -> Path:
    """A secret that a library needs as a file (a TLS private key): the file named by ``<env_name>_FILE``, or
    ``$env_name`` itself when it holds a path."""
    path = os.environ.get(f"{env_name}_FILE") or os.environ.get(env_name)
    if not path:
        raise SecretError(f"${env_name}_FILE (the path of the key file) is not set")
    candidate = Path(path)
    if not candidate.is_file():
        raise SecretError(f"${env_name}_FILE names {candidate}, which is not a readable file")
    return candidate
