"""The configured inputs of ``yamori serve``, built from the ``[[inputs.*]]`` tables of the configuration.

``[[inputs.syslog]]``: ``name``, ``protocol`` (``udp``, ``tcp`` or ``tls``), ``listen`` (``host:port``), and the
fields of :class:`~yamori.sources.syslog_server.SyslogUdpSettings` / ``SyslogTcpSettings``; for TLS ``cert``,
``ca``, ``require_client_cert`` and ``key_env`` (the variable whose ``_FILE`` names the private key: keys never
appear in the configuration). ``[[inputs.tail]]``: ``name``, ``paths`` and the fields of
:class:`~yamori.sources.tail.TailSettings`. ``[[inputs.watch]]``: ``name``, ``paths`` and the fields of
:class:`~yamori.sources.watch.WatchSettings`.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any, TypeVar

from yamori.config import ConfigError, ServeConfig, split_listen
from yamori.ingest.sink import IngestSink
from yamori.ops.metrics import InputMetrics
from yamori.secrets import secret_file_path
from yamori.sources.syslog_server import (
    SyslogTcpInput,
    SyslogTcpSettings,
    SyslogUdpInput,
    SyslogUdpSettings,
    TlsSettings,
)
from yamori.sources.tail import TailInput, TailSettings
from yamori.sources.watch import WatchInput, WatchSettings

Settings = TypeVar("Settings")
AnyInput = SyslogUdpInput | SyslogTcpInput | TailInput | WatchInput


def build_inputs(config: ServeConfig, sink: IngestSink, metrics: InputMetrics) -> list[Any]:
    """Every configured input, not yet started."""
    inputs: list[AnyInput] = []
    for position, table in enumerate(config.syslog, 1):
        inputs.append(_syslog(dict(table), position, sink))
    for position, table in enumerate(config.tail, 1):
        table = dict(table)
        name = str(table.pop("name", f"tail-{position}"))
        inputs.append(TailInput(name, _settings(TailSettings, table, f"inputs.tail[{position}]."), sink,
                                config.state_dir))
    for position, table in enumerate(config.watch, 1):
        table = dict(table)
        name = str(table.pop("name", f"watch-{position}"))
        inputs.append(WatchInput(name, _settings(WatchSettings, table, f"inputs.watch[{position}]."), sink,
                                 config.state_dir))
    return inputs


def _syslog(table: dict[str, Any], position: int, sink: IngestSink) -> AnyInput:
    prefix = f"inputs.syslog[{position}]."
    protocol = str(table.pop("protocol", "udp")).lower()
    name = str(table.pop("name", f"syslog-{protocol}-{position}"))
    listen = table.pop("listen", None)
    if listen is not None:
        table["host"], table["port"] = split_listen(str(listen))
    tls_given = [key for key in ("cert", "ca", "require_client_cert", "key_env", "key_password_env") if key in table]
    if tls_given and protocol != "tls":
        raise ConfigError(f"{prefix}{', '.join(tls_given)}: TLS settings need protocol = \"tls\"")
    if protocol == "udp":
        return SyslogUdpInput(name, _settings(SyslogUdpSettings, table, prefix), sink)
    if protocol not in ("tcp", "tls"):
        raise ConfigError(f"{prefix}protocol must be udp, tcp or tls, not {protocol!r}")
    tls = None
    tls_keys = {"cert": None, "ca": None, "require_client_cert": False, "key_env": None, "key_password_env": None}
    given = {key: table.pop(key, default) for key, default in tls_keys.items()}
    if protocol == "tls":
        if not given["cert"] or not given["key_env"]:
            raise ConfigError(f"{prefix}cert and key_env are required with protocol = \"tls\"")
        tls = TlsSettings(Path(str(given["cert"])).expanduser(), secret_file_path(str(given["key_env"])),
                          Path(str(given["ca"])).expanduser() if given["ca"] else None,
                          bool(given["require_client_cert"]), given["key_password_env"])
    settings = _settings(SyslogTcpSettings, table, prefix)
    return SyslogTcpInput(name, dataclasses.replace(settings, tls=tls), sink)


def _settings(kind: type[Settings], table: dict[str, Any], prefix: str) -> Settings:
    """A settings dataclass from a TOML table: unknown keys refused, lists made tuples."""
    fields = {item.name: item for item in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = set(table) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(prefix + key for key in sorted(unknown))}")
    hints = typing.get_type_hints(kind)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, list):
            value = tuple(str(item) for item in value)
        elif isinstance(value, str) and "tuple" in str(hints.get(key, "")):
            value = (value,)
        values[key] = value
    try:
        return kind(**values)
    except TypeError as error:
        raise ConfigError(f"{prefix.rstrip('.')}: {error}") from error
