"""`yamori hunt` over one folder mixing every format (some inside archives), with all SigmaHQ rules and
Yamori's own: every source family gives detections, each family SigmaHQ covers from a SigmaHQ rule."""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from collections import defaultdict
from pathlib import Path

import orjson
from typer.testing import CliRunner

from yamori.cli.main import app
from yamori.parsers.base import Family
from yamori.parsers.registry import all_parsers

FIXTURES = Path(__file__).parent / "fixtures"
REPO_RULES = Path(__file__).parent.parent / "rules"
# fixture folder -> the family it holds (auth: service logins such as FTP, IMAP, databases)
FOLDER_FAMILY = {"windows": "identity", "linux": "identity", "auth": "identity", "syslog": "syslog",
                 "firewall": "firewall", "web": "web", "ids": "ids", "vulnerability": "vulnerability",
                 "cloud": "cloud"}
SIGMAHQ_FAMILIES = ("identity", "firewall", "web", "ids", "cloud")


def _mixed_folder(root: Path) -> Path:
    """All fixtures in one folder; the web and IDS ones inside a tar.gz, the cloud ones inside a zip."""
    folder = root / "evidence"
    for family_dir in sorted(p for p in FIXTURES.iterdir() if p.is_dir()):
        name = family_dir.name
        if name == "web":
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
                archive.add(family_dir, arcname=name)
            (folder / "archives").mkdir(parents=True, exist_ok=True)
            (folder / "archives" / "web.tar.gz").write_bytes(buffer.getvalue())
        elif name == "cloud":
            (folder / "archives").mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(folder / "archives" / "cloud.zip", "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(family_dir.rglob("*")):
                    if path.is_file():
                        archive.write(path, f"{name}/{path.relative_to(family_dir)}")
        else:
            shutil.copytree(family_dir, folder / name)
    return folder


def _family_of(source: str) -> str:
    inside = source.split("evidence/", 1)[1]
    first = inside.split("/", 1)[0]
    if first == "archives":
        first = inside.split("!", 1)[1].split("/", 1)[0]
    return FOLDER_FAMILY[first]


def test_every_parser_family_is_covered_by_fixtures() -> None:
    families = {parser.family.value for parser in all_parsers()}
    assert set(Family) - {Family.GENERIC, Family.SYSLOG} <= {Family(f) for f in families}


def test_hunt_over_a_mixed_folder_detects_in_every_family(shared: Path, rule_cache: Path, tmp_path: Path) -> None:
    folder = _mixed_folder(tmp_path)
    output = tmp_path / "detections.jsonl"
    result = CliRunner().invoke(app, ["hunt", str(folder), "--rules", str(shared / "sigma"),
                                      "--rules", str(REPO_RULES), "--format", "jsonl", "--output", str(output),
                                      "--workers", "1"])
    assert result.exit_code in (0, 3), result.output  # 3: some fixtures hold malformed records on purpose
    sigmahq: dict[str, set[str]] = defaultdict(set)
    own: dict[str, set[str]] = defaultdict(set)
    for line in output.read_bytes().splitlines():
        detection = orjson.loads(line)
        if detection["source"] == "correlation":  # correlation alerts span files: no family of their own
            continue
        family = _family_of(detection["source"])
        from_sigmahq = str(shared / "sigma") in detection["rule_path"]
        (sigmahq if from_sigmahq else own)[family].add(detection["title"])
    for family in SIGMAHQ_FAMILIES:
        assert sigmahq[family], f"no SigmaHQ rule fired on the {family} fixtures; Yamori rules fired: {own[family]}"
    assert own["vulnerability"], "Yamori's critical-vulnerability rule fired on no scanner report"
    for family in ("identity", "firewall", "web", "ids", "cloud"):
        assert own[family], f"no Yamori rule fired on the {family} fixtures"
