"""ATT&CK recall on labelled attack logs: for each labelled file of the mdecrevoisier folder in
../shared/datasets/ground_truth.csv, does some detection carry the labelled technique (or its parent)?

Usage: python benchmarks/attack_recall.py [--rules PATH ...] [--misses]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, SIGMA, require_shared, table
from yamori.attack import parent_technique, techniques
from yamori.engine.matcher import Engine
from yamori.engine.ruleset import load_ruleset
from yamori.events import BadRecord
from yamori.sources.files import read_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", nargs="*", type=Path, default=[SIGMA])
    parser.add_argument("--misses", action="store_true", help="list the files without the labelled technique")
    args = parser.parse_args()
    require_shared()
    engine = Engine(load_ruleset(args.rules))
    rows = [r for r in csv.DictReader((DATASETS / "ground_truth.csv").open(encoding="utf-8"))
            if r["source"].startswith("mdecrevoisier") and r["technique_ids"]]
    by_tactic: dict[str, Counter[str]] = defaultdict(Counter)
    strict = loose = any_detection = 0
    misses: list[str] = []
    for row in rows:
        label = row["technique_ids"].strip().upper()
        found: set[str] = set()
        detections = 0
        for item in read_file(DATASETS / row["path"]):
            if isinstance(item, BadRecord):
                continue
            for index in engine.match(item):
                detections += 1
                found.update(techniques(engine.infos[index].tags))
        wanted = {label, parent_technique(label)}
        hit_strict = bool(found & wanted)
        hit_loose = hit_strict or any(parent_technique(t) == label for t in found)
        strict += hit_strict
        loose += hit_loose
        any_detection += detections > 0
        by_tactic[row["tactic"]]["files"] += 1
        by_tactic[row["tactic"]]["hit"] += hit_strict
        if not hit_strict:
            misses.append(f"{label:10} {row['path']}  (detected: {', '.join(sorted(found)) or 'nothing'})")
    total = len(rows)
    print(f"Labelled files: {total}; rules: {len(engine.infos)}\n")
    print(table(["measure", "files", "share"], [
        ["labelled technique or its parent detected", strict, f"{strict / total:.1%}"],
        ["… or a sub-technique of the label", loose, f"{loose / total:.1%}"],
        ["any detection at all", any_detection, f"{any_detection / total:.1%}"],
    ]))
    print()
    print(table(["tactic", "files", "recall"], [
        [tactic, c["files"], f"{c['hit'] / c['files']:.0%}"] for tactic, c in sorted(by_tactic.items())]))
    if args.misses:
        print("\nMisses:\n" + "\n".join(misses))


if __name__ == "__main__":
    main()
