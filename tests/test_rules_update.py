"""`yamori rules update` against a real HTTP server on 127.0.0.1 serving zips built here from the SigmaHQ
snapshot in ../shared/sigma (never copied into the repository)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from yamori import paths
from yamori.exceptions import RulesUpdateError
from yamori.rules import update
from yamori.rules.update import installed_manifest, rollback_rules, update_rules

TAG = "r2026-08-05"


# --------------------------------------------------------------------------------------------- server


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 with an ephemeral port, serving what the test registers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                route = routes.get(self.path, Route(404, b"not found"))
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> str:
        self.routes[path] = Route(status, body, headers or {})
        return self.base + path

    def release(
        self, assets: dict[str, bytes], *, digest: bool = True, path: str = "/releases/latest",
        digests: dict[str, str] | None = None,
    ) -> str:
        """Serve each asset and a GitHub-style release description listing them; return its URL."""
        listed = []
        for name, body in assets.items():
            url = self.add(f"/download/{TAG}/{name}", body)
            entry: dict[str, Any] = {"name": name, "browser_download_url": url, "size": len(body)}
            if digests and name in digests:
                entry["digest"] = digests[name]
            elif digest:
                entry["digest"] = "sha256:" + hashlib.sha256(body).hexdigest()
            listed.append(entry)
        doc = {"tag_name": TAG, "published_at": "2026-08-05T10:00:00Z", "assets": listed}
        return self.add(path, json.dumps(doc).encode(), headers={"Content-Type": "application/json"})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    try:
        yield srv
    finally:
        srv.close()


# --------------------------------------------------------------------------------------------- zips


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def sigma_rules(shared: Path) -> dict[str, bytes]:
    """50 SigmaHQ process_creation rules, keyed by their path inside a SigmaHQ release zip."""
    folder = shared / "sigma" / "rules" / "windows" / "process_creation"
    files = sorted(folder.glob("*.yml"))[:50]
    assert len(files) == 50, f"expected at least 50 rules in {folder}"
    return {f"rules/windows/process_creation/{f.name}": f.read_bytes() for f in files}


@pytest.fixture(scope="session")
def good_zip(sigma_rules: dict[str, bytes]) -> bytes:
    return _zip(sigma_rules)


@pytest.fixture(scope="session")
def small_zip(sigma_rules: dict[str, bytes]) -> bytes:
    return _zip(dict(list(sigma_rules.items())[:10]))


def _symlink_zip(rule: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("rules/windows/ok.yml", rule)
        link = zipfile.ZipInfo("rules/windows/link.yml")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    return buf.getvalue()


def _corrupt_entry(data: bytes) -> bytes:
    """A zip whose directory is intact but whose first entry's compressed bytes are damaged."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged = bytearray(data)
    for i in range(start + 5, start + 45):
        damaged[i] ^= 0xFF
    return bytes(damaged)


# --------------------------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("YAMORI_DATA_DIR", str(data))
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("YAMORI_RULES_URL", raising=False)
    return data


def _snapshot(folder: Path) -> dict[str, bytes]:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


def _store_entries() -> list[str]:
    store = paths.rules_store_dir()
    return sorted(p.name for p in store.iterdir()) if store.is_dir() else []


# --------------------------------------------------------------------------------------------- success


def test_update_from_release_installs_rules_and_manifest(
    server: LocalServer, good_zip: bytes, sigma_rules: dict[str, bytes], monkeypatch: pytest.MonkeyPatch,
    isolated_dirs: Path,
) -> None:
    monkeypatch.setenv("YAMORI_RULES_URL", server.release({"sigma_core.zip": good_zip,
                                                           "sigma_all_rules.zip": b"unused"}))
    assert paths.default_rules_dirs() == [paths.bundled_rules_dir()]

    result = update_rules()

    current = isolated_dirs / "rules" / "current"
    assert result.path == current == paths.downloaded_rules_dir()
    assert result.rule_count == 50 and result.file_count == 50
    assert result.release == TAG and result.asset == "sigma_core.zip" and result.package == "core"
    assert result.sha256 == hashlib.sha256(good_zip).hexdigest()
    assert result.sha256_verified_by == ("release digest",)
    assert result.previous is None and result.invalid_files == ()
    for name, data in sigma_rules.items():
        assert (current / name).read_bytes() == data

    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest == result.manifest == installed_manifest()
    assert manifest["source_url"] == f"{server.base}/download/{TAG}/sigma_core.zip"
    assert manifest["release_url"] == f"{server.base}/releases/latest"
    assert manifest["release"] == TAG
    assert manifest["sha256"] == result.sha256
    assert manifest["rule_count"] == 50
    assert manifest["installed_at"].startswith("20")
    assert server.requests == ["/releases/latest", f"/download/{TAG}/sigma_core.zip"]

    assert paths.default_rules_dirs() == [current, paths.bundled_rules_dir()]
    assert _store_entries() == [".lock", "current"]


