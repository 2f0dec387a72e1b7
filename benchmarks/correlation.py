"""Correlation on this machine: state memory per one million distinct group-by keys, and ``yamori serve``
throughput with 100 correlation rules loaded versus none.

* memory: one correlation rule of each type, one observation for each of N distinct group-by keys (no alert
  fires, so every group stays open): Python heap bytes per open group (tracemalloc) and observations/s;
* serve: ``benchmarks/serve.py``'s sustained HEC ingest with every ``../shared/sigma`` rule and Yamori's own
  single-event rules, first without any correlation, then with 100 correlation rules generated over the 100
  rules that fired most in the first run (event_count, value_count, temporal, value_sum, temporal_ordered in
  turn; ``generate: true`` so that the single-event alerts stay the same). The events are the Windows records
  of ``../shared/datasets`` sent as live traffic: each copy gets a fresh event time (now, 0.5 ms apart), so
  that the correlator sees them in order (replayed with their original times, almost all would be late).

Usage: ``python benchmarks/correlation.py [--keys 1000000] [--events 200000] [--skip-serve]``
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import serve as serve_bench
from common import REPO, SIGMA, require_shared, table
from yamori.correlation.correlator import Correlator, Observation
from yamori.correlation.model import CorrelationRule, Threshold
from yamori.correlation.ruleset import build_correlation_set
from yamori.rules.model import RuleInfo

BASE = RuleInfo("base-rule", "base", "low", "test", "memory")
SECOND = RuleInfo("second-rule", "second", "low", "test", "memory")


def memory_rule(kind: str) -> CorrelationRule:
    info = RuleInfo(f"c-{kind}", kind, "high", "test", "memory")
    never = (Threshold("gte", 1e12),)
    if kind == "new_terms":
        return CorrelationRule(BASE, "new_terms", (BASE.id,), ("user", "host"), 30 * 86400, (), learning=1e12)
    sources = (BASE.id, SECOND.id) if kind.startswith("temporal") else (BASE.id,)
    field = "bytes" if kind == "value_sum" else "target" if kind == "value_count" else None
    thresholds = (Threshold("gte", 2),) if kind.startswith("temporal") else never
    return CorrelationRule(info, kind, sources, ("user", "host"), 3600, thresholds, field)  # type: ignore[arg-type]


def feed(kind: str, keys: int) -> tuple[Correlator, float]:
    correlations = build_correlation_set([BASE, SECOND], [memory_rule(kind)])
    assert not correlations.problems, correlations.problems
    observations = [Observation(BASE.id, 1_750_000_000.0 + n * 0.001, f"{n}-0",
                                {"user": f"user{n}", "host": f"host{n % 5000}", "bytes": 1200,
                                 "target": f"10.0.{n % 250}.{n % 200}"}) for n in range(keys)]
    gc.collect()
    correlator = Correlator(correlations, lateness=0, max_groups=keys * 2)
    started = time.perf_counter()
    for observation in observations:
        correlator.push(observation)
    return correlator, time.perf_counter() - started


def measure_memory(kind: str, keys: int) -> dict[str, Any]:
    """The correlator's heap once every key is open, beyond the observations themselves (made before)."""
    _, seconds = feed(kind, keys)  # timed without tracemalloc, which slows allocation several times
    correlations = build_correlation_set([BASE, SECOND], [memory_rule(kind)])
    observations = [Observation(BASE.id, 1_750_000_000.0 + n * 0.001, f"{n}-0",
                                {"user": f"user{n}", "host": f"host{n % 5000}", "bytes": 1200,
                                 "target": f"10.0.{n % 250}.{n % 200}"}) for n in range(keys)]
    gc.collect()
    tracemalloc.start()
    correlator = Correlator(correlations, lateness=0, max_groups=keys * 2)
    for observation in observations:
        correlator.push(observation)
    del observations  # what the correlator keeps of them stays counted
    gc.collect()
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    groups = correlator.stats.groups or len(correlator.baselines().get(BASE.id, {}).get("terms", []))
    return {"kind": kind, "keys": keys, "groups": groups, "bytes_per_key": current / keys,
            "total_mb": current / 2**20, "rate": keys / seconds}


def correlation_rules(rule_ids: list[tuple[str, str]], folder: Path) -> Path:
    """100 correlation rules over the rules that fired most: grouped by the host the events name."""
    kinds = ["event_count", "value_count", "temporal", "value_sum", "temporal_ordered"]
    documents = []
    for number in range(100):
        rule_id, product = rule_ids[number % len(rule_ids)]
        partner = rule_ids[(number + 1) % len(rule_ids)][0]
        kind = kinds[number % len(kinds)]
        host = "Computer" if product == "windows" else "event.dataset"
        body: dict[str, Any] = {"type": kind, "rules": [rule_id], "group-by": [host], "timespan": "10m",
                                "generate": True}
        if kind == "event_count":
            body["condition"] = {"gte": 50}
        elif kind == "value_count":
            body["condition"] = {"field": "EventID" if product == "windows" else "event.action", "gte": 5}
        elif kind == "value_sum":
            body["condition"] = {"field": "EventRecordID" if product == "windows" else "http.response.bytes",
                                 "gte": 10**9}
        else:
            body["rules"] = [rule_id, partner]
        documents.append({"title": f"Benchmark correlation {number}", "id": str(uuid.uuid4()), "status": "test",
                          "level": "medium", "correlation": body})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "benchmark_correlations.yml"
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return folder


