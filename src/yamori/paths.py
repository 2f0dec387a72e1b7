"""Where Yamori keeps its files: XDG-style per-user data and cache folders, and where its rules are.

* ``data_dir()``: long-lived data (downloaded rule packages). ``$YAMORI_DATA_DIR`` or platformdirs'
  ``user_data_dir("yamori")`` (``~/.local/share/yamori`` on Linux).
* ``cache_dir()``: data that can be rebuilt (compiled rules). ``$YAMORI_CACHE_DIR`` or ``user_cache_dir``.
* ``downloaded_rules_dir()``: the SigmaHQ package installed by ``yamori rules update``.
* ``bundled_rules_dir()``: Yamori's own rules, shipped with it.
* ``serve_dir()``: what ``yamori serve`` keeps: the write-ahead log, the event store, input checkpoints.

Nothing here creates a folder; callers create what they write into.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "yamori"
DATA_DIR_ENV = "YAMORI_DATA_DIR"
CACHE_DIR_ENV = "YAMORI_CACHE_DIR"

_PACKAGE_DIR = Path(__file__).resolve().parent


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Yamori's data folder: ``$YAMORI_DATA_DIR`` when set, else the platform's user data folder."""
    return _from_env(DATA_DIR_ENV) or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """Yamori's cache folder: ``$YAMORI_CACHE_DIR`` when set, else the platform's user cache folder."""
    return _from_env(CACHE_DIR_ENV) or Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def rules_store_dir() -> Path:
    """The folder holding the installed rule package (``current``), the one before it (``previous``) and the
    update's staging folders; all on one file system so that installing is a rename."""
    return data_dir() / "rules"


def downloaded_rules_dir() -> Path:
    """The SigmaHQ rule package installed by ``yamori rules update`` (it may not exist)."""
    return rules_store_dir() / "current"


def previous_rules_dir() -> Path:
    """The rule package that ``current`` replaced, kept for ``rollback_rules`` (it may not exist)."""
    return rules_store_dir() / "previous"


def serve_dir() -> Path:
    """The default home of ``yamori serve``'s state (``wal/``, ``store/``, ``spool/``, checkpoints)."""
    return data_dir() / "serve"


def store_dir() -> Path:
    """The default event and alert store (``yamori search``, ``yamori store stats``, ``yamori hunt --store``)."""
    return serve_dir() / "store"


def bundled_rules_dir() -> Path:
    """Yamori's own Sigma rules.

    In an installed wheel they are ``yamori/bundled_rules`` (pyproject force-includes the top-level
    ``rules`` folder there); in a source or editable checkout they are the repository's ``rules`` folder.
    """
    packaged = _PACKAGE_DIR / "bundled_rules"
    if packaged.is_dir():
        return packaged
    # src/yamori/paths.py -> repository root is two levels above the package folder.
    checkout_root = _PACKAGE_DIR.parent.parent
    checkout_rules = checkout_root / "rules"
    if checkout_rules.is_dir() and (checkout_root / "pyproject.toml").is_file():
        return checkout_rules
    return packaged  # not there: callers report a missing folder with this path in it


def has_downloaded_rules() -> bool:
    """True when a rule package was installed by ``yamori rules update`` (its manifest is there)."""
    return (downloaded_rules_dir() / "manifest.json").is_file()


def default_rules_dirs() -> list[Path]:
    """The rule folders used when the user names none: the downloaded SigmaHQ rules when installed, and always
    Yamori's bundled rules (they cover detection points SigmaHQ has no rule for: CloudTrail, IDS, scanners...)."""
    if has_downloaded_rules():
        return [downloaded_rules_dir(), bundled_rules_dir()]
    return [bundled_rules_dir()]