def test_direct_zip_url_with_given_sha256(server: LocalServer, good_zip: bytes) -> None:
    url = server.add("/mirror/sigma_core.zip", good_zip)
    result = update_rules(url, sha256="SHA256:" + hashlib.sha256(good_zip).hexdigest().upper())
    assert result.release is None and result.source_url == url
    assert result.sha256_verified_by == ("--sha256",)
    assert result.rule_count == 50
    assert server.requests == ["/mirror/sigma_core.zip"]


def test_package_selects_asset(server: LocalServer, good_zip: bytes, small_zip: bytes) -> None:
    url = server.release({"sigma_core.zip": good_zip, "sigma_emerging_threats_addon.zip": small_zip})
    result = update_rules(url, package="et")
    assert result.asset == "sigma_emerging_threats_addon.zip" and result.rule_count == 10


def test_release_without_digest_still_installs(server: LocalServer, good_zip: bytes) -> None:
    result = update_rules(server.release({"sigma_core.zip": good_zip}, digest=False))
    assert result.sha256_verified_by == () and result.rule_count == 50


def test_checksum_file_attached_to_release_is_checked(server: LocalServer, good_zip: bytes) -> None:
    good = hashlib.sha256(good_zip).hexdigest()
    url = server.release({"sigma_core.zip": good_zip, "SHA256SUMS": f"{good}  sigma_core.zip\n".encode()},
                         digest=False)
    assert update_rules(url).sha256_verified_by == ("release file SHA256SUMS",)

    url = server.release({"sigma_core.zip": good_zip, "sigma_core.zip.sha256": b"0" * 64 + b"\n"},
                         digest=False, path="/releases/bad")
    with pytest.raises(RulesUpdateError, match="SHA-256 mismatch"):
        update_rules(url)


def test_second_update_keeps_previous_and_rollback_swaps(
    server: LocalServer, good_zip: bytes, small_zip: bytes
) -> None:
    first = update_rules(server.add("/v1/sigma_core.zip", good_zip))
    second = update_rules(server.add("/v2/sigma_core.zip", small_zip))
    assert second.previous == paths.previous_rules_dir()
    assert installed_manifest()["rule_count"] == 10  # type: ignore[index]
    assert installed_manifest(paths.previous_rules_dir())["sha256"] == first.sha256  # type: ignore[index]

    third = update_rules(server.add("/v3/sigma_core.zip", good_zip))
    # Only one previous package is kept: v1 is gone, v2 is previous.
    assert installed_manifest(third.previous)["sha256"] == second.sha256  # type: ignore[index]

    assert rollback_rules() == paths.downloaded_rules_dir()
    assert installed_manifest()["sha256"] == second.sha256  # type: ignore[index]
    assert installed_manifest(paths.previous_rules_dir())["sha256"] == third.sha256  # type: ignore[index]
    assert _store_entries() == [".lock", "current", "previous"]


def test_rollback_without_previous_fails() -> None:
    with pytest.raises(RulesUpdateError, match="no previous rule package"):
        rollback_rules()


# --------------------------------------------------------------------------------------------- failures


