"""Parse speed per format: events/s of ``read_file`` (recognition, parsing, ECS normalisation), one core.

Inputs: the shared datasets where a format has real data (CloudTrail, Zeek JSON, fail2ban syslog, the 10,000-line
Apache log, EVTX), and for every other format its test fixtures concatenated into one file until it holds about
``--events`` events (the same records repeated: a speed figure, not a correctness one). Each input is read
``--repeat`` times; the best time counts (this machine's timing noise is large).

    .venv/bin/python benchmarks/parse.py [--events 20000] [--repeat 3]

Prints a Markdown table: format (the parser, ``event.module``), family, input, events, bad records, events/s.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, REPO, require_shared, table
from yamori.events import BadRecord, Event
from yamori.parsers.registry import all_parsers
from yamori.sources.files import expand_paths, read_file

FIXTURES = REPO / "tests" / "fixtures"

SHARED_INPUTS = {
    "CloudTrail (invictus-ir, 55 files)": DATASETS / "invictus-ir_aws_dataset" / "CloudTrail",
    "Zeek JSON gzip (brimdata, 32 files)": DATASETS / "brimdata_zed-sample-data" / "zeek-json",
    "fail2ban logs (37 files)": DATASETS / "fail2ban_fail2ban" / "fail2ban" / "tests" / "files" / "logs",
    "Apache combined (elastic, 10,000 lines)": DATASETS / "elastic_examples" / "Common Data Formats" / "apache_logs",
    "EVTX (EVTX-to-MITRE-Attack)": DATASETS / "mdecrevoisier_EVTX-to-MITRE-Attack",
}


def read_all(paths: list[Path]) -> tuple[Counter[str], int, float]:
    """Events per event.module, bad records, and the CPU seconds reading every file took."""
    modules: Counter[str] = Counter()
    bad = 0
    started = time.process_time()
    for path in paths:
        for item in read_file(path):
            if isinstance(item, Event):
                modules[str(item.fields.get("event.module", "generic-json"))] += 1
            elif isinstance(item, BadRecord):
                bad += 1
    return modules, bad, time.process_time() - started


def best_of(paths: list[Path], repeat: int) -> tuple[Counter[str], int, float]:
    results = [read_all(paths) for _ in range(repeat)]
    return min(results, key=lambda result: result[2])


def fixture_inputs(target_events: int, workdir: Path) -> dict[str, tuple[Path, int]]:
    """One file per fixture file, its records repeated until about ``target_events`` events (and how often)."""
    inputs: dict[str, tuple[Path, int]] = {}
    for path in sorted(p for p in FIXTURES.rglob("*") if p.is_file()):
        if path.parent.name == "windows":
            continue  # Windows is measured on real EVTX above
        items = list(read_file(path))
        events = sum(1 for item in items if isinstance(item, Event))
        if events == 0:
            continue
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        start = data.lstrip()[:1]
        if start == b"[" or (start == b"<" and not data.lstrip()[1:2].isdigit()):
            continue  # a JSON array or an XML document: copies one after another are not the same format
        copies = max(1, target_events // events)
        out = workdir / path.relative_to(FIXTURES)
        out.parent.mkdir(parents=True, exist_ok=True)
        body = data if data.endswith(b"\n") else data + b"\n"
        header, rest = _split_header(body)
        with out.open("wb") as handle:
            handle.write(header)
            for _ in range(copies):
                handle.write(rest)
        inputs[str(path.relative_to(FIXTURES))] = out, copies
    return inputs


def _split_header(body: bytes) -> tuple[bytes, bytes]:
    """Header lines (``#...`` at the top: IIS, Zeek TSV) are written once, the rest repeated."""
    lines = body.splitlines(keepends=True)
    count = 0
    while count < len(lines) and lines[count].startswith(b"#"):
        count += 1
    return b"".join(lines[:count]), b"".join(lines[count:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per fixture-based input")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    require_shared()
    family = {p.name: p.family.value for p in all_parsers()}
    rows = []
    for label, folder in SHARED_INPUTS.items():
        paths = list(expand_paths([folder]))
        modules, bad, seconds = best_of(paths, args.repeat)
        total = sum(modules.values())
        names = ", ".join(f"{name} {count}" for name, count in modules.most_common(4))
        rows.append((label, names, total, bad, f"{seconds:.2f}", f"{total / seconds:,.0f}" if seconds else "-"))
    workdir = Path(tempfile.mkdtemp(prefix="yamori-parse-bench-"))
    try:
        for label, (path, copies) in fixture_inputs(args.events, workdir).items():
            modules, bad, seconds = best_of([path], args.repeat)
            total = sum(modules.values())
            name = modules.most_common(1)[0][0]
            rows.append((f"{label} (fixture ×{copies})",
                         f"{name} ({family.get(name, '?')})", total, bad, f"{seconds:.2f}",
                         f"{total / seconds:,.0f}" if seconds else "-"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(table(("input", "formats (event.module)", "events", "bad records", "CPU s", "events/s"), rows))


if __name__ == "__main__":
    main()
