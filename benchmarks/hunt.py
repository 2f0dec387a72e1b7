"""`yamori hunt` performance on the shared EVTX files, for the SigmaHQ Windows rules and for all rules.

Prints one Markdown table per rule set: parse-only, engine-only (pre-parsed events, one core) and oracle
events/s; end-to-end `yamori hunt` wall time and events/s on a folder of copies of the EVTX files (both cores);
cold and warm rule-load time; candidate rules per event (mean, p99); peak RSS, at two input sizes to show it
stays flat. Usage: python benchmarks/hunt.py [--copies N] [--oracle-events N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, REPO, SIGMA, require_shared, table
from yamori.events import BadRecord, Event
from yamori.sources.files import read_file

PYTHON = sys.executable


def evtx_files() -> list[Path]:
    return sorted(DATASETS.rglob("*.evtx"))


def parse_all(files: list[Path]) -> list[Event]:
    return [e for f in files for e in read_file(f) if not isinstance(e, BadRecord)]


def best_rate(run: object, count: int, repeats: int = 5) -> float:
    """Events per CPU-second of the fastest of ``repeats`` runs (noise only ever slows a run down)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        run()  # type: ignore[operator]
        best = min(best, time.process_time() - started)
    return count / best


def in_subprocess(code: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


LOAD_CODE = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from yamori.engine.ruleset import load_ruleset
imported = time.perf_counter()
ruleset = load_ruleset([Path(p) for p in {paths!r}])
done = time.perf_counter()
print(json.dumps({{"import": imported - started, "load": done - imported, "rules": len(ruleset.infos),
                  "cached": ruleset.from_cache}}))
"""


def rule_load(paths: list[Path], cache: Path) -> tuple[dict[str, float], dict[str, float]]:
    env = dict(os.environ, YAMORI_CACHE_DIR=str(cache))
    shutil.rmtree(cache, ignore_errors=True)
    code = LOAD_CODE.format(paths=[str(p) for p in paths])
    cold = in_subprocess(code, env)
    warm = min((in_subprocess(code, env) for _ in range(3)), key=lambda r: r["load"])
    return cold, warm


def end_to_end(paths: list[Path], folder: Path, cache: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB, largest process of the tree) of one `yamori hunt` run."""
    env = dict(os.environ, YAMORI_CACHE_DIR=str(cache))
    command = [str(Path(PYTHON).parent / "yamori"), "hunt", str(folder), "--format", "jsonl", "--output",
               os.devnull]
    for p in paths:
        command += ["--rules", str(p)]
    code = (
        "import resource, subprocess, sys, time, json\n"
        f"started = time.perf_counter(); subprocess.run({command!r}, check=False, stdout=subprocess.DEVNULL)\n"
        "wall = time.perf_counter() - started\n"
        "print(json.dumps({'wall': wall, 'rss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    result = in_subprocess(code, env)
    return result["wall"], int(result["rss"])


def replicate(files: list[Path], copies: int, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for n in range(copies):
        for i, f in enumerate(files):
            os.symlink(f, target / f"{n:03d}-{i:04d}.evtx")


def measure(name: str, paths: list[Path], events: list[Event], files: list[Path], copies: int,
            workdir: Path, oracle_events: int) -> None:
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    from yamori.engine.matcher import Engine
    from yamori.engine.oracle import oracle_match
    from yamori.engine.ruleset import load_ruleset

    cache = workdir / f"cache-{name}"
    cold, warm = rule_load(paths, cache)
    os.environ["YAMORI_CACHE_DIR"] = str(cache)
    ruleset = load_ruleset(paths)
    engine = Engine(ruleset)
    for _ in range(2):  # build every logsource's plan and let it calibrate
        for ev in events:
            engine.match(ev)
    engine.stats.candidate_histogram.clear()
    engine.stats.candidates = engine.stats.events = 0
    for ev in events:
        engine.match(ev)
    histogram = engine.stats.candidate_histogram
    total = sum(histogram.values())
    mean = sum(k * v for k, v in histogram.items()) / total
    running, p99 = 0, 0
    for k in sorted(histogram):
        running += histogram[k]
        if running >= 0.99 * total:
            p99 = k
            break
    engine_rate = best_rate(lambda: [engine.match(ev) for ev in events], len(events))

    sigma_rules = []
    for path in paths:
        for rule_file in sorted(path.rglob("*.yml")):
            collection = SigmaCollection.from_yaml(rule_file.read_text(encoding="utf-8"), collect_errors=True)
            sigma_rules.extend(r for r in collection.rules if isinstance(r, SigmaRule) and not r.errors)
    sample = events[:: max(1, len(events) // oracle_events)][:oracle_events]

    def run_oracle() -> None:
        for ev in sample:
            for rule in sigma_rules:
                ls = rule.logsource
                if ev.logsource.covers(ls.product, ls.category, ls.service):
                    try:
                        oracle_match(rule, ev.fields)
                    except Exception:  # rules the oracle cannot evaluate are skipped
                        continue

    oracle_rate = best_rate(run_oracle, len(sample), repeats=1)

    parse_rate = best_rate(lambda: parse_all(files), len(events), repeats=3)
    rows = [
        ["rules loaded", len(ruleset.infos)],
        ["rule load, cold (s)", f"{cold['load']:.2f}"],
        ["rule load, warm (s)", f"{warm['load']:.3f}"],
        ["import of the engine (s)", f"{warm['import']:.3f}"],
        ["parse only, 1 core (events/s)", f"{parse_rate:,.0f}"],
        ["engine only, 1 core (events/s)", f"{engine_rate:,.0f}"],
        ["oracle, 1 core (events/s)", f"{oracle_rate:,.1f}"],
        ["candidate rules per event: mean / p99", f"{mean:.2f} / {p99}"],
    ]
    small, large = max(1, copies // 4), copies
    for count in (small, large):
        folder = workdir / f"copies-{count}"
        if not folder.exists():
            replicate(files, count, folder)
        end_to_end(paths, folder, cache)  # warm the scanner cache
        wall, rss = end_to_end(paths, folder, cache)
        n_events = len(events) * count
        rows.append([f"`yamori hunt`, {n_events:,} events, 2 cores: wall (s) / events/s",
                     f"{wall:.2f} / {n_events / wall:,.0f}"])
        rows.append([f"peak RSS, {n_events:,} events (MB)", f"{rss / 1024:.0f}"])
        rows.append([f"end-to-end / parse-only, {n_events:,} events", f"{n_events / wall / parse_rate:.0%}"])
    print(f"\n### {name}\n")
    print(table(["measure", "value"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=40, help="copies of the EVTX files for end-to-end runs")
    parser.add_argument("--oracle-events", type=int, default=150)
    args = parser.parse_args()
    require_shared()
    files = evtx_files()
    events = parse_all(files)
    print(f"{len(files)} EVTX files, {len(events):,} events; machine: {os.cpu_count()} cores; "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory(prefix="yamori-bench-") as tmp:
        workdir = Path(tmp)
        measure("SigmaHQ Windows rules", [SIGMA / "rules" / "windows"], events, files, args.copies, workdir,
                args.oracle_events)
        measure("All SigmaHQ rules", [SIGMA], events, files, args.copies, workdir, args.oracle_events)
    _ = REPO, resource


if __name__ == "__main__":
    main()