def _bad_cases(sigma_rules: dict[str, bytes], good_zip: bytes) -> dict[str, tuple[bytes, str]]:
    rule = next(iter(sigma_rules.values()))
    return {
        "not a zip": (b"<html>this is not a zip</html>" * 20, "not a valid zip"),
        "truncated zip": (good_zip[: len(good_zip) // 2], "not a valid zip"),
        "corrupt entry": (_corrupt_entry(good_zip), "corrupt entry"),
        "zip-slip": (_zip({"rules/ok.yml": rule, "../../evil.yml": rule}), "path traversal"),
        "zip-slip nested": (_zip({"rules/../../evil.yml": rule}), "path traversal"),
        "absolute path": (_zip({"rules/ok.yml": rule, "/tmp/evil.yml": rule}), "absolute path"),
        "backslash path": (_zip({"rules/ok.yml": rule, "..\\evil.yml": rule}), "unsafe path"),
        "symlink": (_symlink_zip(rule), "symbolic link"),
        "no rules": (_zip({"README.md": b"# nothing", "rules/notes.yml": b"title: not a rule\n",
                           "rules/broken.yml": b"key: [unclosed\n"}), "no Sigma rule"),
        "empty zip": (_zip({}), "no Sigma rule"),
    }


CASES = ["not a zip", "truncated zip", "corrupt entry", "zip-slip", "zip-slip nested", "absolute path",
         "backslash path", "symlink", "no rules", "empty zip"]


@pytest.mark.parametrize("case", CASES)
def test_bad_package_is_refused_and_previous_install_kept(
    case: str, server: LocalServer, good_zip: bytes, sigma_rules: dict[str, bytes], tmp_path: Path
) -> None:
    update_rules(server.add("/good/sigma_core.zip", good_zip))
    before = _snapshot(paths.downloaded_rules_dir())

    body, message = _bad_cases(sigma_rules, good_zip)[case]
    with pytest.raises(RulesUpdateError, match=message):
        update_rules(server.release({"sigma_core.zip": body}))

    assert _snapshot(paths.downloaded_rules_dir()) == before
    assert _store_entries() == [".lock", "current"]
    assert not any(p.name == "evil.yml" for p in tmp_path.rglob("*"))
    assert not (Path("/tmp") / "evil.yml").exists()


@pytest.mark.parametrize(
    ("where", "status", "message"),
    [
        ("release", 404, "HTTP 404"),
        ("release", 500, "HTTP 500"),
        ("asset", 404, "HTTP 404"),
        ("asset", 500, "HTTP 500"),
    ],
)
def test_http_errors_keep_previous_install(
    where: str, status: int, message: str, server: LocalServer, good_zip: bytes
) -> None:
    update_rules(server.add("/good/sigma_core.zip", good_zip))
    before = _snapshot(paths.downloaded_rules_dir())

    url = server.release({"sigma_core.zip": good_zip})
    target = "/releases/latest" if where == "release" else f"/download/{TAG}/sigma_core.zip"
    server.add(target, b"server says no", status=status)
    with pytest.raises(RulesUpdateError, match=message):
        update_rules(url)

    assert _snapshot(paths.downloaded_rules_dir()) == before
    assert _store_entries() == [".lock", "current"]


def test_wrong_given_sha256(server: LocalServer, good_zip: bytes) -> None:
    update_rules(server.add("/good/sigma_core.zip", good_zip))
    before = _snapshot(paths.downloaded_rules_dir())
    with pytest.raises(RulesUpdateError, match=r"SHA-256 mismatch.*--sha256"):
        update_rules(server.release({"sigma_core.zip": good_zip}), sha256="ab" * 32)
    assert _snapshot(paths.downloaded_rules_dir()) == before


def test_wrong_release_digest(server: LocalServer, good_zip: bytes) -> None:
    url = server.release({"sigma_core.zip": good_zip}, digests={"sigma_core.zip": "sha256:" + "0" * 64})
    with pytest.raises(RulesUpdateError, match=r"SHA-256 mismatch.*release digest"):
        update_rules(url)
    assert not paths.downloaded_rules_dir().exists()
    assert _store_entries() == [".lock"]


def test_malformed_sha256_argument_refused_before_download(server: LocalServer) -> None:
    with pytest.raises(RulesUpdateError, match="not a SHA-256"):
        update_rules(server.add("/x.zip", b""), sha256="1234")
    assert server.requests == []


def test_size_cap(server: LocalServer, good_zip: bytes) -> None:
    with pytest.raises(RulesUpdateError, match="over the limit"):
        update_rules(server.release({"sigma_core.zip": good_zip}), max_bytes=len(good_zip) - 1)
    # the cap holds while streaming too, without a size in the release description
    with pytest.raises(RulesUpdateError, match="over the limit"):
        update_rules(server.add("/direct/sigma_core.zip", good_zip), max_bytes=1000)
    with pytest.raises(RulesUpdateError, match="unpacks to over"):
        update_rules(server.add("/direct2/sigma_core.zip", good_zip), max_extracted_bytes=10_000)
    assert not paths.downloaded_rules_dir().exists()


def test_missing_asset_lists_offered_ones(server: LocalServer, good_zip: bytes) -> None:
    url = server.release({"sigma_all_rules.zip": good_zip})
    with pytest.raises(RulesUpdateError, match=r"no asset 'sigma_core.zip'.*sigma_all_rules.zip"):
        update_rules(url)


def test_release_json_garbage(server: LocalServer) -> None:
    with pytest.raises(RulesUpdateError, match="did not return release JSON"):
        update_rules(server.add("/releases/latest", b"<html>"))
    with pytest.raises(RulesUpdateError, match="no 'assets' list"):
        update_rules(server.add("/releases/other", b'{"message": "Not Found"}'))


def test_rename_failure_during_install_restores_both(
    server: LocalServer, good_zip: bytes, small_zip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    update_rules(server.add("/v1/sigma_core.zip", good_zip))
    update_rules(server.add("/v2/sigma_core.zip", small_zip))
    current_before = _snapshot(paths.downloaded_rules_dir())
    previous_before = _snapshot(paths.previous_rules_dir())

    real_rename = os.rename

    def failing_rename(src: Any, dst: Any) -> None:
        if Path(dst) == paths.downloaded_rules_dir() and ".staging-" in str(src):
            raise OSError("disk on fire")
        real_rename(src, dst)

    monkeypatch.setattr(update, "_rename", failing_rename)
    with pytest.raises(RulesUpdateError, match="disk on fire"):
        update_rules(server.add("/v3/sigma_core.zip", good_zip))

    assert _snapshot(paths.downloaded_rules_dir()) == current_before
    assert _snapshot(paths.previous_rules_dir()) == previous_before
    assert _store_entries() == [".lock", "current", "previous"]


def test_concurrent_update_is_refused(server: LocalServer) -> None:
    with update._update_lock(paths.rules_store_dir()), pytest.raises(RulesUpdateError, match="another"):
        update_rules(server.add("/x/sigma_core.zip", b""))


# --------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/sigma_core.zip",
        "http://10.0.0.1/releases/latest",
        "ftp://127.0.0.1/sigma_core.zip",
        "file:///etc/passwd",
        "https:///no-host",
    ],
)
def test_only_https_or_loopback(url: str) -> None:
    with pytest.raises(RulesUpdateError, match="refusing"):
        update_rules(url)
    assert not paths.rules_store_dir().exists()


@pytest.mark.parametrize(
    "url", ["https://api.github.com/repos/SigmaHQ/sigma/releases/latest", "http://127.0.0.1:8/x.zip",
            "http://localhost/x", "http://[::1]:9/x"]
)
def test_allowed_urls(url: str) -> None:
    update.check_url(url)


def test_redirect_away_from_loopback_http_is_refused(server: LocalServer) -> None:
    server.add("/redirect/sigma_core.zip", b"", status=302,
               headers={"Location": "http://example.invalid/sigma_core.zip"})
    with pytest.raises(RulesUpdateError, match="refusing"):
        update_rules(server.base + "/redirect/sigma_core.zip")


def test_redirect_within_loopback_is_followed(server: LocalServer, good_zip: bytes) -> None:
    server.add("/real/sigma_core.zip", good_zip)
    server.add("/latest/sigma_core.zip", b"", status=302, headers={"Location": "/real/sigma_core.zip"})
    result = update_rules(server.base + "/latest/sigma_core.zip")
    assert result.rule_count == 50
    assert server.requests == ["/latest/sigma_core.zip", "/real/sigma_core.zip"]


def test_unknown_package() -> None:
    with pytest.raises(RulesUpdateError, match="unknown rule package"):
        update_rules(package="everything")


def test_package_asset_names() -> None:
    assert update.package_asset("core") == "sigma_core.zip"
    assert update.package_asset("Core+") == "sigma_core+.zip"
    assert update.package_asset("core++") == "sigma_core++.zip"
    assert update.package_asset("emerging-threats") == "sigma_emerging_threats_addon.zip"
    assert update.package_asset("all") == "sigma_all_rules.zip"


# --------------------------------------------------------------------------------------------- paths


def test_paths_honour_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YAMORI_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("YAMORI_CACHE_DIR", str(tmp_path / "c"))
    assert paths.data_dir() == tmp_path / "d"
    assert paths.cache_dir() == tmp_path / "c"
    assert paths.downloaded_rules_dir() == tmp_path / "d" / "rules" / "current"
    monkeypatch.delenv("YAMORI_DATA_DIR")
    monkeypatch.delenv("YAMORI_CACHE_DIR")
    assert paths.data_dir().name == "yamori"
    assert paths.cache_dir().name == "yamori"


def test_bundled_rules_dir_is_the_checkout_rules_folder() -> None:
    bundled = paths.bundled_rules_dir()
    assert bundled.is_dir()
    assert bundled == Path(__file__).resolve().parent.parent / "rules" or bundled.name == "bundled_rules"
    assert paths.default_rules_dirs() == [bundled]