def live_windows_items(items: list[Any], total: int) -> list[Any]:
    """``total`` copies of the corpus's EVTX records, each with a fresh time: now, then 0.5 ms apart."""
    records = [item for item in items if isinstance(item, dict) and "Event" in item]
    start = time.time()
    live = []
    for number in range(total):
        record = copy.deepcopy(records[number % len(records)])
        moment = datetime.fromtimestamp(start + number * 0.0005, UTC).isoformat().replace("+00:00", "Z")
        record["Event"]["System"]["TimeCreated"] = {"#attributes": {"SystemTime": moment}}
        record["Event"]["System"]["EventRecordID"] = number
        live.append(record)
    return live


def single_event_rules(folder: Path) -> Path:
    """Yamori's bundled rules without its correlation and new_terms rules: the baseline has no correlation."""
    target = folder / "bundled-single-event"
    shutil.copytree(REPO / "rules", target, ignore=shutil.ignore_patterns("correlation", "README.md"))
    for path in target.rglob("*.yml"):
        if "new_terms:" in path.read_text(encoding="utf-8"):
            path.unlink()
    return target


def top_rules(server_dir: Path) -> list[tuple[str, str]]:
    import duckdb

    connection = duckdb.connect()
    rows = connection.execute(
        "select rule_id, any_value(product) from read_parquet(?, union_by_name=true) a "
        "left join (select event_id, product from read_parquet(?, union_by_name=true)) e using (event_id) "
        "where a.source <> 'correlation' group by rule_id order by count(*) desc limit 100",
        [str(server_dir / "store" / "alerts" / "**" / "*.parquet"),
         str(server_dir / "store" / "events" / "**" / "*.parquet")]).fetchall()
    return [(str(rule_id), str(product or "")) for rule_id, product in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    arguments = parser.parse_args()
    rows = []
    for kind in () if arguments.skip_memory else ("event_count", "value_count", "value_sum", "temporal", "new_terms"):
        result = measure_memory(kind, arguments.keys)
        rows.append([kind, f"{result['keys']:,}", f"{result['groups']:,}", f"{result['bytes_per_key']:.0f}",
                     f"{result['total_mb']:,.0f}", f"{result['rate']:,.0f}"])
    if rows:
        print(table(["correlation type", "distinct keys", "open groups", "bytes per key", "MiB in all",
                     "observations/s"], rows), flush=True)
    if arguments.skip_serve:
        return
    require_shared()
    with tempfile.TemporaryDirectory(prefix="yamori-correlation-bench-") as folder:
        base = Path(folder)
        os.environ.setdefault("YAMORI_CACHE_DIR", str(Path(tempfile.gettempdir()) / "yamori-bench-cache"))
        serve_bench.RULES[:] = [SIGMA, single_event_rules(base)]
        items = live_windows_items(serve_bench.corpus(), arguments.events + 4_000)
        serve_bench.corpus_sample[:] = items[:4_000]  # the warm-up batch, sent first: the earliest times
        plain = serve_bench.measure_sustained(base / "none", items[4_000:], "hec", arguments.events)
        fired = top_rules(base / "none" / "sustained-hec" / "data")
        serve_bench.RULES.append(correlation_rules(fired, base / "correlations"))
        items = live_windows_items(serve_bench.corpus(), arguments.events + 4_000)  # fresh times again
        serve_bench.corpus_sample[:] = items[:4_000]
        correlated = serve_bench.measure_sustained(base / "with", items[4_000:], "hec", arguments.events)
    rows = [[name, f"{r['events']:,}", f"{r['eps']:,.0f}", f"{r['alerts']:,}", f"{r['pipeline_cpu_us']:.0f}",
             correlator_counts(r["metrics"])]
            for name, r in (("none", plain), ("100 correlation rules", correlated))]
    print(table(["correlations loaded", "events", "events/s stored (HEC)", "alerts", "pipeline CPU µs/event",
                 "correlator (observations / late / alerts)"], rows))


def correlator_counts(metrics: str) -> str:
    counts = {}
    for line in metrics.splitlines():
        if line.startswith("yamori_correlation_total{"):
            what = line.split('what="', 1)[1].split('"', 1)[0]
            counts[what] = int(float(line.rsplit(" ", 1)[1]))
    return f"{counts.get('observations', 0):,} / {counts.get('late', 0):,} / {counts.get('alerts', 0):,}"


if __name__ == "__main__":
    main()
