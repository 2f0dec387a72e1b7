"""``yamori serve``'s configuration: one TOML file, every key optional, safe defaults.

Without a file, Yamori keeps its state under the XDG data folder (``serve_dir()``), listens on loopback only
(HTTP API and HEC on 127.0.0.1:8088, syslog UDP and TCP on 127.0.0.1:5514) and loads the default rules.
Secrets are never in the file: it names environment variables (``token_env``, ``key_env``) whose values, or the
files named by ``<NAME>_FILE``, hold them (:mod:`yamori.secrets`). ``docs/serve.md`` documents every key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from yamori.alerts.detection import LEVELS
from yamori.exceptions import YamoriError
from yamori.ingest.filter import FilterError, parse_filter_rules
from yamori.paths import serve_dir

Role = Literal["reader", "ingest", "admin"]
ROLES: tuple[Role, ...] = ("reader", "ingest", "admin")

DEFAULT_TOKENS = (("admin", "admin", "YAMORI_ADMIN_TOKEN"), ("ingest", "ingest", "YAMORI_INGEST_TOKEN"),
                  ("reader", "reader", "YAMORI_READER_TOKEN"), ("hec", "ingest", "YAMORI_HEC_TOKEN"))
"""Without ``[[api.tokens]]``: each of these variables that is set is a token of that role."""


class ConfigError(YamoriError):
    """The configuration file is invalid (the message names the key)."""


@dataclass(frozen=True, slots=True)
class TokenConfig:
    name: str
    role: Role
    token_env: str


@dataclass(slots=True)
class ApiConfig:
    listen: str = "127.0.0.1:8088"
    tls_cert: Path | None = None
    tls_key_env: str | None = None
    max_body_bytes: int = 64 << 20
    max_inflight_bytes: int = 256 << 20
    """Request bodies held in memory at once, across requests (decompressed sizes included)."""
    tokens: list[TokenConfig] = field(default_factory=list)
    hec_input: str = "hec"
    """The input name HEC events are tagged with."""


@dataclass(slots=True)
class ServeConfig:
    data_dir: Path = field(default_factory=serve_dir)
    rule_paths: list[Path] = field(default_factory=list)
    """Empty: the default rules (downloaded SigmaHQ rules when installed, and Yamori's own)."""
    min_level: str = "informational"
    api: ApiConfig = field(default_factory=ApiConfig)
    syslog: list[dict[str, Any]] = field(default_factory=list)
    tail: list[dict[str, Any]] = field(default_factory=list)
    watch: list[dict[str, Any]] = field(default_factory=list)
    filters: list[dict[str, Any]] = field(default_factory=list)
    pipeline: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    retention_max_age_days: float | None = None
    retention_max_bytes: int | None = None
    triage: dict[str, Any] = field(default_factory=dict)
    """The alert-handling sections (context, noise, risk, incidents, notify, playbooks), as written."""
    base_dir: Path = field(default_factory=lambda: Path("."))
    """The configuration file's folder: relative paths in the alert-handling sections are relative to it."""

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead-letter"

    @property
    def triage_dir(self) -> Path:
        return self.data_dir / "triage"

    @property
    def audit_log(self) -> Path:
        return self.data_dir / "audit.jsonl"


DEFAULT_SYSLOG = [{"name": "syslog-udp", "protocol": "udp", "listen": "127.0.0.1:5514"},
                  {"name": "syslog-tcp", "protocol": "tcp", "listen": "127.0.0.1:5514"}]

TRIAGE_SECTIONS = ("context", "noise", "risk", "incidents", "notify", "playbooks")
_TOP = {"data_dir", "rules", "api", "inputs", "filters", "pipeline", "limits", "retention", *TRIAGE_SECTIONS}


def load_config(path: Path | None) -> ServeConfig:
    """The configuration of ``path``, or the defaults when ``path`` is None."""
    if path is None:
        config = ServeConfig(syslog=[dict(entry) for entry in DEFAULT_SYSLOG])
        config.api.tokens = _default_tokens()
        return config
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from error
    return config_from_mapping(document, base=path.parent)


def config_from_mapping(document: dict[str, Any], base: Path = Path(".")) -> ServeConfig:
    _no_unknown(document, _TOP, "")
    config = ServeConfig()
    config.base_dir = base
    config.triage = {name: document[name] for name in TRIAGE_SECTIONS if name in document}
    if "data_dir" in document:
        config.data_dir = _path(document["data_dir"], base)
    rules = _table(document, "rules")
    _no_unknown(rules, {"paths", "min_level"}, "rules.")
    config.rule_paths = [_path(item, base) for item in rules.get("paths", [])]
    config.min_level = str(rules.get("min_level", config.min_level))
    if config.min_level not in LEVELS:
        raise ConfigError(f"rules.min_level must be one of {', '.join(LEVELS)}, not {config.min_level!r}")
    config.api = _api(_table(document, "api"), base)
    inputs = _table(document, "inputs")
    _no_unknown(inputs, {"syslog", "tail", "watch"}, "inputs.")
    config.syslog = _list_of_tables(inputs, "syslog", "inputs.")
    config.tail = _list_of_tables(inputs, "tail", "inputs.")
    config.watch = _list_of_tables(inputs, "watch", "inputs.")
    for entry in config.syslog:  # relative file names are relative to the configuration file, as data_dir is
        for key in ("cert", "ca"):
            if isinstance(entry.get(key), str):
                entry[key] = str(_path(entry[key], base))
    for entry in (*config.tail, *config.watch):
        paths = entry.get("paths")
        if isinstance(paths, (list, str)):
            entry["paths"] = [str(_path(item, base)) for item in ([paths] if isinstance(paths, str) else paths)]
    config.filters = _list_of_tables(document, "filters", "")
    try:
        parse_filter_rules(config.filters)  # refused here, not by a pipeline process that would crash in a loop
    except FilterError as error:
        raise ConfigError(str(error)) from error
    config.pipeline = _table(document, "pipeline")
    _no_unknown(config.pipeline, {"workers", "batch_events", "flush_seconds", "maintenance_seconds",
                                  "correlation_lateness", "correlation_max_groups", "correlation_rebuild_seconds"},
                "pipeline.")
    config.limits = _table(document, "limits")
    _no_unknown(config.limits, {"max_backlog_records", "max_backlog_bytes", "retry_after"}, "limits.")
    retention = _table(document, "retention")
    _no_unknown(retention, {"max_age_days", "max_bytes"}, "retention.")
    if "max_age_days" in retention:
        config.retention_max_age_days = float(retention["max_age_days"])
    if "max_bytes" in retention:
        config.retention_max_bytes = int(retention["max_bytes"])
    names = [str(entry.get("name", "")) for entry in (*config.syslog, *config.tail, *config.watch)]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ConfigError(f"input names must be unique: {', '.join(sorted(duplicates))}")
    return config


def _api(table: dict[str, Any], base: Path) -> ApiConfig:
    if any(key in table for key in ("token", "tls_key", "password")):
        raise ConfigError("secrets never go in the configuration: name an environment variable (token_env)")
    _no_unknown(table, {"listen", "tls_cert", "tls_key_env", "max_body_bytes", "max_inflight_bytes", "tokens",
                        "hec_input"}, "api.")
    api = ApiConfig()
    api.listen = str(table.get("listen", api.listen))
    if "tls_cert" in table:
        api.tls_cert = _path(table["tls_cert"], base)
    api.tls_key_env = table.get("tls_key_env")
    api.max_body_bytes = int(table.get("max_body_bytes", api.max_body_bytes))
    api.max_inflight_bytes = int(table.get("max_inflight_bytes", api.max_inflight_bytes))
    api.hec_input = str(table.get("hec_input", api.hec_input))
    tokens = []
    for position, entry in enumerate(_list_of_tables(table, "tokens", "api."), 1):
        _no_unknown(entry, {"name", "role", "token_env"}, f"api.tokens[{position}].")
        role = entry.get("role")
        if role not in ROLES:
            raise ConfigError(f"api.tokens[{position}].role must be one of {', '.join(ROLES)}")
        if not entry.get("token_env"):
            raise ConfigError(f"api.tokens[{position}] needs token_env (the variable holding the token)")
        tokens.append(TokenConfig(str(entry.get("name", f"token-{position}")), role, str(entry["token_env"])))
    api.tokens = tokens or _default_tokens()
    return api


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6; an empty host is loopback) of a ``listen`` setting."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _default_tokens() -> list[TokenConfig]:
    return [TokenConfig(name, role, env) for name, role, env in DEFAULT_TOKENS]  # type: ignore[arg-type]


def _table(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table")
    return value


def _list_of_tables(document: dict[str, Any], key: str, prefix: str) -> list[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"{prefix}{key} must be an array of tables ([[{prefix}{key}]])")
    return value


def _no_unknown(table: dict[str, Any], known: set[str], prefix: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"unknown key(s): {', '.join(prefix + key for key in sorted(unknown))}")


def _path(value: Any, base: Path) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else base / path
