"""``yamori rules update``: download SigmaHQ's current release rule package, verify it, install it atomically.

Where the package comes from
    SigmaHQ attaches five zip files to every GitHub release of SigmaHQ/sigma (built by the repository's
    ``.github/workflows/release.yml`` with ``tests/sigma-package-release.py``; ``Releases.md`` explains them):
    ``sigma_core.zip``, ``sigma_core+.zip``, ``sigma_core++.zip``, ``sigma_emerging_threats_addon.zip`` and
    ``sigma_all_rules.zip``. Inside, rules keep their repository paths (``rules/windows/...``).
    By default Yamori asks the GitHub REST API for the latest release
    (``https://api.github.com/repos/SigmaHQ/sigma/releases/latest``), takes the wanted asset's
    ``browser_download_url`` and, when GitHub publishes one, its ``digest`` (``sha256:<hex>``).

    The source can be changed with the ``url`` argument or ``$YAMORI_RULES_URL``:

    * a URL whose path ends in ``.zip`` is downloaded as the package itself (for example
      ``https://github.com/SigmaHQ/sigma/releases/latest/download/sigma_core.zip`` or a mirror);
    * any other URL is read as a GitHub-style release description (JSON with ``tag_name`` and ``assets``),
      e.g. ``.../releases/tags/r2024-05-13`` for one given release, or a local test server.

What is checked before anything is installed
    HTTPS only (plain HTTP is allowed for loopback addresses only, and redirects may not leave HTTPS); a
    size cap on the download and on the extracted files; a valid zip, without encrypted entries, symbolic
    links, absolute paths or ``..`` (zip-slip), and with at least one YAML document that is a Sigma rule;
    the SHA-256 of the zip against the release's published digest and against ``sha256=`` when given.

How it is installed
    Everything happens in a staging folder inside ``paths.rules_store_dir()`` (the same file system), and the
    result is moved into place by renames: the old ``current`` becomes ``previous`` (the one before that is
    dropped), the staged tree becomes ``current``. A ``manifest.json`` in ``current`` says where it came from.
    Any failure raises ``RulesUpdateError`` and leaves the installed rules exactly as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import ipaddress
import json
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import yaml

from yamori import __version__, paths
from yamori.exceptions import RulesUpdateError

RULES_URL_ENV = "YAMORI_RULES_URL"
DEFAULT_RELEASE_API = "https://api.github.com/repos/SigmaHQ/sigma/releases/latest"
DEFAULT_PACKAGE = "core"

#: Package name (as given to ``update_rules``) -> release asset name.
PACKAGES: dict[str, str] = {
    "core": "sigma_core.zip",
    "core+": "sigma_core+.zip",
    "core++": "sigma_core++.zip",
    "emerging-threats": "sigma_emerging_threats_addon.zip",
    "all": "sigma_all_rules.zip",
}
_PACKAGE_ALIASES: dict[str, str] = {
    "et": "emerging-threats",
    "emerging_threats": "emerging-threats",
    "emerging_threats_addon": "emerging-threats",
    "all_rules": "all",
}

DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_EXTRACTED_BYTES = 512 * 1024 * 1024
DEFAULT_TIMEOUT = 60.0
MAX_ZIP_ENTRIES = 100_000
MAX_METADATA_BYTES = 4 * 1024 * 1024
MAX_CHECKSUM_FILE_BYTES = 64 * 1024
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1

_CHUNK = 64 * 1024
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CHECKSUM_FILES = ("SHA256SUMS", "SHA256SUMS.txt", "sha256sums.txt", "checksums.txt")
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Indirection so that tests can make one rename fail and check the rollback.
_rename = os.rename


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What ``update_rules`` installed."""

    path: Path
    """The installed rules folder (``paths.downloaded_rules_dir()``)."""
    source_url: str
    """The URL the zip was downloaded from."""
    release: str | None
    """The release tag (``r2024-05-13``) when known from release metadata."""
    package: str
    asset: str
    sha256: str
    """SHA-256 of the downloaded zip (hex)."""
    sha256_verified_by: tuple[str, ...]
    """Which published or given digests the zip was checked against (empty: none was available)."""
    rule_count: int
    file_count: int
    invalid_files: tuple[str, ...]
    """YAML files of the package that could not be parsed (relative paths); they are installed anyway."""
    installed_at: str
    previous: Path | None
    """Where the rules that were replaced are now, or None when there were none."""
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Download:
    url: str
    release: str | None
    asset: str
    metadata_url: str | None
    published_at: str | None
    expected: tuple[tuple[str, str], ...]
    """(who published it, sha256 hex) pairs the zip must match."""
    size: int | None


# --------------------------------------------------------------------------------------------- public API


def package_asset(package: str) -> str:
    """The release asset name of a package name (``core`` -> ``sigma_core.zip``)."""
    key = package.strip().lower()
    key = _PACKAGE_ALIASES.get(key, key)
    if key not in PACKAGES:
        known = ", ".join(PACKAGES)
        raise RulesUpdateError(f"unknown rule package {package!r}: choose one of {known}")
    return PACKAGES[key]


def check_url(url: str) -> None:
    """Refuse any URL but ``https://``, and ``http://`` on a loopback address."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise RulesUpdateError(
        f"refusing to download from {url!r}: only https:// URLs are allowed "
        "(plain http:// only for loopback addresses such as 127.0.0.1)"
    )


def update_rules(
    url: str | None = None,
    package: str = DEFAULT_PACKAGE,
    *,
    sha256: str | None = None,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    max_extracted_bytes: int = DEFAULT_MAX_EXTRACTED_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
) -> UpdateResult:
    """Download, verify and install a SigmaHQ rule package into ``paths.downloaded_rules_dir()``.

    ``url``: a release description (JSON) or a direct ``.zip`` URL; default ``$YAMORI_RULES_URL``, else
    the latest SigmaHQ release. ``package``: one of ``PACKAGES`` (``core``, ``core+``, ``core++``,
    ``emerging-threats``, ``all``). ``sha256``: a digest the zip must have, in addition to any the release
    publishes. Raises ``RulesUpdateError``; on error nothing is changed.
    """
    asset = package_asset(package)
    expected_user = _normalize_sha256(sha256, "--sha256") if sha256 is not None else None
    source = (url or os.environ.get(RULES_URL_ENV, "").strip() or DEFAULT_RELEASE_API).strip()
    check_url(source)
    if max_bytes <= 0 or max_extracted_bytes <= 0:
        raise RulesUpdateError("size limits must be positive")

    store = paths.rules_store_dir()
    with _update_lock(store):
        _remove_stale_staging(store)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=store))
        try:
            if _is_zip_url(source):
                download = _Download(source, None, asset, None, None, (), None)
            else:
                download = _resolve_release(source, asset, timeout)
            expected = list(download.expected)
            if expected_user is not None:
                expected.append(("--sha256", expected_user))
            if download.size is not None and download.size > max_bytes:
                raise RulesUpdateError(
                    f"{download.asset} is {download.size} bytes, over the limit of {max_bytes} bytes"
                )

            zip_path = staging / "package.zip"
            digest, size = _download_file(download.url, zip_path, max_bytes, timeout)
            for who, value in expected:
                if value != digest:
                    raise RulesUpdateError(
                        f"SHA-256 mismatch for {download.url}: expected {value} ({who}), got {digest}"
                    )

            tree = staging / "tree"
            tree.mkdir()
            file_count = _extract_zip(zip_path, tree, max_extracted_bytes)
            rule_count, invalid = count_rules(tree)
            if rule_count == 0:
                raise RulesUpdateError(
                    f"{download.url} contains no Sigma rule (no YAML document with a 'detection' section)"
                )

            installed_at = datetime.now(UTC).isoformat(timespec="seconds")
            manifest: dict[str, Any] = {
                "format": MANIFEST_FORMAT,
                "source_url": download.url,
                "release_url": download.metadata_url,
                "release": download.release,
                "published_at": download.published_at,
                "package": package,
                "asset": download.asset,
                "sha256": digest,
                "sha256_verified_by": [who for who, _ in expected],
                "size": size,
                "rule_count": rule_count,
                "file_count": file_count,
                "invalid_files": invalid,
                "installed_at": installed_at,
                "yamori_version": __version__,
            }
            (tree / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            zip_path.unlink()

            previous = _install(tree, store, staging / "aside")
        except OSError as exc:
            raise RulesUpdateError(f"cannot install the rule package: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

        return UpdateResult(
            path=paths.downloaded_rules_dir(),
            source_url=download.url,
            release=download.release,
            package=package,
            asset=download.asset,
            sha256=digest,
            sha256_verified_by=tuple(who for who, _ in expected),
            rule_count=rule_count,
            file_count=file_count,
            invalid_files=tuple(invalid),
            installed_at=installed_at,
            previous=previous,
            manifest=manifest,
        )


def installed_manifest(rules_dir: Path | None = None) -> dict[str, Any] | None:
    """The manifest of the installed package (default: ``current``), or None when nothing is installed."""
    target = (rules_dir or paths.downloaded_rules_dir()) / MANIFEST_NAME
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RulesUpdateError(f"cannot read {target}: {exc}") from exc
    if not isinstance(data, dict):
        raise RulesUpdateError(f"{target} is not a JSON object")
    return data


def rollback_rules() -> Path:
    """Swap ``current`` and ``previous``: the package installed before the last update is used again
    (a second rollback undoes the first). Returns the rules folder now in use."""
    store = paths.rules_store_dir()
    current, previous = paths.downloaded_rules_dir(), paths.previous_rules_dir()
    if not previous.is_dir():
        raise RulesUpdateError(f"no previous rule package to roll back to ({previous} does not exist)")
    with _update_lock(store):
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=store))
        aside = staging / "aside"
        try:
            had_current = current.exists()
            if had_current:
                _rename(current, aside)
            try:
                _rename(previous, current)
            except OSError:
                if had_current:
                    _rename(aside, current)
                raise
            if had_current:
                _rename(aside, previous)
        except OSError as exc:
            raise RulesUpdateError(f"cannot roll back the rule package: {exc}") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return current


def count_rules(tree: Path) -> tuple[int, list[str]]:
    """Count the Sigma rules (YAML documents with ``detection`` or ``correlation``) in the ``.yml``/``.yaml``
    files under ``tree``; also return the files that are not valid YAML (paths relative to ``tree``)."""
    count = 0
    invalid: list[str] = []
    for path in sorted(tree.rglob("*")):
        if path.suffix.lower() not in (".yml", ".yaml") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            docs = list(yaml.load_all(text, Loader=_YAML_LOADER))
        except (yaml.YAMLError, UnicodeDecodeError, ValueError):
            invalid.append(path.relative_to(tree).as_posix())
            continue
        count += sum(
            1 for doc in docs if isinstance(doc, dict) and ("detection" in doc or "correlation" in doc)
        )
    return count, invalid


# --------------------------------------------------------------------------------------------- HTTP


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_zip_url(url: str) -> bool:
    return urlsplit(url).path.lower().endswith(".zip")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to URLs ``check_url`` accepts, and never from HTTPS down to HTTP."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        check_url(newurl)
        if urlsplit(req.full_url).scheme.lower() == "https" and urlsplit(newurl).scheme.lower() != "https":
            raise RulesUpdateError(f"refusing redirect from {req.full_url} to non-HTTPS {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _open(url: str, accept: str, timeout: float) -> http.client.HTTPResponse:
    check_url(url)
    handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects()]
    if _is_loopback(urlsplit(url).hostname or ""):
        handlers.append(urllib.request.ProxyHandler({}))  # never send loopback traffic through a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        url,
        headers={
            "User-Agent": f"yamori/{__version__} (rules update)",
            "Accept": accept,
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    try:
        response: http.client.HTTPResponse = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        hint = ""
        if exc.code in (403, 429) and exc.headers.get("X-RateLimit-Remaining") == "0":
            hint = " (GitHub API rate limit reached; try again later or pass a direct .zip URL)"
        exc.close()
        raise RulesUpdateError(f"HTTP {exc.code} {exc.reason} from {url}{hint}") from exc
    except urllib.error.URLError as exc:
        raise RulesUpdateError(f"cannot reach {url}: {exc.reason}") from exc
    except TimeoutError as exc:
        raise RulesUpdateError(f"timed out after {timeout:g}s connecting to {url}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise RulesUpdateError(f"cannot download {url}: {exc}") from exc
    return response


def _declared_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _read_small(url: str, accept: str, limit: int, timeout: float) -> bytes:
    with _open(url, accept, timeout) as response:
        declared = _declared_length(response)
        if declared is not None and declared > limit:
            raise RulesUpdateError(f"{url} is {declared} bytes, over the limit of {limit} bytes")
        try:
            data = response.read(limit + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise RulesUpdateError(f"cannot download {url}: {exc}") from exc
    if len(data) > limit:
        raise RulesUpdateError(f"{url} is over the limit of {limit} bytes")
    return data


def _download_file(url: str, target: Path, limit: int, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``target``; return its SHA-256 (hex) and size."""
    digest = hashlib.sha256()
    size = 0
    with _open(url, "application/octet-stream, application/zip, */*", timeout) as response:
        declared = _declared_length(response)
        if declared is not None and declared > limit:
            raise RulesUpdateError(f"{url} is {declared} bytes, over the limit of {limit} bytes")
        with target.open("wb") as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except TimeoutError as exc:
                    raise RulesUpdateError(f"timed out after {timeout:g}s downloading {url}") from exc
                except (OSError, http.client.HTTPException) as exc:
                    raise RulesUpdateError(f"download of {url} failed: {exc}") from exc
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise RulesUpdateError(f"{url} is over the limit of {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
    if declared is not None and size != declared:
        raise RulesUpdateError(f"download of {url} was cut short ({size} of {declared} bytes)")
    return digest.hexdigest(), size


def _normalize_sha256(value: str, who: str) -> str:
    text = value.strip().lower()
    text = text.removeprefix("sha256:")
    if not _SHA256_RE.match(text):
        raise RulesUpdateError(f"{who}: {value!r} is not a SHA-256 digest (64 hexadecimal characters)")
    return text


def _resolve_release(metadata_url: str, asset: str, timeout: float) -> _Download:
    raw = _read_small(metadata_url, "application/vnd.github+json, application/json", MAX_METADATA_BYTES,
                      timeout)
    try:
        release = json.loads(raw)
    except ValueError as exc:
        raise RulesUpdateError(f"{metadata_url} did not return release JSON: {exc}") from exc
    if not isinstance(release, dict) or not isinstance(release.get("assets"), list):
        raise RulesUpdateError(f"{metadata_url} did not return a release description (no 'assets' list)")
    tag = release.get("tag_name")
    tag = tag if isinstance(tag, str) else None
    published = release.get("published_at")
    published = published if isinstance(published, str) else None
    assets = {
        a["name"]: a for a in release["assets"] if isinstance(a, dict) and isinstance(a.get("name"), str)
    }

    chosen = assets.get(asset)
    if chosen is None:
        offered = ", ".join(sorted(n for n in assets if n.lower().endswith(".zip"))) or "none"
        raise RulesUpdateError(
            f"release {tag or metadata_url} has no asset {asset!r} (zip assets offered: {offered})"
        )
    download_url = chosen.get("browser_download_url")
    if not isinstance(download_url, str) or not download_url:
        raise RulesUpdateError(f"asset {asset!r} of release {tag or metadata_url} has no download URL")
    size = chosen.get("size")

    expected: list[tuple[str, str]] = []
    digest = chosen.get("digest")
    if isinstance(digest, str) and digest.lower().startswith("sha256:"):
        expected.append(("release digest", _normalize_sha256(digest, f"digest of {asset}")))
    published_sum = _published_checksum(assets, asset, timeout)
    if published_sum is not None:
        expected.append(published_sum)
    return _Download(
        url=download_url,
        release=tag,
        asset=asset,
        metadata_url=metadata_url,
        published_at=published,
        expected=tuple(expected),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


def _published_checksum(assets: dict[str, Any], asset: str, timeout: float) -> tuple[str, str] | None:
    """A SHA-256 for ``asset`` from a checksum file attached to the release (``<asset>.sha256`` or a
    ``SHA256SUMS``-style list), when there is one."""
    for name in (f"{asset}.sha256", *_CHECKSUM_FILES):
        entry = assets.get(name)
        url = entry.get("browser_download_url") if isinstance(entry, dict) else None
        if not isinstance(url, str):
            continue
        data = _read_small(url, "text/plain, */*", MAX_CHECKSUM_FILE_BYTES, timeout)
        text = data.decode("utf-8", "replace")
        for line in text.splitlines():
            words = line.split()
            if not words:
                continue
            listed = words[1].lstrip("*") if len(words) > 1 else None
            if listed == asset or (listed is None and name == f"{asset}.sha256"):
                return (f"release file {name}", _normalize_sha256(words[0], name))
        if name == f"{asset}.sha256":
            raise RulesUpdateError(f"release file {name} holds no SHA-256 for {asset}")
    return None


# --------------------------------------------------------------------------------------------- zip


def _member_parts(name: str) -> list[str]:
    """The path components of a zip member, or an error for anything that could leave the target folder."""
    if not name or any(ord(ch) < 0x20 for ch in name) or "\\" in name or ":" in name:
        raise RulesUpdateError(f"unsafe path in the rule package: {name!r}")
    if name.startswith("/"):
        raise RulesUpdateError(f"absolute path in the rule package: {name!r}")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise RulesUpdateError(f"path traversal ('..') in the rule package: {name!r}")
    return parts


def _extract_zip(zip_path: Path, tree: Path, max_extracted: int) -> int:
    """Check every entry of the zip, then extract its files into ``tree``; return the number of files."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise RulesUpdateError(f"the downloaded rule package is not a valid zip file: {exc}") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_ENTRIES:
            raise RulesUpdateError(f"the rule package has {len(members)} entries (limit {MAX_ZIP_ENTRIES})")
        planned: list[tuple[zipfile.ZipInfo, list[str]]] = []
        seen: set[str] = set()
        declared = 0
        for info in members:
            parts = _member_parts(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise RulesUpdateError(f"symbolic link in the rule package: {info.filename!r}")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise RulesUpdateError(f"special file in the rule package: {info.filename!r}")
            if info.flag_bits & 0x1:
                raise RulesUpdateError(f"encrypted entry in the rule package: {info.filename!r}")
            if not parts:
                continue
            key = "/".join(parts).lower()
            if key in seen:
                raise RulesUpdateError(f"duplicate entry in the rule package: {info.filename!r}")
            seen.add(key)
            declared += info.file_size
            if declared > max_extracted:
                raise RulesUpdateError(f"the rule package unpacks to over {max_extracted} bytes")
            planned.append((info, parts))

        root = tree.resolve()
        written = 0
        files = 0
        for info, parts in planned:
            target = tree.joinpath(*parts)
            if not target.resolve().is_relative_to(root):
                raise RulesUpdateError(f"path traversal in the rule package: {info.filename!r}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, target.open("xb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > max_extracted:
                            raise RulesUpdateError(f"the rule package unpacks to over {max_extracted} bytes")
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                raise RulesUpdateError(f"corrupt entry {info.filename!r} in the rule package: {exc}") from exc
            files += 1
    return files


# --------------------------------------------------------------------------------------------- install


def _install(tree: Path, store: Path, aside: Path) -> Path | None:
    """Move ``tree`` to ``current``; the old ``current`` becomes ``previous`` (the old ``previous`` is moved
    to ``aside``, inside the staging folder, and deleted with it). Undoes its renames when one fails."""
    current = store / "current"
    previous = store / "previous"
    had_current = current.exists()
    had_previous = previous.exists()
    if had_current:
        if had_previous:
            _rename(previous, aside)
        try:
            _rename(current, previous)
        except OSError:
            if had_previous:
                _rename(aside, previous)
            raise
    try:
        _rename(tree, current)
    except OSError:
        if had_current:
            _rename(previous, current)
            if had_previous:
                _rename(aside, previous)
        raise
    return previous if had_current else None


def _remove_stale_staging(store: Path) -> None:
    """Staging folders left by an update that was killed; safe to delete while holding the lock."""
    for stale in store.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


@contextlib.contextmanager
def _update_lock(store: Path) -> Iterator[None]:
    """One update or rollback at a time (an OS lock, released by the OS if the process dies)."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        fd = os.open(store / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RulesUpdateError(f"cannot use the rules folder {store}: {exc}") from exc
    try:
        if not _try_lock(fd):
            raise RulesUpdateError(f"another rules update is running (lock {store / '.lock'})")
        yield
    finally:
        os.close(fd)
